import { parseConfig } from '../../../../services/config/config';
import type { Exposure } from '../../../../services/exposure/classify';
import { exposureContextLine } from '../../../../services/exposure/context';
import { moveSeverity, stepFor, stepSeverity } from '../../../../services/exposure/severity';
import { ConfigError } from '../../../../services/shared/errors';

function policy(...lines: string[]) {
  return parseConfig(['slack:', '  alertChannel: C0TEST', 'policy:', ...lines].join('\n'), 'sg-warden.yml')
    .policy;
}

const defaults = policy('  evaluateEgress: false');
const INTERNET = {
  exposure: 'internet',
  reason: 'reachable from the internet through i-0abc (web-1, 3.248.1.9)',
} as const;
const UNATTACHED = { exposure: 'unattached', reason: 'no network interface uses this group now' } as const;
const INTERNAL = { exposure: 'internal', reason: 'not reachable from the internet: …' } as const;
const UNKNOWN = {
  exposure: 'unknown',
  reason: 'exposure unknown: DescribeNetworkInterfaces failed (Throttling)',
} as const;

describe('exposure severity', () => {
  describe('policy.exposure config', () => {
    it('defaults to internet raise, internal keep, unattached lower, unknown keep, 20 groups per change', () => {
      expect(defaults.exposure).toEqual({
        enabled: true,
        internet: 'raise',
        internal: 'keep',
        unattached: 'lower',
        unknown: 'keep',
        maxGroupsPerEvent: 20,
      });
    });

    it('#20 refuses a per-change cap outside 1–200, naming the field', () => {
      expect(() => policy('  exposure: { maxGroupsPerEvent: 0 }')).toThrow(
        'policy.exposure.maxGroupsPerEvent',
      );
      expect(policy('  exposure: { maxGroupsPerEvent: 200 }').exposure.maxGroupsPerEvent).toBe(200);
    });

    it('names the field and the expected form when a value is wrong', () => {
      const errorOf = (...lines: string[]) => {
        try {
          policy(...lines);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          return (error as Error).message;
        }
        throw new Error('expected a ConfigError');
      };
      expect(errorOf('  exposure:', '    internet: up')).toBe(
        'sg-warden.yml: policy.exposure.internet: must be raise, keep or lower',
      );
      expect(errorOf('  exposure:', '    unknown: lower')).toBe(
        'sg-warden.yml: policy.exposure.unknown: must be raise or keep (an exposure that could not be read never lowers a severity)',
      );
      expect(errorOf('  exposure:', '    enabled: maybe')).toBe(
        'sg-warden.yml: policy.exposure.enabled: must be true or false',
      );
      expect(errorOf('  exposure:', '    public: raise')).toMatch(
        /^sg-warden\.yml: policy\.exposure: .*"public"/,
      );
    });
  });

  describe('steps', () => {
    it('raises internet one step and says why, with the deadline of the raised severity', () => {
      const step = stepSeverity('high', INTERNET, defaults);
      expect(step).toEqual({
        from: 'high',
        severity: 'critical',
        change: 'raised',
        exposure: 'internet',
        timeoutSeconds: 300,
        reasons: [INTERNET.reason, 'severity raised from high to critical (policy.exposure.internet: raise)'],
      });
    });

    it('lowers unattached one step and keeps the lowered severity’s deadline', () => {
      expect(stepSeverity('high', UNATTACHED, defaults)).toEqual({
        from: 'high',
        severity: 'medium',
        change: 'lowered',
        exposure: 'unattached',
        timeoutSeconds: 3600,
        reasons: [
          'no network interface uses this group now',
          'severity lowered from high to medium (policy.exposure.unattached: lower); the medium deadline applies (1h)',
        ],
      });
      const toLow = stepSeverity('medium', UNATTACHED, defaults);
      expect(toLow).toMatchObject({ severity: 'low', timeoutSeconds: null });
      expect(toLow.reasons[1]).toBe(
        'severity lowered from medium to low (policy.exposure.unattached: lower); low findings are notify-only',
      );
    });

    it('keeps internal, and keeps unknown whatever the config says', () => {
      expect(stepSeverity('high', INTERNAL, defaults)).toMatchObject({
        severity: 'high',
        change: 'kept',
        timeoutSeconds: 900,
        reasons: [INTERNAL.reason],
      });
      expect(stepSeverity('medium', UNKNOWN, defaults)).toMatchObject({ severity: 'medium', change: 'kept' });
      // Even a policy object that slipped past the schema cannot make unknown lower a severity.
      expect(stepFor({ ...defaults.exposure, unknown: 'lower' as 'keep' }, 'unknown')).toBe('keep');
    });

    it('stops at either end of the scale', () => {
      expect(stepSeverity('critical', INTERNET, defaults)).toMatchObject({
        severity: 'critical',
        change: 'kept',
      });
      expect(stepSeverity('low', UNATTACHED, defaults)).toMatchObject({ severity: 'low', change: 'kept' });
      expect(moveSeverity('low', 'raise')).toBe('medium');
    });

    it('follows the config: internal lowers, unknown raises, internet keeps', () => {
      const custom = policy(
        '  timeouts: { critical: 10m, high: 30m, medium: 2h, low: 1d }',
        '  exposure: { internet: keep, internal: lower, unknown: raise }',
      );
      expect(stepSeverity('high', INTERNET, custom)).toMatchObject({
        severity: 'high',
        timeoutSeconds: 1800,
      });
      expect(stepSeverity('high', INTERNAL, custom)).toMatchObject({
        severity: 'medium',
        timeoutSeconds: 7200,
      });
      expect(stepSeverity('high', UNKNOWN, custom)).toMatchObject({
        severity: 'critical',
        timeoutSeconds: 600,
        reasons: [UNKNOWN.reason, 'severity raised from high to critical (policy.exposure.unknown: raise)'],
      });
    });

    it('leaves every severity alone when exposure is switched off', () => {
      const off = policy('  exposure: { enabled: false }');
      expect(stepSeverity('high', INTERNET, off)).toEqual({
        from: 'high',
        severity: 'high',
        change: 'kept',
        exposure: 'internet',
        timeoutSeconds: 900,
        reasons: [],
      });
    });
  });

  describe('the alert context line', () => {
    const attachment = (id: string, exposure: 'internet' | 'internal', publicIp: string | null = null) => ({
      type: 'instance' as const,
      id,
      name: null,
      publicIp,
      subnetId: 'subnet-1',
      routesToInternet: true,
      exposure,
      reason: '',
      networkInterfaceIds: [],
    });

    it('shows the class, up to three attachments and "and N more", and the severity change', () => {
      const exposure: Exposure = {
        exposure: 'internet',
        attachments: [
          attachment('i-01', 'internet', '3.1.1.1'),
          { ...attachment('app/web/50dc', 'internet'), type: 'load-balancer', name: 'web' },
          attachment('i-02', 'internal'),
          attachment('i-03', 'internal'),
          attachment('i-04', 'internal'),
        ],
        reason: 'reachable from the internet through i-01 (3.1.1.1) and 1 more',
        failures: [],
      };
      expect(exposureContextLine(exposure, stepSeverity('high', exposure, defaults))).toBe(
        'Exposure: internet · i-01 (3.1.1.1), load balancer web (internet-facing), i-02 and 2 more · high → critical',
      );
    });

    it('says when nothing uses the group, and when the lookup failed', () => {
      const unattached: Exposure = { ...UNATTACHED, attachments: [], failures: [] };
      expect(exposureContextLine(unattached, stepSeverity('high', unattached, defaults))).toBe(
        'Exposure: unattached · no network interface uses this group now · high → medium',
      );
      const unknown: Exposure = { ...UNKNOWN, attachments: [], failures: [] };
      expect(exposureContextLine(unknown, stepSeverity('high', unknown, defaults))).toBe(
        'Exposure: unknown · not read: DescribeNetworkInterfaces failed (Throttling)',
      );
    });

    it('lists all attachments when there are three or fewer', () => {
      const internal: Exposure = {
        exposure: 'internal',
        attachments: [attachment('i-01', 'internal'), attachment('i-02', 'internal')],
        reason: '',
        failures: [],
      };
      expect(exposureContextLine(internal)).toBe('Exposure: internal · i-01, i-02');
    });
  });
});
