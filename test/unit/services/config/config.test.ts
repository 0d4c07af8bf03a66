import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, timeoutFor, validateConfig } from '../../../../services/config/config';
import { ConfigError } from '../../../../services/shared/errors';

const repoConfig = join(__dirname, '..', '..', '..', '..', 'config', 'sg-warden.yml');
const FILE = 'ops/sg-warden.yml';

/** A minimal valid config file, plus any extra YAML lines. */
function yaml(...lines: string[]): string {
  return ['slack:', '  alertChannel: C0TEST', ...lines].join('\n');
}

/** The ConfigError that parsing `text` throws. */
function errorOf(act: () => unknown): ConfigError {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('config', () => {
  describe('defaults', () => {
    it('fills every default from a file that names only the alert channel', () => {
      const config = parseConfig(yaml(), FILE);

      expect(config.slack).toEqual({ alertChannel: 'C0TEST', routes: [] });
      expect(config.policy).toMatchObject({
        evaluateEgress: false,
        allowedPorts: [
          { protocol: 'tcp', port: 80 },
          { protocol: 'tcp', port: 443 },
        ],
        timeouts: { critical: 300, high: 900, medium: 3600, low: null },
        dryRun: false,
        exceptions: { groupIds: [], tags: [], sourceCidrs: [] },
        principals: [],
        onlyFrom: [],
      });
      expect(config.policy.adminPorts).toHaveLength(35);
      expect(config.policy.adminPorts).toEqual(expect.arrayContaining([22, 3389, 11211, 27018]));
      expect(config.decisions).toEqual({
        revokers: { users: [], userGroups: [] },
        approvers: { users: [], userGroups: [] },
        keepDurations: [3600, 86400, 604800],
        permanentKeepFor: ['low'],
        principalToSlack: {},
        revokeAttempts: 5,
        askActor: true,
        // remindBefore absent: half the timeout, at least a minute.
        remindUndecided: 86400,
        escalation: {},
      });
      expect(config.whitelist).toEqual({ targets: {}, rulesPerGroupLimit: 60 });
      expect(config.runbooks).toEqual({ allowAdHoc: false, targets: {}, items: {} });
      expect(config.accounts).toEqual({ aliases: {}, watched: [] });
    });

    it('#12.6 and #12.4: throttles the HTTP API at 25 requests a second (burst 50), archives no audit', () => {
      const config = parseConfig(yaml(), FILE);
      expect(config.http).toEqual({ throttle: { rate: 25, burst: 50 } });
      expect(config.audit).toEqual({ archiveRetentionDays: 365, archiveMode: 'GOVERNANCE' });
      expect(() => parseConfig(yaml('http:', '  throttle: { rate: 0 }'), FILE)).toThrow(
        /http\.throttle\.rate/,
      );
      expect(() => parseConfig(yaml('audit:', '  archiveBucket: Not_A_Bucket'), FILE)).toThrow(
        /audit\.archiveBucket: is not an S3 bucket name/,
      );
    });

    it('fills the timeouts a file leaves out and converts the ones it gives to seconds', () => {
      const config = parseConfig(yaml('policy:', '  timeouts:', '    high: 2h', '    low: 90'), FILE);

      expect(config.policy.timeouts).toEqual({ critical: 300, high: 7200, medium: 3600, low: 90 });
      expect(timeoutFor(config.policy, 'high')).toBe(7200);
    });

    it('fills defaults inside nested entries (whitelist targets, runbooks)', () => {
      const config = parseConfig(
        yaml(
          'whitelist:',
          '  targets:',
          '    web-prod:',
          '      groupId: sg-0123456789abcdef0',
          '      region: eu-west-1',
          '      ports: [22]',
          'runbooks:',
          '  targets:',
          '    web-prod: { region: eu-west-1, tags: { Role: web } }',
          '  items:',
          '    tail-logs:',
          '      region: eu-west-1',
          '      commands: ["tail -n 100 /var/log/syslog"]',
          '      targets: [web-prod]',
        ),
        FILE,
      );

      expect(config.whitelist.targets['web-prod']).toMatchObject({
        protocol: 'tcp',
        defaultDuration: 3600,
        maxDuration: 28800,
      });
      expect(config.runbooks.items['tail-logs']).toMatchObject({
        document: 'AWS-RunShellScript',
        timeout: 600,
        approvalExpiry: 1800,
        maxOutputChars: 2500,
        approval: { required: false },
      });
    });
  });

  describe('errors', () => {
    it('names the file, the field and what is wrong with a duration', () => {
      const error = errorOf(() => parseConfig(yaml('policy:', '  timeouts:', '    high: soon'), FILE));

      expect(error.message).toBe(
        `${FILE}: policy.timeouts.high: "soon" is not a duration such as 30m, 2h or 1d`,
      );
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.context).toEqual({
        source: FILE,
        problems: ['policy.timeouts.high: "soon" is not a duration such as 30m, 2h or 1d'],
      });
    });

    it('rejects an unknown key at the top level', () => {
      const error = errorOf(() => parseConfig(yaml('polcy:', '  evaluateEgress: true'), FILE));

      expect(error.message).toBe(`${FILE}: (top level): Unrecognized key: "polcy"`);
    });

    it('rejects an unknown key deep inside, naming its path', () => {
      const error = errorOf(() => parseConfig(yaml('policy:', '  exceptions:', '    groupIdz: []'), FILE));

      expect(error.message).toBe(`${FILE}: policy.exceptions: Unrecognized key: "groupIdz"`);
    });

    it('rejects an unknown severity in a per-severity dry run', () => {
      const error = errorOf(() => parseConfig(yaml('policy:', '  dryRun: { hihg: true }'), FILE));

      expect(error.message).toMatch(/^ops\/sg-warden\.yml: policy\.dryRun: .*"hihg"/);
    });

    it('says which type a field needs', () => {
      const error = errorOf(() => parseConfig(yaml('policy:', '  evaluateEgress: "yes"'), FILE));

      expect(error.message).toMatch(/^ops\/sg-warden\.yml: policy\.evaluateEgress: .*expected boolean/);
    });

    it('names list items by index', () => {
      const error = errorOf(() =>
        parseConfig(
          yaml('policy:', '  exceptions:', '    groupIds: [sg-0123456789abcdef0, web-servers]'),
          FILE,
        ),
      );

      expect(error.message).toBe(`${FILE}: policy.exceptions.groupIds.1: is not a security-group ID (sg-…)`);
    });

    it('reports every problem at once, separated by semicolons', () => {
      const error = errorOf(() =>
        parseConfig(
          yaml(
            'policy:',
            '  exceptions:',
            '    sourceCidrs: [office]',
            '  onlyFrom:',
            '    - name: behind-alb',
            '      groups: {}',
            '      allowedSources: []',
            '      severity: huge',
          ),
          FILE,
        ),
      );

      expect(error.context.problems).toEqual([
        'policy.exceptions.sourceCidrs.0: is not an IPv4 or IPv6 CIDR',
        'policy.onlyFrom.0.groups: needs ids or tags',
        expect.stringMatching(/^policy\.onlyFrom\.0\.allowedSources: /),
        expect.stringMatching(/^policy\.onlyFrom\.0\.severity: .*"critical"/),
      ]);
      expect(error.message.split('; ')).toHaveLength(4);
    });

    it('requires the Slack alert channel and checks its form', () => {
      expect(errorOf(() => parseConfig('policy: {}', FILE)).message).toMatch(/^ops\/sg-warden\.yml: slack: /);
      expect(errorOf(() => parseConfig('slack: { alertChannel: "#alerts" }', FILE)).message).toBe(
        `${FILE}: slack.alertChannel: is not a Slack channel ID (C…)`,
      );
    });

    it('checks the reminder and escalation keys: durations, channel and user-group IDs, nothing else', () => {
      const bad = errorOf(() =>
        parseConfig(
          yaml(
            'decisions:',
            '  remindBefore: soon',
            '  escalation: { channel: "#oncall", userGroup: oncall, mention: S0X }',
          ),
          FILE,
        ),
      );
      expect(bad.context?.problems).toEqual([
        'decisions.remindBefore: "soon" is not a duration such as 30m, 2h or 1d',
        'decisions.escalation.channel: is not a Slack channel ID (C…)',
        'decisions.escalation.userGroup: is not a Slack user-group ID (S…)',
        'decisions.escalation: Unrecognized key: "mention"',
      ]);
      const good = parseConfig(yaml('decisions:', '  remindBefore: null', '  remindUndecided: 2d'), FILE);
      expect(good.decisions).toMatchObject({ remindBefore: null, remindUndecided: 172800, escalation: {} });
    });

    it('rejects an empty file for want of the Slack section', () => {
      expect(errorOf(() => parseConfig('', FILE)).message).toMatch(/^ops\/sg-warden\.yml: slack: /);
    });

    it('rejects a whitelist target whose default duration is longer than its maximum', () => {
      const error = errorOf(() =>
        parseConfig(
          yaml(
            'whitelist:',
            '  targets:',
            '    web-prod:',
            '      groupId: sg-0123456789abcdef0',
            '      region: eu-west-1',
            '      ports: [22]',
            '      defaultDuration: 1d',
            '      maxDuration: 8h',
          ),
          FILE,
        ),
      );

      expect(error.message).toBe(
        `${FILE}: whitelist.targets.web-prod: defaultDuration is longer than maxDuration`,
      );
    });

    it('rejects a runbook parameter with neither a pattern nor an enum', () => {
      const error = errorOf(() =>
        parseConfig(
          yaml(
            'runbooks:',
            '  items:',
            '    tail-logs:',
            '      region: eu-west-1',
            '      targets: [i-0123456789abcdef0]',
            '      commands: ["tail -n {{ lines }} /var/log/syslog"]',
            '      parameters:',
            '        - name: lines',
          ),
          FILE,
        ),
      );

      expect(error.message).toBe(
        `${FILE}: runbooks.items.tail-logs.parameters.0: needs a pattern or an enum`,
      );
    });

    it('says the file is not valid YAML, with the line', () => {
      const error = errorOf(() => parseConfig('slack:\n  alertChannel: [C0TEST\npolicy: {}\n', FILE));

      expect(error.message).toMatch(/^ops\/sg-warden\.yml: not valid YAML: .+ at line \d+, column \d+/);
      expect(error.message).not.toContain('\n');
    });

    it('rejects duplicate keys as invalid YAML', () => {
      const error = errorOf(() => parseConfig(yaml('slack:', '  alertChannel: C0OTHER'), FILE));

      expect(error.message).toMatch(/^ops\/sg-warden\.yml: not valid YAML: Map keys must be unique/);
    });
  });

  describe('validateConfig', () => {
    it('refuses more Keep durations than the dialog can offer, naming the field', () => {
      const durations = Array.from({ length: 21 }, (_, i) => `${i + 1}h`);
      const error = errorOf(() =>
        validateConfig(
          { slack: { alertChannel: 'C0TEST' }, decisions: { keepDurations: durations } },
          'inline',
        ),
      );
      expect(error.message).toMatch(/^inline: decisions\.keepDurations: /);
    });

    it('validates an already-parsed value, naming the source it was given', () => {
      const error = errorOf(() =>
        validateConfig({ slack: { alertChannel: 'C0TEST' }, policy: { adminPorts: [22, 70000] } }, 'inline'),
      );

      expect(error.message).toMatch(/^inline: policy\.adminPorts\.1: /);
    });

    it('treats null as an empty document', () => {
      expect(errorOf(() => validateConfig(null, 'inline')).message).toMatch(/^inline: slack: /);
    });
  });

  describe('loadConfig', () => {
    let dir: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'sg-warden-config-'));
    });

    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it("loads the repository's default config file", () => {
      const config = loadConfig(repoConfig);

      expect(config.slack.alertChannel).toBe('C0SGWARDEN');
      expect(config.policy.timeouts).toEqual({ critical: 300, high: 900, medium: 3600, low: null });
      expect(config.policy.exceptions.tags).toEqual([{ key: 'sg-warden:exempt' }]);
      // #19 case 3: the shipped example exempts no service wholesale (CloudFormation was one).
      expect(config.policy.principals.map((p) => [p.arn, p.invokedBy, p.action])).toEqual([
        ['arn:aws:iam::*:role/*-ci-deploy', undefined, 'notify'],
      ]);
      expect(config.decisions.keepDurations).toEqual([3600, 86400, 604800]);
    });

    it('names the path when the file cannot be read', () => {
      const missing = join(dir, 'nope.yml');

      const error = errorOf(() => loadConfig(missing));

      expect(error.message).toBe(`${missing}: cannot read the config file (ENOENT)`);
      expect(error.cause).toBeDefined();
    });

    it('names the path of a file with a bad field', () => {
      const path = join(dir, 'bad.yml');
      writeFileSync(path, yaml('policy:', '  timeouts:', '    medium: later'));

      const error = errorOf(() => loadConfig(path));

      expect(error.message).toBe(
        `${path}: policy.timeouts.medium: "later" is not a duration such as 30m, 2h or 1d`,
      );
    });

    it('accepts a policy-only file without a Slack section when asked to', () => {
      const path = join(dir, 'policy-only.yml');
      writeFileSync(path, 'policy:\n  evaluateEgress: true\n');

      const config = loadConfig(path, { slackOptional: true });

      expect(config.policy.evaluateEgress).toBe(true);
      expect(errorOf(() => loadConfig(path)).message).toMatch(/: slack: /);
    });

    it('still validates a policy-only file when the Slack section is optional', () => {
      const path = join(dir, 'policy-only-bad.yml');
      writeFileSync(path, 'policy:\n  dryRun: sometimes\n');

      const error = errorOf(() => loadConfig(path, { slackOptional: true }));

      expect(error.message).toMatch(/^.*policy-only-bad\.yml: policy\.dryRun: /);
    });
  });
});
