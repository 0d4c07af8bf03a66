// `npm start`: the whole bot on this machine (see local/sandbox.ts). Installs what it needs (the npm
// packages, moto; not the deploy checks), bundles the TypeScript entry with esbuild (already used by the CLI
// and the deploy; ~0.3 s, no extra dependency or require hook), then runs it in a child process whose JSON
// log lines are shown readably on a terminal.
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureNodeModules, ensureSandboxMoto, root } from './ensure-env.mjs';

const args = process.argv.slice(2);
const json = args.includes('--json');
const sandboxArgs = args.filter((a) => a !== '--json');

ensureNodeModules();
ensureSandboxMoto();

// Bundled two folders below the repo root on purpose: the moto helper finds the venv relative to its own file.
const outDir = join(root, '.cache', 'sandbox');
const outfile = join(outDir, 'sandbox.js');
const { buildSync } = createRequire(import.meta.url)('esbuild');
const result = buildSync({
  entryPoints: [join(root, 'local', 'sandbox.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'inline',
  write: false,
  logLevel: 'error',
});
mkdirSync(outDir, { recursive: true });
const tmp = `${outfile}.${process.pid}.tmp`;
writeFileSync(tmp, result.outputFiles[0].contents);
renameSync(tmp, outfile);

const child = spawn(
  process.execPath,
  [
    '--enable-source-maps',
    '-e',
    `require(${JSON.stringify(outfile)}).main(process.argv.slice(1)).then((code) => process.exit(code))`,
    '--',
    ...sandboxArgs,
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
);

// JSON lines stay JSON when piped (or with --json); on a terminal they become "time level message key=value".
const pretty = process.stdout.isTTY && !json;
const colours = { debug: 90, info: 36, warn: 33, error: 31, fatal: 31 };
function show(line) {
  if (!pretty) return process.stdout.write(`${line}\n`);
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return process.stdout.write(`${line}\n`);
  }
  const { time, level, msg, service, pid, hostname, ...fields } = entry;
  // A sweep that found nothing due, every few seconds, is noise on a terminal (kept with --json).
  if (msg === 'sweep done' && Object.values(fields.summary ?? {}).every((k) => k?.due === 0)) return;
  const when = typeof time === 'string' ? time.slice(11, 19) : '';
  const colour = colours[level] ?? 0;
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  process.stdout.write(
    `\x1b[90m${when}\x1b[0m \x1b[${colour}m${String(level).padEnd(5)}\x1b[0m ${msg} \x1b[90m${rest}\x1b[0m\n`,
  );
}
createInterface({ input: child.stdout }).on('line', show);

// Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal) all stop the sandbox the same way: passed on to
// it, and this launcher waits until it has stopped moto and saved its state.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}
// `npm start` runs this under npm and `sh -c`, and a SIGTERM or SIGHUP to npm ends the shell without
// passing it on: when the process that started this one is gone, stop as for SIGTERM.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && child.exitCode === null) child.kill('SIGTERM');
}, 500).unref();
// Writing to a terminal that has gone away must not end the launcher before the sandbox has stopped.
process.stdout.on('error', () => {});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
