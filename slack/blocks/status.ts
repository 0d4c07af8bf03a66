import type { KnownBlock } from '@slack/types';
import { describeRule } from '../../services/detection/policy';
import { attachmentLabel, type Exposure } from '../../services/exposure/classify';
import type { StoredAuditEntry } from '../../services/kernel/audit';
import type { Refusal } from '../../services/kernel/refusal';
import { refusalText } from '../../services/kernel/refusal';
import type { AuditView, GroupView, Overview, RuleMark } from '../../services/status/status';
import { STATUS_USAGE } from '../commands/status';
import { code, escapeMrkdwn, literal, plainLiteral, slackDate, truncate } from '../mrkdwn';
import { personText } from '../person';
import { count } from '../plural';
import { grantLines, listSection, timeLeft } from './grant';
import { context, header, type SlackMessage, section } from './kit';

const SEVERITY_ICON: Record<string, string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':white_circle:',
};

/** An account as people know it: its alias from config, with the ID. */
function accountName(account: string, aliases: Record<string, string>): string {
  const alias = aliases[account];
  return alias ? `${literal(alias)} (${literal(account)})` : literal(account);
}

/** `/sg-status`: open violations, kept rules, temporary access and runs in flight. */
export function overviewMessage(
  overview: Overview,
  permalinks: Map<string, string>,
  accountAliases: Record<string, string> = {},
): SlackMessage {
  const { now } = overview;
  const violationLines = overview.violations.map((v) => {
    const link = permalinks.get(v.violationId);
    const when =
      v.status !== 'PENDING'
        ? `_${v.status.toLowerCase().replace('_', ' ')}_`
        : v.deadline
          ? `auto-revoke ${slackDate(v.deadline)} (${timeLeft(v.deadline, now)} left)${v.dryRun ? ', dry run' : ''}`
          : 'notify only';
    return `${SEVERITY_ICON[v.severity] ?? ''} ${code(describeRule(v.rule))} in ${code(v.groupId)} (${accountName(v.account, accountAliases)}, ${literal(v.region)}) — ${when}${link ? ` · <${link}|message>` : ''} · ${code(v.violationId)}`;
  });
  const exceptionLines = overview.exceptions.map(
    (e) =>
      `:shield: ${code(describeRule(e.rule))} in ${code(e.rule.groupId)} (${accountName(e.account, accountAliases)}, ${literal(e.region)}) — kept by ${personText(e.approvedBy, e.approvedByName)} ${e.expiresAt ? `until ${slackDate(e.expiresAt)} (${timeLeft(e.expiresAt, now)} left)` : 'permanently'} · ${code(e.violationId)}`,
  );
  const runLines = overview.runs.map(
    (r) =>
      `:gear: ${code(r.runId)} ${literal(r.runbook)} on ${literal(r.target)} (${r.instanceIds.length} instance${r.instanceIds.length === 1 ? '' : 's'}, ${literal(r.region)}) by <@${r.requestedBy}> — _${r.status.toLowerCase()}_${r.sentAt ? ` since ${slackDate(r.sentAt)}` : ''}`,
  );
  const counts = `${count(overview.violations.length, 'open violation')}, ${count(overview.exceptions.length, 'kept rule')}, ${count(overview.grants.length, 'grant')}, ${count(overview.runs.length, 'run')} in flight`;
  const blocks: KnownBlock[] = [header('sg-warden status')];
  blocks.push(
    overview.violations.length
      ? listSection(
          `*Open violations (${overview.violations.length})*`,
          violationLines,
          '`/sg-status <sg-id>` shows one group.',
        )
      : section('*Open violations:* none :white_check_mark:'),
  );
  blocks.push(
    overview.exceptions.length
      ? listSection(
          `*Kept rules (${overview.exceptions.length})*`,
          exceptionLines,
          '`/sg-status <sg-id>` shows one group.',
        )
      : section('*Kept rules:* none'),
  );
  blocks.push(
    overview.grants.length
      ? listSection(
          `*Temporary access (${overview.grants.length})*`,
          grantLines(overview.grants, now),
          '`/sg-status <target>` shows one target.',
        )
      : section('*Temporary access:* none'),
  );
  if (overview.runs.length) {
    blocks.push(
      listSection(
        `*SSM runs in flight (${overview.runs.length})*`,
        runLines,
        '`/sg-run list` shows them all.',
      ),
    );
  }
  blocks.push(context(`${counts} · as of ${slackDate(now.toISOString(), '{time}')} · ${STATUS_USAGE}`));
  return { text: `sg-warden status: ${counts}.`, blocks };
}

