import type { ActionsBlock, Button, KnownBlock, MrkdwnElement, SectionBlock } from '@slack/types';
import { describeRule } from '../../services/detection/policy';
import { exposureChangeParts, violationExposureLine } from '../../services/exposure/context';
import type { ConnectionTracking } from '../../services/sessions/tracking';
import { SEVERITIES } from '../../services/shared/model';
import type { ViolationItem, ViolationStatus } from '../../services/violations/items';
import type { AlertView, RevokeFailure } from '../../services/violations/ports';
import { ActionIds, BlockIds } from '../ids';
import { code, escapeMrkdwn, literal, plainLiteral, quoted, slackDate, truncate } from '../mrkdwn';
import { personText } from '../person';
import { context, divider, header, mrkdwn, plainText, SECTION_LIMIT, section } from './kit';

const SEVERITY_ICON: Record<string, string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':white_circle:',
};

/** How many violations get their own buttons; beyond it the message lists them compactly (50-block limit). */
export const MAX_RULES_WITH_BUTTONS = 18;

const OUTCOME: Partial<Record<ViolationStatus, string>> = {
  REVOKED: ':no_entry: Revoked',
  AUTO_REVOKED: ':alarm_clock: Auto-revoked at the deadline',
  GONE: ':ghost: Already gone (removed outside sg-warden)',
  RESOLVED: ':white_check_mark: Resolved (changed, no longer violates)',
  KEPT: ':shield: Kept',
  FAILED: ':x: Revoke FAILED',
  DRY_RUN: ':test_tube: Dry run: would have revoked',
  REVOKING: ':hourglass_flowing_sand: Revoking…',
  REVOKE_RETRY: ':repeat: Revoke failed, retrying',
};

function who(v: ViolationItem): string {
  if (!v.decidedBy) return '';
  if (v.decidedBy === 'timeout') return ' by timeout';
  return ` by ${personText(v.decidedBy, v.decidedByName)}`;
}

/**
 * Why a rule was already gone, without reading as if the last person to touch it removed it: the person
 * who pressed Revoke only found it gone; an AWS principal (from CloudTrail) did remove it.
 */
function goneLine(v: ViolationItem): string {
  const base = ':ghost: Already gone';
  if (!v.decidedBy) return `${base} (removed outside sg-warden)`;
  if (v.decidedBy === 'timeout') return `${base} (removed outside sg-warden) at the deadline`;
  if (v.decidedBy.startsWith('U') || v.decidedBy.startsWith('W'))
    return `${base} (removed outside sg-warden) when <@${v.decidedBy}> pressed Revoke`;
  return `${base}: removed outside sg-warden by ${literal(v.decidedByName ?? v.decidedBy)}`;
}

/** One line of state for a violation: countdown while pending, outcome when decided. */
export function violationState(v: ViolationItem): string {
  if (v.status === 'PENDING') {
    if (v.deadline)
      return `:hourglass: Auto-revoke ${slackDate(v.deadline)}${v.dryRun ? ' (dry run: will only be recorded)' : ''}`;
    return ':bell: Notify only: no auto-revoke';
  }
  const base = OUTCOME[v.status] ?? v.status;
  const when = v.decidedAt ? ` ${slackDate(v.decidedAt)}` : '';
  if (v.status === 'GONE') return `${goneLine(v)}${when}`;
  // The backstop's schedule revoked it through AWS alone: sg-warden's own sweeper had not acted in time.
  let line =
    v.status === 'AUTO_REVOKED' && v.decidedBy === 'backstop'
      ? `:alarm_clock: Auto-revoked by the backstop${when} (the sweeper was late)`
      : `${base}${who(v)}${when}`;
  if (v.status === 'KEPT') {
    line += v.keptUntil ? ` until ${slackDate(v.keptUntil)}` : ' permanently';
    if (v.justification) line += `\n${quoted(v.justification)}`;
  }
  if ((v.status === 'FAILED' || v.status === 'REVOKE_RETRY') && v.lastError)
    line += `: ${literal(v.lastError)}`;
  if ((v.status === 'REVOKED' || v.status === 'AUTO_REVOKED') && v.connections)
    line += `\n${connectionsLine(v.connections)}`;
  return line;
}

/**
 * What the revoke did to live connections (services/sessions/tracking.ts): cut at once when AWS did not
 * track them, or still open until idle when it did.
 */
