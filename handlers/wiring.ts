import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { STSClient } from '@aws-sdk/client-sts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WebClient } from '@slack/web-api';
import { DynamoDbStateStore } from '../services/aws/dynamodb-store';
import { Ec2InstanceFinder } from '../services/aws/ec2-instances';
import { Ec2RuleInventory } from '../services/aws/ec2-inventory';
import { Ec2Network, perTarget } from '../services/aws/ec2-network';
import { Ec2SecurityGroups } from '../services/aws/ec2-security-groups';
import { LambdaContinuation } from '../services/aws/lambda-continuation';
import { LambdaJobQueue } from '../services/aws/lambda-job-queue';
import { MemberAccountCredentials } from '../services/aws/member-credentials';
import { SchedulerBackstop } from '../services/aws/scheduler-backstop';
import {
  documentSdk,
  dynamoDbSdk,
  ec2Sdk,
  elbv2Sdk,
  lambdaSdk,
  schedulerSdk,
  ssmSdk,
  stsSdk,
} from '../services/aws/sdk';
import { SsmCommandRunner } from '../services/aws/ssm-command-runner';
import { SsmSecretSource } from '../services/aws/ssm-secrets';
import type { Backstop } from '../services/backstop/ports';
import { accountScope } from '../services/config/accounts';
import { type Config, loadConfig } from '../services/config/config';
import { reminderDueHandlers } from '../services/decisions/reminders';
import { decisionDueHandlers } from '../services/decisions/sweep';
import { ExposureLookup } from '../services/exposure/lookup';
import type { GrantChangeNotifier } from '../services/grants/changed-rule';
import { grantDueHandlers } from '../services/grants/sweep';
import { flushHomeChanges, HomeChanges, homeDueHandlers } from '../services/home/refresh';
import { InlineJobQueue } from '../services/jobs/inline-queue';
import type { DueKind } from '../services/kernel/state';
import type { DueHandler } from '../services/kernel/sweep';
import { recordAudit } from '../services/metrics/audit-metrics';
import { EmfMetrics } from '../services/metrics/emf-metrics';
import { runDueHandlers } from '../services/runs/sweep';
import type { ScanContinuation, ScanDeps, ScanNotifier } from '../services/scan/ports';
import { sessionDueHandlers } from '../services/sessions/sweep';
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
import { SlackActorNotifier } from '../slack/actors/notifier';
import { fitsDigest } from '../slack/blocks/digest';
import type { SlackDeps } from '../slack/deps';
import { SlackDirectory } from '../slack/directory';
import { SlackGrantNotifier } from '../slack/grants/notifier';
import { SlackHomePublisher } from '../slack/home/publisher';
import { acceptJob } from '../slack/jobs';
import { runDeps } from '../slack/listeners/runs/common';
import { literal } from '../slack/mrkdwn';
import { SlackNotifier } from '../slack/notifier';
import { SlackReminderNotifier } from '../slack/reminders/notifier';
import { SlackRunNotifier } from '../slack/runs/notifier';
import { SlackScanNotifier } from '../slack/scan-notifier';
import { SlackSessionNotifier } from '../slack/sessions/notifier';

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
  /** What groups are attached to (EC2 and ELBv2 reads, in the group's account through its member role). */
  network: Ec2Network;
  /** A fresh exposure lookup, cached for one invocation only: make one per invocation. */
  newExposureLookup: () => ExposureLookup;
  /** Operational metrics (EMF lines in the log); handlers flush them before they return. */
  metrics: Metrics;
  /** The backstop's schedules (README "How temporary is temporary"); null when it is off. */
  backstop: Backstop | null;
  /** Set when jobs run in this process (local sandbox, tests): waits for them to finish. */
  drainJobs?: () => Promise<void>;
  /** Where Slack's Web API is (SLACK_API_URL: an emulator in tests and locally); unset = Slack itself. */
  slackApiUrl?: string;
  /** How a detection that finds a burst paces the digests it posts (default DRAIN_PACING; tests give a clock). */
  posting?: NotifyPacing;
  /** The scan's reads: every group and rule of an account and region, page by page. */
  inventory: Ec2RuleInventory;
  /** Tells the alert channel what the scan could not read. */
  scanNotifier: ScanNotifier;
  /** Carries on a scan that ran out of time (SG_WARDEN_SCAN_FUNCTION, in Lambda); absent elsewhere. */
  scanContinuation?: ScanContinuation;
  /**
   * Runs `fn` collecting the changes it makes, then the Home tabs they concern are built again at once
   * (`rebuild`: the worker, which may read all a Home shows) or made due for the sweeper (`mark`: every
   * other function that may read the table). Changes made in a nested run are that run's alone.
   */
  homesAfter<T>(mode: 'rebuild' | 'mark', fn: () => Promise<T>): Promise<T>;
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
  // What this container's invocations changed, until the Home tabs it concerns are built again.
  const homeChanges = new HomeChanges();
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
      homeChanges.note(entry, item);
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
  const schedulerClients = new Map<string, SchedulerClient>();
  const ec2ClientFor = (target: AwsTarget): EC2Client => {
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
  };
  const ec2 = new Ec2SecurityGroups({ clientFor: ec2ClientFor });
  // Exposure reads (interfaces, route tables, tags) through the same EC2 clients; ELBv2 through its own,
  // in the same account and with the same member role.
  const elbClientFor = perTarget((target: AwsTarget): ElasticLoadBalancingV2Client => {
    const credentials = memberCredentials?.forTarget(target);
    return new (elbv2Sdk().ElasticLoadBalancingV2Client)({
      ...awsClientOptions(target.region),
      ...(credentials ? { credentials } : {}),
    });
  });
  const network = new Ec2Network({
    ec2For: ec2ClientFor,
    elbFor: (target) => {
      const cannotAct = accounts.cannotAct(target.account);
      if (cannotAct) throw new AccountAccessError(target.account, cannotAct);
      return elbClientFor(target);
    },
  });
  const inventory = new Ec2RuleInventory({
    clientFor: ec2ClientFor,
    homeClient: () =>
      ec2ClientFor({ account: accounts.ownAccount ?? 'self', region: awsClientOptions().region }),
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
  // A change's author, asked by direct message (found by decisions.principalToSlack or their e-mail).
  const actorNotifier = new SlackActorNotifier({ client: slack });
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
  const backstop = buildBackstop(
    config,
    accounts,
    (target) => {
      const key = `${target.account}/${target.region}`;
      let client = schedulerClients.get(key);
      if (!client) {
        // The schedule lives in the rule's account and region: a member account's through its role.
        const credentials = memberCredentials?.forTarget(target);
        client = new (schedulerSdk().SchedulerClient)({
          ...awsClientOptions(target.region),
          ...(credentials ? { credentials } : {}),
        });
        schedulerClients.set(key, client);
      }
      return client;
    },
    async (note) => {
      const client = await slack();
      await client.chat.postMessage({
        channel: note.channel ?? config.slack.alertChannel,
        text: literal(note.text),
        ...(note.threadTs ? { thread_ts: note.threadTs } : {}),
        unfurl_links: false,
      });
    },
  );
  const wiring: Wiring = {
    config,
    logger,
    store,
    ec2,
    backstop,
    secrets,
    slack,
    notifier,
    runNotifier: new SlackRunNotifier({ client: slack, config }),
    network,
    newExposureLookup: () => new ExposureLookup({ reader: network, metrics }),
    accounts,
    grantOwners: grantNotifier,
    grantNotifier,
    metrics,
    directory,
    users: directory,
    actorNotifier,
    clock: () => new Date(),
    jobs: { enqueue: async () => {} },
    instances,
    commands,
    homeRegion: awsClientOptions().region,
    // Ending sessions: the stack's own end-sessions document (services/deploy/sessions.ts), own account only.
    sessions: {
      document: process.env.SG_WARDEN_SESSIONS_DOCUMENT || null,
      isOwnAccount: (account) => accounts.isOwn(account),
      instances,
      commands,
    },
    inventory,
    scanNotifier: new SlackScanNotifier({ client: slack }),
    ...(slackApiUrl ? { slackApiUrl } : {}),
    ...(process.env.SG_WARDEN_PUBLIC_URL ? { publicUrl: process.env.SG_WARDEN_PUBLIC_URL } : {}),
    homesAfter: (mode, fn) =>
      homeChanges.collect(async () => {
        try {
          return await fn();
        } finally {
          await flushHomeChanges(wiring, new SlackHomePublisher({ client: slack }), homeChanges, {
            rebuild: mode === 'rebuild',
          });
        }
      }),
  };
  const scanFunction = process.env.SG_WARDEN_SCAN_FUNCTION;
  if (scanFunction) {
    let lambdaClient: LambdaClient | undefined;
    wiring.scanContinuation = new LambdaContinuation({
      functionName: scanFunction,
      client: () => {
        lambdaClient ??= new (lambdaSdk().LambdaClient)(awsClientOptions());
        return lambdaClient;
      },
    });
  }
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
      run: async (envelope) => {
        await acceptJob(wiring, (await secrets.get()).signingSecret, envelope);
      },
      logger,
    });
    wiring.jobs = inline;
    wiring.drainJobs = () => inline.drain();
  }
  return wiring;
}

