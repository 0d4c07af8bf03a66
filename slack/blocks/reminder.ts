import type { People } from '../../services/config/config';
import type { EscalationNotice, ReminderNotice, UndecidedLine } from '../../services/decisions/reminders';
import { describeRule } from '../../services/detection/policy';
import type { ViolationItem } from '../../services/violations/items';
import { code, escapeMrkdwn, literal, slackDate } from '../mrkdwn';
import { count } from '../plural';
import { context, type SlackMessage, section } from './kit';

/** A span of time as people say it: "4 minutes", "2 hours", "3 days" (rounded; at least "1 minute"). */
export function inWords(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s >= 86400) return count(Math.round(s / 86400), 'day');
  if (s >= 3600) return count(Math.round(s / 3600), 'hour');
  if (s >= 90) return count(Math.round(s / 60), 'minute');
  return '1 minute';
}

/** Slack mentions of a list of people: each user group, then each user. Empty: nobody in particular. */
export function mentions(people: People): string {
  return [...people.userGroups.map((g) => `<!subteam^${g}>`), ...people.users.map((u) => `<@${u}>`)].join(
    ' ',
  );
}

/** The rule in a line: severity, what is open, the group (AWS text shown literally). */
function ruleText(v: ViolationItem): string {
  const group = v.groupName ? `${code(v.groupId)} (${literal(v.groupName)})` : code(v.groupId);
  return `*${v.severity}* ${code(describeRule(v.rule))} on ${group}`;
}

/** The thread reply that reminds the approvers before the clock acts, or of a decision still owed. */
export function reminderMessage(n: ReminderNotice): SlackMessage {
  const who = mentions(n.approvers);
  const lead = who ? `${who} ` : '';
  const v = n.violation;
  let line: string;
  if (n.secondsLeft !== null) {
    const what = v.dryRun ? 'the dry run records a revoke' : 'auto-revoke';
    line = `:alarm_clock: ${lead}${what} in ${inWords(n.secondsLeft)} unless someone keeps it: ${ruleText(v)}.`;
  } else {
    line = `:bell: ${lead}still undecided after ${inWords(n.waitingSeconds)}: ${ruleText(v)}. Nothing happens on its own: revoke it or keep it above.`;
  }
  const head =
    n.secondsLeft !== null
      ? `${v.dryRun ? 'The dry run records a revoke' : 'Auto-revoke'} in ${inWords(n.secondsLeft)} unless someone keeps it`
      : `Still undecided after ${inWords(n.waitingSeconds)}`;
  return {
    text: `${lead}${head}: ${escapeMrkdwn(`${describeRule(v.rule)} on ${v.groupId}`)}`,
    blocks: [section(line)],
  };
}

/** The escalation of a critical rule still pending: who is on call, what, when, and a link to the alert. */
export function escalationMessage(n: EscalationNotice, link: string): SlackMessage {
  const v = n.violation;
  const who = n.userGroup ? `<!subteam^${n.userGroup}> ` : '';
  const when =
    n.secondsLeft !== null
      ? v.dryRun
        ? ` The dry run records a revoke ${slackDate(v.deadline!)}.`
        : ` It is auto-revoked ${slackDate(v.deadline!)} unless someone keeps it.`
      : ' It is notify only: nothing happens unless someone decides.';
  return {
    text: `${who}Critical alert still undecided: ${escapeMrkdwn(`${describeRule(v.rule)} on ${v.groupId} (account ${v.account}, ${v.region})`)}`,
    blocks: [
      section(
        `:rotating_light: ${who}*Critical alert still undecided:* ${ruleText(v)} in account ${code(v.account)}, ${code(v.region)}.${when} <${link}|Open the alert>`,
      ),
    ],
  };
}

/** The weekly line: how many are still undecided here, the oldest first, each linked. */
export function undecidedMessage(line: UndecidedLine, links: string[]): SlackMessage {
  const listed = line.oldest.map((v, i) => {
    const age = inWords((line.now.getTime() - Date.parse(v.createdAt)) / 1000);
    const rule = code(describeRule(v.rule));
    return `${links[i] ? `<${links[i]}|${rule}>` : rule} (${age})`;
  });
  const more = line.total > line.oldest.length ? `, and ${line.total - line.oldest.length} more` : '';
  const summary = `${count(line.total, 'rule')} still undecided in this channel`;
  return {
    text: summary,
    blocks: [
      section(`:clipboard: *${summary}*, oldest first: ${listed.join(', ')}${more}.`),
      context('Revoke or keep each in its alert; notify-only rules are never decided on their own.'),
    ],
  };
}
