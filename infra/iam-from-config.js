// serverless.yml's bridge to services/deploy-iam.ts: the IAM that depends on config/sg-warden.yml (the
// file packaged with the functions) and the organisation's event-bus policy. serverless cannot load
// TypeScript, so this bundles that module with esbuild (as bin/sg-warden.js does) and calls it. The config
// is validated on the way: an invalid config fails the package step with the file, field and problem.
const { buildSync } = require('esbuild');
const { mkdirSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

function deployIam() {
  const result = buildSync({
    stdin: {
      contents: "export { loadConfig } from './services/config';\nexport * from './services/deploy-iam';\n",
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    write: false,
    logLevel: 'error',
  });
  const outfile = join(root, 'dist', 'deploy-iam.js');
  const tmp = `${outfile}.${process.pid}.tmp`;
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(tmp, result.outputFiles[0].contents);
  renameSync(tmp, outfile);
  return require(outfile);
}

function configPath() {
  return process.env.SG_WARDEN_CONFIG ?? join(root, 'config', 'sg-warden.yml');
}

module.exports = {
  /** `resources: - ${file(infra/iam-from-config.js):resources}` */
  resources: async () => {
    const iam = deployIam();
    return iam.configIamResources(iam.loadConfig(configPath()));
  },
  /** `resources: - ${file(infra/iam-from-config.js):organization}` (param organizationId) */
  organization: async ({ resolveVariable }) =>
    deployIam().organizationResources(await resolveVariable('param:organizationId')),
};
