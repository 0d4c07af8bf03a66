import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecurityGroupCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { freePort } from '../../../local/shared/moto-server';
import { motoUrl, uniqueName } from '../../support/aws';
import { startFaultyAws } from '../../support/aws-faults';
import { runCli, runCliAsync } from '../../support/cli';
import {
  buildNetworkWorld,
  createWorldGroup,
  launchInWorld,
  type NetworkWorld,
} from '../../support/network-world';

/**
 * `sg-warden exposure <sg-id> [--region R] [--account A]`: the real executable against the AWS emulator.
 * JSON and exit 0, or one sentence on stderr and exit 2.
 */

const OWN = '123456789012'; // the emulator's default account
const MEMBER = '210987654321';
const env = (extra: NodeJS.ProcessEnv = {}) => ({
  AWS_ENDPOINT_URL: motoUrl(),
  AWS_REGION: 'us-east-1',
  ...extra,
});

let world: NetworkWorld;
let exposedGroup: string;
let web: Awaited<ReturnType<typeof launchInWorld>>;

/** The only line of stderr, checked to be one sentence and no stack. */
function sentence(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

beforeAll(async () => {
  world = await buildNetworkWorld('us-east-1');
  exposedGroup = await createWorldGroup(world);
  web = await launchInWorld(world, {
    subnetId: world.publicSubnets[0],
    groupIds: [exposedGroup],
    name: 'web-1',
    publicIp: true,
  });
});

describe('sg-warden exposure', () => {
  it('prints the group’s exposure and attachments as JSON and exits 0', () => {
    const out = runCli(['exposure', exposedGroup], { env: env() });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      groupId: exposedGroup,
      region: 'us-east-1',
      account: OWN,
      exposure: 'internet',
      reason: `reachable from the internet through ${web.instanceId} (web-1, ${web.publicIp})`,
      failures: [],
      attachments: [
        {
          type: 'instance',
          id: web.instanceId,
          name: 'web-1',
          publicIp: web.publicIp,
          subnetId: world.publicSubnets[0],
          routesToInternet: true,
          exposure: 'internet',
          reason: `public address ${web.publicIp} in a subnet routed to ${world.internetGatewayId}`,
          networkInterfaceIds: [web.networkInterfaceId],
        },
      ],
    });
  });

  it('says unattached, with no attachments, for a group nothing uses', async () => {
    const unused = await createWorldGroup(world);
    const out = runCli(['exposure', unused, '--account', OWN], { env: env() });
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      groupId: unused,
      account: OWN,
      exposure: 'unattached',
      attachments: [],
    });
  });

  it('reads the region --region names, over AWS_REGION', async () => {
    const west = await buildNetworkWorld('eu-west-1');
    const group = await createWorldGroup(west);
    await launchInWorld(west, {
      subnetId: west.privateSubnets[0],
      groupIds: [group],
      name: 'db-1',
      publicIp: false,
    });
    const out = runCli(['exposure', group, '--region', 'eu-west-1'], { env: env() });
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      region: 'eu-west-1',
      exposure: 'internal',
      attachments: [{ type: 'instance', name: 'db-1', routesToInternet: false, reason: 'no public address' }],
    });
  });

  describe('member accounts', () => {
    it('reads another account through the configured member role', async () => {
      const sts = new STSClient({ region: 'us-east-1', endpoint: motoUrl() });
      const assumed = await sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${MEMBER}:role/sg-warden-member`,
          RoleSessionName: 'test',
        }),
      );
      const c = assumed.Credentials!;
      const member = new EC2Client({
        region: 'us-east-1',
        endpoint: motoUrl(),
        credentials: {
          accessKeyId: c.AccessKeyId!,
          secretAccessKey: c.SecretAccessKey!,
          sessionToken: c.SessionToken!,
        },
      });
      const group = (
        await member.send(
          new CreateSecurityGroupCommand({ GroupName: uniqueName('member'), Description: 'member' }),
        )
      ).GroupId!;
      const dir = mkdtempSync(join(tmpdir(), 'sg-warden-exposure-'));
      const configPath = join(dir, 'sg-warden.yml');
      writeFileSync(configPath, 'accounts:\n  roleName: sg-warden-member\n');

      const out = runCli(['exposure', group, '--account', MEMBER], {
        env: env({ SG_WARDEN_CONFIG: configPath }),
      });
      expect(out.stderr).toBe('');
      expect(JSON.parse(out.stdout)).toMatchObject({
        groupId: group,
        account: MEMBER,
        exposure: 'unattached',
      });
      // The bot's own account does not have that group.
      const own = runCli(['exposure', group], { env: env({ SG_WARDEN_CONFIG: configPath }) });
      expect(own.code).toBe(2);
    });

    it('refuses another account when the config names no member role', () => {
      const dir = mkdtempSync(join(tmpdir(), 'sg-warden-exposure-'));
      const configPath = join(dir, 'sg-warden.yml');
      writeFileSync(configPath, 'policy:\n  evaluateEgress: false\n');
      const out = runCli(['exposure', exposedGroup, '--account', MEMBER], {
        env: env({ SG_WARDEN_CONFIG: configPath }),
      });
      expect(out.code).toBe(2);
      expect(sentence(out.stderr)).toBe(
        `sg-warden: Account ${MEMBER} is not the account of these credentials (${OWN}), and ${configPath} names no accounts.roleName to reach it.`,
      );
    });
  });

  describe('exit 2 with one sentence', () => {
    it('for a group that does not exist', () => {
      const out = runCli(['exposure', 'sg-0123456789abcdef0'], { env: env() });
      expect(out.code).toBe(2);
      expect(out.stdout).toBe('');
      expect(sentence(out.stderr)).toBe(
        `sg-warden: Security group sg-0123456789abcdef0 was not found in us-east-1 (account ${OWN}).`,
      );
    });

    it.each([
      [['exposure'], 'sg-warden: exposure takes exactly one security group ID.'],
      [['exposure', 'sg-1', 'sg-2'], 'sg-warden: exposure takes exactly one security group ID.'],
      [
        ['exposure', 'web-sg'],
        'sg-warden: "web-sg" is not a security-group ID (sg- and 8 or 17 hex digits).',
      ],
      [
        ['exposure', 'sg-0123456789abcdef0', '--zone', 'a'],
        'sg-warden: Unknown option --zone for sg-warden exposure; see sg-warden exposure --help.',
      ],
      [['exposure', 'sg-0123456789abcdef0', '--region'], 'sg-warden: --region needs a value.'],
      [
        ['exposure', 'sg-0123456789abcdef0', '--region', 'Ireland'],
        'sg-warden: --region must be an AWS region such as eu-west-1, not "Ireland".',
      ],
      [
        ['exposure', 'sg-0123456789abcdef0', '--account', '1234'],
        'sg-warden: --account must be a 12-digit AWS account ID, not "1234".',
      ],
    ])('for bad input: %j', (args, expected) => {
      const out = runCli(args, { env: env() });
      expect(out.code).toBe(2);
      expect(sentence(out.stderr)).toBe(expected);
    });

    it('when no region is given anywhere', () => {
      const out = runCli(['exposure', 'sg-0123456789abcdef0'], {
        env: env({ AWS_REGION: '', AWS_DEFAULT_REGION: '' }),
      });
      expect(out.code).toBe(2);
      expect(sentence(out.stderr)).toBe('sg-warden: No region: pass --region <region> or set AWS_REGION.');
    });

    it('when AWS cannot be reached', async () => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const out = runCli(['exposure', exposedGroup], { env: env({ AWS_ENDPOINT_URL: closed }) });
      expect(out.code).toBe(2);
      expect(sentence(out.stderr)).toBe(
        'sg-warden: Cannot read AWS in us-east-1: GetCallerIdentity failed (ECONNREFUSED).',
      );
    });

    it('when AWS refuses to list the group’s network interfaces', async () => {
      const { proxy, faults } = await startFaultyAws();
      try {
        faults.add({
          service: 'ec2',
          action: 'DescribeNetworkInterfaces',
          times: 3,
          error: {
            code: 'UnauthorizedOperation',
            status: 403,
            message: 'You are not authorized to perform this operation.',
          },
        });
        const out = await runCliAsync(['exposure', exposedGroup], {
          env: env({ AWS_ENDPOINT_URL: proxy.url }),
        });
        expect(out.code).toBe(2);
        expect(sentence(out.stderr)).toBe(
          `sg-warden: Cannot read the network interfaces of ${exposedGroup} in us-east-1 (account ${OWN}): DescribeNetworkInterfaces failed (UnauthorizedOperation).`,
        );
      } finally {
        await proxy.stop();
      }
    });
  });

  it('answers unknown, exit 0, when only a later read fails, and names it', async () => {
    const { proxy, faults } = await startFaultyAws();
    try {
      faults.add({
        service: 'ec2',
        action: 'DescribeRouteTables',
        times: 3,
        error: { code: 'UnauthorizedOperation', status: 403 },
      });
      const out = await runCliAsync(['exposure', exposedGroup], {
        env: env({ AWS_ENDPOINT_URL: proxy.url }),
      });
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({
        exposure: 'unknown',
        failures: ['DescribeRouteTables failed (UnauthorizedOperation)'],
        attachments: [{ id: web.instanceId, routesToInternet: null, exposure: 'unknown' }],
      });
    } finally {
      await proxy.stop();
    }
  });
});
