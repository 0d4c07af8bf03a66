import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { credentialsOf, persona } from '../../../local/aws-personas';
import { RecordingAwsProxy } from '../../../local/aws-recorder';
import { readDetectionPattern, SandboxTrail } from '../../../local/aws-trail';
import { type MotoServer, repoRoot, startMoto } from '../../../local/shared/moto-server';
import { parseCloudTrail } from '../../../services/detection/cloudtrail';
import { silentLogger } from '../../../services/shared/logger';

type Json = Record<string, unknown>;

// The sandbox's CloudTrail: any client at the AWS endpoint (here the SDK, as the AWS CLI or Terraform
// would call it) makes the record EventBridge delivers, with the caller from the access key.
let moto: MotoServer;
let proxy: RecordingAwsProxy;
const delivered: Json[] = [];
const trail = new SandboxTrail({
  account: '123456789012',
  pattern: readDetectionPattern(repoRoot),
  logger: silentLogger,
  delayMs: 0,
});
const ec2As = (name: Parameters<typeof credentialsOf>[0]) =>
  new EC2Client({
    region: 'us-east-1',
    endpoint: proxy.url,
    credentials: credentialsOf(name),
    maxAttempts: 1,
  });
let groupId: string;

beforeAll(async () => {
  moto = await startMoto();
  const logFile = join(mkdtempSync(join(tmpdir(), 'aws-trail-')), 'aws-mutations.jsonl');
  proxy = await new RecordingAwsProxy({
    motoUrl: moto.url,
    logFile,
    logger: silentLogger,
    gate: trail.gate,
    watch: trail.watch,
  }).start();
  // Set-up calls made before detection is wired raise nothing (as in an account sg-warden is not deployed to).
  groupId = (
    await ec2As('admin').send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'w' }))
  ).GroupId!;
  trail.deliver = async (event) => {
    delivered.push(event);
    return { processed: 1 };
  };
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
});

/** The event the trail delivered for the call EC2 answered with this request ID. */
async function eventOf(requestId: string | undefined): Promise<Json & { detail: Json }> {
  const delivery = await trail.delivered(requestId!);
  expect(delivery?.matched).toBe(true);
  const event = delivered.find((e) => (e.detail as Json).requestID === requestId);
  expect(event).toBeDefined();
  return event as Json & { detail: Json };
}