function markText(mark: RuleMark, now: Date): string {
  switch (mark.kind) {
    case 'ok':
      return ':white_check_mark: ok';
    case 'granted':
      return `:key: granted to <@${mark.grant.userId}> until ${slackDate(mark.grant.expiresAt)} (${timeLeft(mark.grant.expiresAt, now)} left) · ${code(mark.grant.grantId)}${mark.grant.status === 'REVOKE_FAILED' ? ' *REVOKE_FAILED*' : ''}`;
    case 'kept':
      return `:shield: kept ${mark.exception.expiresAt ? `until ${slackDate(mark.exception.expiresAt)}` : 'permanently'} by ${personText(mark.exception.approvedBy, mark.exception.approvedByName)} · ${code(mark.exception.violationId)}`;
    case 'violation': {
      const decision = mark.pending
        ? ` · open: ${code(mark.pending.violationId)}${mark.pending.deadline ? ` auto-revoke ${slackDate(mark.pending.deadline)}` : ''}`
        : '';
      return `${SEVERITY_ICON[mark.severity] ?? ''} *violation (${mark.severity})*: ${literal(mark.reasons[0] ?? '')}${decision}`;
    }
  }
}

/** `/sg-status <sg-id or target>`: the group's live rules, each marked. */
export function groupMessage(view: GroupView): SlackMessage {
  const name = `${view.groupId}${view.groupName ? ` (${view.groupName})` : ''}`;
  const title = `${name} in ${view.region}${view.alias ? ` — target ${view.alias}` : ''}`;
  if (!view.exists) {
    const text = `Security group ${view.groupId} does not exist in ${view.region} (or sg-warden cannot see it). Give the region after the ID if it lives elsewhere: /sg-status ${view.groupId} <region>.`;
    return { text: escapeMrkdwn(text), blocks: [section(literal(text))] };
  }
  const counts = { ok: 0, violation: 0, kept: 0, granted: 0 };
  for (const r of view.rules) counts[r.mark.kind]++;
  const summary = `${count(view.rules.length, 'rule')}: ${count(counts.violation, 'violation')}, ${counts.granted} granted, ${counts.kept} kept, ${counts.ok} ok`;
  const lines = view.rules.map(
    ({ rule, mark }) =>
      `${code(describeRule(rule))}${rule.ruleId ? ` ${code(rule.ruleId)}` : ''}${rule.description ? ` _${literal(truncate(rule.description, 80))}_` : ''}\n    ${markText(mark, view.now)}`,
  );
  const blocks: KnownBlock[] = [
    header(plainLiteral(title)),
    ...(view.exposure ? [section(exposureText(view.exposure))] : []),
    lines.length
      ? listSection(`*Rules (${view.rules.length})*`, lines, 'The AWS console shows every rule.', 20)
      : section('_The group has no rules._'),
    context(`${summary} · live from EC2 as of ${slackDate(view.now.toISOString(), '{time}')}`),
  ];
  // The fallback text is mrkdwn too: the group's name comes from EC2.
  return { text: plainLiteral(escapeMrkdwn(`${title}: ${summary}.`)), blocks };
}

/** How many of a group's attachments `/sg-status <group>` lists, each with why. */
const STATUS_ATTACHMENTS = 10;

const EXPOSURE_ICON: Record<Exposure['exposure'], string> = {
  internet: ':globe_with_meridians:',
  internal: ':house:',
  unattached: ':zzz:',
  unknown: ':grey_question:',
};

/** The group's exposure: its class and why, then each attachment (the most exposed first) and its reason. */
function exposureText(exposure: Exposure): string {
  const lines = [
    `${EXPOSURE_ICON[exposure.exposure]} *Exposure: ${exposure.exposure}* — ${literal(exposure.reason)}`,
  ];
  for (const a of exposure.attachments.slice(0, STATUS_ATTACHMENTS))
    lines.push(`• ${literal(attachmentLabel(a))}: ${a.exposure}, ${literal(a.reason)}`);
  const rest = exposure.attachments.length - STATUS_ATTACHMENTS;
  if (rest > 0) lines.push(`…and ${rest} more (\`sg-warden exposure <sg-id>\` lists them all)`);
  if (exposure.failures.length > 0 && exposure.attachments.length > 0)
    lines.push(`_Not read: ${literal(exposure.failures.join('; '))}_`);
  return lines.join('\n');
}

