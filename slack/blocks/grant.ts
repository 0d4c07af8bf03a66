import type { ActionsBlock, KnownBlock, SectionBlock } from '@slack/types';
import type { Config } from '../../services/config/config';
import { grantedAccess } from '../../services/detection/own-rules';
import { describeRule } from '../../services/detection/policy';
import type { RuleChange } from '../../services/grants/changed-rule';
import type { GrantSessions } from '../../services/grants/deps';
import type { GrantItem } from '../../services/grants/items';
import { LINK_LIFETIME_WORDS } from '../../services/grants/links';
import { describeAccess, type GrantOutcome } from '../../services/grants/plan';
import type { Refusal } from '../../services/kernel/refusal';
import { refusalText } from '../../services/kernel/refusal';
import { STAYS_UNTIL_IDLE } from '../../services/sessions/plan';
import { formatDuration, plainTime } from '../../services/shared/duration';
import type { Person } from '../../services/shared/people';
import { WHITELIST_USAGE } from '../commands/whitelist';
import { ActionIds } from '../ids';
import { code, escapeMrkdwn, literal, plainLiteral, showControls, slackDate } from '../mrkdwn';
import { context, plainText, SECTION_LIMIT, type SlackMessage, section, textMessage } from './kit';
import { grantSessionsLine } from './sessions';

export type { SlackMessage } from './kit';
/** Lines one list shows before it says how many more there are. */
export const MAX_LIST_LINES = 15;

/** "1h 5m" until `iso` from `now`, or "now" when it is past. */
export function timeLeft(iso: string, now: Date): string {
  const seconds = Math.round((new Date(iso).getTime() - now.getTime()) / 1000);
  if (seconds <= 0) return 'now';
  // Whole minutes, rounded up (never less time than is left), then split: 59m 30s is "1h", not "60m".
  const minutes = Math.ceil(seconds / 60);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return `${d}d${h ? ` ${h}h` : ''}`;
  if (h > 0) return `${h}h${m ? ` ${m}m` : ''}`;
  return `${m}m`;
}

/**
 * Packs lines under a title into one section within Slack's limits; lines that do not fit are counted
 * ("…and 12 more") with `more`, a hint on how to see them.
 */
export function listSection(
  title: string,
  lines: string[],
  more: string,
  maxLines = MAX_LIST_LINES,
): SectionBlock {
  let text = title;
  let shown = 0;
  const tail = (left: number) => `\n…and ${left} more. ${more}`;
  for (const line of lines) {
    const left = lines.length - shown - 1;
    const reserve = left > 0 ? tail(left).length + 10 : 0;
    if (shown >= maxLines || text.length + 1 + line.length + reserve > SECTION_LIMIT) break;
    text += `\n${line}`;
    shown++;
  }
  if (shown < lines.length) text += tail(lines.length - shown);
  return section(text);
}

/** Where a grant applies: "TCP 22 from 203.0.113.7/32 to `sg-…` (bastion, eu-west-1)". */
export function grantWhere(grant: GrantItem): string {
  return `${describeAccess(grant.protocol, grant.port)} from ${code(grant.cidr)} to ${code(grant.groupId)} (${literal(grant.alias)}, ${literal(grant.region)})`;
}

function grantWherePlain(grant: GrantItem): string {
  return showControls(
    `${describeAccess(grant.protocol, grant.port)} from ${grant.cidr} to ${grant.groupId} (${grant.alias}, ${grant.region})`,
  );
}

/** The answer to a grant that was made (or that extended the asker's existing grant of the same rule). */
export function grantOutcomeMessage(outcome: GrantOutcome): SlackMessage {
  const { grant } = outcome;
  const until = slackDate(grant.expiresAt);
  const later = `It is removed automatically then. \`/sg-whitelist extend ${grant.grantId} <duration>\` for longer, \`/sg-whitelist revoke ${grant.grantId}\` to end it now.`;
  if (outcome.kind === 'extended') {
    const extended = grant.expiresAt !== outcome.previousExpiresAt;
    return {
      text: `You already had ${grant.grantId} for ${grantWherePlain(grant)}; ${extended ? 'it now lasts' : 'it lasts'} until ${plainTime(grant.expiresAt)}.`,
      blocks: [
        section(
          `:repeat: That rule already exists as your grant ${code(grant.grantId)}: ${grantWhere(grant)}. ${extended ? 'It now lasts' : 'It already lasts'} until ${until}.\n${later}`,
        ),
      ],
    };
  }
  return {
    text: `Granted ${grant.grantId}: ${grantWherePlain(grant)} until ${plainTime(grant.expiresAt)}.`,
    blocks: [
      section(
        `:white_check_mark: Granted ${code(grant.grantId)}: ${grantWhere(grant)} until ${until} (rule ${code(grant.ruleId ?? 'unknown')}).\n${later}`,
      ),
      context(sessionsPromise(grant)),
    ],
  };
}