describe('the sandbox trail (CloudTrail + EventBridge for every security-group call)', () => {
  it('turns one call with two permissions into one record listing both rules, by the key’s persona', async () => {
    const out = await ec2As('erin').send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          {
            IpProtocol: 'tcp',
            FromPort: 3389,
            ToPort: 3389,
            IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'vendor & co' }],
          },
        ],
      }),
    );
    // moto alone lists only the last permission's rule; the endpoint answers with both, as EC2 does.
    expect(out.SecurityGroupRules?.map((r) => r.FromPort)).toEqual([22, 3389]);
    const event = await eventOf(out.$metadata.requestId);
    expect(event).toMatchObject({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.ec2' });
    const record = event.detail;
    expect(record).toMatchObject({
      eventSource: 'ec2.amazonaws.com',
      eventName: 'AuthorizeSecurityGroupIngress',
      awsRegion: 'us-east-1',
      sourceIPAddress: '198.51.100.23',
      eventType: 'AwsApiCall',
      readOnly: false,
      recipientAccountId: '123456789012',
      userIdentity: {
        type: 'AssumedRole',
        arn: persona('erin').arn,
        accessKeyId: 'ASIASANDBOXERIN00001',
        sessionContext: { sessionIssuer: { type: 'Role', userName: 'AWSReservedSSO_PowerUser_5f3c' } },
      },
      requestParameters: {
        groupId,
        ipPermissions: {
          items: [
            {
              ipProtocol: 'tcp',
              fromPort: 22,
              toPort: 22,
              groups: {},
              ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] },
              ipv6Ranges: {},
              prefixListIds: {},
            },
            {
              ipProtocol: 'tcp',
              fromPort: 3389,
              toPort: 3389,
              groups: {},
              ipRanges: { items: [{ cidrIp: '0.0.0.0/0', description: 'vendor & co' }] },
              ipv6Ranges: {},
              prefixListIds: {},
            },
          ],
        },
      },
      responseElements: { requestId: out.$metadata.requestId, _return: true },
    });
    expect(String(record.userAgent)).toMatch(/aws-sdk-js/);
    const ruleSet = (record.responseElements as { securityGroupRuleSet: { items: Json[] } })
      .securityGroupRuleSet;
    expect(ruleSet.items).toEqual(
      out.SecurityGroupRules!.map((r) =>
        expect.objectContaining({
          groupOwnerId: '123456789012',
          groupId,
          securityGroupRuleId: r.SecurityGroupRuleId,
          isEgress: false,
          ipProtocol: 'tcp',
          fromPort: r.FromPort,
          toPort: r.ToPort,
          cidrIpv4: '0.0.0.0/0',
          securityGroupRuleArn: `arn:aws:ec2:us-east-1:123456789012:security-group-rule/${r.SecurityGroupRuleId}`,
        }),
      ),
    );
    // Detection reads it as it reads AWS's own: two rules, each with its rule ID.
    const [parsed] = parseCloudTrail(event);
    expect(parsed?.rules.map((r) => [r.fromPort, r.ruleId])).toEqual(
      out.SecurityGroupRules!.map((r) => [r.FromPort, r.SecurityGroupRuleId]),
    );
    expect(parsed?.actor.arn).toBe(persona('erin').arn);
  });

  it('records a revoke by rule ID, and a refused call with its error code and no response', async () => {
    const added = await ec2As('ci').send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          { IpProtocol: 'udp', FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
        ],
      }),
    );
    const ruleId = added.SecurityGroupRules![0]!.SecurityGroupRuleId!;
    const revoke = await ec2As('bot').send(
      new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: [ruleId] }),
    );
    const revoked = (await eventOf(revoke.$metadata.requestId)).detail;
    expect(revoked).toMatchObject({
      eventName: 'RevokeSecurityGroupIngress',
      userIdentity: { arn: persona('bot').arn },
      requestParameters: { groupId, securityGroupRuleIds: { items: [{ securityGroupRuleId: ruleId }] } },
      responseElements: { _return: true },
    });
    expect(revoked.requestParameters).not.toHaveProperty('ipPermissions');

    const before = delivered.length;
    await expect(
      ec2As('erin').send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: groupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidPermission.Duplicate' });
    await new Promise((r) => setTimeout(r, 200));
    const failed = delivered.slice(before).map((e) => e.detail as Json);
    expect(failed).toEqual([
      expect.objectContaining({
        eventName: 'AuthorizeSecurityGroupIngress',
        errorCode: 'InvalidPermission.Duplicate',
        responseElements: null,
      }),
    ]);
    // Detection leaves failed calls out, as it does AWS's.
    expect(parseCloudTrail(delivered[delivered.length - 1]!)).toEqual([]);
  });

  it('refuses an access key the sandbox does not know, as AWS does, and answers GetCallerIdentity', async () => {
    const stranger = new EC2Client({
      region: 'us-east-1',
      endpoint: proxy.url,
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    await expect(stranger.send(new DescribeSecurityGroupsCommand({}))).rejects.toMatchObject({
      name: 'AuthFailure',
      message: expect.stringContaining('ASIASANDBOXERIN00001'),
    });
    const sts = new STSClient({ region: 'us-east-1', endpoint: proxy.url, credentials: credentialsOf('ci') });
    expect(await sts.send(new GetCallerIdentityCommand({}))).toMatchObject({
      Account: '123456789012',
      Arn: persona('ci').arn,
      UserId: 'AROASANDBOXCIDEPLOY:gha-run-4711',
    });
  });

  it('writes CreateSecurityGroup like CloudTrail and delivers it: the deploy’s rule takes new groups (#13)', async () => {
    const out = await ec2As('ci').send(
      new CreateSecurityGroupCommand({
        GroupName: 'from-terraform',
        Description: 'made by a pipeline',
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'Name', Value: 'tf' }] }],
      }),
    );
    const delivery = await trail.delivered(out.$metadata.requestId!);
    // serverless.yml's EventBridge rule takes CreateSecurityGroup (its default egress, its tags): detection sees it.
    expect(delivery).toMatchObject({
      eventName: 'CreateSecurityGroup',
      matched: true,
      result: { processed: 1 },
    });
    expect((delivered.at(-1)!.detail as Json).eventName).toBe('CreateSecurityGroup');
  });
});
