import type { InstanceInformation, SSMClient } from '@aws-sdk/client-ssm';
import type { CommandInvocation, CommandRunner, ManagedInstance, SendCommandInput } from '../shared/ports';
import { awsError } from './ec2-security-groups';
import { ssmSdk } from './sdk';

/** Gives the SSM client for a region (created lazily and cached by the provider). */
export type SsmClientProvider = (region: string) => SSMClient;

/** DescribeInstanceInformation takes at most 50 results a page. */
const PAGE = 50;

/** Run Command through the SSM API: who is managed and online, send, and each instance's result. */
export class SsmCommandRunner implements CommandRunner {
  private readonly clientFor: SsmClientProvider;

  constructor(options: { clientFor: SsmClientProvider }) {
    this.clientFor = options.clientFor;
  }

  async describeManagedInstances(region: string, instanceIds: readonly string[]): Promise<ManagedInstance[]> {
    if (instanceIds.length === 0) return [];
    const client = this.clientFor(region);
    const { DescribeInstanceInformationCommand } = ssmSdk();
    const found: InstanceInformation[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const out = await client.send(
          new DescribeInstanceInformationCommand({
            Filters: [{ Key: 'InstanceIds', Values: [...instanceIds] }],
            MaxResults: PAGE,
            NextToken: nextToken,
          }),
        );
        found.push(...(out.InstanceInformationList ?? []));
        nextToken = out.NextToken;
      } while (nextToken);
    } catch (error) {
      throw awsError('DescribeInstanceInformation', error);
    }
    return found
      .filter((i) => i.InstanceId && instanceIds.includes(i.InstanceId))
      .map((i) => ({
        instanceId: i.InstanceId!,
        pingStatus: i.PingStatus ?? 'Unknown',
        platformType: i.PlatformType ?? null,
        lastPingAt: i.LastPingDateTime ? i.LastPingDateTime.toISOString() : null,
      }));
  }

  async sendCommand(input: SendCommandInput): Promise<{ commandId: string; requestId: string | null }> {
    const client = this.clientFor(input.region);
    const { SendCommandCommand } = ssmSdk();
    try {
      const out = await client.send(
        new SendCommandCommand({
          DocumentName: input.document,
          InstanceIds: [...input.instanceIds],
          Parameters: input.parameters,
          Comment: input.comment,
          TimeoutSeconds: input.timeoutSeconds,
          ...(input.outputS3Bucket
            ? { OutputS3BucketName: input.outputS3Bucket, OutputS3KeyPrefix: input.outputS3KeyPrefix }
            : {}),
          ...(input.outputLogGroup
            ? {
                CloudWatchOutputConfig: {
                  CloudWatchLogGroupName: input.outputLogGroup,
                  CloudWatchOutputEnabled: true,
                },
              }
            : {}),
        }),
      );
      const commandId = out.Command?.CommandId;
      if (!commandId) throw new Error('SendCommand answered without a command ID');
      return { commandId, requestId: out.$metadata.requestId ?? null };
    } catch (error) {
      throw awsError('SendCommand', error);
    }
  }

  async getInvocation(
    region: string,
    commandId: string,
    instanceId: string,
  ): Promise<CommandInvocation | null> {
    const client = this.clientFor(region);
    const { GetCommandInvocationCommand } = ssmSdk();
    try {
      const out = await client.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
      return {
        status: out.Status ?? 'Pending',
        statusDetails: out.StatusDetails ?? null,
        exitCode: out.ResponseCode === undefined || out.ResponseCode === -1 ? null : out.ResponseCode,
        stdout: out.StandardOutputContent ?? '',
        stderr: out.StandardErrorContent ?? '',
        stdoutUrl: out.StandardOutputUrl || null,
        stderrUrl: out.StandardErrorUrl || null,
      };
    } catch (error) {
      const err = awsError('GetCommandInvocation', error);
      // Right after SendCommand, SSM may not know the invocation yet.
      if (err.awsCode === 'InvocationDoesNotExist') return null;
      throw err;
    }
  }
}
