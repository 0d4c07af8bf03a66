import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SlackEmulator } from '../../local/shared/slack-emulator';
import type { SlackEmulatorOptions } from '../../local/shared/slack-emulator-types';
import { createTable, putSlackSecrets, uniqueName } from '../../test/support/aws';
import { ALERT_CHANNEL, BOT_TOKEN, SIGNING_SECRET } from '../../test/support/handler-env';

export { ALERT_CHANNEL, BOT_TOKEN, SIGNING_SECRET };

/** The worker function name the Slack door hands jobs to (the slow proxy answers its Invoke calls). */
export const WORKER_FUNCTION = 'sg-warden-bench-worker';

/** Everything one figure's functions run against: a table, Slack secrets in Parameter Store, a config, a Slack emulator. */
export interface BenchEnv {
  tableName: string;
  slack: SlackEmulator;
  configPath: string;
  params: { botTokenParam: string; signingSecretParam: string };
  /** The environment sg-warden's functions read, with AWS calls going to `awsEndpoint`. */
  functionEnv(awsEndpoint: string, extra?: Record<string, string>): Record<string, string>;
  /** The environment of the anchor app (Bolt's documented setup: token and secret in the environment). */
  anchorEnv(): Record<string, string>;
  stop(): Promise<void>;
}

/** The moto server's URL, passed down by the orchestrator. */
export function motoUrl(): string {
  const url = process.env.MOTO_URL;
  if (!url) throw new Error('MOTO_URL is not set: run the bench through `npm run bench`');
  return url;
}

/**
 * A config that exercises every feature: policy timeouts, a whitelist target and a runbook. Every severity
 * has a deadline: the bench's groups are attached to nothing, so exposure grades their rules low, and a
 * violation without a deadline would leave the sweep and the backstop nothing to do.
 */
export function benchConfig(options: { whitelistGroupId?: string } = {}): string {
  const whitelist = options.whitelistGroupId
    ? `whitelist:
  targets:
    bench:
      groupId: ${options.whitelistGroupId}
      region: us-east-1
      ports: [22]
      defaultDuration: 1h
      maxDuration: 8h
`
    : '';
  return `slack:
  alertChannel: ${ALERT_CHANNEL}
policy:
  timeouts: { critical: 5m, high: 15m, medium: 60m, low: 4h }
${whitelist}runbooks:
  targets:
    web: { region: us-east-1, tags: { Role: web } }
  items:
    uptime:
      description: Uptime and load
      region: us-east-1
      commands: ["uptime"]
      targets: [web]
`;
}

export async function startBenchEnv(
  options: { config?: string; slack?: SlackEmulatorOptions } = {},
): Promise<BenchEnv> {
  process.env.MOTO_URL = motoUrl();
  const tableName = await createTable(uniqueName('sg-warden-bench'));
  // The backstop, on as deployed: its schedule group in moto (the execution role is only a name there).
  const backstopGroup = uniqueName('sg-warden-bench-backstop');
  await new SchedulerClient({
    region: 'us-east-1',
    endpoint: motoUrl(),
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  }).send(new CreateScheduleGroupCommand({ Name: backstopGroup }));
  const params = await putSlackSecrets(`/${uniqueName('sg-warden-bench')}`, BOT_TOKEN, SIGNING_SECRET);
  const slack = await new SlackEmulator({ token: BOT_TOKEN, ...options.slack }).start();
  const dir = mkdtempSync(join(tmpdir(), 'sg-warden-bench-'));
  const configPath = join(dir, 'sg-warden.yml');
  writeFileSync(configPath, options.config ?? benchConfig());
  return {
    tableName,
    slack,
    configPath,
    params,
    functionEnv: (awsEndpoint, extra = {}) => ({
      SG_WARDEN_TABLE: tableName,
      SG_WARDEN_CONFIG: configPath,
      // The account the functions run in (moto's): events from any other account are refused.
      SG_WARDEN_ACCOUNT_ID: '123456789012',
      SLACK_BOT_TOKEN_PARAM: params.botTokenParam,
      SLACK_SIGNING_SECRET_PARAM: params.signingSecretParam,
      SLACK_API_URL: slack.apiUrl,
      AWS_ENDPOINT_URL: awsEndpoint,
      SG_WARDEN_LOG_LEVEL: 'info',
      SG_WARDEN_BACKSTOP_GROUP: backstopGroup,
      SG_WARDEN_BACKSTOP_ROLE_ARN: 'arn:aws:iam::123456789012:role/sg-warden-bench-backstop-execution',
      ...extra,
    }),
    anchorEnv: () => ({
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_API_URL: slack.apiUrl,
    }),
    stop: async () => {
      await slack.stop();
      await dropTable(tableName);
    },
  };
}

/** Deletes a bench table so moto does not keep it in memory for the rest of the run. */
export async function dropTable(tableName: string): Promise<void> {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: motoUrl(),
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  await client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => {});
}
