import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { STSClient } from '@aws-sdk/client-sts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WebClient } from '@slack/web-api';
import { DynamoDbStateStore } from '../services/aws/dynamodb-store';
import { Ec2InstanceFinder } from '../services/aws/ec2-instances';
import { Ec2SecurityGroups } from '../services/aws/ec2-security-groups';
import { LambdaJobQueue } from '../services/aws/lambda-job-queue';
import { MemberAccountCredentials } from '../services/aws/member-credentials';
import { documentSdk, dynamoDbSdk, ec2Sdk, lambdaSdk, ssmSdk, stsSdk } from '../services/aws/sdk';
import { SsmCommandRunner } from '../services/aws/ssm-command-runner';
import { SsmSecretSource } from '../services/aws/ssm-secrets';
import { accountScope } from '../services/config/accounts';
import { loadConfig } from '../services/config/config';
import { decisionDueHandlers } from '../services/decisions/sweep';
import type { GrantChangeNotifier } from '../services/grants/changed-rule';
import { grantDueHandlers } from '../services/grants/sweep';
import { InlineJobQueue } from '../services/jobs/inline-queue';
import type { DueKind } from '../services/kernel/state';
import type { DueHandler } from '../services/kernel/sweep';
import { recordAudit } from '../services/metrics/audit-metrics';
import { EmfMetrics } from '../services/metrics/emf-metrics';
import { runDueHandlers } from '../services/runs/sweep';
import { AccountAccessError } from '../services/shared/errors';
import { lazyModule } from '../services/shared/lazy-module';
import {
  createLogger,
  invocationAwareLogger,
  type Logger,
  withInvocationLogger,
} from '../services/shared/logger';
import { type Metrics, noMetrics } from '../services/shared/metrics';
import type { AccountScope, AwsTarget } from '../services/shared/ports';
import type { AlertNotifier } from '../services/violations/ports';
import { type NotifyPacing, UNPACED } from '../services/violations/post-sweep';
import { fitsDigest } from '../slack/blocks/digest';
import type { SlackDeps } from '../slack/deps';
import { SlackDirectory } from '../slack/directory';
import { SlackGrantNotifier } from '../slack/grants/notifier';
import { acceptJob } from '../slack/jobs';
import { runDeps } from '../slack/listeners/runs/common';
import { SlackNotifier } from '../slack/notifier';
import { SlackRunNotifier } from '../slack/runs/notifier';

/**
 * The composition root: configuration, SDK clients, adapters and services, built once per Lambda
 * container (module scope) and reused by warm invocations. Every AWS client and the Slack Web API
 * client are created lazily, on the code paths that need them, and their packages are loaded then
 * (services/aws/sdk.ts), because loading them costs cold-start time.
 */
export interface Wiring extends SlackDeps {
  store: DynamoDbStateStore;
  ec2: Ec2SecurityGroups;
  secrets: SsmSecretSource;
  /** Posts and updates alerts; resolves the Slack token on first use, so a failure there leaves state stored. */
  notifier: AlertNotifier;
  /** The accounts sg-warden watches and may act in (its own, `accounts.watched`, `accounts.roleName`). */
  accounts: AccountScope;
  /** Tells a grant's owner when the grant ended because its rule was changed outside sg-warden. */
  grantOwners: GrantChangeNotifier;
  /** Operational metrics (EMF lines in the log); handlers flush them before they return. */
  metrics: Metrics;
  /** Set when jobs run in this process (local sandbox, tests): waits for them to finish. */
  drainJobs?: () => Promise<void>;
  /** Where Slack's Web API is (SLACK_API_URL: an emulator in tests and locally); unset = Slack itself. */
  slackApiUrl?: string;
  /** How a detection that finds a burst paces the digests it posts (default DRAIN_PACING; tests give a clock). */
  posting?: NotifyPacing;
}

/** Detection and the sweeper need a Web API client only when they post: loaded then. */
const slackWebApi = lazyModule(() => require('@slack/web-api') as typeof import('@slack/web-api'));

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** Options every AWS client shares; AWS_ENDPOINT_URL points them at an emulator in tests and locally. */
export function awsClientOptions(region?: string): { region: string; endpoint?: string } {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  return { region: region ?? env('AWS_REGION', 'us-east-1'), ...(endpoint ? { endpoint } : {}) };
}

/**
 * EMF metrics in Lambda (or with SG_WARDEN_METRICS=emf); none elsewhere (tests, the local sandbox), so
 * that no metric line mixes with their output unless asked for. SG_WARDEN_METRICS=off turns them off.
 */
function buildMetrics(logger: Logger): Metrics {
  const mode = process.env.SG_WARDEN_METRICS ?? (process.env.AWS_LAMBDA_FUNCTION_NAME ? 'emf' : 'off');
  if (mode !== 'emf') return noMetrics;
  return new EmfMetrics({ stage: process.env.SG_WARDEN_STAGE ?? 'dev', logger });
}

