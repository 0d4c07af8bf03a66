import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig, validateConfig } from '../../../../services/config/config';
import { ConfigError } from '../../../../services/shared/errors';

/** README and the schema agree: its examples validate, its reference names real keys, its notations parse. */

const readme = readFileSync(join(__dirname, '..', '..', '..', '..', 'README.md'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`## ${title}`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe('README and the config schema', () => {
  it('validates every YAML example README shows', () => {
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) {
      const value = parse(block) as Record<string, unknown>;
      expect(() => validateConfig({ slack: { alertChannel: 'C0ALERTS' }, ...value }, 'README')).not.toThrow();
    }
  });

  it('names in its reference only keys the schema knows, each accepted in the form README shows', () => {
    const keys = [...section('Configuration reference').matchAll(/^\| `([a-zA-Z.[\]<>]+)`/gm)].map((m) =>
      m[1]!
        .replace(/\[\]$/, '')
        .replace(/\.<[a-z]+>$/, '')
        // A key inside one whitelist target: the example's target stands for every one.
        .replace('whitelist.targets.<name>.', 'whitelist.targets.bastion.'),
    );
    expect(keys).toEqual(
      expect.arrayContaining(['policy.allowedPorts', 'alarms.topicArn', 'logs.retentionDays']),
    );
    // Every key the reference lists, with a value of the form it documents.
    const everyKey = parse(`
slack: { alertChannel: C0ALERTS, teamId: T0TEAM, routes: [{ name: payments, tags: { team: payments }, channel: C0PAYMENTS }] }
policy:
  evaluateEgress: true
  adminPorts: [22]
  allowedPorts: [tcp/80, tcp/443]
  timeouts: { critical: 5m, high: 15m, medium: 60m, low: null }
  dryRun: { high: true }
  exceptions: { groupIds: [sg-0123456789abcdef0], tags: [{ key: "sg-warden:exempt" }], sourceCidrs: [10.0.0.0/8], trustedTaggers: ["arn:aws:iam::123456789012:role/network-admins"] }
  principals: [{ arn: "arn:aws:iam::*:role/*-ci-deploy", action: notify, reason: CI }]
  onlyFrom: [{ name: db, groups: { ids: [sg-0123456789abcdef0] }, allowedSources: [sg-0aaaaaaaaaaaaaaaa], severity: high }]
  exposure: { enabled: true, internet: raise, internal: keep, unattached: lower, unknown: keep, maxGroupsPerEvent: 20 }
  endSessionsOnRevoke: true
decisions:
  revokers: { users: [U0ALICE] }
  approvers: { userGroups: [S0SRE] }
  keepDurations: [1h, 1d, 7d]
  permanentKeepFor: [low]
  principalToSlack: { "arn:aws:iam::111122223333:user/alice": U0ALICE }
  revokeAttempts: 5
  askActor: true
  remindBefore: 2m
  remindUndecided: 1d
  escalation: { channel: C0ONCALL, userGroup: S0ONCALL }
whitelist:
  targets: { bastion: { groupId: sg-0123456789abcdef0, region: eu-west-1, ports: [22], endSessions: true } }
  rulesPerGroupLimit: 60
runbooks: { allowAdHoc: false }
accounts: { aliases: { "111122223333": prod }, roleName: sg-warden-member, watched: ["111122223333"], organizationId: o-abcde12345 }
http: { throttle: { rate: 25, burst: 50 } }
scan: { schedule: rate(6 hours), regions: [eu-west-1, us-east-1], concurrency: 4 }
status: { readers: { users: [U0AUDITOR], alertChannelMembers: true } }
audit: { archiveBucket: my-audit-archive, archiveRetentionDays: 365, archiveMode: GOVERNANCE }
alarms: { topicArn: "arn:aws:sns:eu-west-1:111122223333:ops", silenceHours: 48 }
kms: { keyArn: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" }
logs: { retentionDays: 30 }
backstop: { enabled: true, grace: 2m }
`) as Record<string, Record<string, unknown>>;
    const has = (path: string) =>
      path
        .split('.')
        .reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], everyKey) !==
      undefined;
    for (const key of keys) {
      for (const one of key.split(' / '))
        expect({ key: one, shown: has(one) }).toEqual({ key: one, shown: true });
    }
    expect(() => validateConfig(everyKey, 'README reference')).not.toThrow();
    expect(() => validateConfig({ ...everyKey, kms: { create: true } }, 'README reference')).not.toThrow();
  });

  it('reads allowedPorts as README writes them, and says what it wants when they are not', () => {
    const config = parseConfig(
      'slack:\n  alertChannel: C0A\npolicy:\n  allowedPorts: [tcp/80, tcp/443, udp/53]\n',
      'f',
    );
    expect(config.policy.allowedPorts).toEqual([
      { protocol: 'tcp', port: 80 },
      { protocol: 'tcp', port: 443 },
      { protocol: 'udp', port: 53 },
    ]);
    for (const bad of ['"80"', 'tcp/70000', 'icmp/8', '{ protocol: icmp, port: 8 }']) {
      let message = '';
      try {
        parseConfig(`slack:\n  alertChannel: C0A\npolicy:\n  allowedPorts: [${bad}]\n`, 'f');
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect({ bad, message }).toEqual({ bad, message: expect.stringContaining('policy.allowedPorts.0: ') });
      expect(message).toMatch(/tcp\/80/);
    }
  });

  it('names the expected form for a bad map key, an account ID, a role name and a KMS key', () => {
    const problems = (yaml: string) => {
      try {
        parseConfig(`slack:\n  alertChannel: C0A\n${yaml}`, 'f');
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(
      problems(
        'whitelist:\n  targets:\n    Bad_Name: { groupId: sg-0123456789abcdef0, region: eu-west-1, ports: [22] }\n',
      ),
    ).toContain(
      'whitelist.targets.Bad_Name: "Bad_Name" is not a target alias (lowercase letters, digits, -)',
    );
    expect(problems('accounts:\n  aliases: { "12": short }\n')).toContain(
      '"12" is not an AWS account ID (12 digits)',
    );
    expect(problems('accounts:\n  roleName: "no spaces allowed"\n')).toContain('is not an IAM role name');
    expect(problems('kms:\n  keyArn: alias/mine\n')).toContain(
      'is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)',
    );
    expect(problems('logs:\n  retentionDays: 8\n')).toContain(
      "is not one of CloudWatch's retention periods (1, 3, 5, 7, 14, 30",
    );
    expect(problems('alarms:\n  silenceHours: 200\n')).toContain(
      'is longer than CloudWatch can watch (168 hours, 7 days)',
    );
  });
});
