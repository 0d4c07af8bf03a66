import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { freePort } from '../../../local/shared/moto-server';
import { authorize, createGroup, ec2Client, motoUrl } from '../../support/aws';
import { runCli } from '../../support/cli';
import { buildNetworkWorld, createWorldGroup, launchInWorld } from '../../support/network-world';

/**
 * `sg-warden scan [--region R]… [--account A]… [--policy FILE] [--no-raise]`: the real executable against
 * the AWS emulator, in regions no other suite uses. JSON with the same violation fields as `evaluate`
 * (eventId null, foundBy "scan"); exit 0 clean, 1 violations, 2 bad input or AWS unreadable.
 */

const DIRTY = 'ca-central-1';
const CLEAN = 'il-central-1';
const env = (extra: NodeJS.ProcessEnv = {}) => ({ AWS_ENDPOINT_URL: motoUrl(), AWS_REGION: DIRTY, ...extra });

let groupId: string;
let ruleId: string;
let policy: string;
/** A group on an instance with a public address in a public subnet: reachable from the internet. */
let web: {
  groupId: string;
  ruleId: string;
  instanceId: string;
  publicIp: string | null;
  networkInterfaceId: string;
  subnetId: string;
};

/** The only line of stderr, checked to be one sentence and no stack. */
function sentence(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

beforeAll(async () => {
  ({ groupId } = await createGroup(DIRTY));
  await ec2Client(DIRTY).send(
    new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: 'Env', Value: 'prod' }] }),
  );
  [ruleId] = (await authorize(DIRTY, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'vendor access' }],
  })) as [string];
  const world = await buildNetworkWorld(DIRTY);
  const webGroup = await createWorldGroup(world, 'scan-cli-web');
  const [webRule] = (await authorize(DIRTY, webGroup, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  })) as [string];
  const launched = await launchInWorld(world, {
    subnetId: world.publicSubnets[0],
    groupIds: [webGroup],
    name: 'web-cli',
    publicIp: true,
  });
  web = { groupId: webGroup, ruleId: webRule, ...launched, subnetId: world.publicSubnets[0] };
  await createGroup(CLEAN);
  const dir = mkdtempSync(join(tmpdir(), 'sg-warden-scan-cli-'));
  policy = join(dir, 'policy.yml');
  // Groups nothing uses keep their severity here; the internet-facing one is raised a step.
  writeFileSync(
    policy,
    'policy:\n  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }\n  exposure: { unattached: keep }\n',
  );
});

describe('sg-warden scan', () => {
  it('reports every violating rule with evaluate’s fields, eventId null and foundBy scan, and exits 1', () => {
    const out = runCli(['scan', '--region', DIRTY, '--policy', policy], { env: env() });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout);
    expect(report).toMatchObject({ accounts: ['123456789012'], regions: [DIRTY], unreadable: [] });
    expect(report.rulesRead).toBeGreaterThanOrEqual(2);
    const mine = report.violations.filter((v: { ruleId: string }) => v.ruleId === ruleId);
    expect(mine).toEqual([
      {
        eventId: null,
        foundBy: 'scan',
        region: DIRTY,
        account: '123456789012',
        groupId,
        ruleId,
        direction: 'ingress',
        protocol: 'tcp',
        fromPort: 22,
        toPort: 22,
        source: '0.0.0.0/0',
        severity: 'high',
        reasons: [expect.stringContaining('22 (SSH)'), 'no network interface uses this group now'],
        principal: null,
        groupName: expect.any(String),
        description: 'vendor access',
        groupTags: { Env: 'prod' },
        exposure: {
          exposure: 'unattached',
          reason: 'no network interface uses this group now',
          failures: [],
          attachments: [],
        },
      },
    ]);
  });

  it('grades a violation by its group’s exposure and reports the exposure as `sg-warden exposure` does (#14)', () => {
    const out = runCli(['scan', '--region', DIRTY, '--policy', policy], { env: env() });
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout);
    const mine = report.violations.filter((v: { ruleId: string }) => v.ruleId === web.ruleId);
    expect(mine).toEqual([
      expect.objectContaining({
        groupId: web.groupId,
        // high for SSH to the world, one step up: the internet reaches the instance.
        severity: 'critical',
        reasons: expect.arrayContaining([expect.stringContaining('reachable from the internet')]),
      }),
    ]);
    const reach = `reachable from the internet through ${web.instanceId} (web-cli, ${web.publicIp})`;
    expect(mine[0].exposure).toEqual({
      exposure: 'internet',
      reason: reach,
      failures: [],
      attachments: [
        {
          type: 'instance',
          id: web.instanceId,
          name: 'web-cli',
          publicIp: web.publicIp,
          subnetId: web.subnetId,
          routesToInternet: true,
          exposure: 'internet',
          reason: expect.any(String),
          networkInterfaceIds: [web.networkInterfaceId],
        },
      ],
    });
    // The same answer as the exposure command gives for the group.
    const exposure = runCli(['exposure', web.groupId, '--region', DIRTY], { env: env() });
    const { groupId: _g, region: _r, account: _a, ...shown } = JSON.parse(exposure.stdout);
    expect(mine[0].exposure).toEqual(shown);
  });

  it('exits 0 with no violations in a clean region, and --no-raise changes nothing (it is the default)', () => {
    const out = runCli(['scan', '--region', CLEAN, '--policy', policy, '--no-raise'], { env: env() });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ regions: [CLEAN], violations: [], unreadable: [] });
  });

  it('reads several regions when --region is repeated', () => {
    const out = runCli(['scan', '--region', CLEAN, '--region', DIRTY, '--policy', policy], { env: env() });
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout).regions).toEqual([CLEAN, DIRTY]);
  });

  it.each([
    [['scan', '--region', 'mars-1'], '--region must be an AWS region such as eu-west-1, not "mars-1".'],
    [['scan', '--account', '12345'], '--account must be a 12-digit AWS account ID, not "12345".'],
    [
      ['scan', '--regoin', DIRTY],
      'Unknown option --regoin for sg-warden scan (did you mean --region?); see sg-warden scan --help.',
    ],
    [['scan', '--region'], '--region needs a value.'],
    [
      ['scan', 'eu-west-1'],
      'scan takes no arguments; name regions with --region and accounts with --account.',
    ],
  ])('refuses bad flags %j with one sentence and exit 2', (args, expected) => {
    const out = runCli(args as string[], { env: env() });
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(sentence(out.stderr)).toBe(`sg-warden: ${expected}`);
  });

  it('refuses another account when the config names no role to reach it', () => {
    const out = runCli(['scan', '--region', DIRTY, '--account', '210987654321', '--policy', policy], {
      env: env(),
    });
    expect(out.code).toBe(2);
    expect(sentence(out.stderr)).toContain('names no accounts.roleName to reach it');
  });

  it('exits 2 with one sentence when AWS cannot be read', async () => {
    const closed = await freePort();
    const out = runCli(['scan', '--region', DIRTY, '--policy', policy], {
      env: env({ AWS_ENDPOINT_URL: `http://127.0.0.1:${closed}` }),
    });
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(sentence(out.stderr)).toMatch(
      /^sg-warden: Cannot read AWS in ca-central-1: GetCallerIdentity failed \(.+\)\.$/,
    );
  });
});