/** Counts the Slack Web API's 429 answers (it tells before it throws or waits). */
function countRateLimits(client: WebClient, metrics: Metrics): WebClient {
  client.on(
    slackWebApi().WebClientEvent.RATE_LIMITED,
    (_retryAfterSeconds: number, request?: { url?: string }) => {
      // The request URL ends in the Web API method (…/api/chat.postMessage).
      const method = request?.url?.split('/').pop() || 'unknown';
      metrics.add('SlackRateLimited', 1, { method });
    },
  );
  return client;
}

export function buildWiring(): Wiring {
  // Services and listeners log through this one; inside a handler's invocation it is that invocation's child.
  const logger = invocationAwareLogger(createLogger(process.env.SG_WARDEN_LOG_LEVEL ?? 'info'));
  const metrics = buildMetrics(logger);
  const configPath =
    process.env.SG_WARDEN_CONFIG ??
    join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), 'config', 'sg-warden.yml');
  const config = loadConfig(configPath);
  let documentClient: DynamoDBDocumentClient | undefined;
  const store = new DynamoDbStateStore({
    // The Slack door never reads the table (its jobs run in the worker): created on first use.
    client: () => {
      documentClient ??= documentSdk().DynamoDBDocumentClient.from(
        new (dynamoDbSdk().DynamoDBClient)(awsClientOptions()),
        { marshallOptions: { removeUndefinedValues: true } },
      );
      return documentClient;
    },
    tableName: env('SG_WARDEN_TABLE'),
    onAudit: (entry, item) => {
      logger.info({ audit: entry }, 'audit');
      try {
        recordAudit(metrics, entry, item);
      } catch (error) {
        // A metric is never worth a failed state change.
        logger.warn({ err: (error as Error).message }, 'metric not recorded');
      }
    },
  });

  const accounts = accountScope(config, process.env.SG_WARDEN_ACCOUNT_ID ?? null);
  const roleName = config.accounts.roleName;
  const memberCredentials = roleName
    ? new MemberAccountCredentials({
        roleName,
        ...(process.env.SG_WARDEN_ACCOUNT_ID ? { ownAccount: process.env.SG_WARDEN_ACCOUNT_ID } : {}),
        sts: () => {
          stsClient ??= new (stsSdk().STSClient)(awsClientOptions());
          return stsClient;
        },
      })
    : undefined;
  let stsClient: STSClient | undefined;
  const ec2Clients = new Map<string, EC2Client>();
  const ec2 = new Ec2SecurityGroups({
    clientFor: (target: AwsTarget) => {
      // Another account is reached only through its member role, never with the bot's own credentials.
      const cannotAct = accounts.cannotAct(target.account);
      if (cannotAct) throw new AccountAccessError(target.account, cannotAct);
      const key = `${target.account}/${target.region}`;
      let client = ec2Clients.get(key);
      if (!client) {
        // Another account: the member-account role there (config accounts.roleName), assumed via STS.
        const credentials = memberCredentials?.forTarget(target);
        client = new (ec2Sdk().EC2Client)({
          ...awsClientOptions(target.region),
          ...(credentials ? { credentials } : {}),
        });
        ec2Clients.set(key, client);
      }
      return client;
    },
  });

  let ssmClient: SSMClient | undefined;
  const secrets = new SsmSecretSource({
    client: () => {
      ssmClient ??= new (ssmSdk().SSMClient)(awsClientOptions());
      return ssmClient;
    },
    botTokenParameter: env('SLACK_BOT_TOKEN_PARAM', '/sg-warden/slack-bot-token'),
    signingSecretParameter: env('SLACK_SIGNING_SECRET_PARAM', '/sg-warden/slack-signing-secret'),
  });

  const slackApiUrl = process.env.SLACK_API_URL || undefined;
  let slackClient: Promise<WebClient> | undefined;
  const slack = () => {
    slackClient ??= secrets.get().then(({ botToken }) =>
      countRateLimits(
        new (slackWebApi().WebClient)(botToken, {
          ...(slackApiUrl ? { slackApiUrl } : {}),
          // Background work must not sit out a rate limit inside one invocation: fail, and let a sweep retry.
          rejectRateLimitedCalls: true,
          retryConfig: { retries: 1, factor: 1, minTimeout: 100, maxTimeout: 500 },
          timeout: 5000,
        }),
        metrics,
      ),
    );
    // A failed secret read is not cached: the next use tries again.
    slackClient.catch(() => {
      slackClient = undefined;
    });
    return slackClient;
  };
  let slackNotifier: SlackNotifier | undefined;
  const resolveNotifier = () => {
    return secrets.get().then(({ botToken }) => {
      // Its own client that never repeats a call: a post that timed out may have reached Slack, and
      // posting it again would show the alert twice. The next sweep looks for it before posting again.
      slackNotifier ??= new SlackNotifier({
        client: countRateLimits(
          new (slackWebApi().WebClient)(botToken, {
            ...(slackApiUrl ? { slackApiUrl } : {}),
            rejectRateLimitedCalls: true,
            retryConfig: { retries: 0 },
            timeout: 5000,
            // Failures are logged once, as structured lines, by the alert service.
            logLevel: slackWebApi().LogLevel.ERROR,
          }),
          metrics,
        ),
      });
      return slackNotifier;
    });
  };
  const notifier: AlertNotifier = {
    postAlert: async (channel, view) => (await resolveNotifier()).postAlert(channel, view),
    updateAlert: async (ref, view) => (await resolveNotifier()).updateAlert(ref, view),
    findAlert: async (channel, alertId, since) =>
      (await resolveNotifier()).findAlert(channel, alertId, since),
    postDigest: async (channel, view) => (await resolveNotifier()).postDigest(channel, view),
    updateDigest: async (ref, view) => (await resolveNotifier()).updateDigest(ref, view),
    findDigest: async (channel, digestId, since) =>
      (await resolveNotifier()).findDigest(channel, digestId, since),
    // Pure (renders and measures): needs no client.
    fitsDigest,
    postRevokeFailure: async (channel, failure, threadTs) =>
      (await resolveNotifier()).postRevokeFailure(channel, failure, threadTs),
  };
  const directory = new SlackDirectory({ client: slack });
  const grantNotifier = new SlackGrantNotifier({ client: slack, config, logger });
  // `/sg-run`: EC2 (targets) and SSM Run Command clients per region, created on first use.
  const instanceClients = new Map<string, EC2Client>();
  const instances = new Ec2InstanceFinder({
    clientFor: (region) => {
      let client = instanceClients.get(region);
      if (!client) {
        client = new (ec2Sdk().EC2Client)(awsClientOptions(region));
        instanceClients.set(region, client);
      }
      return client;
    },
  });
  const runClients = new Map<string, SSMClient>();
  const commands = new SsmCommandRunner({
    clientFor: (region) => {
      let client = runClients.get(region);
      if (!client) {
        // The SDK's per-service AWS_ENDPOINT_URL_SSM wins over AWS_ENDPOINT_URL (tests put an SSM emulator there).
        const endpoint = process.env.AWS_ENDPOINT_URL_SSM;
        client = new (ssmSdk().SSMClient)({ ...awsClientOptions(region), ...(endpoint ? { endpoint } : {}) });
        runClients.set(region, client);
      }
      return client;
    },
  });
  const wiring: Wiring = {
    config,
    logger,
    store,
    ec2,
    secrets,
    slack,
    notifier,
    runNotifier: new SlackRunNotifier({ client: slack, config }),
    accounts,
    grantOwners: grantNotifier,
    grantNotifier,
    metrics,
    directory,
    clock: () => new Date(),
    jobs: { enqueue: async () => {} },
    instances,
    commands,
    homeRegion: awsClientOptions().region,
    ...(slackApiUrl ? { slackApiUrl } : {}),
    ...(process.env.SG_WARDEN_PUBLIC_URL ? { publicUrl: process.env.SG_WARDEN_PUBLIC_URL } : {}),
  };
  const workerFunction = process.env.SG_WARDEN_WORKER_FUNCTION;
  if (workerFunction) {
    let lambdaClient: LambdaClient | undefined;
    wiring.jobs = new LambdaJobQueue({
      functionName: workerFunction,
      client: () => {
        lambdaClient ??= new (lambdaSdk().LambdaClient)(awsClientOptions());
        return lambdaClient;
      },
    });
  } else {
    // Locally and in tests jobs take the worker's own path: the same proof check as in Lambda.
    const inline = new InlineJobQueue({
      run: async (envelope) => acceptJob(wiring, (await secrets.get()).signingSecret, envelope),
      logger,
    });
    wiring.jobs = inline;
    wiring.drainJobs = () => inline.drain();
  }
  return wiring;
}

