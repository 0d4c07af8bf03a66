// `npm run bench`: the orchestrator (bundles the functions and the anchor, starts moto, runs each figure
// in its own process, prints the table and writes the JSON) and, with `--figure <name>`, one figure.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { type MotoServer, startMoto } from '../local/shared/moto-server';
import {
  bundleFunction,
  bundleSettings,
  type FunctionBundle,
  functionEntries,
  hasSource,
} from './lib/bundle';
import type { FigureContext } from './lib/context';
import { describeMachine } from './lib/machine';
import { type BenchReport, type FigureResult, renderReport } from './lib/report';
import { round } from './lib/stats';

/** Every figure, in the order they run, and whether it needs the AWS emulator. */
export const FIGURES = [
  { name: 'policy', needsMoto: false, load: () => import('./figures/policy') },
  { name: 'cold', needsMoto: true, load: () => import('./figures/cold-start') },
  { name: 'answer', needsMoto: true, load: () => import('./figures/slack-answer') },
  { name: 'detection', needsMoto: true, load: () => import('./figures/detection') },
  { name: 'worker', needsMoto: true, load: () => import('./figures/worker') },
  { name: 'burst', needsMoto: true, load: () => import('./figures/burst') },
  { name: 'sweep', needsMoto: true, load: () => import('./figures/sweep') },
  { name: 'scan', needsMoto: true, load: () => import('./figures/scan') },
  { name: 'input', needsMoto: false, load: () => import('./figures/big-input') },
] as const;

type FigureName = (typeof FIGURES)[number]['name'];

interface Options {
  only: FigureName[];
  quick: boolean;
  out: string;
  awsDelaysMs: number[];
}

/** The answer figure's AWS delays by default (#24): in-region latency and a degraded region. */
const DEFAULT_AWS_DELAYS_MS = [30, 1000];

const USAGE = `usage: npm run bench [-- --only ${FIGURES.map((f) => f.name).join(',')}] [--quick] [--out <file.json>] [--aws-delay-ms ${DEFAULT_AWS_DELAYS_MS.join(',')}]`;

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseOptions(argv: string[], root: string): Options {
  const options: Options = {
    only: FIGURES.map((f) => f.name),
    quick: false,
    out: join(root, '.cache', 'bench', 'latest.json'),
    awsDelaysMs: DEFAULT_AWS_DELAYS_MS,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    if (flag === '--only') {
      const names = value()
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      const unknown = names.filter((n) => !FIGURES.some((f) => f.name === n));
      if (unknown.length) fail(`unknown figure ${unknown.join(', ')}`);
      options.only = FIGURES.map((f) => f.name).filter((n) => names.includes(n));
    } else if (flag === '--quick') options.quick = true;
    else if (flag === '--out') options.out = value();
    else if (flag === '--aws-delay-ms') {
      const delays = value()
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean);
      if (delays.length === 0 || delays.some((d) => !/^\d{1,5}$/.test(d)))
        fail('--aws-delay-ms takes whole milliseconds, e.g. 30 or 30,1000');
      options.awsDelaysMs = delays.map(Number);
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${arg}`);
  }
  return options;
}

function gitState(root: string): BenchReport['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root })
        .toString()
        .trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** Runs one figure in its own process (own environment variables, own memory) and collects its result. */
function runFigureProcess(name: FigureName, env: Record<string, string>): Promise<FigureResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', __filename, '--figure', name], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: FigureResult | undefined;
    child.on('message', (message: { type: string; result?: FigureResult; error?: string }) => {
      if (message.type === 'result') result = message.result;
      if (message.type === 'error') {
        result = {
          figure: name,
          title: name,
          columns: [],
          rows: [],
          goals: [],
          notes: [`FAILED: ${message.error}`],
          data: { error: message.error },
          durationMs: Date.now() - started,
        };
      }
    });
    child.on('exit', (code) => {
      resolve(
        result ?? {
          figure: name,
          title: name,
          columns: [],
          rows: [],
          goals: [],
          notes: [`FAILED: the figure's process exited with code ${code} and no result`],
          data: { error: `exit ${code}` },
          durationMs: Date.now() - started,
        },
      );
    });
  });
}

