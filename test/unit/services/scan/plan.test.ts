import { accountScope } from '../../../../services/config/accounts';
import {
  chunksToJudge,
  decideCursor,
  exposureRose,
  isThrottling,
  newCursor,
  noticeMarkerName,
  planScanAlert,
  type ScanCursorItem,
  scanAlertId,
  scanTargets,
} from '../../../../services/scan/plan';
import { AwsCallError } from '../../../../services/shared/errors';
import type { Finding } from '../../../../services/shared/model';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const group = (groupId: string) => ({ groupId, name: groupId, vpcId: null, tags: {} });

describe('scan plan', () => {
  describe('targets', () => {
    it('reads the bot’s own account and every watched one in every region, each once', () => {
      const accounts = accountScope({ accounts: { aliases: {}, watched: [] } }, '123456789012');
      expect(
        scanTargets(accounts, ['210987654321', '123456789012'], ['eu-west-1', 'us-east-1', 'eu-west-1']),
      ).toEqual([
        { account: '123456789012', region: 'eu-west-1' },
        { account: '123456789012', region: 'us-east-1' },
        { account: '210987654321', region: 'eu-west-1' },
        { account: '210987654321', region: 'us-east-1' },
      ]);
    });
  });

  describe('the cursor', () => {
    const cursor = (status: ScanCursorItem['status'], leaseUntil: string): ScanCursorItem => ({
      ...newCursor('scan-1', [], NOW, 60),
      status,
      leaseUntil,
    });

    it('starts a run when there is none or the last one is done', () => {
      expect(decideCursor(null, NOW)).toBe('start');
      expect(decideCursor(cursor('DONE', '2026-11-23T09:00:00.000Z'), NOW)).toBe('start');
    });

    it('resumes a paused run, and a running one whose holder’s lease ran out (a dead invocation)', () => {
      expect(decideCursor(cursor('PAUSED', '2026-11-23T11:00:00.000Z'), NOW)).toBe('resume');
      expect(decideCursor(cursor('RUNNING', '2026-11-23T09:59:59.000Z'), NOW)).toBe('resume');
    });

    it('leaves a running run to the invocation that holds it', () => {
      expect(decideCursor(cursor('RUNNING', '2026-11-23T10:05:00.000Z'), NOW)).toBe('busy');
    });

    it('starts every target at its first page', () => {
      const fresh = newCursor('scan-1', [{ account: '123456789012', region: 'eu-west-1' }], NOW, 960);
      expect(fresh).toMatchObject({
        status: 'RUNNING',
        leaseUntil: '2026-11-23T10:16:00.000Z',
        targets: {
          '123456789012/eu-west-1': { state: 'todo', pageToken: null, doneThrough: null },
        },
      });
    });
  });

  describe('chunks of groups', () => {
    it('judges a page’s groups in ID order, after the last one done, in chunks', () => {
      const groups = ['sg-05', 'sg-01', 'sg-04', 'sg-02', 'sg-03'].map(group);
      expect(chunksToJudge(groups, null, 2).map((c) => c.map((g) => g.groupId))).toEqual([
        ['sg-01', 'sg-02'],
        ['sg-03', 'sg-04'],
        ['sg-05'],
      ]);
      expect(chunksToJudge(groups, 'sg-02', 2).map((c) => c.map((g) => g.groupId))).toEqual([
        ['sg-03', 'sg-04'],
        ['sg-05'],
      ]);
      expect(chunksToJudge(groups, 'sg-05', 2)).toEqual([]);
    });
  });

  describe('what it raises', () => {
    const finding: Finding = {
      rule: {
        groupId: 'sg-0123456789abcdef0',
        ruleId: 'sgr-0123456789abcdef0',
        direction: 'ingress',
        protocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        source: '0.0.0.0/0',
        sourceKind: 'ipv4',
        description: 'debug',
      },
      severity: 'high',
      reasons: ['admin or data port 22 (SSH) open: 0.0.0.0/0 is the whole internet'],
      action: 'alert',
      timeoutSeconds: 900,
      dryRun: false,
    };
    const target = { account: '123456789012', region: 'eu-west-1' };

    it('one alert per group and run, found by the scan with the group’s tags and no principal; the same IDs when judged again', () => {
      const g = { ...group('sg-0123456789abcdef0'), tags: { Team: 'payments' } };
      const a = planScanAlert('scan-1', target, g, [finding], NOW.toISOString());
      const b = planScanAlert('scan-1', target, g, [finding], NOW.toISOString());
      expect(a).toEqual(b);
      expect(a.alert).toMatchObject({
        alertId: scanAlertId('scan-1', target, g.groupId),
        foundBy: 'scan',
        groupTags: { Team: 'payments' },
        eventId: 'scan-1',
        actor: expect.objectContaining({ sourceIp: null }),
      });
      expect(a.violations).toEqual([
        expect.objectContaining({
          foundBy: 'scan',
          status: 'PENDING',
          deadline: '2026-11-23T10:15:00.000Z',
          alertId: a.alert.alertId,
        }),
      ]);
      expect(scanAlertId('scan-2', target, g.groupId)).not.toBe(a.alert.alertId);
    });

    it('lets one notice a day through per account and region', () => {
      expect(noticeMarkerName(target, NOW)).toBe('scan-unreadable#123456789012#eu-west-1#2026-11-23');
    });

    it('backs off on throttling only', () => {
      expect(isThrottling(new AwsCallError('x', { awsCode: 'RequestLimitExceeded' }))).toBe(true);
      expect(isThrottling(new AwsCallError('x', { awsCode: 'UnauthorizedOperation' }))).toBe(false);
      expect(isThrottling(new Error('RequestLimitExceeded'))).toBe(false);
    });
  });

  describe('whether the scan re-grades a group (#20 item 5)', () => {
    const pending = (exposure: 'internet' | 'internal' | 'unattached' | null, status = 'PENDING') =>
      ({ status, ...(exposure ? { exposure: { exposure } } : {}) }) as never;
    const kept = (grantedAt: 'internet' | 'internal' | null) =>
      ({ grantedAt: grantedAt ? { exposure: grantedAt, reason: '' } : undefined }) as never;

    it('re-grades when a pending violation was graded lower than the group is now', () => {
      expect(exposureRose('internet', [pending('internal')], [])).toBe(true);
      expect(exposureRose('internal', [pending('unattached')], [])).toBe(true);
      // Nothing recorded: only internet counts as a rise (as the re-grade decides).
      expect(exposureRose('internet', [pending(null)], [])).toBe(true);
      expect(exposureRose('internal', [pending(null)], [])).toBe(false);
    });

    it('leaves the group alone when nothing rose, or the open violation is no longer pending', () => {
      expect(exposureRose('internal', [pending('internal')], [])).toBe(false);
      expect(exposureRose('internal', [pending('internet')], [])).toBe(false);
      expect(exposureRose('internet', [pending('internal', 'FAILED')], [])).toBe(false);
      expect(exposureRose('unknown', [pending('unattached')], [])).toBe(false);
      expect(exposureRose(null, [pending('unattached')], [kept('internal')])).toBe(false);
    });

    it('re-grades a kept rule granted below internet (or at an exposure not recorded) once the group is internet', () => {
      expect(exposureRose('internet', [], [kept('internal')])).toBe(true);
      expect(exposureRose('internet', [], [kept(null)])).toBe(true);
      expect(exposureRose('internet', [], [kept('internet')])).toBe(false);
      expect(exposureRose('internal', [], [kept('internal')])).toBe(false);
    });
  });
});