let wiring: Wiring | undefined;

/**
 * Runs one Lambda invocation with its own child logger: the Lambda request ID plus the handler's
 * correlation keys, made once here, and the logger every service and listener logs through until the
 * invocation ends (services/shared/logger.ts). `context` is absent when tests or the sandbox call a handler.
 */
export function inInvocation<T>(
  context: { awsRequestId?: string } | undefined,
  keys: Record<string, unknown>,
  fn: (logger: Logger) => Promise<T>,
): Promise<T> {
  const logger = getWiring().logger.child({
    ...(context?.awsRequestId ? { lambdaRequestId: context.awsRequestId } : {}),
    ...keys,
  });
  return withInvocationLogger(logger, () => fn(logger));
}

/** The container's wiring, built on first use. */
export function getWiring(): Wiring {
  wiring ??= buildWiring();
  return wiring;
}

/**
 * The sweeper's work, by due kind: each feature's handlers (runs: RUN_*; grants: GRANT_*; decisions:
 * RECONCILE, REVOKE_RETRY, DEADLINE, EXCEPTION_EXPIRY and NOTIFY, which comes last so that revoking at a
 * deadline never waits behind alerts paced to Slack's rate limit). Build one per sweep.
 */
export function dueHandlers(
  deps: SlackDeps,
  pacing: NotifyPacing = UNPACED,
): Partial<Record<DueKind, DueHandler>> {
  return {
    ...runDueHandlers(runDeps(deps)),
    ...grantDueHandlers(deps, deps.grantNotifier),
    ...decisionDueHandlers(deps, pacing),
  };
}
