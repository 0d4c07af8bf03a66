import { parseConfig } from '../../../services/config/config';
import { configIamResources, EXPOSURE_ACTIONS, exposureStatements } from '../../../services/deploy/iam';

const config = (...lines: string[]) =>
  parseConfig(['slack:', '  alertChannel: C0TEST', ...lines].join('\n'), 'x.yml');

describe('deploy IAM for exposure', () => {
  it('lets detection, the worker, the sweeper and the scan read interfaces, routes, Name tags and load balancers, nothing more', () => {
    expect(exposureStatements(config())).toEqual([
      {
        Sid: 'ReadExposure',
        Effect: 'Allow',
        Action: [
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeRouteTables',
          'ec2:DescribeTags',
          'elasticloadbalancing:DescribeLoadBalancers',
        ],
        Resource: '*',
      },
    ]);
    // Granted to exactly the functions that look exposure up: detection, the worker (/sg-status), the
    // sweeper (before an auto-revoke) and the scan (it grades what it finds); never the door or ipCapture.
    const granted = Object.entries(configIamResources(config()).Resources).filter(([id]) =>
      id.includes('Exposure'),
    );
    expect(granted.map(([id]) => id).sort()).toEqual([
      'CloudtrailEventRoleExposurePolicy',
      'ScanRoleExposurePolicy',
      'SlackWorkerRoleExposurePolicy',
      'SweeperRoleExposurePolicy',
    ]);
    for (const [, policy] of granted)
      expect(policy.Properties.PolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: exposureStatements(config()),
      });
    expect(EXPOSURE_ACTIONS.every((a) => /:(Describe)\w+$/.test(a))).toBe(true);
  });

  it('grants nothing when policy.exposure is switched off', () => {
    const off = config('policy:', '  exposure: { enabled: false }');
    expect(exposureStatements(off)).toEqual([]);
    expect(Object.keys(configIamResources(off).Resources).filter((id) => id.includes('Exposure'))).toEqual(
      [],
    );
  });
});