/** What happens to an open connection when the grant ends: closed by sg-warden, or left until idle. */
function sessionsPromise(grant: GrantItem): string {
  return grant.endSessions
    ? 'When it ends, sg-warden also closes your open TCP connections to it on the target’s instances (SSM Run Command), and tells you how many.'
    : STAYS_UNTIL_IDLE;
}

/** The answer to `/sg-whitelist … me`: the one-time link. */
export function linkMessage(url: string, expiresAt: string, alias: string): SlackMessage {
  return {
    text: `Open this link from the machine that needs access, within ${LINK_LIFETIME_WORDS}, and press Confirm: ${url}`,
    blocks: [
      section(
        `:link: <${url}|Open this link> from the machine that needs access to *${literal(alias)}*, and press *Confirm*. It shows the address it sees before anything is granted.`,
      ),
      context(
        `The link is yours alone, works once and expires ${slackDate(expiresAt, '{time}')} (in ${LINK_LIFETIME_WORDS}). Do not share it: whoever confirms it grants their own address in your name, and you are told which address that was.`,
      ),
    ],
  };
}

/** The address a grant opens, without its /32 or /128. */
function hostOf(grant: GrantItem): string {
  return grant.cidr.replace(/\/(32|128)$/, '');
}

/**
 * Told to the owner when their `me` link was confirmed: which address was granted and, for a new grant,
 * **Not me — revoke** (a forwarded or leaked link lets whoever opens it grant their own address).
 */
export function linkUsedMessage(outcome: GrantOutcome): SlackMessage {
  const message = grantOutcomeMessage(outcome);
  if (outcome.kind !== 'granted') return message;
  const { grant } = outcome;
  const host = hostOf(grant);
  return {
    text: `${message.text} Your me link was confirmed from ${host}; if that was not you, revoke it now: /sg-whitelist revoke ${grant.grantId}`,
    blocks: [
      ...message.blocks,
      section(
        `:eyes: Your \`me\` link was confirmed from ${code(host)}. If that was not you, someone else has your link: *Not me — revoke* ends ${code(grant.grantId)} now and tells the security channel.`,
      ),
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: ActionIds.grantNotMe,
            text: plainText('Not me — revoke'),
            style: 'danger',
            value: grant.grantId,
          },
        ],
      },
    ],
  };
}

/** Told to the owner when their `me` link was confirmed but nothing was granted: the sentence and code. */
export function linkRefusedMessage(refusal: Refusal): SlackMessage {
  return textMessage(`:warning: ${literal(refusalText(refusal))}`);
}

/** The alert channel's notice when an owner says a grant made through their `me` link was not theirs. */
export function disownedMessage(grant: GrantItem, by: Person): SlackMessage {
  const state =
    grant.status === 'REVOKED'
      ? 'It is revoked.'
      : `Its rule could not be removed yet (*${grant.status}*); sg-warden keeps retrying.`;
  return {
    // The fallback is read as mrkdwn too (notifications): the person's name is escaped, controls shown.
    text: escapeMrkdwn(
      showControls(
        `${by.name} says grant ${grant.grantId} (${grantWherePlain(grant)}) was not theirs: someone else confirmed their me link from ${hostOf(grant)}. ${state.replace(/\*/g, '')}`,
      ),
    ),
    blocks: [
      section(
        `:rotating_light: <@${grant.userId}> says grant ${code(grant.grantId)} — ${grantWhere(grant)} — was *not theirs*: someone else confirmed their \`me\` link from ${code(hostOf(grant))}. ${state}\nThe link may have been forwarded or leaked; \`/sg-status audit ${grant.grantId}\` has its story.`,
      ),
    ],
  };
}

