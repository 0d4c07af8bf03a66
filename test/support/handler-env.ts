import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlackEmulator } from '../../local/shared/slack-emulator';
import type { SlackEmulatorOptions } from '../../local/shared/slack-emulator-types';
import { createTable, putSlackSecrets, uniqueName } from './aws';

export const BOT_TOKEN = 'xoxb-test-0000-sg-warden';
export const SIGNING_SECRET = 'test-signing-secret-8f14e45fceea167a';
export const ALERT_CHANNEL = 'C0ALERTS';
/** The account moto answers as (STS GetCallerIdentity): the bot's own in the handler tests. */
export const MOTO_ACCOUNT = '123456789012';
/**
 * Who is in the alert channel unless a test says otherwise: the engineer and the approver of
 * slack-requests.ts (their IDs spelled out: that module imports this one). The outsider is not.
 */
export const ALERT_CHANNEL_MEMBERS = ['U0ENGINEER', 'U0APPROVER'];

export interface HandlerEnv {
  tableName: string;
  slack: SlackEmulator;
  configPath: string;
  /** Rewrites the config file (takes effect for handler modules loaded afterwards). */
  writeConfig(yaml: string): void;
  stop(): Promise<void>;
}

/** The minimal config the integration tests start from; tests append sections. */
export function baseConfig(extra = ''): string {
  return `slack:\n  alertChannel: ${ALERT_CHANNEL}\n${extra}`;
}

/**
 * Everything a handler needs, for real: a fresh DynamoDB table and the Slack secrets in moto,
 * a config file, and a Slack API emulator on loopback; the environment points the handlers at them.
 */
export async function startHandlerEnv(
  options: { config?: string; slack?: SlackEmulatorOptions } = {},
): Promise<HandlerEnv> {
  const tableName = await createTable();
  const prefix = `/${uniqueName('sg-warden')}`;
  const params = await putSlackSecrets(prefix, BOT_TOKEN, SIGNING_SECRET);
  const slack = await new SlackEmulator({
    token: BOT_TOKEN,
    channelMembers: { [ALERT_CHANNEL]: ALERT_CHANNEL_MEMBERS },
    ...options.slack,
  }).start();
  const dir = mkdtempSync(join(tmpdir(), 'sg-warden-test-'));
  const configPath = join(dir, 'sg-warden.yml');
  const writeConfig = (yaml: string) => writeFileSync(configPath, yaml);
  writeConfig(options.config ?? baseConfig());
  Object.assign(process.env, {
    SG_WARDEN_TABLE: tableName,
    SG_WARDEN_CONFIG: configPath,
    SLACK_BOT_TOKEN_PARAM: params.botTokenParam,
    SLACK_SIGNING_SECRET_PARAM: params.signingSecretParam,
    SLACK_API_URL: slack.apiUrl,
    AWS_ENDPOINT_URL: process.env.MOTO_URL,
    // serverless.yml sets the bot's own account; moto's is 123456789012 (every other account is a member).
    SG_WARDEN_ACCOUNT_ID: MOTO_ACCOUNT,
  });
  return { tableName, slack, configPath, writeConfig, stop: () => slack.stop() };
}
