import type { KnownBlock, SectionBlock } from '@slack/types';
import { describeRule } from '../../services/detection/policy';
import { principalName } from '../../services/detection/principal-name';
import { type DigestCounts, digestCounts } from '../../services/violations/digest-plan';
import type { ViolationItem } from '../../services/violations/items';
import type { DigestView } from '../../services/violations/ports';
import { ActionIds, BlockIds } from '../ids';
import { code, escapeMrkdwn, literal, plainLiteral, slackDate, truncate } from '../mrkdwn';
import { revokeButton, ruleLine, violationActions, violationState } from './alert';
import { context, divider, HEADER_LIMIT, header, mrkdwn, plainText, SECTION_LIMIT, section } from './kit';

/** Slack's limit of blocks in one message. */
export const MESSAGE_BLOCK_LIMIT = 50;
/** The plain-text fallback sg-warden keeps to (Slack advises 4,000 characters; it cuts at 40,000). */
export const FALLBACK_TEXT_LIMIT = 4000;
/** A section field's limit. */
const FIELD_LIMIT = 2000;
/** Security groups named in the digest's fields before "and N more". */
const GROUPS_NAMED = 5;

function countsText(c: DigestCounts): string {
  const parts = [`${c.pending} pending`, `${c.revoked} revoked`, `${c.kept} kept`];
  if (c.other > 0) parts.push(`${c.other} closed otherwise`);
  return parts.join(' · ');
}

/**
 * The header: the worst severity, what is pending, revoked and kept now, then how many rules by whom (a
 * long principal name is what a cut to the header's limit removes, never the counts).
 */
function digestHeadline(view: DigestView): string {
  // The lines are worst first.
  const worst = view.violations[0]?.severity ?? 'low';
  const counts = digestCounts(view.violations);
  const state = counts.pending === 0 ? 'all decided: ' : '';
  return `${worst.toUpperCase()}: ${state}${countsText(counts)} — ${view.violations.length} risky rules in a burst by ${principalName(view.digest.principal)}`;
}

function groupLabel(v: ViolationItem): string {
  return `${code(v.groupId)}${v.groupName ? ` ${literal(v.groupName)}` : ''}`;
}

/** One violation's line: severity, rule, group, why (short), its state and ID. Buttons follow while pending. */
function digestLine(v: ViolationItem): SectionBlock {
  const why = v.reasons.length > 0 ? `\n${truncate(literal(v.reasons.join('; ')), 300)}` : '';
  const [stateLine, ...quoted] = violationState(v).split('\n');
  const state = [`${stateLine} · ${code(v.violationId)}`, ...quoted].join('\n');
  return section(
    truncate(`${ruleLine(v)} in ${groupLabel(v)}${why}\n${state}`, SECTION_LIMIT),
    `rule:${v.violationId}`,
  );
}

function when(view: DigestView): string {
  const times = view.alerts.map((a) => a.eventTime).sort();
  const first = times[0];
  const last = times[times.length - 1];
  if (!first || !last) return 'unknown';
  // Within one minute it reads as one time.
  return first.slice(0, 16) === last.slice(0, 16)
    ? slackDate(first)
    : `${slackDate(first)} – ${slackDate(last, '{time}')}`;
}

function accounts(view: DigestView): string {
  const ids = [...new Set(view.alerts.map((a) => a.account))].sort();
  return ids
    .map((id) =>
      view.accountAliases[id] ? `${literal(id)} (${literal(view.accountAliases[id])})` : literal(id),
    )
    .join(', ');
}

function groups(view: DigestView): string {
  const ids = [...new Set(view.violations.map((v) => v.groupId))];
  const named = ids.slice(0, GROUPS_NAMED).map(code).join(' ');
  return ids.length > GROUPS_NAMED ? `${named} and ${ids.length - GROUPS_NAMED} more` : named;
}

/**
 * A digest: one message for many alerts of a burst by one principal in one region. The header counts
 * what is pending, revoked and kept; each violation has its own line, worst first, with Revoke and Keep…
 * while it is pending (the same buttons as a single alert's, bound to this message); Revoke all and
 * Keep all… act on what is still pending in it.
 */
