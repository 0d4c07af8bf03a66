import { SYSTEM_ACTOR } from '../../../../services/kernel/audit';
import { FINAL_RUN_STATUSES, type RunStatus } from '../../../../services/runs/items';
import {
  alreadyDecided,
  isFinalInvocation,
  isFinalRun,
  mayMove,
  moveRun,
  nextPollSeconds,
  RUN_MOVES,
} from '../../../../services/runs/states';
import { runItem } from './fixtures';

describe('run states', () => {
  describe('RUN_MOVES', () => {
    it('lets nothing leave a final state, and every other state go somewhere', () => {
      for (const [from, to] of Object.entries(RUN_MOVES) as [RunStatus, readonly RunStatus[]][]) {
        expect(to.length === 0).toBe(FINAL_RUN_STATUSES.includes(from));
        expect(isFinalRun({ status: from })).toBe(FINAL_RUN_STATUSES.includes(from));
      }
    });

    it('decides a run awaiting approval one way only: sent, rejected, withdrawn or expired', () => {
      expect(RUN_MOVES.AWAITING_APPROVAL).toEqual(['SENDING', 'REJECTED', 'CANCELLED', 'EXPIRED']);
      expect(mayMove('AWAITING_APPROVAL', 'RUNNING')).toBe(false);
      expect(mayMove('SUCCEEDED', 'RUNNING')).toBe(false);
      expect(mayMove('NOT_A_STATE', 'RUNNING')).toBe(false);
    });
  });

  describe('moveRun', () => {
    it('builds the conditional write from the run as read: key, state, version and audit entry', () => {
      const run = runItem({ version: 3 });
      const t = moveRun(run, {
        to: 'REJECTED',
        action: 'reject',
        by: SYSTEM_ACTOR,
        at: '2026-11-23T10:05:00.000Z',
        due: null,
      });
      expect(t).toMatchObject({
        key: { pk: 'RUN#r-0a1b2c3d4e', sk: 'RUN' },
        from: ['AWAITING_APPROVAL'],
        to: 'REJECTED',
        expectVersion: 3,
        due: null,
        audit: {
          subjectId: 'r-0a1b2c3d4e',
          subjectType: 'run',
          action: 'reject',
          fromState: 'AWAITING_APPROVAL',
          toState: 'REJECTED',
          actorId: 'sg-warden',
          result: 'ok',
        },
      });
    });

    it('refuses to build a move the state table does not allow', () => {
      expect(() =>
        moveRun(runItem({ status: 'SUCCEEDED' }), {
          to: 'RUNNING',
          action: 'send',
          by: SYSTEM_ACTOR,
          at: '2026-11-23T10:05:00.000Z',
          due: null,
        }),
      ).toThrow('a run cannot move from SUCCEEDED to RUNNING');
    });
  });

  describe('nextPollSeconds', () => {
    it('looks again soon after sending, then less often', () => {
      const sentAt = '2026-11-23T10:00:00.000Z';
      expect(nextPollSeconds(undefined, new Date(sentAt))).toBe(2);
      expect(nextPollSeconds(sentAt, new Date('2026-11-23T10:00:30.000Z'))).toBe(2);
      expect(nextPollSeconds(sentAt, new Date('2026-11-23T10:05:00.000Z'))).toBe(10);
      expect(nextPollSeconds(sentAt, new Date('2026-11-23T11:00:00.000Z'))).toBe(30);
    });
  });

  it('knows SSM’s final invocation states, and its own Undetermined', () => {
    for (const status of ['Success', 'Failed', 'TimedOut', 'Cancelled', 'Undeliverable', 'Terminated'])
      expect(isFinalInvocation(status)).toBe(true);
    expect(isFinalInvocation('Undetermined')).toBe(true);
    for (const status of ['Pending', 'InProgress', 'Delayed']) expect(isFinalInvocation(status)).toBe(false);
  });

  it('refuses a decision on a run decided already, saying what happened to it', () => {
    expect(alreadyDecided(runItem({ status: 'REJECTED', decidedBy: 'U0X', decidedByName: 'sam' }))).toEqual({
      code: 'STATE_CONFLICT',
      message: 'Run r-0a1b2c3d4e was rejected by sam.',
    });
    expect(alreadyDecided(runItem({ status: 'EXPIRED' })).message).toBe(
      'Run r-0a1b2c3d4e expired unapproved.',
    );
    expect(alreadyDecided(runItem({ status: 'FAILED' })).message).toBe(
      'Run r-0a1b2c3d4e has finished (FAILED).',
    );
  });
});