function actorText(e: StoredAuditEntry): string {
  if (e.actorType === 'timeout') return 'timeout';
  // Only a Slack user's ID is mentioned; an AWS principal's ID stays a name.
  return e.actorType === 'slack-user'
    ? personText(e.actorId, e.actorName)
    : literal(e.actorName ?? e.actorId);
}

function auditLine(e: StoredAuditEntry, withSubject: boolean): string {
  const states = e.fromState || e.toState ? ` ${e.fromState ?? '∅'}→${e.toState ?? '∅'}` : '';
  const result =
    e.result === 'ok' ? '' : ` *${e.result}*${e.error ? `: ${literal(truncate(e.error, 200))}` : ''}`;
  const why = e.justification ? ` — “${literal(truncate(e.justification, 200))}”` : '';
  const subject = withSubject ? ` ${e.subjectType} ${code(e.subjectId)}` : '';
  return `${slackDate(e.at)}${subject} *${literal(e.action)}*${states} by ${actorText(e)}${result}${why}`;
}

/** `/sg-status audit [<id>]`: the latest decisions, or one item's full history. */
export function auditMessage(view: AuditView): SlackMessage {
  if (view.subjectId) {
    if (view.entries.length === 0) {
      const text = `No audit entries for ${view.subjectId}. Violation IDs look like v-…, grant IDs like g-….`;
      return { text: escapeMrkdwn(text), blocks: [section(literal(text))] };
    }
    // Oldest first reads as a story; the newest are kept when it is too long.
    const lines = view.entries.map((e) => auditLine(e, false));
    const shown = lines.slice(0, 30).reverse();
    const omitted = lines.length - shown.length;
    const blocks: KnownBlock[] = [
      header(`History of ${view.subjectId}`),
      listSection(
        `*${view.entries.length} entr${view.entries.length === 1 ? 'y' : 'ies'}*${omitted ? ` (the latest ${shown.length}; ${omitted} earlier ones are in the audit export)` : ''}`,
        shown,
        'The full trail is in the audit export.',
        30,
      ),
    ];
    return { text: `History of ${view.subjectId}: ${view.entries.length} entries.`, blocks };
  }
  if (view.entries.length === 0) {
    const text = `No decisions in the last ${view.days} day${view.days === 1 ? '' : 's'}.`;
    return { text, blocks: [section(text)] };
  }
  const blocks: KnownBlock[] = [
    header('Latest decisions'),
    listSection(
      // Says what it shows: this many, newest first, from the window README names.
      `*The latest ${view.entries.length} decision${view.entries.length === 1 ? '' : 's'}* of the last ${view.days} day${view.days === 1 ? '' : 's'}`,
      view.entries.map((e) => auditLine(e, true)),
      '`/sg-status audit <ID>` shows one item’s history.',
      view.entries.length,
    ),
    context('`/sg-status audit <violation or grant ID>` shows one item’s full history.'),
  ];
  return { text: `Latest ${view.entries.length} decisions.`, blocks };
}

/** The one sentence for someone who may not see what they asked for: who may. */
export function statusRefusedMessage(refusal: Refusal): SlackMessage {
  const text = `:no_entry_sign: ${literal(refusalText(refusal))}`;
  return { text, blocks: [section(text)] };
}

/** `/sg-status help` (and the answer to anything it does not understand). */
export function statusHelp(note?: string): SlackMessage {
  const lines = [
    note ? `:grey_question: ${literal(note)}` : '',
    '`/sg-status` — open violations (time left, link to the message), kept rules, temporary access, runs in flight',
    '`/sg-status <sg-id or target> [<region>]` — the group’s live rules, each marked ok, violation, kept or granted',
    '`/sg-status audit [<violation or grant ID>]` — the latest decisions, or one item’s full history',
  ].filter(Boolean);
  return {
    // The fallback text is mrkdwn too: the note quotes what the person typed.
    text: escapeMrkdwn(`${note ? `${note} ` : ''}Usage: ${STATUS_USAGE.replace(/`/g, '')}`),
    blocks: [section(lines.join('\n'))],
  };
}
