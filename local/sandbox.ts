import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { createLogger } from '../services/shared/logger';
import { repoRoot, startMoto } from '../test/support/moto-server';
import { SlackEmulator, type WorkspaceSnapshot } from '../test/support/slack-emulator';
import { SsmEmulator } from '../test/support/ssm-emulator';
import { ChangeError, describeAccount, makeChange } from './aws-changes';
import { RecordingAwsProxy } from './aws-recorder';
import { type LambdaHandler, LocalLambda, scheduledEvent } from './lambda-runtime';
import { startPageServer } from './page-server';
import { ALERT_CHANNEL, APPROVERS_GROUP, SANDBOX_USERS, writeSandboxConfig } from './sandbox-config';
import {
  ACCOUNT,
  BOT_TOKEN_PARAM,
  clients,
  discoverWorld,
  readSecrets,
  SIGNING_SECRET_PARAM,
  seedAccount,
  TABLE_NAME,
} from './seed-account';
import { SlackWorkspace } from './slack-workspace';
import { SimulatedAgents } from './ssm-agents';

export interface SandboxOptions {
  /** Port of the page on 127.0.0.1 (0: any free port). */
  port: number;
  /** Where state is kept between runs. */
  stateDir: string;
  /** Start from a freshly seeded account and an empty workspace. */
  reset: boolean;
  /** A YAML file merged over the sandbox's config. */
  configOverlay?: string;
  /** How often the sweeper's schedule fires. */
  sweepIntervalMs: number;
  /** The address the `me` link sees (API Gateway's sourceIp); the browser itself is on loopback. */
  publicIp: string;
}

export const USAGE = `usage: npm start -- [--port 3000] [--reset] [--state-dir .sg-warden] [--config overlay.yml] [--sweep-every 5s] [--public-ip 81.2.69.142]`;

/** Parses the command line; throws an Error whose message is one sentence for bad flags. */
export function parseArgs(argv: string[]): SandboxOptions | 'help' {
  const options: SandboxOptions = {
    port: 3000,
    stateDir: join(repoRoot, '.sg-warden'),
    reset: false,
    sweepIntervalMs: 5000,
    publicIp: '81.2.69.142',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--reset':
        options.reset = true;
        break;
      case '--port': {
        const v = value();
        const port = Number(v);
        if (!/^\d+$/.test(v) || port > 65535)
          throw new Error(`--port must be a port number (0-65535), not "${v}"`);
        options.port = port;
        break;
      }
      case '--state-dir':
        options.stateDir = resolve(value());
        break;
      case '--config': {
        const v = resolve(value());
        if (!existsSync(v)) throw new Error(`--config: no such file ${v}`);
        options.configOverlay = v;
        break;
      }
      case '--public-ip': {
        const v = value();
        if (!isIP(v)) throw new Error(`--public-ip must be an IPv4 or IPv6 address, not "${v}"`);
        options.publicIp = v;
        break;
      }
      case '--sweep-every': {
        const v = value();
        const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v);
        const ms = match ? Number(match[1]) * (match[2] === 'ms' ? 1 : 1000) : Number.NaN;
        if (!(ms >= 200 && ms <= 600_000)) {
          throw new Error(`--sweep-every must be between 200ms and 600s, such as 5s, not "${v}"`);
        }
        options.sweepIntervalMs = ms;
        break;
      }
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return options;
}

