// Installs what the tests and the local sandbox need, once, into ignored folders: node_modules exactly
// as package-lock.json says (`npm ci`), and a Python venv with a pinned moto server; `npm test` also adds
// the deploy checks (cfn-lint, checkov) to it, which `npm start` does not need.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MOTO_SPEC = 'moto[server]==5.2.5';
// What the sandbox needs of moto: the services it emulates (EC2 and STS need no extras) and the server.
// moto[server] adds every service's extras (cfn-lint, docker, graphql…): four times the install.
export const SANDBOX_MOTO_SPECS = ['moto[dynamodb,ssm]==5.2.5', 'flask', 'flask-cors'];
// The template checks `npm test` runs after `serverless package` (scripts/test.mjs). One pip resolve with
// moto: checkov pins an older boto3, which moto's server works with (the whole suite runs on it).
export const IAC_SPECS = ['cfn-lint==1.58.0', 'checkov==3.3.30'];
export const venvDir = join(root, '.cache', 'venv');
export const venvPython = join(venvDir, 'bin', 'python');

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
}

/**
 * True when node_modules is not what package-lock.json says: a package missing or at another version
 * (npm's own record of what it installed, node_modules/.package-lock.json, against the lock). Compared
 * by content, not by file times, which a git checkout or a copy changes.
 */
export function needsNpmInstall() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return true;
  let wanted;
  let have;
  try {
    wanted = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
    have = JSON.parse(readFileSync(installed, 'utf8')).packages ?? {};
  } catch {
    return true;
  }
  for (const [path, entry] of Object.entries(wanted)) {
    if (path === '') continue;
    // Optional packages for other platforms (biome's, esbuild's binaries) are rightly absent.
    if (!have[path]) {
      if (entry.optional) continue;
      return true;
    }
    if (have[path].version !== entry.version) return true;
  }
  return Object.keys(have).some((path) => !wanted[path]);
}

export function ensureNodeModules() {
  if (!needsNpmInstall()) return;
  // A linked node_modules is someone else's install (a git worktree sharing one): never rewrite it.
  if (lstatSync(join(root, 'node_modules'), { throwIfNoEntry: false })?.isSymbolicLink()) {
    console.error(
      '[setup] node_modules is a link to another install that differs from package-lock.json: not touching it.',
    );
    return;
  }
  // `npm ci`: exactly the lock, and it never rewrites package-lock.json, so a fresh clone stays clean.
  console.error('[setup] installing npm dependencies from package-lock.json (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

const MARKERS = ['.sg-warden-moto', '.sg-warden-moto-sandbox', '.sg-warden-iac'];

/** True when one of the venv's markers names every spec of `specs`. */
function venvHas(specs) {
  if (!existsSync(venvPython)) return false;
  const markers = MARKERS.map((m) => join(venvDir, m))
    .filter(existsSync)
    .map((m) => readFileSync(m, 'utf8').split(' '));
  return specs.every((spec) => markers.some((m) => m.includes(spec)));
}

/** Installs `specs` into the venv unless a marker already names every one of them. */
function ensureVenvPackages(what, specs, markerName) {
  const marker = join(venvDir, markerName);
  const wanted = specs.join(' ');
  if (venvHas(specs)) return;
  console.error(`[setup] installing ${what} (${wanted}) into .cache/venv…`);
  mkdirSync(join(root, '.cache'), { recursive: true });
  if (!existsSync(venvPython)) run('python3', ['-m', 'venv', venvDir]);
  // --no-compile: Python compiles what it imports when it first does; pip compiling all of moto is a
  // large part of an install's time.
  run(venvPython, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--no-compile',
    ...specs,
  ]);
  writeFileSync(marker, wanted);
}

/** moto with every service, for the tests. A changed pin reinstalls. */
export function ensureMoto() {
  ensureVenvPackages('the AWS emulator', [MOTO_SPEC], '.sg-warden-moto');
}

/** moto for `npm start`: the sandbox's services only (or the tests' full moto, when it is there). */
export function ensureSandboxMoto() {
  if (venvHas([MOTO_SPEC])) return;
  ensureVenvPackages('the AWS emulator', SANDBOX_MOTO_SPECS, '.sg-warden-moto-sandbox');
}

/** The deploy checks `npm test` runs on the templates (cfn-lint, checkov); `npm start` never needs them. */
export function ensureIacTools() {
  ensureVenvPackages('the template checks', IAC_SPECS, '.sg-warden-iac');
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
