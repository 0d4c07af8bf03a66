// `npm run bench [-- --only cold,policy] [--quick] [--out file.json]`: installs what is missing, builds
// the bench harness (bench/*.ts) with esbuild into .cache/bench, and runs it. Not part of `npm test`.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureMoto, ensureNodeModules, MOTO_SPEC, root } from './ensure-env.mjs';

const args = process.argv.slice(2);
const onlyIndex = args.findIndex((a) => a === '--only' || a.startsWith('--only='));
const only =
  onlyIndex === -1
    ? null
    : (args[onlyIndex].includes('=') ? args[onlyIndex].split('=')[1] : (args[onlyIndex + 1] ?? '')).split(
        ',',
      );

ensureNodeModules();
// Every figure but policy evaluation and big inputs talks to the AWS emulator.
if (!only || only.some((name) => !['policy', 'input'].includes(name.trim()))) ensureMoto();

const { build } = await import('esbuild');
// Built to .cache/bench/ (two levels below the repo) so the harness finds the repo and its node_modules.
const outdir = join(root, '.cache', 'bench');
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: [join(root, 'bench', 'main.ts'), join(root, 'bench', 'host.ts')],
  outdir,
  bundle: true,
  platform: 'node',
  target: `node${process.versions.node.split('.')[0]}`,
  format: 'cjs',
  sourcemap: true,
  // The harness uses the repo's installed packages as they are (esbuild itself is native).
  packages: 'external',
  logLevel: 'error',
  absWorkingDir: root,
});

const result = spawnSync(process.execPath, ['--enable-source-maps', join(outdir, 'main.js'), ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', BENCH_MOTO_SPEC: MOTO_SPEC },
});
process.exit(result.status ?? 1);
