import type { Button, KnownBlock } from '@slack/types';
import type { People } from '../../services/config/config';
import type { RunNote } from '../../services/runs/deps';
import type { RunItem } from '../../services/runs/items';
import { USAGE } from '../../services/runs/params';
import { scriptOf, shownCommandHash } from '../../services/runs/plan';
import type { RunSpec } from '../../services/runs/spec';
import { formatDuration } from '../../services/shared/duration';
import type { CommandInvocation } from '../../services/shared/ports';
import { ActionIds, BlockIds } from '../ids';
import { code, escapeMrkdwn, literal, showControls, slackDate, truncate } from '../mrkdwn';
import { count } from '../plural';
import { context, mrkdwn, plainText, type SlackMessage, section } from './kit';

/** Room for one section's text (Slack's limit is 3,000), leaving space for the code fences. */
export const SECTION_BUDGET = 2900;
/**
 * Code sections an announcement gives the command before it sends the reader to the full-command view
 * instead: a 2,000-character ad-hoc command of `&` (10,000 characters escaped) still fits.
 */
export const MESSAGE_COMMAND_BLOCKS = 6;
/** Code sections one result may use: Slack's 50 blocks a message, less the heading and the notes. */
const MAX_CODE_BLOCKS = 48;
/** Instances listed by name in a message; the rest are counted. */
const LISTED_INSTANCES = 10;
/** GetCommandInvocation returns at most this much standard output (and 8,000 of standard error). */
export const SSM_STDOUT_LIMIT = 24000;
export const SSM_STDERR_LIMIT = 8000;

const n = (value: number) => value.toLocaleString('en-US');

function mentionPeople(people: People): string {
  const all = [...people.users.map((u) => `<@${u}>`), ...people.userGroups.map((g) => `<!subteam^${g}>`)];
  return all.length > 0 ? all.join(', ') : 'anyone in this channel';
}

function instanceLabel(run: RunItem, id: string): string {
  const name = run.instanceNames[id];
  return name ? `${code(id)} ${literal(name)}` : code(id);
}

function instancesLine(run: RunItem): string {
  const listed = run.instanceIds.slice(0, LISTED_INSTANCES).map((id) => instanceLabel(run, id));
  const more = run.instanceIds.length - listed.length;
  return `*Instances (${run.instanceIds.length})*: ${listed.join(', ')}${more > 0 ? `, and ${more} more` : ''}`;
}

function who(userId: string | undefined): string {
  if (!userId) return '';
  if (userId === 'timeout') return ' (timeout)';
  return ` by <@${userId}>`;
}

function approvedBy(run: RunItem): string {
  return run.approvalRequired && run.decidedBy ? ` (approved${who(run.decidedBy)})` : '';
}

/** One line saying where a run is, for its announcement and for `/sg-run status`. */
export function runStateLine(run: RunItem, approvers: People | null): string {
  const count = run.instanceIds.length;
  const failed = run.instanceIds.filter(
    (id) => run.invocations[id]?.final && run.invocations[id]?.status !== 'Success',
  );
  switch (run.status) {
    case 'AWAITING_APPROVAL':
      return `:raised_hand: Needs approval by ${approvers ? mentionPeople(approvers) : 'an approver'} (not <@${run.requestedBy}>)${run.approvalExpiresAt ? `, expires ${slackDate(run.approvalExpiresAt)}` : ''}`;
    case 'SENDING':
      return `:rocket: ${run.decidedBy ? `Approved${who(run.decidedBy)}; sending` : 'Sending'}…`;
    case 'RUNNING':
    case 'POLLING':
      return `:hourglass_flowing_sand: Running${run.decidedBy ? ` (approved${who(run.decidedBy)})` : ''}: command ${code(run.commandId ?? '?')}; results in this thread`;
    case 'SUCCEEDED':
      return `:white_check_mark: Succeeded on ${count === 1 ? 'the instance' : `all ${count} instances`}${approvedBy(run)}; output in this thread`;
    case 'FAILED':
      return `:x: Did not succeed on ${failed.length} of ${count} instance${count === 1 ? '' : 's'}${approvedBy(run)}; output in this thread`;
    case 'REJECTED':
      return `:no_entry: Rejected${who(run.decidedBy)}; nothing was sent`;
    case 'EXPIRED':
      return ':hourglass: Expired: nobody approved it in time; nothing was sent';
    case 'CANCELLED':
      return `:heavy_multiplication_x: ${run.decidedBy ? `Withdrawn${who(run.decidedBy)}` : 'Cancelled'}; nothing was sent`;
    case 'SEND_FAILED':
      return `:x: Not sent: ${literal(run.lastError ?? 'SSM refused the command')}`;
    case 'SEND_UNKNOWN':
      return `:warning: sg-warden stopped while sending; check Run Command's history for ${code(run.comment)}`;
    default:
      return literal(run.status);
  }
}

