import type { RunItem } from '../../services/runs/items';
import { shownCommandHash } from '../../services/runs/plan';
import { CallbackIds } from '../ids';
import { code, escapeMrkdwn, truncate } from '../mrkdwn';
import type { Block } from './alert';
import { codeBlock, commandPieces, commandText, SECTION_BUDGET } from './run';

/** Code sections the full-command view may use: a view holds 100 blocks, one is the heading. */
const VIEW_COMMAND_BLOCKS = 99;

function modal(title: string, blocks: Block[]): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: CallbackIds.runCommandModal,
    title: { type: 'plain_text', text: title },
    close: { type: 'plain_text', text: 'Close' },
    blocks,
  };
}

/** Opened at once by Show full command (a trigger works once, for 3 seconds); the worker fills it in. */
export function runCommandLoadingModal(runId: string): Record<string, unknown> {
  return modal('Full command', [
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `:hourglass_flowing_sand: Reading run ${code(runId.slice(0, 40))}…` },
    },
  ]);
}

/**
 * Everything SSM receives for a run, whole, with its hash: what the approver reads when the message
 * could not hold it. A run that needs approval always fits (services/runs/plan.ts caps its script).
 */
export function runCommandModal(run: RunItem): Record<string, unknown> {
  const pieces = commandPieces(run);
  const shown = pieces.slice(0, VIEW_COMMAND_BLOCKS);
  const length = commandText(run).length.toLocaleString('en-US');
  const heading = `Run ${code(run.runId)} · ${escapeMrkdwn(run.document)} · SHA-256 ${code(shownCommandHash(run))} · ${length} characters, ${shown.length === pieces.length ? 'all shown below' : `the first ${shown.length} of ${pieces.length} parts shown (the audit trail holds all of it)`}`;
  return modal('Full command', [
    { type: 'section', text: { type: 'mrkdwn', text: heading } },
    ...shown.map((piece) => ({ type: 'section', text: { type: 'mrkdwn', text: codeBlock(piece) } })),
  ]);
}

/** The view replaced by a refusal (or a run that is not there): just why. */
export function runCommandRefusalModal(text: string): Record<string, unknown> {
  return modal('Full command', [
    { type: 'section', text: { type: 'mrkdwn', text: `:no_entry_sign: ${truncate(text, SECTION_BUDGET)}` } },
  ]);
}
