import type { KnownBlock, ModalView } from '@slack/types';
import type { RunItem } from '../../services/runs/items';
import { shownCommandHash } from '../../services/runs/plan';
import { CallbackIds } from '../ids';
import { code, literal, truncate } from '../mrkdwn';
import { plainText, section } from './kit';
import { codeBlock, commandPieces, commandText, SECTION_BUDGET } from './run';

/** Code sections the full-command view may use: a view holds 100 blocks, one is the heading. */
const VIEW_COMMAND_BLOCKS = 99;

function modal(title: string, blocks: KnownBlock[]): ModalView {
  return {
    type: 'modal',
    callback_id: CallbackIds.runCommandModal,
    title: plainText(title),
    close: plainText('Close'),
    blocks,
  };
}

/** Opened at once by Show full command (a trigger works once, for 3 seconds); the worker fills it in. */
export function runCommandLoadingModal(runId: string): ModalView {
  return modal('Full command', [
    section(`:hourglass_flowing_sand: Reading run ${code(runId.slice(0, 40))}…`),
  ]);
}

/**
 * Everything SSM receives for a run, whole, with its hash: what the approver reads when the message
 * could not hold it. A run that needs approval always fits (services/runs/plan.ts caps its script).
 */
export function runCommandModal(run: RunItem): ModalView {
  const pieces = commandPieces(run);
  const shown = pieces.slice(0, VIEW_COMMAND_BLOCKS);
  const length = commandText(run).length.toLocaleString('en-US');
  const heading = `Run ${code(run.runId)} · ${literal(run.document)} · SHA-256 ${code(shownCommandHash(run))} · ${length} characters, ${shown.length === pieces.length ? 'all shown below' : `the first ${shown.length} of ${pieces.length} parts shown (the audit trail holds all of it)`}`;
  return modal('Full command', [section(heading), ...shown.map((piece) => section(codeBlock(piece)))]);
}

/** The view replaced by a refusal (or a run that is not there): just why. */
export function runCommandRefusalModal(text: string): ModalView {
  return modal('Full command', [section(`:no_entry_sign: ${truncate(text, SECTION_BUDGET)}`)]);
}
