import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * infra/iam-from-config.js, the bridge serverless.yml's `${file(…)}` variables call, without packaging:
 * the organisation ID from the config or the param (never two different ones), and a deploy refused
 * while the config still names the shipped example channel.
 */

type Resolve = (name: string) => Promise<unknown>;
type Bridge = Record<string, (args: { resolveVariable: Resolve }) => Promise<unknown>>;

const dir = mkdtempSync(join(tmpdir(), 'sg-warden-bridge-'));

function bridgeFor(config: string): Bridge {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(path, config);
  process.env.SG_WARDEN_IAM_CONFIG = path;
  let bridge: Bridge | undefined;
  jest.isolateModules(() => {
    bridge = require('../../../infra/iam-from-config.js') as Bridge;
  });
  return bridge!;
}

/** serverless's variable resolver: params default to "" as in serverless.yml's `params.default`. */
function resolver(given: Record<string, string>): Resolve {
  const params: Record<string, string> = {
    organizationId: '',
    alarmTopicArn: '',
    logRetentionInDays: '',
    ...given,
  };
  return async (name) => {
    if (name === 'sls:stage') return 'prod';
    if (name === 'self:functions') return { sweeper: {} };
    const param = /^param:(\w+)$/.exec(name)?.[1];
    if (param && param in params) return params[param];
    throw new Error(`Cannot resolve ${name}`);
  };
}

afterAll(() => {
  delete process.env.SG_WARDEN_IAM_CONFIG;
});

describe('the deploy bridge', () => {
  const ORG_CONFIG = 'slack:\n  alertChannel: C0ALERTS\naccounts:\n  organizationId: o-abcde12345\n';

  it('keeps the organisation’s bus statement on a deploy without the param, from the config', async () => {
    const out = (await bridgeFor(ORG_CONFIG).organization!({
      resolveVariable: resolver({ organizationId: '' }),
    })) as {
      Resources: Record<string, { Properties: { StatementId: string } }>;
    };
    expect(out.Resources.OrganizationEventBusPolicy!.Properties.StatementId).toBe(
      'sg-warden-prod-organization',
    );
  });

  it('refuses a param that names another organisation than the config', async () => {
    await expect(
      bridgeFor(ORG_CONFIG).organization!({ resolveVariable: resolver({ organizationId: 'o-zzzzz99999' }) }),
    ).rejects.toThrow(
      '--param organizationId=o-zzzzz99999 differs from accounts.organizationId (o-abcde12345) in config/sg-warden.yml: keep one',
    );
  });

  it('takes the log retention from the config unless the param gives one', async () => {
    const bridge = bridgeFor('slack:\n  alertChannel: C0ALERTS\nlogs:\n  retentionDays: 365\n');
    expect(await bridge.logRetentionDays!({ resolveVariable: resolver({}) })).toBe(365);
    expect(await bridge.logRetentionDays!({ resolveVariable: resolver({ logRetentionInDays: '14' }) })).toBe(
      14,
    );
  });

  it('refuses to deploy the shipped example alert channel, and packages it (the sandbox and the tests use it)', async () => {
    const example = 'slack:\n  alertChannel: C0SGWARDEN\n';
    // A config that names nothing else still has the backstop (on by default): its schedules, nothing more.
    const packaged = (await bridgeFor(example).resources!({ resolveVariable: resolver({}) })) as {
      Resources: Record<string, unknown>;
    };
    expect(Object.keys(packaged.Resources).sort()).toEqual([
      'CloudtrailEventRoleBackstopPolicy',
      'CloudtrailEventRoleExposurePolicy',
      'IpCaptureRoleBackstopCreatePolicy',
      'ScanRoleBackstopCreatePolicy',
      'ScanRoleExposurePolicy',
      'SlackWorkerRoleBackstopPolicy',
      'SlackWorkerRoleExposurePolicy',
      'SweeperRoleBackstopPolicy',
      'SweeperRoleExposurePolicy',
    ]);
    // The backstop off: no scheduling policy at all (the exposure reads stay).
    const off = (await bridgeFor(`${example}backstop:\n  enabled: false\n`).resources!({
      resolveVariable: resolver({}),
    })) as { Resources: Record<string, unknown> };
    expect(Object.keys(off.Resources).sort()).toEqual([
      'CloudtrailEventRoleExposurePolicy',
      'ScanRoleExposurePolicy',
      'SlackWorkerRoleExposurePolicy',
      'SweeperRoleExposurePolicy',
    ]);
    const argv = process.argv;
    process.argv = [...argv, 'deploy'];
    try {
      await expect(bridgeFor(example).resources!({ resolveVariable: resolver({}) })).rejects.toThrow(
        'config/sg-warden.yml: slack.alertChannel is still the example C0SGWARDEN',
      );
    } finally {
      process.argv = argv;
    }
  });
});
