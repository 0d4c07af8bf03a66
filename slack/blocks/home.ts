import type { ActionsBlock, HomeView, KnownBlock } from '@slack/types';
import type { GrantItem } from '../../services/grants/items';
import type { HomeContent, HomeViolation } from '../../services/home/build';
import type { StoredAuditEntry } from '../../services/kernel/audit';
import type { RunItem } from '../../services/runs/items';
import { shownCommandHash } from '../../services/runs/plan';
import { ActionIds } from '../ids';
import { code, literal, slackDate } from '../mrkdwn';
import { count } from '../plural';
import { violationActions, violationSection } from './alert';
import { grantWhere, timeLeft } from './grant';
import { context, divider, header, mrkdwn, plainText, section } from './kit';
import { codeBlock, commandText, escapeCode } from './run';

/** The longest command a Home shows (and lets be approved there); a longer one is read on its message. */
const HOME_COMMAND_CHARS = 1500;

/** The Home tab's block_ids for grants and runs (violations use the alert's own). */
export const HomeBlockIds = {
  grant: (grantId: string) => `home_grant:${grantId}`,
  run: (runId: string) => `home_run:${runId}`,
} as const;

function more(shown: number, total: number, where: string): KnownBlock[] {
  return total > shown ? [context(`…and ${total - shown} more: ${where}.`)] : [];
}

function violationBlocks(list: HomeViolation[]): KnownBlock[] {
  return list.flatMap(({ violation }) => [
    violationSection(violation),
    ...(violation.status === 'PENDING' ? [violationActions(violation)] : []),
  ]);
}

function grantBlocks(grant: GrantItem, now: Date): KnownBlock[] {
  const state =
    grant.status === 'ACTIVE'
      ? `ends ${slackDate(grant.expiresAt)} (in ${timeLeft(grant.expiresAt, now)})`
      : literal(grant.status.toLowerCase().replace('_', ' '));
  const blocks: KnownBlock[] = [section(`${code(grant.grantId)} ${grantWhere(grant)} — ${state}`)];
  if (grant.status === 'ACTIVE' || grant.status === 'REVOKE_FAILED') {
    const actions: ActionsBlock = {
      type: 'actions',
      block_id: HomeBlockIds.grant(grant.grantId),
      elements: [
        ...(grant.status === 'ACTIVE'
          ? [
              {
                type: 'button' as const,
                action_id: ActionIds.grantExtend,
                text: plainText('Extend'),
                value: grant.grantId,
              },
            ]
          : []),
        {
          type: 'button',
          action_id: ActionIds.grantRevoke,
          text: plainText('Revoke'),
          style: 'danger',
          value: grant.grantId,
          confirm: {
            title: plainText('End this grant now?'),
            text: mrkdwn(`This removes the rule of grant ${code(grant.grantId)} from its security group.`),
            confirm: plainText('Revoke'),
            deny: plainText('Cancel'),
            style: 'danger',
          },
        },
      ],
    };
    blocks.push(actions);
  }
  return blocks;
}

function runBlocks(run: RunItem): KnownBlock[] {
  const command = commandText(run);
  const whole = command.length <= HOME_COMMAND_CHARS;
  const where = run.channel && run.ts ? ` (${literal(run.channel)})` : '';
  const lines = [
    `*${literal(run.runbook)}* on ${count(run.instanceIds.length, 'instance')} for <@${run.requestedBy}>${where} · ${code(run.runId)}${run.approvalExpiresAt ? ` · expires ${slackDate(run.approvalExpiresAt)}` : ''}`,
    whole
      ? codeBlock(escapeCode(command))
      : 'The command is too long to show here: read it on the run’s message.',
  ];
  return [
    section(lines.join('\n')),
    {
      type: 'actions',
      block_id: HomeBlockIds.run(run.runId),
      elements: [
        ...(whole
          ? [
              {
                type: 'button' as const,
                action_id: ActionIds.runApprove,
                text: plainText('Approve'),
                style: 'primary' as const,
                value: `${run.runId} ${shownCommandHash(run)}`,
                confirm: {
                  title: plainText('Run this command?'),
                  text: mrkdwn(
                    `It runs on ${count(run.instanceIds.length, 'instance')} exactly the command shown.`,
                  ),
                  confirm: plainText('Approve and run'),
                  deny: plainText('Cancel'),
                },
              },
            ]
          : []),
        {
          type: 'button',
          action_id: ActionIds.runReject,
          text: plainText('Reject'),
          style: 'danger',
          value: run.runId,
        },
      ],
    },
  ];
}

function historyLine(entry: StoredAuditEntry): string {
  const subject = `${entry.subjectType} ${code(entry.subjectId)}`;
  const result =
    entry.result === 'ok' ? '' : ` (${entry.result}${entry.error ? `: ${literal(entry.error)}` : ''})`;
  return `${slackDate(entry.at, '{date_short} {time}')} · ${literal(entry.action)} ${subject}${entry.toState ? ` → ${literal(entry.toState)}` : ''}${result}`;
}

/**
 * A person's Home tab: what they caused and may decide (the alert's own sections and buttons), their
 * grants with the time left (Extend, Revoke), the runs waiting for their approval, and what they did lately.
 */
export function homeView(content: HomeContent): HomeView {
  const { now } = content;
  const blocks: KnownBlock[] = [
    header('sg-warden'),
    context(
      `Your alerts, grants and runs as of ${slackDate(now.toISOString())}. Buttons act as they do in the channel.`,
    ),
    divider,
    section('*Alerts from your changes*'),
  ];
  if (content.caused.length === 0) blocks.push(context('Nothing you changed is waiting for a decision.'));
  blocks.push(
    ...violationBlocks(content.caused),
    ...more(content.caused.length, content.totals.caused, '`/sg-status`'),
  );
  blocks.push(divider, section('*Alerts you may decide*'));
  if (content.toDecide.length === 0) blocks.push(context('No alert is waiting for you.'));
  blocks.push(
    ...violationBlocks(content.toDecide),
    ...more(content.toDecide.length, content.totals.toDecide, '`/sg-status`'),
  );
  blocks.push(divider, section('*Your grants*'));
  if (content.grants.length === 0)
    blocks.push(context('No grant of yours is live. `/sg-whitelist` asks for one.'));
  for (const grant of content.grants) blocks.push(...grantBlocks(grant, now));
  blocks.push(divider, section('*Runs waiting for your approval*'));
  if (content.runs.length === 0) blocks.push(context('No run is waiting for you.'));
  for (const run of content.runs) blocks.push(...runBlocks(run));
  blocks.push(divider, section('*Your recent actions*'));
  blocks.push(
    content.history.length === 0
      ? context('Nothing in the last week.')
      : section(content.history.map(historyLine).join('\n')),
  );
  return { type: 'home', blocks: blocks.slice(0, 100) };
}