function grantLine(grant: GrantItem, now: Date, withOwner: boolean): string {
  const owner = withOwner ? ` for <@${grant.userId}>` : '';
  const state =
    grant.status === 'ACTIVE'
      ? `until ${slackDate(grant.expiresAt)} (${timeLeft(grant.expiresAt, now)} left)`
      : grant.status === 'REVOKE_FAILED'
        ? `:x: *REVOKE_FAILED* (tried ${grant.revokeAttempts}×, retrying): ${literal(grant.lastError ?? 'unknown error')}`
        : `_${grant.status.toLowerCase()}_`;
  return `• ${code(grant.grantId)}${owner} ${grantWhere(grant)} ${state}`;
}

/** `/sg-whitelist list`: the asker's grants whose rule may exist. */
export function grantListMessage(grants: GrantItem[], now: Date): SlackMessage {
  if (grants.length === 0) {
    return {
      text: 'You have no active grants.',
      blocks: [section('You have no active grants. `/sg-whitelist help` says how to ask for one.')],
    };
  }
  return {
    text: `You have ${grants.length} grant${grants.length === 1 ? '' : 's'}: ${grants.map((g) => g.grantId).join(', ')}`,
    blocks: [
      listSection(
        `*Your grants (${grants.length})*`,
        grants.map((g) => grantLine(g, now, false)),
        '`/sg-status` lists every grant.',
      ),
    ],
  };
}

/** Shared by the overview: one line per grant with its owner. */
export function grantLines(grants: GrantItem[], now: Date): string[] {
  return grants.map((g) => grantLine(g, now, true));
}

/** `/sg-whitelist help`, listing the targets with their ports and longest durations. */
export function whitelistHelp(config: Config, note?: string): SlackMessage {
  const targets = Object.entries(config.whitelist.targets).map(
    ([alias, t]) =>
      `• *${literal(alias)}* — ${code(t.groupId)} in ${literal(t.region)}, ${t.protocol === 'tcp' || t.protocol === 'udp' ? `${t.protocol.toUpperCase()} ${t.ports.join(', ')}` : describeAccess(t.protocol, null)}, ${formatDuration(t.defaultDuration)} by default, at most ${formatDuration(t.maxDuration)}`,
  );
  const lines = [
    note ? `:grey_question: ${literal(note)}` : '',
    '*Temporary access for one address:* `/sg-whitelist <target> <ip|me> [<port>] [for <duration>]`, e.g. `/sg-whitelist bastion 203.0.113.7 for 2h`.',
    `\`me\` sends you a one-time link (${LINK_LIFETIME_WORDS}) that shows the address it sees and grants it when you press Confirm; you are told which address was granted, with *Not me — revoke*.`,
    'One host only (/32 or /128); wide ranges and special addresses (unspecified, loopback, link-local, multicast, broadcast, reserved) are refused. Access is removed automatically at the end.',
    '`list` your grants · `revoke <grant>` to end one now · `extend <grant> <duration>` (within the target’s longest) · `help`',
  ].filter(Boolean);
  return {
    // The fallback text is mrkdwn too: the note quotes what the person typed.
    text: escapeMrkdwn(`${note ? `${note} ` : ''}Usage: ${WHITELIST_USAGE.replace(/`/g, '')}`),
    blocks: [
      section(lines.join('\n')),
      targets.length > 0
        ? listSection('*Targets*', targets, 'See the configuration for the rest.')
        : section('_No targets are configured yet._'),
    ],
  };
}

/** DM ten minutes before the end, with an Extend button when the target allows more. */
export function expiringMessage(grant: GrantItem, extendBy: number | null, now: Date): SlackMessage {
  const text = `Your grant ${grant.grantId} (${grantWherePlain(grant)}) ends at ${plainTime(grant.expiresAt)}.`;
  const blocks: KnownBlock[] = [
    section(
      `:hourglass: Your grant ${code(grant.grantId)} — ${grantWhere(grant)} — ends ${slackDate(grant.expiresAt)} (in ${timeLeft(grant.expiresAt, now)}).`,
    ),
  ];
  if (extendBy !== null) {
    const extend: ActionsBlock = {
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: ActionIds.grantExtend,
          text: plainText(`Extend by ${formatDuration(extendBy)}`),
          value: grant.grantId,
        },
      ],
    };
    blocks.push(extend);
  } else {
    blocks.push(context('It cannot be extended further: the target’s longest duration is reached.'));
  }
  return { text, blocks };
}

/**
 * DM when a grant's rule is gone (expired, revoked early, or retried successfully), with what became of
 * open connections: being closed, or left until idle (and for how long).
 */
export function endedMessage(grant: GrantItem, sessions: GrantSessions = { kind: 'off' }): SlackMessage {
  const how = grant.status === 'REVOKED' ? 'was revoked' : 'expired';
  const idle = sessions.kind === 'sent' || sessions.kind === 'none' ? '' : ` ${STAYS_UNTIL_IDLE}`;
  return {
    text: `Your grant ${grant.grantId} ${how}: ${grantWherePlain(grant)} is removed.${idle}`,
    blocks: [
      section(
        `:lock: Your grant ${code(grant.grantId)} ${how}: ${grantWhere(grant)} is removed. \`/sg-whitelist ${literal(grant.alias)} <ip|me>\` asks for a new one.`,
      ),
      context(grantSessionsLine(sessions)),
    ],
  };
}