export interface Sandbox {
  url: string;
  motoUrl: string;
  awsUrl: string;
  stop(): Promise<void>;
}

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
  const slackFile = join(options.stateDir, 'slack-workspace.json');
  if (options.reset) {
    rmSync(awsLog, { force: true });
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
    const moto = await startMoto();
    cleanups.push(() => moto.stop());
    const proxy = await new RecordingAwsProxy({ motoUrl: moto.url, logFile: awsLog, logger }).start();
    cleanups.push(() => proxy.stop());
    const resumed = existsSync(awsLog) && statSync(awsLog).size > 0;
    if (resumed) {
      const started = Date.now();
      const { replayed, differed } = await proxy.replay();
      logger.info(
        { replayed, differed, durationMs: Date.now() - started },
        'aws state restored from the mutation log',
      );
      if (differed > 0)
        logger.warn({ differed }, 'some replayed AWS calls answered differently than when recorded');
    } else {
      await seedAccount(proxy.url);
      logger.info({ table: TABLE_NAME }, 'aws account seeded');
    }
    const { botToken, signingSecret } = await readSecrets(proxy.url);
    const world = await discoverWorld(proxy.url);
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

    const slack = await new SlackEmulator({
      token: botToken,
      users: Object.fromEntries(
        Object.entries(SANDBOX_USERS).map(([id, u]) => [id, { name: u.name, realName: u.realName }]),
      ),
      userGroups: { [APPROVERS_GROUP]: ['U0APPROVER'] },
      // Both people are in the alert channel: its members may read /sg-status.
      channelMembers: { [ALERT_CHANNEL.id]: Object.keys(SANDBOX_USERS) },
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
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_ENDPOINT_URL: proxy.url,
      AWS_ENDPOINT_URL_SSM: agents.url,
      AWS_EC2_METADATA_DISABLED: 'true',
      SG_WARDEN_TABLE: TABLE_NAME,
      SG_WARDEN_CONFIG: configPath,
      SLACK_BOT_TOKEN_PARAM: BOT_TOKEN_PARAM,
      SLACK_SIGNING_SECRET_PARAM: SIGNING_SECRET_PARAM,
      SLACK_API_URL: slack.apiUrl,
    });
    // Jobs run in this process (the InlineJobQueue), as the worker Lambda would run them.
    delete process.env.SG_WARDEN_WORKER_FUNCTION;

    // The handlers are imported once the page is listening: the `me` link's base URL
    // (SG_WARDEN_PUBLIC_URL) is the page's, and the wiring reads it when it is built.
    const fns: Partial<Record<'slackHttp' | 'cloudtrail' | 'sweeper' | 'ipCapture', LambdaHandler>> = {};
    const fn = (name: keyof typeof fns) => {
      const handler = fns[name];
      if (!handler) throw new Error('the sandbox is still starting');
      return handler;
    };
    // "Skip ahead": the bot's clock (the wiring's, which handlers, jobs and the sweeper read) may run
    // ahead of the wall clock, so expiries of an hour can be seen without waiting an hour.
    let clockOffsetMs = 0;
    const lambda = new LocalLambda(logger);
    const workspace = new SlackWorkspace({
      slack,
      signingSecret,
      botToken,
      logger,
      door: (event) => lambda.invoke('sg-warden-slack-http', fn('slackHttp'), event),
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
    let sweepTimer: NodeJS.Timeout | undefined;
    let stopped = false;
    const schedule = () => {
      sweepTimer = setTimeout(() => {
        sweepNow()
          .catch(() => {})
          .finally(() => {
            if (!stopped) schedule();
          });
      }, options.sweepIntervalMs);
    };

    const { ec2 } = clients(proxy.url);
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
            const { ruleIds, event } = await makeChange(ec2, request as never);
            logger.info({ groupId: request.groupId, ruleIds }, 'change made in the emulated account');
            const detection = await lambda.invokeAsync('sg-warden-cloudtrail-event', fn('cloudtrail'), event);
            return { ok: true, ruleIds, eventId: (event.detail as { eventID: string }).eventID, detection };
          } catch (error) {
            if (error instanceof ChangeError) return { ok: false, error: error.message };
            throw error;
          }
        },
        route: async (req, res, body) => {
          const match = /^\/ip\/([^/?#]+)$/.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
          if (!match || (req.method !== 'GET' && req.method !== 'POST')) return false;
          // What API Gateway would hand the ip-capture Lambda. The browser connects over loopback,
          // which can never be allow-listed, so the sandbox presents a stand-in public address.
          const event = httpApiEvent(
            req,
            body,
            `${req.method} /ip/{token}`,
            { token: match[1]! },
            options.publicIp,
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
        sweepNow: async () => ({ ok: true, summary: await sweepNow() }),
        skipAhead: async (seconds) => {
          clockOffsetMs += seconds * 1000;
          logger.info(
            { advancedSeconds: seconds, aheadSeconds: clockOffsetMs / 1000 },
            'bot clock moved ahead',
          );
          return { ok: true, aheadSeconds: clockOffsetMs / 1000, summary: await sweepNow() };
        },
        info: () => ({
          world,
          sweepIntervalMs: options.sweepIntervalMs,
          lastSweep,
          clockAheadSeconds: clockOffsetMs / 1000,
          commands: ['/sg-status', '/sg-whitelist', '/sg-run'],
          alertChannel: ALERT_CHANNEL,
        }),
      },
      options.port,
    );
    cleanups.push(() => page.stop());

    process.env.SG_WARDEN_PUBLIC_URL = page.url;
    fns.slackHttp = (await import('../handlers/slack-http')).handler as LambdaHandler;
    fns.cloudtrail = (await import('../handlers/cloudtrail-event')).handler as LambdaHandler;
    fns.sweeper = (await import('../handlers/sweeper')).handler as LambdaHandler;
    fns.ipCapture = (await import('../handlers/ip-capture')).handler as LambdaHandler;
    const { getWiring } = await import('../handlers/wiring');
    getWiring().clock = () => new Date(Date.now() + clockOffsetMs);
    schedule();
    cleanups.push(async () => {
      stopped = true;
      clearTimeout(sweepTimer);
      await sweeping?.catch(() => {});
      await getWiring().drainJobs?.();
    });
    logger.info(
      {
        url: page.url,
        motoUrl: moto.url,
        awsUrl: proxy.url,
        slackApiUrl: slack.apiUrl,
        stateDir: options.stateDir,
        resumed,
      },
      'sandbox ready',
    );
    return { url: page.url, motoUrl: moto.url, awsUrl: proxy.url, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** An HTTP request as API Gateway's HTTP API (payload v2) hands it to a Lambda. */
function httpApiEvent(
  req: IncomingMessage,
  body: string,
  routeKey: string,
  pathParameters: Record<string, string>,
  sourceIp: string,
): Record<string, unknown> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-for'] = sourceIp;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    pathParameters,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'sandbox',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'sandbox',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    ...(body ? { body } : {}),
    isBase64Encoded: false,
  };
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

/** `npm start`: runs until Ctrl-C (SIGINT) or SIGTERM, then stops everything it started. */
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
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox(options);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const sentence =
      code === 'EADDRINUSE'
        ? `port ${options.port} is in use; pick another with --port`
        : message.split('\n')[0];
    process.stderr.write(`sg-warden sandbox: could not start: ${sentence}\n`);
    return 1;
  }
  process.stderr.write(
    [
      '',
      `  sg-warden sandbox is up:  ${sandbox.url}`,
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
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\n  ${signal}: stopping the sandbox…\n`);
      sandbox.stop().then(
        () => resolveExit(0),
        () => resolveExit(1),
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
