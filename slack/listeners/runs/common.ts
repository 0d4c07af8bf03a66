import type { RunItem } from '../../../services/runs/items';
import { code, escapeMrkdwn } from '../../mrkdwn';

/** Job kinds `/sg-run` hands to the worker. */
export const RunJobs = {
  command: 'run.command',
  approve: 'run.approve',
  reject: 'run.reject',
} as const;

/** What the asker (or the approver) is told about a run that was just asked for or approved. */
export function answerFor(run: RunItem): string {
  const count = `${run.instanceIds.length} instance${run.instanceIds.length === 1 ? '' : 's'}`;
  switch (run.status) {
    case 'AWAITING_APPROVAL':
      return `:raised_hand: Run ${code(run.runId)} (${count}) waits for a second person's approval; the request is posted in this channel.`;
    case 'RUNNING':
    case 'POLLING':
      return `:rocket: Run ${code(run.runId)} was sent to ${count}; results will appear in the thread of its message.`;
    case 'SEND_FAILED':
      return `:x: Run ${code(run.runId)} was not sent: ${escapeMrkdwn(run.lastError ?? 'SSM refused it')}`;
    default:
      return `Run ${code(run.runId)}: ${run.status}`;
  }
}
