// Installs what the tests and the local sandbox need, once, into ignored folders:
// node_modules from package-lock.json, and a Python venv with a pinned moto server and the deploy
// checks (cfn-lint, checkov).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MOTO_SPEC = 'moto[server]==5.2.5';
// The template checks `npm test` runs after `serverless package` (scripts/test.mjs). One pip resolve with
// moto: checkov pins an older boto3, which moto's server works with (the whole suite runs on it).
export const IAC_SPECS = ['cfn-lint==1.58.0', 'checkov==3.3.30'];
const PYTHON_SPECS = [MOTO_SPEC, ...IAC_SPECS];
export const venvDir = join(root, '.cache', 'venv');
export const venvPython = join(venvDir, 'bin', 'python');

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
}

function needsNpmInstall() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  return statSync(join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs + 1000;
}

export function ensureNodeModules() {
  if (!needsNpmInstall()) return;
  // `npm install` with the committed lock installs exactly the locked versions. Not `npm ci`: npm 11.19
  // rejects as "out of sync" the very lock file it writes, which omits other platforms' optional binaries.
  console.error('[setup] installing npm dependencies from package-lock.json…');
  run('npm', ['install', '--no-audit', '--no-fund']);
}

/** The venv's Python tools: moto, cfn-lint, checkov. The marker names every pin, so a changed pin reinstalls. */
export function ensureMoto() {
  const marker = join(venvDir, '.sg-warden-moto');
  const wanted = PYTHON_SPECS.join(' ');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted && existsSync(venvPython)) return;
  console.error(`[setup] installing ${wanted} into .cache/venv…`);
  mkdirSync(join(root, '.cache'), { recursive: true });
  if (!existsSync(venvPython)) run('python3', ['-m', 'venv', venvDir]);
  run(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...PYTHON_SPECS]);
  writeFileSync(marker, wanted);
}

export const chromiumPath = '/usr/bin/chromium';
const emojiFont = '/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf';

/**
 * Debian's Chromium for the browser end-to-end tests (playwright-core drives it; it downloads no
 * browser of its own). CI runs as root on a fresh machine: apt-get only when something is missing.
 * The emoji font lets the page show the bot's status icons instead of empty boxes.
 */
export function ensureChromium() {
  if (existsSync(chromiumPath) && existsSync(emojiFont)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = isRoot ? [] : ['sudo', '-n'];
  const apt = (...args) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
    run(cmd, rest, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  console.error('[setup] installing Debian chromium (for the browser tests)…');
  apt('update', '-qq');
  apt(
    'install',
    '-y',
    '-qq',
    '--no-install-recommends',
    'chromium',
    'fonts-noto-color-emoji',
    'fonts-liberation',
  );
}