export function connectionsLine(c: ConnectionTracking): string {
  const reason = literal(c.reason);
  switch (c.verdict) {
    case 'untracked':
      return `:scissors: Live connections were cut: ${reason}, so removing the rule ended them at once (flows through a load balancer or NAT gateway are always tracked and may persist).`;
    case 'partly':
      return `:scissors: Live ${c.untracked.join(' and ').toUpperCase()} connections were cut: ${reason}; those may persist until idle.`;
    case 'tracked':
      return `:warning: Live connections may persist: ${reason}. An open connection stays until it has been idle for the tracking timeout (TCP: 5 days by default on most instance types).`;
    default:
      return `:warning: Live connections may persist: ${reason}.`;
  }
}

export function ruleLine(v: ViolationItem): string {
  return `${SEVERITY_ICON[v.severity] ?? ''} *${v.severity.toUpperCase()}* ${code(describeRule(v.rule))}${v.rule.ruleId ? ` ${code(v.rule.ruleId)}` : ''}`;
}

/**
 * The parts of a rule's section within Slack's limit, cutting what matters least first: the rule's
 * description (anyone can write 255 characters there), then the reasons, then a justification quoted
 * under the state; never the rule line or the state line with its deadline.
 */
export function fitSection(parts: {
  rule: string;
  reasons: string;
  description: string;
  state: string;
  limit?: number;
}): string {
  const limit = parts.limit ?? SECTION_LIMIT;
  const [stateLine = '', ...quoted] = parts.state.split('\n');
  const kept = { description: parts.description, reasons: parts.reasons, quote: quoted.join('\n') };
  const join = () =>
    [parts.rule, kept.reasons, kept.description, stateLine, kept.quote].filter((p) => p !== '').join('\n');
  for (const part of ['description', 'reasons', 'quote'] as const) {
    const over = join().length - limit;
    if (over <= 0) break;
    kept[part] = kept[part].length > over ? truncate(kept[part], kept[part].length - over) : '';
  }
  return truncate(join(), limit);
}

/** Slack's limit on the blocks of one message. */
const MAX_BLOCKS = 50;

export function violationSection(v: ViolationItem, inlineExposure = false): SectionBlock {
  const lines = v.reasons.map((r) => `• ${literal(r)}`);
  const exposure = inlineExposure ? violationExposureLine(v) : null;
  if (v.exposureChange) {
    // What changed the group's exposure, when and who: first, it is why this message changed.
    const { before, after } = exposureChangeParts(v.exposureChange);
    lines.unshift(`• ${literal(before)} ${slackDate(v.exposureChange.since)} ${literal(after)}`);
  }
  if (exposure) lines.unshift(`_${literal(exposure)}_`);
  if (v.previousKeep?.endedBy) {
    const until = v.previousKeep.until ? slackDate(v.previousKeep.until) : 'permanently';
    lines.push(
      `• it was kept by ${literal(v.previousKeep.byName)} until ${until} while its group was ${literal(v.previousKeep.grantedAt ?? 'of unrecorded exposure')}; that exception ended because the group became reachable from the internet, so it needs a fresh decision`,
    );
  } else if (v.previousKeep) {
    const until = v.previousKeep.until ? slackDate(v.previousKeep.until) : 'now';
    lines.push(
      `• it was kept by ${literal(v.previousKeep.byName)} until ${until}; that exception has expired, so it needs a fresh decision`,
    );
  }
  const reasons = lines.join('\n');
  const description = v.rule.description ? `_Description:_ ${literal(v.rule.description)}` : '';
  // The violation's ID closes the state line, for `/sg-status audit <ID>`.
  const [stateLine, ...quoted] = violationState(v).split('\n');
  const state = [`${stateLine} · ${code(v.violationId)}`, ...quoted].join('\n');
  return section(fitSection({ rule: ruleLine(v), reasons, description, state }), `rule:${v.violationId}`);
}

export function revokeButton(actionId: string, value: string, label: string, ruleText: string): Button {
  return {
    type: 'button',
    action_id: actionId,
    text: plainText(label),
    style: 'danger',
    value,
    confirm: {
      title: plainText('Revoke now?'),
      text: mrkdwn(truncate(`This removes ${ruleText} from the security group.`, 300)),
      confirm: plainText('Revoke'),
      deny: plainText('Cancel'),
      style: 'danger',
    },
  };
}

