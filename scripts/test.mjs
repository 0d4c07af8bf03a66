// `npm test`: install what is missing, then lint, type-check, package the deploy offline, and run every test.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ensureChromium,
  ensureIacTools,
  ensureMoto,
  ensureNodeModules,
  root,
  venvDir,
} from './ensure-env.mjs';

/** What git sees as changed or new (ignored files left out); null outside a git checkout. */
function gitStatus() {
  const out = spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out.status === 0 ? new Set(out.stdout.split('\n').filter(Boolean)) : null;
}
const before = gitStatus();

ensureNodeModules();
ensureMoto();
ensureIacTools();
ensureChromium();

/** The packaged template and every CloudFormation template in infra/. */
function iacTemplates() {
  const infra = readdirSync(join(root, 'infra')).filter(
    (f) => /\.(ya?ml|json)$/.test(f) && !f.includes('manifest'),
  );
  return ['.serverless/cloudformation-template-update-stack.json', ...infra.map((f) => `infra/${f}`)];
}

const steps = [
  ['lint', 'npm', ['run', '--silent', 'lint']],
  ['typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']],
  ['package', 'npx', ['serverless', 'package']],
  // The deploy's templates: CloudFormation lint (W3005: serverless adds DependsOn beside its own GetAtt)
  // and checkov, whose accepted findings and reasons are in .checkov.yml.
  ['cfn-lint', join(venvDir, 'bin', 'cfn-lint'), ['--ignore-checks', 'W3005', '--', ...iacTemplates()]],
  [
    'checkov',
    join(venvDir, 'bin', 'checkov'),
    ['--config-file', '.checkov.yml', ...iacTemplates().flatMap((f) => ['-f', f])],
  ],
  ['jest', 'npx', ['jest', ...process.argv.slice(2)]],
  // IAM proven by simulation: every AWS call the suites above recorded, evaluated against the packaged
  // roles (test/iam/). Only after a whole run: a part of the suites leaves granted actions unexercised.
  // The deploy tests package elsewhere (--package), which clears .serverless/: package again first.
  ...(process.argv.length > 2
    ? []
    : [
        ['package (for the simulation)', 'npx', ['serverless', 'package']],
        ['iam-simulation', 'npx', ['jest', '--config', 'test/iam/jest.config.js']],
      ]),
];
for (const [name, cmd, args] of steps) {
  console.error(`[test] ${name}`);
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      SLS_TELEMETRY_DISABLED: '1',
      // This machine runs Node 20 while Lambda runs nodejs22.x: the SDK's notice about that is noise here.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    // serverless does not exit when esbuild fails (its build service keeps it alive): bound it.
    ...(name.startsWith('package') ? { timeout: 5 * 60_000 } : {}),
  });
  if (result.status !== 0) {
    console.error(`[test] ${name} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

// A fresh clone stays clean: the install (npm ci never rewrites package-lock.json) and every step above
// leave nothing git would show. Compared with the status before the run, so local edits do not count.
const after = gitStatus();
if (before && after) {
  const left = [...after].filter((line) => !before.has(line));
  if (left.length > 0) {
    console.error(`[test] the run left files git does not ignore:\n  ${left.join('\n  ')}`);
    process.exit(1);
  }
}