/**
 * The backstop, when config `backstop.enabled` and the deploy made its parts (serverless.yml sets
 * SG_WARDEN_BACKSTOP_GROUP and SG_WARDEN_BACKSTOP_ROLE_ARN): else null, and nothing is scheduled. In a
 * member account the execution role is `<accounts.roleName>-backstop` (infra/member-account-role.yml);
 * the dead-letter queue is `<group>-dlq` in the rule's account and region.
 */
function buildBackstop(
  config: Config,
  accounts: AccountScope,
  clientFor: (target: AwsTarget) => SchedulerClient,
  tell: Backstop['tell'],
): Backstop | null {
  const group = process.env.SG_WARDEN_BACKSTOP_GROUP;
  const ownRoleArn = process.env.SG_WARDEN_BACKSTOP_ROLE_ARN;
  if (!config.backstop.enabled || !group || !ownRoleArn) return null;
  const [, partition = 'aws', , , ownAccount = ''] = ownRoleArn.split(':');
  const memberRole = config.accounts.roleName ? `${config.accounts.roleName}-backstop` : null;
  const roleArnFor = (account: string): string =>
    accounts.isOwn(account) || !memberRole
      ? ownRoleArn
      : `arn:${partition}:iam::${account}:role/${memberRole}`;
  const accountOf = (account: string) => (accounts.isOwn(account) ? ownAccount : account);
  return {
    schedules: new SchedulerBackstop({
      clientFor,
      groupName: group,
      partition,
      roleArnFor: (target) => roleArnFor(target.account),
      deadLetterArnFor: (target) =>
        `arn:${partition}:sqs:${target.region}:${accountOf(target.account)}:${group}-dlq`,
    }),
    graceSeconds: config.backstop.grace,
    stage: process.env.SG_WARDEN_STAGE ?? 'dev',
    isExecutionRole: (account, roleArn) => roleArn !== null && roleArn === roleArnFor(account),
    tell,
  };
}

