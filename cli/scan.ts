import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { STSClient } from '@aws-sdk/client-sts';
import { Ec2RuleInventory } from '../services/aws/ec2-inventory';
import { Ec2Network, perTarget } from '../services/aws/ec2-network';
import { Ec2SecurityGroups } from '../services/aws/ec2-security-groups';
import { MemberAccountCredentials } from '../services/aws/member-credentials';
import { ec2Sdk, elbv2Sdk, stsSdk } from '../services/aws/sdk';
import { loadConfig } from '../services/config/config';
import { cachedPrefixLists } from '../services/detection/prefix-lists';
import { gradeFindings } from '../services/exposure/grade';
import { ExposureLookup, errorCode } from '../services/exposure/lookup';
import { judgeGroup } from '../services/scan/judge-group';
import { chunksToJudge } from '../services/scan/plan';
import { GROUPS_PER_CHUNK } from '../services/scan/scan';
import { SgWardenError } from '../services/shared/errors';
import type { AwsTarget } from '../services/shared/ports';
import { DEFAULT_CONFIG } from './evaluate';
import { exposureJson } from './exposure';
import { type CommandModule, EXIT } from './program';

/** `sg-warden scan [--region R]… [--account A]… [--policy FILE] [--no-raise]`, as parsed. */
export interface ScanCliOptions {
  regions: string[];
  accounts: string[];
  policy?: string | undefined;
}

