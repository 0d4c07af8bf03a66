import { specFor } from '../../../../services/runs/spec';
import {
  approverRefusal,
  commandRefusal,
  rejecterRefusal,
  runnerRefusal,
  viewerRefusal,
} from '../../../../services/runs/who-may';
import { APPROVER, directory, ONCALL, REQUESTER, runItem, runsConfig, STRANGER } from './fixtures';

const config = runsConfig();
const restart = specFor(config, 'restart')!;
const adHoc = specFor(config, 'adhoc')!;

describe('who may', () => {
  it('runs: the allowed people, by ID or user group', async () => {
    expect(await runnerRefusal(directory, restart, REQUESTER)).toBeNull();
    expect(await runnerRefusal(directory, restart, ONCALL)).toBeNull();
    expect(await runnerRefusal(directory, restart, STRANGER)).toEqual({
      code: 'NOT_AUTHORISED',
      message: 'You may not run restart.',
    });
    expect(await runnerRefusal(directory, adHoc, APPROVER)).toEqual({
      code: 'NOT_AUTHORISED',
      message: 'You may not run ad-hoc commands.',
    });
  });

  it('approves: an approver who is not the requester, while the runbook is configured', async () => {
    const run = runItem();
    expect(await approverRefusal(directory, run, restart, APPROVER)).toBeNull();
    expect(await approverRefusal(directory, run, restart, REQUESTER)).toEqual({
      code: 'NOT_AUTHORISED',
      message: 'You cannot approve your own run; another approver must.',
    });
    expect(await approverRefusal(directory, run, restart, ONCALL)).toEqual({
      code: 'NOT_AUTHORISED',
      message: 'You are not an approver of restart.',
    });
    expect(await approverRefusal(directory, run, null, APPROVER)).toEqual({
      code: 'BAD_INPUT',
      message: 'Runbook restart is no longer configured, so run r-0a1b2c3d4e cannot be approved.',
    });
  });

  it('approves only the command shown: the hash the button carries must be the stored one', () => {
    const run = runItem();
    expect(commandRefusal(run, 'a1b2c3d4e5f6', 'a1b2c3d4e5f6')).toBeNull();
    expect(commandRefusal(run, '000000000000', 'a1b2c3d4e5f6')).toEqual({
      code: 'COMMAND_MISMATCH',
      message:
        'The command you were shown (000000000000) is not the one stored for run r-0a1b2c3d4e (a1b2c3d4e5f6), so it was not approved and nothing was sent.',
    });
    expect(commandRefusal(run, null, 'a1b2c3d4e5f6')?.code).toBe('COMMAND_MISMATCH');
  });

  it('rejects: an approver, or the requester withdrawing', async () => {
    const run = runItem();
    expect(await rejecterRefusal(directory, run, restart, APPROVER)).toBeNull();
    expect(await rejecterRefusal(directory, run, restart, REQUESTER)).toBeNull();
    expect(await rejecterRefusal(directory, run, null, REQUESTER)).toBeNull();
    expect(await rejecterRefusal(directory, run, restart, ONCALL)).toEqual({
      code: 'NOT_AUTHORISED',
      message: 'You are not an approver of restart.',
    });
  });

  it('sees a run: its requester, its runners, and its approvers', async () => {
    const run = runItem({ requestedBy: ONCALL.id });
    expect(await viewerRefusal(directory, run, restart, ONCALL)).toBeNull();
    expect(await viewerRefusal(directory, run, restart, REQUESTER)).toBeNull();
    expect(await viewerRefusal(directory, run, restart, APPROVER)).toBeNull();
    expect(await viewerRefusal(directory, run, null, APPROVER)).toEqual({
      code: 'NOT_AUTHORISED',
      message: 'You may not see run r-0a1b2c3d4e.',
    });
    expect(await viewerRefusal(directory, run, restart, STRANGER)).toEqual({
      code: 'NOT_AUTHORISED',
      message: 'You may not see run r-0a1b2c3d4e.',
    });
  });
});
