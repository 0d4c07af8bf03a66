// `npm test`: install what is missing, then lint, type-check, package the deploy offline, and run every test.
import { spawnSync } from 'node:child_process';
import { ensureChromium, ensureMoto, ensureNodeModules, root } from './ensure-env.mjs';

ensureNodeModules();
ensureMoto();
ensureChromium();

const steps = [
  ['lint', 'npm', ['run', '--silent', 'lint']],
  ['typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']],
  ['package', 'npx', ['serverless', 'package']],
  ['jest', 'npx', ['jest', ...process.argv.slice(2)]],
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
  });
  if (result.status !== 0) {
    console.error(`[test] ${name} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}
