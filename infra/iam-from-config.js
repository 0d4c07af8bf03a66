// serverless.yml's bridge to services/deploy/iam.ts: the IAM that depends on config/sg-warden.yml (the
// file packaged with the functions) and the organisation's event-bus policy. serverless cannot load
// TypeScript, so this bundles that module with esbuild (as bin/sg-warden.js does) and calls it. The config
// is validated on the way: an invalid config fails the package step with the file, field and problem.
const { buildSync } = require('esbuild');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

function deployIam() {
  const result = buildSync({
    stdin: {
      contents:
        "export { loadConfig } from './services/config/config';\nexport * from './services/deploy/iam';\nexport * from './services/deploy/audit-archive';\n",
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

const packagedConfig = join(root, 'config', 'sg-warden.yml');

/**
 * The config the IAM is derived from. The functions always load the packaged config/sg-warden.yml, so a
 * different SG_WARDEN_CONFIG at package time would give them IAM for another config: refused.
 * SG_WARDEN_IAM_CONFIG derives the IAM from another file on purpose (a template to inspect, e.g. the
 * deploy test's every-feature config), never for a deploy.
 */
function configPath() {
  if (process.env.SG_WARDEN_IAM_CONFIG) return process.env.SG_WARDEN_IAM_CONFIG;
  const requested = process.env.SG_WARDEN_CONFIG;
  if (requested && !sameContent(requested, packagedConfig)) {
    throw new Error(
      `SG_WARDEN_CONFIG is ${requested}, but the functions are packaged with config/sg-warden.yml: ` +
        'put your config there (or unset SG_WARDEN_CONFIG) so the IAM matches the config they load',
    );
  }
  return packagedConfig;
}

function sameContent(a, b) {
  try {
    return readFileSync(a, 'utf8') === readFileSync(b, 'utf8');
  } catch {
    return false;
  }
}

module.exports = {
  /** `resources: - ${file(infra/iam-from-config.js):resources}` */
  resources: async () => {
    const iam = deployIam();
    return iam.configIamResources(iam.loadConfig(configPath()));
  },
  /**
   * `DefaultRouteSettings: ${file(infra/iam-from-config.js):httpThrottle}`: API Gateway's throttling of every
   * route from the config's `http.throttle` (the same config the IAM comes from).
   */
  httpThrottle: async () => {
    const { rate, burst } = deployIam().loadConfig(configPath()).http.throttle;
    return { DetailedMetricsEnabled: false, ThrottlingRateLimit: rate, ThrottlingBurstLimit: burst };
  },
  /**
   * `resources: - ${file(infra/iam-from-config.js):auditArchive}`: the Object Lock archive of the audit trail
   * when the config names `audit.archiveBucket` (services/deploy/audit-archive.ts); nothing otherwise.
   */
  auditArchive: async ({ resolveVariable }) => {
    const iam = deployIam();
    const config = iam.loadConfig(configPath());
    if (!config.audit.archiveBucket) return {};
    return iam.auditArchiveResources(config, {
      logRetentionInDays: Number(await resolveVariable('param:logRetentionInDays')),
      alarmActions: await require('./alarm-actions.js').actions({ resolveVariable }),
    });
  },
  /** `resources: - ${file(infra/iam-from-config.js):organization}` (param organizationId) */
  organization: async ({ resolveVariable }) =>
    deployIam().organizationResources(await resolveVariable('param:organizationId')),
};
