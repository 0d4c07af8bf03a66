import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../support/cli';

const tmp = mkdtempSync(join(tmpdir(), 'sg-warden-route-'));

function configFile(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

const ROUTES = configFile(
  'routes.yml',
  `slack:
  alertChannel: C0ALERTS
  routes:
    - name: payments
      accounts: ["111122223333"]
      tags: { team: "pay*" }
      channel: C0PAYMENTS
      approvers: { userGroups: [S0PAYAPPROVERS] }
      mention: S0PAYONCALL
    - name: critical-eu
      regions: [eu-west-1]
      severities: [critical]
      channel: C0EUCRIT
    - name: ci
      principals: ["arn:aws:iam::*:role/*-ci-deploy"]
      channel: C0CI
decisions:
  revokers: { users: [U0SEC] }
`,
);

const route = (...args: string[]) => runCli(['route', '--config', ROUTES, ...args]);

describe('sg-warden route', () => {
  it('prints the route, its channel and who decides as JSON, exit 0', () => {
    const out = route(
      '--account',
      '111122223333',
      '--region',
      'us-east-1',
      '--tag',
      'team=payments',
      '--tag',
      'env=prod',
      '--severity',
      'critical',
    );
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      route: 'payments',
      channel: 'C0PAYMENTS',
      mention: 'S0PAYONCALL',
      revokers: { users: ['U0SEC'], userGroups: [], from: 'decisions' },
      approvers: { users: [], userGroups: ['S0PAYAPPROVERS'], from: 'route' },
      facts: {
        account: '111122223333',
        region: 'us-east-1',
        tags: { team: 'payments', env: 'prod' },
        severity: 'critical',
        principal: null,
      },
    });
  });

  it('falls back to slack.alertChannel when nothing matches', () => {
    const out = route('--account', '999988887777', '--region', 'us-east-1', '--severity', 'high');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      route: null,
      channel: 'C0ALERTS',
      mention: null,
      approvers: { users: [], userGroups: [], from: 'decisions' },
    });
  });

  it('matches principals by their ARN, and needs no --severity when the answer is the same for all', () => {
    const out = route(
      '--account',
      '999988887777',
      '--region',
      'us-east-1',
      '--principal',
      'arn:aws:iam::999988887777:role/web-ci-deploy',
    );
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ route: 'ci', channel: 'C0CI', facts: { severity: null } });
  });

  it('asks for --severity when the route depends on it', () => {
    const out = route('--account', '999988887777', '--region', 'eu-west-1');
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      'sg-warden: The route depends on the severity (critical: critical-eu, high: none, medium: none, low: none); give --severity.\n',
    );
  });

  it.each([
    [
      ['--region', 'us-east-1'],
      'sg-warden: route needs --account <12-digit account ID>; see sg-warden route --help.\n',
    ],
    [
      ['--account', '1234', '--region', 'us-east-1'],
      'sg-warden: --account must be a 12-digit AWS account ID, not "1234".\n',
    ],
    [
      ['--account', '111122223333'],
      'sg-warden: route needs --region <region>, such as eu-west-1; see sg-warden route --help.\n',
    ],
    [
      ['--account', '111122223333', '--region', 'Ireland'],
      'sg-warden: --region must be an AWS region such as eu-west-1, not "Ireland".\n',
    ],
    [
      ['--account', '111122223333', '--region', 'us-east-1', '--tag', 'team'],
      'sg-warden: --tag takes key=value, such as team=payments, not "team".\n',
    ],
    [
      ['--account', '111122223333', '--region', 'us-east-1', '--tag', 'a=1', '--tag', 'a=2'],
      'sg-warden: --tag a is given twice; a group has one value per tag.\n',
    ],
    [
      ['--account', '111122223333', '--region', 'us-east-1', '--severity', 'urgent'],
      'sg-warden: --severity must be one of critical, high, medium, low, not "urgent".\n',
    ],
    [
      ['--account', '111122223333', '--region', 'us-east-1', '--principal', 'deploy'],
      expect.stringContaining('sg-warden: --principal must be the ARN of the principal that made the change'),
    ],
    [
      ['--account', '111122223333', '--region', 'us-east-1', 'extra'],
      'sg-warden: route takes no arguments, only options; see sg-warden route --help.\n',
    ],
    [['--account'], 'sg-warden: --account needs a value.\n'],
  ])('refuses bad flags %j with exit 2 and one sentence', (args, sentence) => {
    const out = route(...(args as string[]));
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toEqual(sentence);
  });

  it('refuses an invalid config with the file and field named', () => {
    const bad = configFile(
      'bad.yml',
      'slack:\n  alertChannel: C0ALERTS\n  routes:\n    - { name: a, channel: "#pay" }\n',
    );
    const out = runCli(['route', '--config', bad, '--account', '111122223333', '--region', 'us-east-1']);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(`sg-warden: ${bad}: slack.routes.0.channel: is not a Slack channel ID (C…)\n`);
  });
});

describe('sg-warden policy check: routes', () => {
  it.each([
    [
      'an unknown key',
      '    - { name: payments, channel: C0PAY, team: payments }\n',
      'slack.routes.0: Unrecognized key: "team"',
    ],
    [
      'a duplicate name',
      '    - { name: payments, channel: C0PAY, regions: [eu-west-1] }\n    - { name: payments, channel: C0PAY2, regions: [us-east-1] }\n',
      'slack.routes.1.name: "payments" is already the name of route 0',
    ],
    [
      'a channel that is no ID',
      '    - { name: payments, channel: payments-alerts }\n',
      'slack.routes.0.channel: is not a Slack channel ID (C…)',
    ],
    [
      'a catch-all before other routes',
      '    - { name: all, channel: C0ALL }\n    - { name: eu, channel: C0EU, regions: [eu-west-1] }\n',
      'slack.routes.0: "all" has no condition',
    ],
  ])('refuses %s with exit 2, naming the field', (_what, routes, problem) => {
    const file = configFile(
      `check-${Math.random().toString(36).slice(2)}.yml`,
      `slack:\n  alertChannel: C0ALERTS\n  routes:\n${routes}`,
    );
    const out = runCli(['policy', 'check', file]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`sg-warden: ${file}: `);
    expect(out.stderr).toContain(problem);
  });

  it('counts the routes of a valid file', () => {
    const out = runCli(['policy', 'check', ROUTES]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('3 routes');
  });
});
