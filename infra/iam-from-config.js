// serverless.yml's bridge to services/deploy/: what depends on config/sg-warden.yml (the file packaged
// with the functions): the IAM (iam.ts), the organisation's event-bus policy, the alarms and the dashboard
// (operations.ts), the KMS key (encryption.ts) and the log retention. serverless cannot load
// TypeScript, so this bundles that module with esbuild (as bin/sg-warden.js does) and calls it. The config
// is validated on the way: an invalid config fails the package step with the file, field and problem.
const { buildSync } = require('esbuild');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

let built;

function deployIam() {
  if (built) return built;
  const result = buildSync({
    stdin: {
      contents: [
        "export { loadConfig } from './services/config/config';",
        "export { deployBlockers } from './services/config/readiness';",
        "export * from './services/deploy/iam';",
        "export * from './services/deploy/operations';",
        "export * from './services/deploy/encryption';",
        "export * from './services/deploy/audit-archive';",
        "export * from './services/deploy/sessions';",
        "export * from './services/deploy/event-pattern';",
        '',
      ].join('\n'),
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
  built = require(outfile);
  return built;
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

let loaded;

/** The validated config; on `serverless deploy`, also refused while it is still the shipped example. */
function config() {
  if (!loaded) {
    const iam = deployIam();
    loaded = iam.loadConfig(configPath());
    const blockers = process.argv.includes('deploy') ? iam.deployBlockers(loaded) : [];
    if (blockers.length > 0) throw new Error(`config/sg-warden.yml: ${blockers.join('; ')}`);
  }
  return loaded;
}

/**
 * A param given with --param, or undefined when it is empty (serverless.yml's params default each to "").
 * Errors go back to serverless: it asks again once the params are resolved.
 */
async function optionalParam(resolveVariable, name) {
  const value = await resolveVariable(`param:${name}`);
  return value === '' || value === null || value === undefined ? undefined : value;
}

async function deployContext(resolveVariable) {
  const stage = await resolveVariable('sls:stage');
  const functions = Object.keys((await resolveVariable('self:functions')) ?? {});
  return { stage, functions };
}

module.exports = {
  /** `resources: - ${file(infra/iam-from-config.js):resources}` */
  resources: async ({ resolveVariable }) =>
    deployIam().configIamResources(config(), (await deployContext(resolveVariable)).stage),
  /**
   * `resources: - ${file(infra/iam-from-config.js):organization}`: config accounts.organizationId, or the
   * param organizationId (older deploys); both given, they must agree.
   */
  organization: async ({ resolveVariable }) => {
    const fromParam = await optionalParam(resolveVariable, 'organizationId');
    const fromConfig = config().accounts.organizationId;
    if (fromParam && fromConfig && fromParam !== fromConfig) {
      throw new Error(
        `--param organizationId=${fromParam} differs from accounts.organizationId (${fromConfig}) in config/sg-warden.yml: keep one`,
      );
    }
    const { stage } = await deployContext(resolveVariable);
    const deploy = deployIam();
    return deploy.organizationResources(
      fromParam ?? fromConfig,
      stage,
      deploy.detectionEventSources(config()),
    );
  },
  /** `resources: - ${file(infra/iam-from-config.js):operations}`: the alarms and the dashboard. */
  operations: async ({ resolveVariable }) => {
    const deploy = deployIam();
    const actions = deploy.alarmActions(config(), await optionalParam(resolveVariable, 'alarmTopicArn'));
    return deploy.operationsResources(config(), { ...(await deployContext(resolveVariable)), actions });
  },
  /** `AlarmActions: ${file(infra/iam-from-config.js):alarmActions}` */
  alarmActions: async ({ resolveVariable }) =>
    deployIam().alarmActions(config(), await optionalParam(resolveVariable, 'alarmTopicArn')),
  /** `resources: - ${file(infra/iam-from-config.js):encryption}`: the KMS key, when the config asks for one. */
  encryption: async ({ resolveVariable }) =>
    deployIam().encryptionResources(config(), await deployContext(resolveVariable)),
  /**
   * `DefaultRouteSettings: ${file(infra/iam-from-config.js):httpThrottle}`: API Gateway's throttling of every
   * route from the config's `http.throttle` (the same config the IAM comes from).
   */
  httpThrottle: async () => {
    const { rate, burst } = config().http.throttle;
    return { DetailedMetricsEnabled: false, ThrottlingRateLimit: rate, ThrottlingBurstLimit: burst };
  },
  /**
   * `resources: - ${file(infra/iam-from-config.js):auditArchive}`: the Object Lock archive of the audit trail
   * when the config names `audit.archiveBucket` (services/deploy/audit-archive.ts); nothing otherwise.
   */
  auditArchive: async ({ resolveVariable }) => {
    const deploy = deployIam();
    if (!config().audit.archiveBucket) return {};
    const fromParam = await optionalParam(resolveVariable, 'logRetentionInDays');
    return deploy.auditArchiveResources(config(), {
      logRetentionInDays: fromParam === undefined ? config().logs.retentionDays : Number(fromParam),
      alarmActions: deploy.alarmActions(config(), await optionalParam(resolveVariable, 'alarmTopicArn')),
    });
  },
  /**
   * `pattern: ${file(infra/iam-from-config.js):eventPattern}`: detection's EventBridge pattern, from the event
   * names detection parses (services/deploy/event-pattern.ts); exposure changes only with policy.exposure on.
   */
  eventPattern: async () => deployIam().detectionEventPattern(config()),
  /**
   * `resources: - ${file(infra/iam-from-config.js):sessions}`: the end-sessions document and its IAM, when
   * the config ends sessions (services/deploy/sessions.ts); a target in another region is refused.
   */
  sessions: async ({ resolveVariable }) => {
    const { stage } = await deployContext(resolveVariable);
    const region = await resolveVariable('self:provider.region');
    return deployIam().sessionsResources(config(), { stage, region });
  },
  /** `events: ${file(infra/iam-from-config.js):scanEvents}`: the scan's schedule (config scan.schedule; `off`: none). */
  scanEvents: async () => deployIam().scanEvents(config()),
  /** `logRetentionInDays`: the param logRetentionInDays, else config logs.retentionDays. */
  logRetentionDays: async ({ resolveVariable }) => {
    const fromParam = await optionalParam(resolveVariable, 'logRetentionInDays');
    return fromParam === undefined ? config().logs.retentionDays : Number(fromParam);
  },
};