export function digestBlocks(view: DigestView): KnownBlock[] {
  const { digest } = view;
  const events = view.alerts.length;
  const blocks: KnownBlock[] = [
    header(plainLiteral(digestHeadline(view))),
    {
      type: 'section',
      fields: [
        mrkdwn(truncate(`*Who*\n${code(digest.principal)}`, FIELD_LIMIT)),
        mrkdwn(`*Region*\n${literal(digest.region)}`),
        mrkdwn(truncate(`*Account*\n${accounts(view)}`, FIELD_LIMIT)),
        mrkdwn(`*When*\n${when(view)}`),
        mrkdwn(truncate(`*Security groups*\n${groups(view)}`, FIELD_LIMIT)),
        mrkdwn(`*Changes*\n${events} ${events === 1 ? 'event' : 'events'}`),
      ],
    },
    context(
      `:package: A burst: more alerts were waiting than Slack lets out in a few seconds, so they come as one message. Each rule keeps its own deadline and decision. · digest ${code(digest.digestId)}`,
    ),
    divider,
  ];
  for (const v of view.violations) {
    blocks.push(digestLine(v));
    if (v.status === 'PENDING') blocks.push(violationActions(v));
  }
  const pending = view.violations.filter((v) => v.status === 'PENDING');
  if (pending.length > 1) {
    blocks.push({
      type: 'actions',
      block_id: BlockIds.alertActions,
      elements: [
        revokeButton(
          ActionIds.revokeAll,
          digest.digestId,
          `Revoke all ${pending.length}`,
          `all ${pending.length} pending rules of this burst`,
        ),
        {
          type: 'button',
          action_id: ActionIds.keepAll,
          text: plainText(`Keep all ${pending.length}…`),
          value: digest.digestId,
        },
      ],
    });
  }
  return blocks;
}

/** The plain-text fallback: the headline and one line per rule, as many as the fallback's limit holds. */
export function digestText(view: DigestView): string {
  const { digest } = view;
  let text = `sg-warden: ${digestHeadline(view)} (${digest.principal}, ${digest.region})`;
  for (const [i, v] of view.violations.entries()) {
    const line = `\n• ${v.severity.toUpperCase()} ${describeRule(v.rule)} in ${v.groupId}: ${v.status.toLowerCase()}`;
    const rest = `\n…and ${view.violations.length - i} more`;
    if (text.length + line.length + rest.length > FALLBACK_TEXT_LIMIT - 200) {
      text += rest;
      break;
    }
    text += line;
  }
  // As for an alert: notifications read it as mrkdwn, so what came from AWS is escaped and not linkable.
  return truncate(plainLiteral(escapeMrkdwn(text)), FALLBACK_TEXT_LIMIT);
}

/** Why Slack would refuse this message (too many blocks, a text too long), or an empty list when it fits. */
export function digestProblems(blocks: KnownBlock[], text: string): string[] {
  const problems: string[] = [];
  if (blocks.length > MESSAGE_BLOCK_LIMIT) problems.push(`${blocks.length} blocks`);
  if (text.length > FALLBACK_TEXT_LIMIT) problems.push(`fallback text of ${text.length} characters`);
  for (const block of blocks) {
    if (block.type === 'section') {
      if ((block.text?.text.length ?? 0) > SECTION_LIMIT) problems.push('a section over 3,000 characters');
      for (const f of block.fields ?? [])
        if (f.text.length > FIELD_LIMIT) problems.push('a field over 2,000 characters');
    }
    if (block.type === 'header' && block.text.text.length > HEADER_LIMIT) problems.push('a long header');
  }
  return problems;
}

/** True when the digest is within Slack's message limits as it is (see AlertNotifier.fitsDigest). */
export function fitsDigest(view: DigestView): boolean {
  return digestProblems(digestBlocks(view), digestText(view)).length === 0;
}
