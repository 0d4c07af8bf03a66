import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { STSClient } from '@aws-sdk/client-sts';
import { Ec2Network, perTarget } from '../services/aws/ec2-network';
import { Ec2SecurityGroups } from '../services/aws/ec2-security-groups';
import { MemberAccountCredentials } from '../services/aws/member-credentials';
import { ec2Sdk, elbv2Sdk, stsSdk } from '../services/aws/sdk';
import { loadConfig } from '../services/config/config';
import type { Exposure } from '../services/exposure/classify';
import { errorCode, lookUpExposure } from '../services/exposure/lookup';
import { SgWardenError } from '../services/shared/errors';
import type { AwsTarget } from '../services/shared/ports';
import { DEFAULT_CONFIG } from './evaluate';
import type { CommandModule } from './program';

/** A group's exposure as the commands print it (`exposure`, and `scan` per violation). */
export function exposureJson(exposure: Exposure) {
  return {
    exposure: exposure.exposure,
    reason: exposure.reason,
    failures: exposure.failures,
    attachments: exposure.attachments.map((a) => ({
      type: a.type,
      id: a.id,
      name: a.name,
      publicIp: a.publicIp,
      subnetId: a.subnetId,
      routesToInternet: a.routesToInternet,
      exposure: a.exposure,
      reason: a.reason,
      networkInterfaceIds: a.networkInterfaceIds,
    })),
  };
}

/** `sg-warden exposure <sg-id> [--region R] [--account A]`, as parsed. */
export interface ExposureCliOptions {
  groupId: string;
  region?: string | undefined;
  account?: string | undefined;
}

/** What the command answers: JSON on stdout and exit 0, or one sentence for stderr and exit 2. */
export interface ExposureCliAnswer {
  exitCode: 0 | 2;
  stdout: string;
  /** One sentence, without the `sg-warden: ` prefix; empty on success. */
  stderr: string;
}

const GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;

const refuse = (sentence: string): ExposureCliAnswer => ({ exitCode: 2, stdout: '', stderr: sentence });

/** "GetCallerIdentity failed (ExpiredToken)": the call and the error's code, never its message. */
function failed(action: string, error: unknown): string {
  return `${action} failed (${errorCode(error)})`;
}

/**
 * Looks up what a security group is attached to and whether the internet can reach it, with the caller's
 * AWS credentials (a member account through `accounts.roleName` of the config, as the functions do).
 * Prints `{groupId, region, account, exposure, reason, failures, attachments}`.
 */
