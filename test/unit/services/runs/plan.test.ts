import { createHash } from 'node:crypto';
import {
  commandSha256,
  MAX_APPROVAL_SCRIPT_CHARS,
  newRunId,
  planFinish,
  planInvocation,
  planRunItem,
  scriptTooLong,
  shownCommandHash,
} from '../../../../services/runs/plan';
import { specFor } from '../../../../services/runs/spec';
import type { CommandInvocation } from '../../../../services/shared/ports';
import { REQUESTER, runItem, runsConfig } from './fixtures';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const GIVE_UP = '2026-11-23T11:00:00.000Z';

function answer(overrides: Partial<CommandInvocation> = {}): CommandInvocation {
  return {
    status: 'Success',
    statusDetails: null,
    exitCode: 0,
    stdout: 'ok\n',
    stderr: '',
    stdoutUrl: null,
    stderrUrl: null,
    ...overrides,
  };
}

describe('run plans', () => {
  it('makes run IDs people can type', () => {
    expect(newRunId()).toMatch(/^r-[0-9a-z]{10}$/);
  });

  describe('commandSha256', () => {
    it('hashes exactly what SSM receives: the document and its parameters, names in order', () => {
      const run = runItem();
      const expected = createHash('sha256')
        .update(
          JSON.stringify([
            'AWS-RunShellScript',
            [
              ['commands', run.documentParameters.commands],
              ['executionTimeout', ['600']],
            ],
          ]),
        )
        .digest('hex');
      expect(commandSha256(run)).toBe(expected);
      const reordered = runItem({
        documentParameters: { executionTimeout: ['600'], commands: run.documentParameters.commands! },
      });
      expect(commandSha256(reordered)).toBe(expected);
      expect(shownCommandHash(run)).toBe(expected.slice(0, 12));
    });

    it('changes with any character of the command or the document', () => {
      const run = runItem();
      const other = runItem({
        documentParameters: { ...run.documentParameters, commands: ["SGW_unit='nginx '", 'true'] },
      });
      expect(commandSha256(other)).not.toBe(commandSha256(run));
      expect(commandSha256(runItem({ document: 'AWS-RunPowerShellScript' }))).not.toBe(commandSha256(run));
    });
  });

  describe('planRunItem', () => {
    const planned = (name: string) => ({
      spec: specFor(runsConfig(), name)!,
      instances: [{ instanceId: 'i-0123456789abcdef0', name: 'web-1', state: 'running', tags: {} }],
      values: {},
      parameters: { commands: ['uptime'], executionTimeout: ['600'] },
      target: 'web',
    });

    it('stores a run that needs approval as AWAITING_APPROVAL, due to expire', () => {
      const run = planRunItem(planned('restart'), 'r-0a1b2c3d4e', REQUESTER, NOW);
      expect(run).toMatchObject({
        status: 'AWAITING_APPROVAL',
        version: 1,
        dueKind: 'RUN_APPROVAL_EXPIRY',
        dueAt: '2026-11-23T10:30:00.000Z',
        approvalExpiresAt: '2026-11-23T10:30:00.000Z',
        requestedBy: REQUESTER.id,
        requestedByName: REQUESTER.name,
        instanceNames: { 'i-0123456789abcdef0': 'web-1' },
        comment: `sg-warden r-0a1b2c3d4e by erin (${REQUESTER.id})`,
      });
    });

    it('stores a run that needs none as SENDING, under the sender’s lease', () => {
      const run = planRunItem(planned('uptime'), 'r-0a1b2c3d4e', REQUESTER, NOW);
      expect(run).toMatchObject({
        status: 'SENDING',
        dueKind: 'RUN_POLL',
        dueAt: '2026-11-23T10:05:00.000Z',
      });
      expect(run.approvalExpiresAt).toBeUndefined();
    });
  });

  describe('planInvocation', () => {
    const pending = { status: 'Pending', final: false };

    it('records nothing new while the status stays the same', () => {
      expect(planInvocation(pending, answer({ status: 'Pending' }), NOW, GIVE_UP)).toMatchObject({
        isFinal: false,
        next: null,
      });
    });

    it('records a final result with its sizes and hashes', () => {
      const planned = planInvocation(pending, answer(), NOW, GIVE_UP)!;
      expect(planned.isFinal).toBe(true);
      expect(planned.next).toMatchObject({
        status: 'Success',
        final: true,
        exitCode: 0,
        stdoutChars: 3,
        stdoutSha256: createHash('sha256').update('ok\n').digest('hex'),
        posted: false,
        postAttempts: 0,
      });
    });

    it('waits for an invocation SSM does not know yet, and gives up on it past every timeout', () => {
      expect(planInvocation(pending, null, NOW, GIVE_UP)).toBeNull();
      const late = new Date('2026-11-23T11:00:00.000Z');
      expect(planInvocation(pending, null, late, GIVE_UP)!.next).toMatchObject({
        status: 'Undetermined',
        statusDetails: 'SSM never reported this invocation',
        final: true,
      });
      expect(planInvocation(pending, answer({ status: 'InProgress' }), late, GIVE_UP)!.next).toMatchObject({
        status: 'Undetermined',
        statusDetails: 'still InProgress past every timeout',
      });
    });
  });

  describe('planFinish', () => {
    it('finishes only when every instance is final and posted (or out of attempts)', () => {
      const ids = ['i-0000000000000000a', 'i-0000000000000000b'];
      const done = { status: 'Success', final: true, posted: true };
      expect(planFinish(runItem({ instanceIds: ids, invocations: { [ids[0]!]: done } }))).toBeNull();
      expect(
        planFinish(runItem({ instanceIds: ids, invocations: { [ids[0]!]: done, [ids[1]!]: done } })),
      ).toBe('SUCCEEDED');
      const failedUnposted = { status: 'Failed', final: true, posted: false, postAttempts: 5 };
      expect(
        planFinish(
          runItem({ instanceIds: ids, invocations: { [ids[0]!]: done, [ids[1]!]: failedUnposted } }),
        ),
      ).toBe('FAILED');
      const unposted = { status: 'Success', final: true, posted: false, postAttempts: 1 };
      expect(
        planFinish(runItem({ instanceIds: ids, invocations: { [ids[0]!]: done, [ids[1]!]: unposted } })),
      ).toBeNull();
    });
  });

  it('refuses a script too long for an approver to read whole, only where approval is needed', () => {
    const long = { commands: ['x'.repeat(MAX_APPROVAL_SCRIPT_CHARS + 1)] };
    expect(scriptTooLong({ approvalRequired: true }, long)).toMatchObject({ code: 'BAD_INPUT' });
    expect(scriptTooLong({ approvalRequired: false }, long)).toBeNull();
    expect(
      scriptTooLong({ approvalRequired: true }, { commands: ['x'.repeat(MAX_APPROVAL_SCRIPT_CHARS)] }),
    ).toBeNull();
  });
});