/** Escapes output for a code block: mrkdwn entities, and no run of three backticks that would end the block. */
export function escapeCode(text: string): string {
  return escapeMrkdwn(text).replace(/```/g, '`\u200b`\u200b`');
}

/** Splits escaped text into pieces of at most `budget` characters, never inside an &…; entity, at a newline when one is near. */
export function splitEscaped(escaped: string, budget: number): string[] {
  const pieces: string[] = [];
  let rest = escaped;
  while (rest.length > budget) {
    let cut = budget;
    const amp = rest.lastIndexOf('&', cut - 1);
    if (amp > cut - 6 && !rest.slice(amp, cut).includes(';')) cut = amp;
    const newline = rest.lastIndexOf('\n', cut - 1);
    if (newline > cut - 300 && newline > 0) cut = newline + 1;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0 || pieces.length === 0) pieces.push(rest);
  return pieces;
}

/** The code-block section text of one piece (empty pieces show as an empty block). */
export function codeBlock(piece: string): string {
  return `\`\`\`${piece.length > 0 ? piece : ' '}\`\`\``;
}

/** An instance's output as shown: stdout, then stderr under a marker, cut in the middle beyond `max` characters. */
export function shownOutput(
  invocation: Pick<CommandInvocation, 'stdout' | 'stderr'>,
  max: number,
): { text: string; totalChars: number; shownChars: number; cutChars: number } {
  const combined = invocation.stderr
    ? `${invocation.stdout}${invocation.stdout && !invocation.stdout.endsWith('\n') ? '\n' : ''}--- stderr ---\n${invocation.stderr}`
    : invocation.stdout;
  if (combined.length <= max)
    return { text: combined, totalChars: combined.length, shownChars: combined.length, cutChars: 0 };
  const head = Math.floor(max / 2);
  const tail = max - head;
  const cutChars = combined.length - max;
  const text = `${combined.slice(0, head)}\n… ${n(cutChars)} characters cut …\n${combined.slice(combined.length - tail)}`;
  return { text, totalChars: combined.length, shownChars: max, cutChars };
}

/** Where the whole output of one instance is kept, when the runbook says. */
export function wholeOutputAt(
  run: RunItem,
  instanceId: string,
  invocation: Pick<CommandInvocation, 'stdoutUrl'>,
): string[] {
  const places: string[] = [];
  if (run.outputS3Bucket) {
    places.push(
      `S3 ${code(invocation.stdoutUrl ?? `s3://${run.outputS3Bucket}/${run.outputS3KeyPrefix ?? ''}/${run.commandId ?? ''}/${instanceId}/`)}`,
    );
  }
  if (run.outputLogGroup) {
    places.push(
      `CloudWatch Logs group ${code(run.outputLogGroup)}, streams ${code(`${run.commandId ?? ''}/${instanceId}/…`)}`,
    );
  }
  return places;
}

const RESULT_ICON: Record<string, string> = {
  Success: ':white_check_mark:',
  Failed: ':x:',
  TimedOut: ':alarm_clock:',
  Cancelled: ':heavy_multiplication_x:',
};

/** One instance's result for the run's thread: status, exit code, output (cut to the run's limit) and where the rest is. */
export function runResultMessage(
  run: RunItem,
  instanceId: string,
  invocation: CommandInvocation,
): SlackMessage & { shownChars: number; cutChars: number } {
  const exit = invocation.exitCode === null ? 'no exit code' : `exit code ${invocation.exitCode}`;
  const icon =
    (Object.hasOwn(RESULT_ICON, invocation.status) && RESULT_ICON[invocation.status]) || ':warning:';
  const details =
    invocation.statusDetails && invocation.statusDetails !== invocation.status
      ? ` (${literal(invocation.statusDetails)})`
      : '';
  const heading = `${icon} ${instanceLabel(run, instanceId)}: *${literal(invocation.status)}*${details}, ${exit}`;
  let output = shownOutput(invocation, run.maxOutputChars);
  let pieces = output.totalChars > 0 ? splitEscaped(escapeCode(output.text), SECTION_BUDGET) : [];
  // Escaping can multiply the output (& becomes &amp;): show less until it fits Slack's 50 blocks.
  while (pieces.length > MAX_CODE_BLOCKS) {
    output = shownOutput(
      invocation,
      Math.floor((output.shownChars * MAX_CODE_BLOCKS * 0.95) / pieces.length),
    );
    pieces = splitEscaped(escapeCode(output.text), SECTION_BUDGET);
  }
  const blocks: KnownBlock[] = [section(heading)];
  for (const piece of pieces) blocks.push(section(codeBlock(piece)));
  const notes: string[] = [];
  if (output.totalChars === 0) notes.push('No output.');
  else if (output.cutChars === 0) notes.push(`Output: ${n(output.totalChars)} characters, all shown.`);
  else
    notes.push(
      `Output: ${n(output.totalChars)} characters; ${n(output.shownChars)} shown, ${n(output.cutChars)} cut from the middle.`,
    );
  if (invocation.stdout.length >= SSM_STDOUT_LIMIT || invocation.stderr.length >= SSM_STDERR_LIMIT)
    notes.push(
      `SSM returns at most ${n(SSM_STDOUT_LIMIT)} characters of standard output and ${n(SSM_STDERR_LIMIT)} of standard error.`,
    );
  const places = wholeOutputAt(run, instanceId, invocation);
  if (output.cutChars > 0 || invocation.stdout.length >= SSM_STDOUT_LIMIT) {
    notes.push(
      places.length > 0
        ? `Whole output: ${places.join('; ')}.`
        : 'The whole output is not kept anywhere: set outputS3Bucket or outputLogGroup on the runbook to keep it.',
    );
  }
  blocks.push(context(truncate(notes.join(' '), SECTION_BUDGET)));
  const text = `Run ${run.runId} on ${instanceId}: ${invocation.status}, ${exit}`;
  return { text, blocks, shownChars: output.shownChars, cutChars: output.cutChars };
}

/**
 * What SSM receives, as a person reads it: the script of a shell document (its command lines), or each
 * document parameter as `name=value` lines for any other document.
 */
export function commandText(run: Pick<RunItem, 'documentParameters'>): string {
  const script = scriptOf(run.documentParameters);
  if (script !== null) return script;
  return Object.entries(run.documentParameters)
    .map(([name, values]) => `${name}=${values.join(',')}`)
    .join('\n');
}

/** The command, escaped for code blocks and split into sections that each fit Slack's limit; nothing left out. */
export function commandPieces(run: Pick<RunItem, 'documentParameters'>): string[] {
  return splitEscaped(escapeCode(commandText(run)), SECTION_BUDGET);
}

/** The announcement of a run in the channel where it was asked; Approve / Reject while it awaits approval. */
export function runAnnouncement(run: RunItem, approvers: People | null): SlackMessage {
  const title = run.adHoc
    ? `:warning: *Ad-hoc command* on ${code(run.target)}, asked by <@${run.requestedBy}>`
    : `:gear: *${literal(run.runbook)}* on ${code(run.target)}, asked by <@${run.requestedBy}>`;
  const blocks: KnownBlock[] = [section(title), section(truncate(instancesLine(run), SECTION_BUDGET))];
  const values = Object.entries(run.values);
  if (!run.adHoc && values.length > 0) {
    blocks.push(
      section(
        // One per line in a code block, each value exactly as it is passed (inline code would turn a
        // backtick into a quote and hide leading or doubled spaces); control characters as visible escapes.
        truncate(
          `*Parameters*\n${codeBlock(escapeCode(values.map(([k, v]) => showControls(`${k}=${v}`)).join('\n')))}`,
          SECTION_BUDGET,
        ),
      ),
    );
  }
  const command = commandPieces(run);
  const hash = shownCommandHash(run);
  const whole = command.length <= MESSAGE_COMMAND_BLOCKS;
  if (whole) {
    // Whole, never cut: what a person approves is all of what SSM receives.
    command.forEach((piece, i) => {
      const heading = i === 0 ? `*Exactly what runs* (SHA-256 ${code(hash)})\n` : '';
      blocks.push(section(`${heading}${codeBlock(piece)}`));
    });
  } else {
    blocks.push(
      section(
        `*Exactly what runs* (SHA-256 ${code(hash)}) is ${n(commandText(run).length)} characters, more than one message shows whole: press *Show full command* to read all of it${run.status === 'AWAITING_APPROVAL' ? ' before you approve' : ''}.`,
      ),
    );
  }
  blocks.push(section(runStateLine(run, approvers)));
  const showCommand: Button = {
    type: 'button',
    action_id: ActionIds.runShowCommand,
    text: plainText('Show full command'),
    value: run.runId,
  };
  if (run.status === 'AWAITING_APPROVAL') {
    blocks.push({
      type: 'actions',
      block_id: BlockIds.runActions,
      elements: [
        ...(whole ? [] : [showCommand]),
        {
          type: 'button',
          action_id: ActionIds.runApprove,
          text: plainText('Approve'),
          style: 'primary',
          // Approving checks this hash against the run as stored: only the command shown can be approved.
          value: `${run.runId} ${shownCommandHash(run)}`,
          confirm: {
            title: plainText('Run this command?'),
            text: mrkdwn(
              `It runs on ${count(run.instanceIds.length, 'instance')} exactly the command ${whole ? 'shown above' : 'Show full command shows'}: SHA-256 ${code(hash)}.`,
            ),
            confirm: plainText('Approve and run'),
            deny: plainText('Cancel'),
          },
        },
        {
          type: 'button',
          action_id: ActionIds.runReject,
          text: plainText('Reject'),
          style: 'danger',
          value: run.runId,
        },
      ],
    });
  } else if (!whole) {
    blocks.push({ type: 'actions', block_id: BlockIds.runActions, elements: [showCommand] });
  }
  blocks.push(
    context(
      `Run ${code(run.runId)} · ${literal(run.document)} · ${literal(run.region)} · timeout ${formatDuration(run.timeoutSeconds)} · command ${code(hash)} · \`/sg-run status ${run.runId}\``,
    ),
  );
  const text = `${run.adHoc ? 'Ad-hoc command' : run.runbook} on ${run.target} (run ${run.runId}), asked by ${escapeMrkdwn(showControls(run.requestedByName))}: ${run.status}`;
  return { text, blocks };
}

/** A note in a run's thread; what it quotes is escaped. */
export function runNoteText(run: RunItem, note: RunNote): string {
  switch (note.kind) {
    case 'not-sent':
      return `:x: Run ${run.runId} was not sent: ${literal(note.error)}`;
    case 'withdrawn':
      return `Run ${run.runId} was withdrawn by <@${note.by}>; nothing was sent.`;
    case 'rejected':
      return `:no_entry: Run ${run.runId} was rejected by <@${note.by}>; nothing was sent.`;
    case 'expired':
      return `:hourglass: Run ${run.runId} expired: nobody approved it in time; nothing was sent.`;
    case 'send-unknown':
      return `:warning: sg-warden stopped while sending run ${run.runId}: check Run Command's history for the comment "${literal(run.comment)}" before asking again.`;
  }
}

/** `/sg-run status <run>`: where it is, per instance, without the output (that is in the thread). */
export function runStatusText(run: RunItem, approvers: People | null): string {
  const lines = [
    `*Run ${code(run.runId)}*: ${run.adHoc ? 'ad-hoc command' : `*${literal(run.runbook)}*`} on ${code(run.target)}, asked by <@${run.requestedBy}> ${slackDate(run.createdAt)}`,
    runStateLine(run, approvers),
    `Command SHA-256 ${code(shownCommandHash(run))} (${n(commandText(run).length)} characters${run.approvalRequired ? ', as approved' : ''})`,
  ];
  if (run.commandId) lines.push(`SSM command ${code(run.commandId)} in ${literal(run.region)}`);
  for (const id of run.instanceIds.slice(0, 20)) {
    const inv = run.invocations[id];
    const state = inv
      ? `${literal(inv.status)}${inv.exitCode !== undefined ? `, exit code ${inv.exitCode}` : ''}`
      : 'not sent';
    lines.push(`• ${instanceLabel(run, id)}: ${state}`);
  }
  if (run.instanceIds.length > 20) lines.push(`• and ${run.instanceIds.length - 20} more`);
  if (run.channel && run.ts) lines.push(`Output is in the thread of the run's message in <#${run.channel}>.`);
  return truncate(lines.join('\n'), SECTION_BUDGET);
}

function parameterSummary(spec: RunSpec): string {
  const params = spec.runbook?.parameters ?? [];
  if (params.length === 0) return 'no parameters';
  return params
    .map((p) => {
      const kind = p.enum
        ? `one of ${p.enum.join('|')}`
        : p.type === 'integer'
          ? `a whole number${p.min !== undefined ? ` ≥ ${p.min}` : ''}${p.max !== undefined ? ` ≤ ${p.max}` : ''}`
          : `matching ${p.pattern}`;
      return `${code(p.name)} (${literal(kind)}${p.default !== undefined ? `, default ${literal(p.default)}` : ''})`;
    })
    .join(', ');
}

/** `/sg-run list`: the runbooks the asker may run. */
export function runbookListText(specs: RunSpec[]): string {
  if (specs.length === 0)
    return 'There are no runbooks you may run. Ask the sg-warden admins to add you to one.';
  const lines = specs.map((s) =>
    s.adHoc
      ? `• *adhoc*: \`/sg-run adhoc <target> <command line>\` on ${s.targets.map(code).join(', ')}; always needs a second person's approval`
      : `• *${literal(s.name)}*${s.description ? `: ${literal(s.description)}` : ''}\n    on ${s.targets.map(code).join(', ')} · ${parameterSummary(s)}${s.approvalRequired ? ' · needs approval' : ''}`,
  );
  return truncate(`*Runbooks you may run*\n${lines.join('\n')}`, SECTION_BUDGET);
}

/** `/sg-run help`. */
export function runHelpText(): string {
  return `*\`/sg-run\`: vetted SSM Run Command*\n${USAGE}`;
}
