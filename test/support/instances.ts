import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { ec2Client } from './aws';

/** Launches `count` instances in the emulated account, tagged (Name is added when given). */
export async function launchInstances(
  region: string,
  tags: Record<string, string>,
  count = 1,
): Promise<string[]> {
  const out = await ec2Client(region).send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't3.micro',
      MinCount: count,
      MaxCount: count,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  return (out.Instances ?? []).map((i) => i.InstanceId!);
}