export function violationActions(v: ViolationItem): ActionsBlock {
  return {
    type: 'actions',
    block_id: BlockIds.violationActions(v.violationId),
    elements: [
      revokeButton(ActionIds.revoke, v.violationId, 'Revoke', code(describeRule(v.rule))),
      { type: 'button', action_id: ActionIds.keep, text: plainText('Keep…'), value: v.violationId },
    ],
  };
}

function headline(view: AlertView): string {
  const pending = view.violations.filter(
    (v) => v.status === 'PENDING' || v.status === 'REVOKING' || v.status === 'REVOKE_RETRY',
  );
  // The final severities (after exposure): the worst of them leads the message.
  const worst =
    SEVERITIES.find((s) => view.violations.some((v) => v.severity === s)) ??
    view.violations[0]?.severity ??
    'low';
  const group = view.alert.groupName ? `${view.alert.groupId} (${view.alert.groupName})` : view.alert.groupId;
  // A watched change (an exemption tag, …) that raised no rule is told as what it is.
  if (view.violations.length === 0) return `Watched change on ${group}`;
  const count = view.violations.length === 1 ? 'a risky rule' : `${view.violations.length} risky rules`;
  const state = pending.length === 0 ? ' — all decided' : '';
  return `${worst.toUpperCase()}: ${count} on ${group}${state}`;
}

/** The user group a critical alert of a route mentions (an S… ID, checked by the config), or ''. */
function mentionOf(view: AlertView): string {
  const group = view.alert.mention;
  return group && /^S[A-Z0-9]{2,}$/.test(group) ? `<!subteam^${group}>` : '';
}

/** The plain-text fallback (notifications, screen readers). */
export function alertText(view: AlertView): string {
  // Notifications read it as mrkdwn, and a top-level text has no `verbatim`: the group's name and the
  // principal come from AWS, so they are escaped and no address in them is left in a linkable shape.
  const mention = mentionOf(view);
  const by = view.alert.foundBy === 'scan' ? 'found by the scan' : `by ${view.alert.actor.arn}`;
  return `${mention ? `${mention} ` : ''}${plainLiteral(
    escapeMrkdwn(`sg-warden: ${headline(view)} in ${view.alert.account} ${view.alert.region}, ${by}`),
  )}`;
}

/** What the change's author answered in their direct message (or that they were asked), or ''. */
export function actorAnswerLine(view: AlertView): string {
  const ask = view.alert.actorAsk;
  if (!ask) return '';
  const who = personText(ask.user);
  switch (ask.status) {
    case 'ASKED':
      return `:speech_balloon: ${who} (who made the change) was asked by direct message`;
    case 'NEEDED':
      return `:raising_hand: ${who} made this change and says they need it ${slackDate(ask.at)}:\n${quoted(truncate(ask.justification ?? '', 1500))}`;
    case 'REVOKED':
      return `:leftwards_arrow_with_hook: ${who} took their own change back ${slackDate(ask.at)}`;
    default:
      return '';
  }
}

/** When and who, from the CloudTrail event. */
function eventFields(alert: AlertView['alert']): MrkdwnElement[] {
  return [
    mrkdwn(`*When*\n${slackDate(alert.eventTime)}`),
    mrkdwn(truncate(`*Who*\n${code(alert.actor.arn)}`, 2000)),
    mrkdwn(truncate(`*Source IP*\n${literal(alert.actor.sourceIp ?? 'unknown')}`, 2000)),
  ];
}