/** What the command answers: the JSON report, the exit code, and one sentence for stderr (or none). */
export interface ScanCliAnswer {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;

const refuse = (sentence: string): ScanCliAnswer => ({
  exitCode: EXIT.badInput,
  stdout: '',
  stderr: sentence,
});

/**
 * Reads every rule of the accounts and regions asked for, with the caller's credentials (a member account
 * through `accounts.roleName`), and judges each with the policy as the scan does. It only reports: it
 * raises nothing (raising into the table is the scheduled function's job), so the table's exceptions and
 * grants are not consulted. Severities are graded by each group's exposure (policy.exposure), looked up
 * once per group with violations, and each violation carries its group's `exposure` as `sg-warden exposure`
 * prints it (null when not looked up). Prints `{accounts, regions, rulesRead, groups, violations, unreadable}`.
 */
export async function scanCommand(
  options: ScanCliOptions,
  context: { env: NodeJS.ProcessEnv },
): Promise<ScanCliAnswer> {
  const { env } = context;
  for (const region of options.regions)
    if (!REGION.test(region))
      return refuse(`--region must be an AWS region such as eu-west-1, not "${region}".`);
  for (const account of options.accounts)
    if (!ACCOUNT.test(account))
      return refuse(`--account must be a 12-digit AWS account ID, not "${account}".`);
  const home = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? options.regions[0];
  if (!home) return refuse('No region: pass --region <region> or set AWS_REGION.');
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint))
    return refuse(`AWS_ENDPOINT_URL must be an http(s) URL, not "${endpoint}".`);
  const configPath = options.policy ?? env.SG_WARDEN_CONFIG ?? DEFAULT_CONFIG;

  // The CLI is an entry point of its own and may set its environment; the SDK's notice about future Node
  // versions would break the one-sentence stderr contract.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const clientOptions = { region: home, maxAttempts: 3, ...(endpoint ? { endpoint } : {}) };
  const clients: { destroy(): void }[] = [];
  const track = <T extends { destroy(): void }>(client: T): T => {
    clients.push(client);
    return client;
  };
  try {
    const config = loadConfig(configPath, { slackOptional: true });
    const sts: STSClient = track(new (stsSdk().STSClient)(clientOptions));
    let own: string;
    try {
      const { GetCallerIdentityCommand } = stsSdk();
      own = (await sts.send(new GetCallerIdentityCommand({}))).Account ?? '';
    } catch (error) {
      return refuse(`Cannot read AWS in ${home}: GetCallerIdentity failed (${errorCode(error)}).`);
    }
    const accounts =
      options.accounts.length > 0 ? [...new Set(options.accounts)] : [own, ...config.accounts.watched];
    const others = accounts.filter((a) => a !== own);
    const roleName = config.accounts.roleName;
    if (others.length > 0 && !roleName)
      return refuse(
        `Account ${others[0]} is not the account of these credentials (${own}), and ${configPath} names no accounts.roleName to reach it.`,
      );
    const members = roleName
      ? new MemberAccountCredentials({ sts: () => sts, roleName, ownAccount: own })
      : undefined;
    const ec2For = perTarget((t: AwsTarget): EC2Client => {
      const credentials = members?.forTarget(t);
      return track(
        new (ec2Sdk().EC2Client)({
          ...clientOptions,
          region: t.region,
          ...(credentials ? { credentials } : {}),
        }),
      );
    });
    const inventory = new Ec2RuleInventory({
      clientFor: ec2For,
      homeClient: () => ec2For({ account: own, region: home }),
    });
    const prefixLists = cachedPrefixLists(new Ec2SecurityGroups({ clientFor: ec2For }));
    const elbFor = perTarget((t: AwsTarget): ElasticLoadBalancingV2Client => {
      const credentials = members?.forTarget(t);
      return track(
        new (elbv2Sdk().ElasticLoadBalancingV2Client)({
          ...clientOptions,
          region: t.region,
          ...(credentials ? { credentials } : {}),
        }),
      );
    });
    // Each group with violations is looked up once, as the scheduled scan does.
    const lookup = new ExposureLookup({ reader: new Ec2Network({ ec2For, elbFor }) });
    let regions = options.regions.length > 0 ? [...new Set(options.regions)] : config.scan.regions;
    if (!regions) {
      try {
        regions = await inventory.enabledRegions();
      } catch (error) {
        return refuse(
          `Cannot list the enabled regions in ${home}: DescribeRegions failed (${errorCode(error)}).`,
        );
      }
    }

    const violations: Record<string, unknown>[] = [];
    const unreadable: { account: string; region: string; error: string }[] = [];
    let rulesRead = 0;
    let groups = 0;
    const now = new Date();
    for (const account of accounts) {
      for (const region of regions) {
        const target = { account, region };
        try {
          let token: string | null = null;
          do {
            const page = await inventory.groupsPage(target, token);
            for (const chunk of chunksToJudge(page.groups, null, GROUPS_PER_CHUNK)) {
              const { rules } = await inventory.rulesOfGroups(
                target,
                chunk.map((g) => g.groupId),
              );
              rulesRead += rules.length;
              groups += chunk.length;
              for (const group of chunk) {
                const own = rules.filter((r) => r.groupId === group.groupId);
                const { findings } = await judgeGroup(
                  { state: null, prefixLists },
                  config.policy,
                  target,
                  group,
                  own,
                  now,
                );
                const graded = await gradeFindings(lookup, target, findings, config.policy, () => now);
                const exposure = graded.some((g) => g.exposure)
                  ? exposureJson(await lookup.exposureOf(target, group.groupId))
                  : null;
                for (const { finding: f } of graded)
                  violations.push({
                    eventId: null,
                    foundBy: 'scan',
                    region,
                    account,
                    groupId: f.rule.groupId,
                    ruleId: f.rule.ruleId,
                    direction: f.rule.direction,
                    protocol: f.rule.protocol,
                    fromPort: f.rule.fromPort,
                    toPort: f.rule.toPort,
                    source: f.rule.source,
                    severity: f.severity,
                    reasons: f.reasons,
                    principal: null,
                    groupName: group.name,
                    description: f.rule.description,
                    groupTags: group.tags,
                    exposure,
                  });
              }
            }
            token = page.nextToken;
          } while (token);
        } catch (error) {
          unreadable.push({ account, region, error: `${errorCode(error)}` });
        }
      }
    }
    const report = { accounts, regions, rulesRead, groups, violations, unreadable };
    const stdout = `${JSON.stringify(report, null, 2)}\n`;
    if (unreadable.length > 0) {
      const first = unreadable[0]!;
      const more = unreadable.length > 1 ? ` and ${unreadable.length - 1} more` : '';
      return {
        exitCode: EXIT.badInput,
        stdout,
        stderr: `Cannot read account ${first.account} in ${first.region} (${first.error})${more}: the report leaves them out.`,
      };
    }
    return { exitCode: violations.length > 0 ? EXIT.violations : EXIT.ok, stdout, stderr: '' };
  } catch (error) {
    // The config, an assumed role: still one sentence.
    if (error instanceof SgWardenError) return refuse(error.message.replace(/\.?$/, '.'));
    throw error;
  } finally {
    for (const client of clients) client.destroy();
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `sg-warden scan [--region R]… [--account A]… [--policy FILE] [--no-raise]`. */
export const scanCliCommand: CommandModule = (program, { io, exit }) => {
  program
    .command('scan')
    .description(
      'read every security-group rule and judge it with the policy, with your credentials (JSON on stdout)',
    )
    .option(
      '--region <region>',
      'a region to read, repeatable (default: config scan.regions, else every enabled region)',
      collect,
      [],
    )
    .option(
      '--account <id>',
      'an account to read, repeatable, through accounts.roleName (default: yours and accounts.watched)',
      collect,
      [],
    )
    .option('--policy <file>', 'the config/policy file (default: $SG_WARDEN_CONFIG or config/sg-warden.yml)')
    .option('--no-raise', 'only report, raise nothing (the default: raising is the scheduled function’s job)')
    .argumentsError('scan takes no arguments; name regions with --region and accounts with --account.')
    .addHelpText('after', '\nExit codes: 0 no violations, 1 violations found, 2 bad input or AWS unreadable.')
    .action(async (options: { region: string[]; account: string[]; policy?: string }) => {
      const answer = await scanCommand(
        { regions: options.region, accounts: options.account, policy: options.policy },
        { env: io.env },
      );
      io.stdout.write(answer.stdout);
      if (answer.stderr) io.stderr.write(`sg-warden: ${answer.stderr}\n`);
      exit(answer.exitCode);
    });
};
