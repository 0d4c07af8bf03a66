// `npm run lint`, after Biome: the product's import rules (.dependency-cruiser.cjs) and its file sizes.
// A product file over MAX_LINES must say at its top why (a comment with "longer than" in its first lines).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root } from './ensure-env.mjs';

const PRODUCT = ['handlers', 'services', 'slack', 'cli', 'local', 'web', 'infra'];
const MAX_LINES = 600;

function* sourceFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mjs|js)$/.test(entry.name)) yield path;
  }
}

const tooLong = [];
for (const file of PRODUCT.flatMap((dir) => [...sourceFiles(join(root, dir))])) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const explained = lines.slice(0, 5).some((line) => line.includes('longer than'));
  if (lines.length > MAX_LINES && !explained) tooLong.push(`${relative(root, file)} (${lines.length} lines)`);
}
if (tooLong.length > 0) {
  console.error(`These product files are over ${MAX_LINES} lines; split them (or say why at the top):`);
  for (const line of tooLong) console.error(`  ${line}`);
}

const dirs = PRODUCT.filter((dir) => dir !== 'infra').filter((dir) => {
  try {
    return readdirSync(join(root, dir)).length > 0;
  } catch {
    return false;
  }
});
const cruise = spawnSync(
  'npx',
  ['depcruise', '--config', '.dependency-cruiser.cjs', '--output-type', 'err', ...dirs],
  { cwd: root, stdio: 'inherit' },
);
process.exit(tooLong.length > 0 || cruise.status !== 0 ? 1 : 0);
