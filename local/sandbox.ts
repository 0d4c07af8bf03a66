import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { loadConfig } from '../services/config/config';
import { createLogger } from '../services/shared/logger';
import { ChangeError, describeAccount, makeBurst, makeChange } from './aws-changes';
import { credentialsOf, PERSONAS, persona } from './aws-personas';
import { RecordingAwsProxy } from './aws-recorder';
import { readDetectionPattern, SandboxTrail } from './aws-trail';
import { BackstopRunner } from './backstop-runner';
import { httpApiEvent } from './http-api-event';
import { type LambdaHandler, LocalLambda, scheduledEvent } from './lambda-runtime';
import { startPageServer } from './page-server';
import {
  ALERT_CHANNEL,
  APPROVERS_GROUP,
  ONCALL_GROUP,
  SANDBOX_EMAILS,
  SANDBOX_USERS,
  TEAM_CHANNELS,
  writeSandboxConfig,
} from './sandbox-config';
import { parseArgs, type SandboxOptions, USAGE } from './sandbox-options';
import {
  ACCOUNT,
  BOT_TOKEN_PARAM,
  clients,
  discoverWorld,
  readSecrets,
  SIGNING_SECRET_PARAM,
  seedAccount,
  seedTeamGroups,
  TABLE_NAME,
} from './seed-account';
import { repoRoot, startMoto } from './shared/moto-server';
import { SlackEmulator } from './shared/slack-emulator';
import type { WorkspaceSnapshot } from './shared/slack-emulator-types';
import { SsmEmulator } from './shared/ssm-emulator';
import { SlackWorkspace } from './slack-workspace';
import { SimulatedAgents } from './ssm-agents';
import { acquireStateLock, StateLockedError } from './state-lock';
import { RouteThrottle, TOO_MANY_REQUESTS } from './throttle';

export { parseArgs, type SandboxOptions, USAGE } from './sandbox-options';

export interface Sandbox {
  url: string;
  motoUrl: string;
  awsUrl: string;
  stop(): Promise<void>;
}

/** Mutations between two saves of the emulated account's whole state (local/moto-state.py). */
const SNAPSHOT_EVERY = 200;
/** How long a stop waits for a sweep or job in flight before it stops the emulators under it. */
const STOP_GRACE_MS = 5_000;
/** How many changes the page's burst button makes at once (enough for several digests). */
const BURST_CHANGES = 50;
/** The backstop's schedule group in the sandbox's account (serverless.yml's sg-warden-<stage>-backstop). */
const BACKSTOP_GROUP = 'sg-warden-sandbox-backstop';