/** What the scan knows instead of a principal: when it found the rule, and the group's tags. */
function scanFields(alert: AlertView['alert']): MrkdwnElement[] {
  const tags = Object.entries(alert.groupTags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return [
    mrkdwn(`*Found*\n${slackDate(alert.eventTime)} by the scan`),
    mrkdwn('*Who*\nnot known (no CloudTrail event)'),
    mrkdwn(truncate(`*Group tags*\n${tags ? code(tags) : 'none'}`, 2000)),
  ];
}

/** The alert message: who did what where, each violating rule with its state and buttons, and act-on-all. */
export function alertBlocks(view: AlertView): KnownBlock[] {
  const { alert } = view;
  const account = view.accountAlias
    ? `${literal(alert.account)} (${literal(view.accountAlias)})`
    : literal(alert.account);
  const blocks: KnownBlock[] = [
    header(plainLiteral(headline(view))),
    {
      type: 'section',
      fields: [
        mrkdwn(`*Account*\n${account}`),
        mrkdwn(`*Region*\n${literal(alert.region)}`),
        mrkdwn(
          truncate(
            `*Security group*\n${code(alert.groupId)}${alert.groupName ? ` ${literal(alert.groupName)}` : ''}`,
            2000,
          ),
        ),
        ...(alert.foundBy === 'scan' ? scanFields(alert) : eventFields(alert)),
      ],
    },
    {
      type: 'context',
      elements: [
        mrkdwn(
          truncate(
            `${
              alert.foundBy === 'scan'
                ? `Found by the scan (run ${code(alert.eventId)}): no CloudTrail event was seen for this rule, so who made it is not known`
                : `${literal(alert.eventName)} · event ${code(alert.eventId)} · user agent ${code(alert.actor.userAgent ?? 'unknown')}`
            }${alert.route ? ` · route ${code(alert.route)}` : ''}`,
            SECTION_LIMIT,
          ),
        ),
      ],
    },
  ];
  // What a watched change did (who tagged, which prefix list gained the internet), before its rules.
  // One section for all of them, so a call with many tags stays within Slack's 50 blocks.
  const notices = view.alert.notices ?? [];
  if (notices.length > 0) blocks.push(section(notices.map((n) => `:mag: ${literal(n)}`).join('\n')));
  const mention = mentionOf(view);
  if (mention) blocks.push(section(`${mention} a critical change needs a decision`, 'alert_mention'));
  const answer = actorAnswerLine(view);
  if (answer) blocks.push(section(answer, 'actor_answer'));
  blocks.push(divider);
  const withButtons = view.violations.slice(0, MAX_RULES_WITH_BUTTONS);
  const rest = view.violations.slice(MAX_RULES_WITH_BUTTONS);
  // Each violation's exposure is a context line of its own while the message stays within Slack's 50
  // blocks; past that it leads the violation's section instead.
  const pendingCount = view.violations.filter((v) => v.status === 'PENDING').length;
  const lines = withButtons.filter((v) => violationExposureLine(v) !== null).length;
  const planned =
    blocks.length +
    withButtons.length +
    withButtons.filter((v) => v.status === 'PENDING').length +
    (rest.length > 0 ? 1 : 0) +
    (pendingCount > 1 || (pendingCount === 1 && rest.length > 0) ? 1 : 0);
  const ownLines = planned + lines <= MAX_BLOCKS;
  for (const v of withButtons) {
    blocks.push(violationSection(v, !ownLines));
    const exposure = ownLines ? violationExposureLine(v) : null;
    if (exposure) blocks.push(context(literal(exposure)));
    if (v.status === 'PENDING') blocks.push(violationActions(v));
  }
  if (rest.length > 0) {
    let text = `*${rest.length} more rules* (decide them with the buttons below, or see \`/sg-status\`):`;
    for (const v of rest) {
      const line = `\n${ruleLine(v)} — ${v.status}`;
      if (text.length + line.length > SECTION_LIMIT - 60) {
        text += `\n…and ${rest.length - text.split('\n').length + 1} more`;
        break;
      }
      text += line;
    }
    blocks.push(section(text));
  }
  const pending = view.violations.filter((v) => v.status === 'PENDING');
  if (pending.length > 1 || (pending.length === 1 && rest.length > 0)) {
    blocks.push({
      type: 'actions',
      block_id: BlockIds.alertActions,
      elements: [
        revokeButton(
          ActionIds.revokeAll,
          alert.alertId,
          `Revoke all ${pending.length}`,
          `all ${pending.length} pending rules`,
        ),
        {
          type: 'button',
          action_id: ActionIds.keepAll,
          text: plainText(`Keep all ${pending.length}…`),
          value: alert.alertId,
        },
      ],
    });
  }
  return blocks;
}

/** The notice for a revoke sg-warden gave up on: which rule, where, the last error, and what to do now. */
export function revokeFailureText(failure: RevokeFailure): string {
  const v = failure.violation;
  const rule = `${describeRule(v.rule)}${v.rule.ruleId ? ` (${v.rule.ruleId})` : ''}`;
  return (
    `:rotating_light: sg-warden could not revoke ${code(rule)} in ${code(v.groupId)} ` +
    `(${literal(v.account)} ${literal(v.region)}) after ${failure.attempts} attempts. ` +
    `Last error: ${code(failure.error)}. The rule is still open: remove it by hand or fix the permission, ` +
    `then check it with \`/sg-status ${literal(v.groupId)}\`.`
  );
}