async function runChild(name: string): Promise<void> {
  const figure = FIGURES.find((f) => f.name === name);
  if (!figure) throw new Error(`unknown figure ${name}`);
  const ctx = JSON.parse(process.env.BENCH_CONTEXT ?? '{}') as FigureContext;
  try {
    const mod = (await figure.load()) as { run: (ctx: FigureContext) => Promise<FigureResult> };
    const result = await mod.run(ctx);
    process.send?.({ type: 'result', result });
  } catch (error) {
    process.send?.({ type: 'error', error: (error as Error).stack ?? String(error) });
  }
  // Emulators and keep-alive sockets may hold the loop open; the figure is done.
  setTimeout(() => process.exit(0), 50);
}

async function orchestrate(): Promise<void> {
  // This file is built to <root>/.cache/bench/main.js.
  const root = join(__dirname, '..', '..');
  const options = parseOptions(process.argv.slice(2), root);
  const startedAt = new Date().toISOString();
  const buildDir = __dirname;
  const selected = FIGURES.filter((f) => options.only.includes(f.name));
  let functions: FunctionBundle[] = [];
  let anchor: FunctionBundle | undefined;
  let unwritten: string[] = [];
  // policy evaluation runs in-process and big inputs run the CLI: neither needs the functions bundled.
  const needsBundles = selected.some((f) => f.name !== 'policy' && f.name !== 'input');
  const settings = bundleSettings(root);
  if (needsBundles) {
    console.error('[bench] bundling the functions and the anchor as serverless-esbuild does…');
    const out = join(buildDir, 'functions');
    const entries = functionEntries(root);
    unwritten = entries.filter((fn) => !hasSource(root, fn.module)).map((fn) => fn.name);
    functions = await Promise.all(
      entries.filter((fn) => hasSource(root, fn.module)).map((fn) => bundleFunction(root, settings, fn, out)),
    );
    anchor = await bundleFunction(
      root,
      settings,
      { name: 'anchor', module: 'bench/anchor/handler', declared: true },
      out,
    );
  }
  let moto: MotoServer | undefined;
  if (selected.some((f) => f.needsMoto)) {
    console.error('[bench] starting moto…');
    // The launcher keeps moto's transactions from deep-copying whole tables (see the script).
    moto = await startMoto({ launcher: join(root, 'test', 'support', 'moto-launcher.py') });
  }
  const ctx: FigureContext = {
    quick: options.quick,
    awsDelaysMs: options.awsDelaysMs,
    root,
    buildDir,
    functions,
    unwritten,
    anchor: anchor ?? ({} as FunctionBundle),
    nodeOptions: settings.nodeOptions,
    runtime: settings.runtime,
  };
  const figures: FigureResult[] = [];
  try {
    for (const figure of selected) {
      console.error(`[bench] ${figure.name}…`);
      const loadBefore = loadavg()[0]!;
      const result = await runFigureProcess(figure.name, {
        BENCH_CONTEXT: JSON.stringify(ctx),
        BENCH_BUILD_DIR: buildDir,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_REGION: 'us-east-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        SG_WARDEN_LOG_LEVEL: 'silent',
        ...(moto ? { MOTO_URL: moto.url } : {}),
      });
      result.load = { before: round(loadBefore), after: round(loadavg()[0]!) };
      console.error(`[bench] ${figure.name} done in ${(result.durationMs / 1000).toFixed(1)} s`);
      figures.push(result);
    }
  } finally {
    await moto?.stop();
  }
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    mode: options.quick ? 'quick' : 'full',
    machine: describeMachine(),
    git: gitState(root),
    emulators: {
      aws: `${process.env.BENCH_MOTO_SPEC ?? 'moto'} via test/support/moto-launcher.py, on loopback`,
      slack: 'local/shared/slack-emulator.ts on loopback',
    },
    figures,
  };
  console.log(renderReport(report));
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  console.error(`[bench] figures written to ${options.out}`);
  if (figures.some((f) => 'error' in f.data)) process.exitCode = 1;
}

if (process.argv[2] === '--figure') {
  runChild(process.argv[3] ?? '').catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  orchestrate().catch((error) => {
    console.error(`bench: ${(error as Error).stack ?? error}`);
    process.exit(1);
  });
}
