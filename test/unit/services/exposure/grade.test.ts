import { parseConfig } from '../../../../services/config/config';
import type { Exposure } from '../../../../services/exposure/classify';
import { violationExposureLine } from '../../../../services/exposure/context';
import { gradeFinding, gradeFindings, recordedExposure } from '../../../../services/exposure/grade';
import type { ExposureLookup } from '../../../../services/exposure/lookup';
import type { Finding } from '../../../../services/shared/model';

const policy = (yaml = '') =>
  parseConfig(
    `slack:\n  alertChannel: C0TEST\npolicy:\n  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }\n${yaml}`,
    'x.yml',
  ).policy;

const finding = (overrides: Partial<Finding> = {}): Finding => ({
  rule: {
    groupId: 'sg-1',
    ruleId: 'sgr-1',
    direction: 'ingress',
    protocol: 'tcp',
    fromPort: 22,
    toPort: 22,
    source: '0.0.0.0/0',
    sourceKind: 'ipv4',
    description: null,
  },
  severity: 'high',
  reasons: ['port 22 (SSH) open: 0.0.0.0/0 is the whole internet'],
  action: 'alert',
  timeoutSeconds: 900,
  dryRun: false,
  ...overrides,
});

const attachment = (n: number) => ({
  type: 'instance' as const,
  id: `i-0${n}`,
  name: `web-${n}`,
  publicIp: null,
  subnetId: 'subnet-1',
  routesToInternet: false,
  exposure: 'internal' as const,
  reason: 'no public address',
  networkInterfaceIds: [`eni-0${n}`],
});

const unattached: Exposure = {
  exposure: 'unattached',
  attachments: [],
  reason: 'no network interface uses this group now',
  failures: [],
};
const internet: Exposure = {
  exposure: 'internet',
  attachments: [{ ...attachment(1), publicIp: '3.248.1.9', exposure: 'internet', routesToInternet: true }],
  reason: 'reachable from the internet through i-01 (web-1, 3.248.1.9)',
  failures: [],
};

describe('grading a finding by exposure', () => {
  it('takes the lowered severity’s deadline, and notify-only when that severity has none', () => {
    const medium = gradeFinding(finding(), unattached, policy()).finding;
    expect(medium).toMatchObject({ severity: 'medium', action: 'alert', timeoutSeconds: 3600 });
    const low = gradeFinding(
      finding({ severity: 'medium', timeoutSeconds: 3600 }),
      unattached,
      policy(),
    ).finding;
    expect(low).toMatchObject({ severity: 'low', action: 'notify', timeoutSeconds: null });
    expect(low.reasons.at(-1)).toBe(
      'severity lowered from medium to low (policy.exposure.unattached: lower); low findings are notify-only',
    );
  });

  it('keeps a finding a principal rule made notify-only notify-only, whatever the exposure', () => {
    const graded = gradeFinding(
      finding({ action: 'notify', timeoutSeconds: null }),
      internet,
      policy(),
    ).finding;
    expect(graded).toMatchObject({ severity: 'critical', action: 'notify', timeoutSeconds: null });
  });

  it('takes the dry-run setting of the final severity', () => {
    const graded = gradeFinding(finding(), internet, policy('  dryRun: { critical: true }\n')).finding;
    expect(graded).toMatchObject({ severity: 'critical', dryRun: true, timeoutSeconds: 300 });
  });

  it('looks each group up once, and not at all with policy.exposure.enabled: false', async () => {
    const asked: string[] = [];
    const lookup = {
      exposureOf: async (_target: unknown, groupId: string) => {
        asked.push(groupId);
        return internet;
      },
    } as unknown as ExposureLookup;
    const target = { account: '123456789012', region: 'eu-west-1' };
    const now = () => new Date('2026-12-01T10:00:00Z');
    const two = [
      finding(),
      finding({ rule: { ...finding().rule, ruleId: 'sgr-2', fromPort: 3389, toPort: 3389 } }),
    ];

    const graded = await gradeFindings(lookup, target, two, policy(), now);
    expect(asked).toEqual(['sg-1']);
    expect(graded.map((g) => [g.finding.severity, g.exposure?.exposure, g.exposure?.at])).toEqual([
      ['critical', 'internet', '2026-12-01T10:00:00.000Z'],
      ['critical', 'internet', '2026-12-01T10:00:00.000Z'],
    ]);

    const off = await gradeFindings(lookup, target, two, policy('  exposure: { enabled: false }\n'), now);
    expect(asked).toEqual(['sg-1']);
    expect(off).toEqual(two.map((f) => ({ finding: f, exposure: null })));
  });
});

describe('what a violation keeps, and its alert line', () => {
  it('keeps five attachments and the count, and the line names three and "and N more"', () => {
    const many: Exposure = {
      exposure: 'internal',
      attachments: [1, 2, 3, 4, 5, 6, 7].map(attachment),
      reason: 'not reachable from the internet',
      failures: [],
    };
    const kept = recordedExposure(many, '2026-12-01T10:00:00.000Z');
    expect(kept.attachments).toHaveLength(5);
    expect(kept.attachmentCount).toBe(7);
    expect(kept.attachments[0]).not.toHaveProperty('networkInterfaceIds');
    expect(violationExposureLine({ severity: 'high', exposure: kept })).toBe(
      'Exposure: internal · i-01 (web-1), i-02 (web-2), i-03 (web-3) and 4 more',
    );
  });

  it('after an auto-revoke, shows what the clock found and the class when raised', () => {
    const raised = recordedExposure(unattached, '2026-12-01T10:00:00.000Z');
    const atRevoke = recordedExposure(internet, '2026-12-01T11:00:00.000Z');
    expect(violationExposureLine({ severity: 'medium', exposure: raised, exposureAtRevoke: atRevoke })).toBe(
      'Exposure at the auto-revoke: internet · i-01 (web-1, 3.248.1.9) · when raised: unattached',
    );
    expect(violationExposureLine({ severity: 'high' })).toBeNull();
  });
});