/**
 * Starts the whole bot on this machine: moto (behind a recording proxy) seeded as a small AWS account,
 * the Slack Web API emulator, the Lambda handlers in-process fed the events their triggers send, the
 * sweeper on a timer, and the local Slack workspace page.
 */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  // An entry point of its own (like a Lambda's runtime): it reads and sets the environment that
  // handlers/wiring.ts, the only product code that reads `process.env`, then reads.
  const logger = createLogger(process.env.SG_WARDEN_LOG_LEVEL ?? 'info').child({ component: 'sandbox' });
  mkdirSync(options.stateDir, { recursive: true });
  const awsLog = join(options.stateDir, 'aws-mutations.jsonl');
  const awsState = join(options.stateDir, 'aws-state.pickle');
  const slackFile = join(options.stateDir, 'slack-workspace.json');
  if (options.reset) {
    rmSync(awsLog, { force: true });
    rmSync(awsState, { force: true });
    rmSync(slackFile, { force: true });
  }
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'shutdown step failed');
      }
    }
  };
  try {
    const started = Date.now();
    const moto = await startMoto({
      launcher: join(repoRoot, 'local', 'moto-state.py'),
      env: { SG_WARDEN_MOTO_STATE: awsState },
    });
    cleanups.push(() => moto.stop());
    // The account's CloudTrail and EventBridge: every security-group call at the AWS endpoint, whoever
    // makes it, reaches detection as the deploy's rule would deliver it.
    const trail = new SandboxTrail({
      account: ACCOUNT,
      pattern: readDetectionPattern(repoRoot),
      logger,
      delayMs: 300,
    });
    const proxy = await new RecordingAwsProxy({
      motoUrl: moto.url,
      logFile: awsLog,
      logger,
      snapshotEvery: SNAPSHOT_EVERY,
      gate: trail.gate,
      watch: trail.watch,
    }).start(options.awsPort);
    cleanups.push(() => proxy.stop());
    const resumed = existsSync(awsState) || (existsSync(awsLog) && statSync(awsLog).size > 0);
    if (resumed) {
      const { replayed, differed } = await proxy.replay();
      logger.info(
        { fromSnapshot: proxy.snapshotSeq !== null, replayed, differed, durationMs: Date.now() - started },
        'aws state restored from the mutation log',
      );
      if (differed > 0)
        logger.warn({ differed }, 'some replayed AWS calls answered differently than when recorded');
    } else {
      await seedAccount(proxy.url);
      logger.info({ table: TABLE_NAME }, 'aws account seeded');
    }
    const { botToken, signingSecret } = await readSecrets(proxy.url);
    let world = await discoverWorld(proxy.url);
    if (!world.groups.payments || !world.groups.platform) {
      // A state folder from before the teams' groups: add them (routes send their alerts to team channels).
      await seedTeamGroups(proxy.url, world.vpcId, world.groups);
      world = await discoverWorld(proxy.url);
    }
    // Run Command: moto's is an instant empty success without DescribeInstanceInformation, so the
    // tests' SSM emulator answers it, with the seeded instances online and agents that simulate output.
    const ssm = await new SsmEmulator({ upstream: proxy.url }).start();
    cleanups.push(() => ssm.stop());
    for (const instance of world.instances) ssm.setInstance(instance.instanceId, 'online');
    const agents = await new SimulatedAgents(ssm).start();
    cleanups.push(() => agents.stop());
    const configPath = join(options.stateDir, 'config.yml');
    writeSandboxConfig({
      basePath: join(repoRoot, 'config', 'sg-warden.yml'),
      ...(options.configOverlay ? { overlayPath: options.configOverlay } : {}),
      world,
      path: configPath,
    });

    // "Skip ahead": the bot's clock (the wiring's, which handlers, jobs and the sweeper read) may run
    // ahead of the wall clock, so expiries of an hour can be seen without waiting an hour. Slack's
    // message times follow it, so the page shows one time everywhere.
    let clockOffsetMs = 0;
    const slack = await new SlackEmulator({
      now: () => Date.now() + clockOffsetMs,
      token: botToken,
      users: Object.fromEntries(
        Object.entries(SANDBOX_USERS).map(([id, u]) => [
          id,
          { name: u.name, realName: u.realName, email: SANDBOX_EMAILS[id as keyof typeof SANDBOX_USERS] },
        ]),
      ),
      userGroups: { [APPROVERS_GROUP]: ['U0APPROVER'], [ONCALL_GROUP]: ['U0APPROVER'] },
      // Both people are in the alert channel (its members may read /sg-status) and the teams' channels.
      channelMembers: Object.fromEntries(
        [ALERT_CHANNEL.id, ...TEAM_CHANNELS.map((c) => c.id)].map((id) => [id, Object.keys(SANDBOX_USERS)]),
      ),
    }).start();
    cleanups.push(() => slack.stop());
    if (!options.reset && existsSync(slackFile)) {
      const snapshot = JSON.parse(readFileSync(slackFile, 'utf8')) as WorkspaceSnapshot;
      // A restarted Slack client shows no modal that was open before.
      for (const v of snapshot.views) if (v.info) v.info.closed = true;
      slack.restore(snapshot);
    }
    const saveWorkspace = () => writeFileSync(slackFile, JSON.stringify(slack.snapshot()));
    let saveTimer: NodeJS.Timeout | undefined;
    const offSave = slack.onChange(() => {
      saveTimer ??= setTimeout(() => {
        saveTimer = undefined;
        saveWorkspace();
      }, 200);
    });
    cleanups.push(() => {
      offSave();
      clearTimeout(saveTimer);
      saveWorkspace();
    });

    // The environment the Lambda functions get from serverless.yml, pointed at the emulators.
    Object.assign(process.env, {
      AWS_REGION: world.region,
      // The bot's own calls are its Lambda role's (README "npm start": the sandbox's access keys).
      AWS_ACCESS_KEY_ID: credentialsOf('bot').accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentialsOf('bot').secretAccessKey,
      AWS_ENDPOINT_URL: proxy.url,
      AWS_ENDPOINT_URL_SSM: agents.url,
      AWS_EC2_METADATA_DISABLED: 'true',
      SG_WARDEN_TABLE: TABLE_NAME,
      SG_WARDEN_CONFIG: configPath,
      SG_WARDEN_ACCOUNT_ID: ACCOUNT,
      SLACK_BOT_TOKEN_PARAM: BOT_TOKEN_PARAM,
      SLACK_SIGNING_SECRET_PARAM: SIGNING_SECRET_PARAM,
      SLACK_API_URL: slack.apiUrl,
      // The backstop, as deployed: its group here, run by the `backstop` persona's role (local/backstop-runner.ts).
      SG_WARDEN_STAGE: 'sandbox',
      SG_WARDEN_BACKSTOP_GROUP: BACKSTOP_GROUP,
      SG_WARDEN_BACKSTOP_ROLE_ARN: (
        persona('backstop').userIdentity.sessionContext as { sessionIssuer: { arn: string } }
      ).sessionIssuer.arn,
    });
    // Jobs run in this process (the InlineJobQueue), as the worker Lambda would run them.
    delete process.env.SG_WARDEN_WORKER_FUNCTION;

    // The handlers are imported once the page is listening: the `me` link's base URL
    // (SG_WARDEN_PUBLIC_URL) is the page's, and the wiring reads it when it is built.
    const fns: Partial<
      Record<'slackHttp' | 'cloudtrail' | 'sweeper' | 'ipCapture' | 'backstopDeadLetters', LambdaHandler>
    > = {};
    const fn = (name: keyof typeof fns) => {
      const handler = fns[name];
      if (!handler) throw new Error('the sandbox is still starting');
      return handler;
    };
    const lambda = new LocalLambda(logger);
    // API Gateway's route throttling as deployed (config http.throttle), one bucket per route.
    const limits = loadConfig(configPath).http.throttle;
    const throttles = new Map<string, RouteThrottle>();
    const admit = (routeKey: string): boolean => {
      const throttle = throttles.get(routeKey) ?? new RouteThrottle(limits);
      throttles.set(routeKey, throttle);
      const admitted = throttle.take();
      if (!admitted) logger.warn({ routeKey }, 'request throttled (429), as API Gateway would');
      return admitted;
    };
    const workspace = new SlackWorkspace({
      slack,
      signingSecret,
      botToken,
      logger,
      door: async (event) =>
        admit('POST /slack/events')
          ? lambda.invoke('sg-warden-slack-http', fn('slackHttp'), event)
          : TOO_MANY_REQUESTS,
    });

    let lastSweep: { at: string; summary: unknown } | null = null;
    let sweeping: Promise<unknown> | null = null;
    const sweepNow = () => {
      sweeping ??= lambda
        .invokeAsync('sg-warden-sweeper', fn('sweeper'), scheduledEvent('sg-warden-sweeper'), [], true)
        .then((summary) => {
          lastSweep = { at: new Date().toISOString(), summary };
          return summary;
        })
        .finally(() => {
          sweeping = null;
        });
      return sweeping;
    };
    // The page may stop the sweeper's schedule (as a bad deploy would): the backstop still closes due rules.
    let sweeperRunning = true;
    const backstop = new BackstopRunner({
      endpoint: proxy.url,
      region: world.region,
      group: BACKSTOP_GROUP,
      now: () => new Date(Date.now() + clockOffsetMs),
      logger,
      deadLetter: (event) =>
        lambda.invoke('sg-warden-backstop-dead-letters', fn('backstopDeadLetters'), event),
    });
    await backstop.ensureGroup();
    let sweepTimer: NodeJS.Timeout | undefined;
    let stopped = false;
    const schedule = () => {
      sweepTimer = setTimeout(() => {
        (sweeperRunning ? sweepNow() : Promise.resolve())
          .catch(() => {})
          .then(() => backstop.tick())
          .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'backstop tick failed'))
          .finally(() => {
            if (!stopped) schedule();
          });
      }, options.sweepIntervalMs);
    };

    const { ec2 } = clients(proxy.url);
    // The panel's changes are made as a person would make them: with that persona's key, at the endpoint.
    const panelClients = {
      engineer: new EC2Client({
        region: world.region,
        endpoint: proxy.url,
        credentials: credentialsOf('erin'),
      }),
      ci: new EC2Client({ region: world.region, endpoint: proxy.url, credentials: credentialsOf('ci') }),
    };
    const pageDir = join(repoRoot, 'local', 'page');
    const pageScript = buildPageScript(pageDir);
    const page = await startPageServer(
      {
        workspace,
        slack,
        logger,
        pageDir,
        pageScript: () => pageScript,
        account: () => describeAccount(ec2),
        change: async (request) => {
          try {
            const { ruleIds, requestId } = await makeChange((who) => panelClients[who], request as never);
            logger.info({ groupId: request.groupId, ruleIds }, 'change made in the emulated account');
            const delivery = await trail.delivered(requestId);
            return { ok: true, ruleIds, eventId: delivery?.eventId, detection: delivery?.result };
          } catch (error) {
            if (error instanceof ChangeError) return { ok: false, error: error.message };
            throw error;
          }
        },
        route: async (req, res, body) => {
          const match = /^\/ip\/([^/?#]+)$/.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
          if (!match || (req.method !== 'GET' && req.method !== 'POST')) return false;
          if (!admit(`${req.method} /ip/{token}`)) {
            res.writeHead(TOO_MANY_REQUESTS.statusCode, TOO_MANY_REQUESTS.headers);
            res.end(TOO_MANY_REQUESTS.body);
            return true;
          }
          // What API Gateway would hand the ip-capture Lambda. The browser connects over loopback,
          // which can never be allow-listed, so the sandbox presents a stand-in public address.
          const event = httpApiEvent(
            req,
            body,
            `${req.method} /ip/{token}`,
            { token: match[1]! },
            options.publicIp,
            ACCOUNT,
          );
          const result = (await lambda.invoke('sg-warden-ip-capture', fn('ipCapture'), event)) as {
            statusCode?: number;
            headers?: Record<string, string>;
            body?: string;
          };
          res.writeHead(result.statusCode ?? 200, result.headers ?? {});
          res.end(result.body ?? '');
          return true;
        },
        burst: async (request) => {
          const principal = request.principal === 'ci' ? 'ci' : 'engineer';
          try {
            // One terraform apply gone wrong: the events reach detection side by side, as EventBridge
            // delivers a burst, so the channel's backlog outruns Slack's pace and goes out as digests. The
            // answer comes once the calls are made; the digests follow in the channel.
            const made = await trail.concurrently(() =>
              makeBurst((who) => panelClients[who], {
                count: BURST_CHANGES,
                principal,
                name: `burst-${Date.now().toString(36)}`,
              }),
            );
            logger.info(
              { groupId: made.groupId, rules: made.ruleIds.length },
              'burst made in the emulated account',
            );
            return { ok: true, ...made };
          } catch (error) {
            if (error instanceof ChangeError) return { ok: false, error: error.message };
            throw error;
          }
        },
        sweepNow: async () => ({ ok: true, summary: await sweepNow() }),
        skipAhead: async (seconds) => {
          clockOffsetMs += seconds * 1000;
          logger.info(
            { advancedSeconds: seconds, aheadSeconds: clockOffsetMs / 1000 },
            'bot clock moved ahead',
          );
          const summary = sweeperRunning ? await sweepNow() : null;
          return {
            ok: true,
            aheadSeconds: clockOffsetMs / 1000,
            summary,
            backstopsRan: await backstop.tick(),
          };
        },
        setSweeper: async (running) => {
          sweeperRunning = running;
          logger.warn({ running }, running ? 'sweeper started again' : 'sweeper stopped from the page');
          return { ok: true, sweeperRunning };
        },
        info: () => ({
          world,
          sweepIntervalMs: options.sweepIntervalMs,
          lastSweep,
          clockAheadSeconds: clockOffsetMs / 1000,
          sweeperRunning,
          commands: ['/sg-status', '/sg-whitelist', '/sg-run'],
          aws: {
            endpoint: proxy.url,
            region: world.region,
            keys: PERSONAS.map((p) => ({
              name: p.name,
              accessKeyId: p.accessKeyId,
              description: p.description,
            })),
          },
          alertChannel: ALERT_CHANNEL,
        }),
      },
      options.port,
    );
    cleanups.push(() => page.stop());

    process.env.SG_WARDEN_PUBLIC_URL = page.url;
    // A message's permalink (chat.getPermalink, e.g. in /sg-status) opens that message on the page.
    slack.permalinkBase = page.url;
    fns.slackHttp = (await import('../handlers/slack-http')).handler as LambdaHandler;
    fns.cloudtrail = (await import('../handlers/cloudtrail-event')).handler as LambdaHandler;
    fns.sweeper = (await import('../handlers/sweeper')).handler as LambdaHandler;
    fns.ipCapture = (await import('../handlers/ip-capture')).handler as LambdaHandler;
    fns.backstopDeadLetters = (await import('../handlers/backstop-dead-letters')).handler as LambdaHandler;
    const { getWiring } = await import('../handlers/wiring');
    getWiring().clock = () => new Date(Date.now() + clockOffsetMs);
    trail.deliver = (event) => lambda.invokeAsync('sg-warden-cloudtrail-event', fn('cloudtrail'), event);
    cleanups.push(() => {
      trail.deliver = null;
    });
    schedule();
    cleanups.push(async () => {
      stopped = true;
      clearTimeout(sweepTimer);
      // A sweep in flight may be pacing message updates to Slack for half a minute: give it a few seconds,
      // then stop anyway. Its moves are conditional writes and its due items stay due, so the next start
      // picks up whatever it had not reached; nothing is half-done.
      const settled = Promise.all([sweeping?.catch(() => {}), getWiring().drainJobs?.()]);
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
    });
    logger.info(
      {
        url: page.url,
        motoUrl: moto.url,
        awsUrl: proxy.url,
        slackApiUrl: slack.apiUrl,
        stateDir: options.stateDir,
        resumed,
        // Every port and child process it runs (the tests check that a stop leaves none).
        ports: [page.url, moto.url, proxy.url, slack.apiUrl, ssm.url, agents.url].map((u) =>
          Number(new URL(u).port),
        ),
        motoPid: moto.pid,
        durationMs: Date.now() - started,
      },
      'sandbox ready',
    );
    return { url: page.url, motoUrl: moto.url, awsUrl: proxy.url, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The page's script (TypeScript in local/page/app.ts), bundled for the browser. */
function buildPageScript(pageDir: string): string {
  const { buildSync } = require('esbuild') as typeof import('esbuild');
  const out = buildSync({
    entryPoints: [join(pageDir, 'app.ts')],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    write: false,
    logLevel: 'error',
  });
  return out.outputFiles[0]!.text;
}

/** The signals that stop the sandbox as Ctrl-C does: a closed terminal (SIGHUP), a service manager (SIGTERM). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * `npm start`: runs until Ctrl-C, SIGTERM or SIGHUP (or until the process that started it is gone),
 * then stops everything it started. A second start on the same state folder refuses before touching it.
 */
export async function main(argv: string[]): Promise<number> {
  let options: SandboxOptions | 'help';
  try {
    options = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`sg-warden sandbox: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // A terminal that went away must not turn the shutdown's log lines into a crash.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  let lock: ReturnType<typeof acquireStateLock>;
  try {
    mkdirSync(options.stateDir, { recursive: true });
    lock = acquireStateLock(options.stateDir);
  } catch (error) {
    const sentence = error instanceof StateLockedError ? error.message : (error as Error).message;
    process.stderr.write(`sg-warden sandbox: will not start: ${sentence}\n`);
    return 1;
  }
  // A signal during the start stops the sandbox as soon as it is up.
  let signalled: string | null = null;
  let stopNow: ((signal: string) => void) | null = null;
  const onSignal = (signal: string) => {
    signalled ??= signal;
    stopNow?.(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => onSignal(signal));
  // `npm start` runs this under npm and a shell; when they are killed, this is orphaned: stop then too.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid !== parent) onSignal('parent gone');
  }, 500);
  orphanWatch.unref();

  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox(options);
  } catch (error) {
    lock.release();
    const { code, message, port } = error as NodeJS.ErrnoException & { port?: number };
    const flag = port === options.awsPort ? '--aws-port' : '--port';
    const sentence =
      code === 'EADDRINUSE'
        ? `port ${port ?? options.port} is in use; pick another with ${flag}`
        : message.split('\n')[0];
    process.stderr.write(`sg-warden sandbox: could not start: ${sentence}\n`);
    return 1;
  }
  process.stderr.write(
    [
      '',
      `  sg-warden sandbox is up:  ${sandbox.url}`,
      `  its AWS endpoint:         ${sandbox.awsUrl}  (keys: README "npm start")`,
      '',
      '  1. Open the page, pick a security group on the right and make a change (try SSH from 0.0.0.0/0).',
      '  2. The alert appears in #security-alerts: Revoke it, or switch to Alex (approver) and Keep it.',
      '  3. Type /sg-status, /sg-whitelist or /sg-run in the message box.',
      '',
      `  State: ${options.stateDir} (start with --reset for a fresh account). Ctrl-C stops.`,
      '',
    ].join('\n'),
  );
  return new Promise((resolveExit) => {
    let stopping = false;
    stopNow = (signal: string) => {
      if (stopping) return;
      stopping = true;
      clearInterval(orphanWatch);
      process.stderr.write(`\n  ${signal}: stopping the sandbox…\n`);
      sandbox
        .stop()
        .finally(() => lock.release())
        .then(
          () => resolveExit(0),
          () => resolveExit(1),
        );
    };
    if (signalled) stopNow(signalled);
  });
}