let wiring: Wiring | undefined;

/**
 * Runs one Lambda invocation with its own child logger: the Lambda request ID plus the handler's
 * correlation keys, made once here, and the logger every service and listener logs through until the
 * invocation ends (services/shared/logger.ts). `context` is absent when tests or the sandbox call a handler.
 *
 * The Homes whose items the invocation changed are made due for the sweeper when it ends (a job the
 * worker runs builds its own at once). `homes: 'none'` is for a function whose role may not read the
 * table (the backstop's dead-letter reconciler only appends audit entries, which change no Home).
 */
export function inInvocation<T>(
  context: { awsRequestId?: string } | undefined,
  keys: Record<string, unknown>,
  fn: (logger: Logger) => Promise<T>,
  options: { homes?: 'mark' | 'none' } = {},
): Promise<T> {
  const logger = getWiring().logger.child({
    ...(context?.awsRequestId ? { lambdaRequestId: context.awsRequestId } : {}),
    ...keys,
  });
  return withInvocationLogger(logger, () =>
    options.homes === 'none' ? fn(logger) : getWiring().homesAfter('mark', () => fn(logger)),
  );
}

/** The container's wiring, built on first use. */
export function getWiring(): Wiring {
  wiring ??= buildWiring();
  return wiring;
}

/**
 * The sweeper's work, by due kind: each feature's handlers (runs: RUN_*; sessions: SESSIONS_POLL; grants:
 * GRANT_*; decisions: RECONCILE, REVOKE_RETRY, DEADLINE, EXCEPTION_EXPIRY; reminders: REMIND, ESCALATE,
 * UNDECIDED; HOME; and NOTIFY, which comes last so that revoking at a deadline never waits behind alerts
 * paced to Slack's rate limit). Build one per sweep.
 */
export function dueHandlers(
  deps: SlackDeps,
  pacing: NotifyPacing = UNPACED,
): Partial<Record<DueKind, DueHandler>> {
  // The exposure looked up again before an auto-revoke: once per group per sweep.
  const exposure = deps.newExposureLookup?.();
  const { NOTIFY, ...decisions } = decisionDueHandlers(exposure ? { ...deps, exposure } : deps, pacing);
  return {
    ...runDueHandlers(runDeps(deps)),
    ...sessionDueHandlers(deps, new SlackSessionNotifier({ client: deps.slack, config: deps.config })),
    ...grantDueHandlers(deps, deps.grantNotifier),
    ...decisions,
    // Reminders after the deadlines they warn of (a deadline that has come needs no reminder), before alerts.
    ...reminderDueHandlers({ ...deps, reminderNotifier: new SlackReminderNotifier({ client: deps.slack }) }),
    ...homeDueHandlers(deps, new SlackHomePublisher({ client: deps.slack })),
    ...(NOTIFY ? { NOTIFY } : {}),
  };
}

/** What the scan needs from the wiring. Build one per invocation (its exposure lookup caches for one). */
export function scanDeps(wiring: Wiring): ScanDeps {
  return {
    ...wiring,
    inventory: wiring.inventory,
    prefixLists: wiring.ec2,
    groups: wiring.ec2,
    exposure: wiring.newExposureLookup(),
    scanNotifier: wiring.scanNotifier,
    ...(wiring.scanContinuation ? { continuation: wiring.scanContinuation } : {}),
  };
}
