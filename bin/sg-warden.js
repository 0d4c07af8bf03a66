#!/usr/bin/env node
// Entry point of the `sg-warden` CLI: bundles cli/main.ts with esbuild (fast, cached in dist/) and runs it.
const { buildSync } = require('esbuild');
const { mkdirSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const outfile = join(root, 'dist', 'cli.js');
const result = buildSync({
  entryPoints: [join(root, 'cli', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  write: false,
  logLevel: 'error',
});
mkdirSync(join(root, 'dist'), { recursive: true });
const tmp = `${outfile}.${process.pid}.tmp`;
writeFileSync(tmp, result.outputFiles[0].contents);
renameSync(tmp, outfile);

require(outfile)
  .main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  })
  .then((code) => {
    process.exitCode = code;
  });
