import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { RecordingAwsProxy } from '../../../local/aws-recorder';
import { type MotoServer, startMoto } from '../../../local/shared/moto-server';
import { silentLogger } from '../../../services/shared/logger';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** A moto of its own behind a recording proxy (the shared test moto is never re-seeded). */
async function world(
  logFile: string,
): Promise<{ moto: MotoServer; proxy: RecordingAwsProxy; ec2: EC2Client }> {
  const moto = await startMoto();
  const proxy = await new RecordingAwsProxy({ motoUrl: moto.url, logFile, logger: silentLogger }).start();
  return { moto, proxy, ec2: new EC2Client({ region: 'us-east-1', endpoint: proxy.url, credentials }) };
}

describe('RecordingAwsProxy (the sandbox keeps its AWS account between runs)', () => {
  it('replays only the mutations into a fresh moto and every ID comes out the same', async () => {
    const logFile = join(mkdtempSync(join(tmpdir(), 'aws-recorder-')), 'aws-mutations.jsonl');
    const first = await world(logFile);
    let groupId: string;
    let kept: string;
    let gone: string;
    try {
      groupId = (
        await first.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'recorded', Description: 'r' }))
      ).GroupId!;
      // Reads between writes draw from moto's random generator too; they must not change later IDs.
      for (let i = 0; i < 3; i++) await first.ec2.send(new DescribeSecurityGroupsCommand({}));
      const add = async (port: number) =>
        (
          await first.ec2.send(
            new AuthorizeSecurityGroupIngressCommand({
              GroupId: groupId,
              IpPermissions: [
                { IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
              ],
            }),
          )
        ).SecurityGroupRules![0]!.SecurityGroupRuleId!;
      kept = await add(22);
      await first.ec2.send(new DescribeSecurityGroupRulesCommand({}));
      gone = await add(3389);
      await first.ec2.send(
        new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: [gone] }),
      );
    } finally {
      await first.proxy.stop();
      await first.moto.stop();
    }
    const logged = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(logged).toHaveLength(4);

    const second = await world(logFile);
    try {
      expect(await second.proxy.replay()).toEqual({ replayed: 4, differed: 0 });
      const rules = await second.ec2.send(
        new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
      );
      const ingress = (rules.SecurityGroupRules ?? []).filter((r) => !r.IsEgress);
      expect(ingress.map((r) => r.SecurityGroupRuleId)).toEqual([kept]);
      expect(ingress.map((r) => r.SecurityGroupRuleId)).not.toContain(gone);
      // New mutations continue the log after the replayed ones.
      await second.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'after', Description: 'a' }));
      expect(second.proxy.mutations).toBe(5);
    } finally {
      await second.proxy.stop();
      await second.moto.stop();
    }
  }, 60_000);
});