/** DM (and alert-channel notice) when a grant's rule could not be removed. */
export function revokeFailedMessage(grant: GrantItem): SlackMessage {
  // The fallback is read as mrkdwn too (notifications): EC2's error and the user name are escaped.
  const text = escapeMrkdwn(
    showControls(
      `Grant ${grant.grantId} (${grantWherePlain(grant)}, for ${grant.userName}) ended but its rule ${grant.ruleId ?? ''} could not be removed: ${grant.lastError ?? 'unknown error'}. sg-warden keeps retrying; it stays listed as REVOKE_FAILED.`,
    ),
  );
  return {
    text,
    blocks: [
      section(
        `:x: Grant ${code(grant.grantId)} for <@${grant.userId}> ended, but its rule ${code(grant.ruleId ?? 'unknown')} (${grantWhere(grant)}) could not be removed: ${literal(grant.lastError ?? 'unknown error')}.\nsg-warden keeps retrying; it stays listed as *REVOKE_FAILED* in \`/sg-status\` until the rule is gone.`,
      ),
    ],
  };
}

/** DM when a request that never finished was cleaned up. */
export function abandonedMessage(grant: GrantItem, rulesRemoved: number): SlackMessage {
  return {
    text: `Your request ${grant.grantId} did not finish; nothing is granted.`,
    blocks: [
      section(
        `:warning: Your request ${code(grant.grantId)} (${grantWhere(grant)}) did not finish, so nothing is granted${rulesRemoved > 0 ? ` (the half-added rule was removed)` : ''}. Please ask again.`,
      ),
    ],
  };
}

/** The answer to an early revoke or an extension. */
export function grantChangedMessage(
  grant: GrantItem,
  what: 'revoked' | 'revoke-failed' | 'extended',
): SlackMessage {
  if (what === 'extended') {
    return {
      text: `Extended ${grant.grantId} until ${plainTime(grant.expiresAt)}.`,
      blocks: [
        section(
          `:white_check_mark: Extended ${code(grant.grantId)} (${grantWhere(grant)}) until ${slackDate(grant.expiresAt)}.`,
        ),
      ],
    };
  }
  if (what === 'revoke-failed') return revokeFailedMessage(grant);
  return {
    text: `Revoked ${grant.grantId}: ${grantWherePlain(grant)} is removed.`,
    blocks: [section(`:lock: Revoked ${code(grant.grantId)}: ${grantWhere(grant)} is removed.`)],
  };
}

/** The owner's DM when someone changed the rule of their grant: what was granted, what the rule is now, who. */
export function grantEndedByChangeMessage(grant: GrantItem, change: RuleChange): SlackMessage {
  const now = describeRule(change.rule);
  // The fallback has no `verbatim`: the principal comes from AWS, so nothing in it is left linkable.
  const text = plainLiteral(
    escapeMrkdwn(
      `Your grant ${grant.grantId} (${grantedAccess(grant)} in ${grant.groupId}) has ended: a rule sg-warden made for a grant was changed by ${change.by.id} to ${now}. The rule is now judged like any other; ask for a new grant with /sg-whitelist ${grant.alias}.`,
    ),
  );
  return {
    text,
    blocks: [
      section(
        `:warning: Your grant ${code(grant.grantId)} (${literal(grantedAccess(grant))} in ${code(grant.groupId)}) has ended: a rule sg-warden made for a grant was changed by ${code(change.by.id)}.\nThe rule ${code(change.rule.ruleId ?? 'unknown')} is now ${code(now)}, and is judged like any other rule (the alert channel decides about it). Ask for a new grant with \`/sg-whitelist ${literal(grant.alias)} <ip|me>\`.`,
      ),
    ],
  };
}