export async function exposureCommand(
  options: ExposureCliOptions,
  context: { env: NodeJS.ProcessEnv; configPath: string },
): Promise<ExposureCliAnswer> {
  const { env } = context;
  const { groupId } = options;
  if (!GROUP_ID.test(groupId))
    return refuse(`"${groupId}" is not a security-group ID (sg- and 8 or 17 hex digits).`);
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) return refuse('No region: pass --region <region> or set AWS_REGION.');
  if (!REGION.test(region))
    return refuse(`--region must be an AWS region such as eu-west-1, not "${region}".`);
  if (options.account !== undefined && !ACCOUNT.test(options.account))
    return refuse(`--account must be a 12-digit AWS account ID, not "${options.account}".`);
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint))
    return refuse(`AWS_ENDPOINT_URL must be an http(s) URL, not "${endpoint}".`);

  // The CLI is an entry point of its own and may read and set its environment (the Lambda code reads
  // it only in handlers/wiring.ts). The SDK's notice about future Node versions would break the
  // one-sentence stderr contract.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const clientOptions = { region, maxAttempts: 3, ...(endpoint ? { endpoint } : {}) };
  const clients: { destroy(): void }[] = [];
  const track = <T extends { destroy(): void }>(client: T): T => {
    clients.push(client);
    return client;
  };
  try {
    const sts: STSClient = track(new (stsSdk().STSClient)(clientOptions));
    let ownAccount: string;
    try {
      const { GetCallerIdentityCommand } = stsSdk();
      ownAccount = (await sts.send(new GetCallerIdentityCommand({}))).Account ?? '';
    } catch (error) {
      return refuse(`Cannot read AWS in ${region}: ${failed('GetCallerIdentity', error)}.`);
    }
    const account = options.account ?? ownAccount;
    let members: MemberAccountCredentials | undefined;
    if (account !== ownAccount) {
      const roleName = loadConfig(context.configPath, { slackOptional: true }).accounts.roleName;
      if (!roleName)
        return refuse(
          `Account ${account} is not the account of these credentials (${ownAccount}), and ${context.configPath} names no accounts.roleName to reach it.`,
        );
      members = new MemberAccountCredentials({ sts: () => sts, roleName, ownAccount });
    }
    const withCredentials = (target: AwsTarget) => {
      const credentials = members?.forTarget(target);
      return { ...clientOptions, region: target.region, ...(credentials ? { credentials } : {}) };
    };
    const ec2For = perTarget((t): EC2Client => track(new (ec2Sdk().EC2Client)(withCredentials(t))));
    const elbFor = perTarget(
      (t): ElasticLoadBalancingV2Client =>
        track(new (elbv2Sdk().ElasticLoadBalancingV2Client)(withCredentials(t))),
    );
    const target = { account, region };
    const where = `in ${region} (account ${account})`;

    let group: Awaited<ReturnType<Ec2SecurityGroups['describeGroup']>>;
    try {
      group = await new Ec2SecurityGroups({ clientFor: ec2For }).describeGroup(target, groupId);
    } catch (error) {
      return refuse(
        `Cannot read security group ${groupId} ${where}: ${failed('DescribeSecurityGroups', error)}.`,
      );
    }
    if (!group) return refuse(`Security group ${groupId} was not found ${where}.`);

    const exposure = await lookUpExposure(new Ec2Network({ ec2For, elbFor }), target, groupId);
    if (exposure.exposure === 'unknown' && exposure.attachments.length === 0)
      return refuse(
        `Cannot read the network interfaces of ${groupId} ${where}: ${exposure.failures.join('; ')}.`,
      );
    const answer = { groupId, region, account, ...exposureJson(exposure) };
    return { exitCode: 0, stdout: `${JSON.stringify(answer, null, 2)}\n`, stderr: '' };
  } catch (error) {
    // The config (member accounts) or an assumed role: still one sentence.
    if (error instanceof SgWardenError) return refuse(error.message.replace(/\.?$/, '.'));
    throw error;
  } finally {
    for (const client of clients) client.destroy();
  }
}

/** `sg-warden exposure <sg-id> [--region R] [--account A]`. */
export const exposureCliCommand: CommandModule = (program, { io, exit }) => {
  program
    .command('exposure')
    .description(
      'what a security group is attached to and whether the internet can reach it (JSON on stdout)',
    )
    .argument('<sg-id>', 'the security group, e.g. sg-0123456789abcdef0')
    .option('--region <region>', "the group's region (default: $AWS_REGION)")
    .option(
      '--account <id>',
      "the group's account, reached through accounts.roleName (default: the caller's)",
    )
    .argumentsError('exposure takes exactly one security group ID.')
    .addHelpText('after', '\nExit codes: 0 answered, 2 bad input, an unknown group or AWS unreadable.')
    .action(async (groupId: string, options: { region?: string; account?: string }) => {
      const answer = await exposureCommand(
        { groupId, region: options.region, account: options.account },
        { env: io.env, configPath: io.env.SG_WARDEN_CONFIG ?? DEFAULT_CONFIG },
      );
      io.stdout.write(answer.stdout);
      if (answer.stderr) io.stderr.write(`sg-warden: ${answer.stderr}\n`);
      exit(answer.exitCode);
    });
};
