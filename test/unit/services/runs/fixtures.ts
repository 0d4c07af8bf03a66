import { type Config, parseConfig } from '../../../../services/config/config';
import { keys } from '../../../../services/kernel/state';
import type { RunItem } from '../../../../services/runs/items';
import type { Directory, Person } from '../../../../services/shared/people';

export const REQUESTER: Person = { id: 'U0ENGINEER', name: 'erin' };
export const APPROVER: Person = { id: 'U0APPROVER', name: 'alex' };
export const ONCALL: Person = { id: 'U0ONCALL', name: 'olga' };
export const STRANGER: Person = { id: 'U0STRANGER', name: 'sid' };

/** A directory where S0ONCALL holds the on-call engineer. */
export const directory: Directory = {
  membersOf: async (group) => (group === 'S0ONCALL' ? [ONCALL.id] : []),
};

/** A config with a runbook that needs approval, one that does not, and ad-hoc commands. */
export function runsConfig(): Config {
  return parseConfig(
    [
      'slack:',
      '  alertChannel: C0ALERTS',
      'runbooks:',
      '  allowAdHoc: true',
      '  adHoc:',
      '    region: eu-west-1',
      '    targets: [web]',
      `    allowed: { users: [${REQUESTER.id}] }`,
      `    approvers: { users: [${APPROVER.id}] }`,
      '    channel: C0ADHOC',
      '  targets:',
      '    web: { region: eu-west-1, tags: { Role: web } }',
      '  items:',
      '    restart:',
      '      region: eu-west-1',
      '      targets: [web]',
      `      allowed: { users: [${REQUESTER.id}], userGroups: [S0ONCALL] }`,
      '      commands: ["systemctl restart {{ unit }}"]',
      '      parameters: [{ name: unit, enum: [nginx, php-fpm] }]',
      `      approval: { required: true, approvers: { users: [${APPROVER.id}] } }`,
      '    uptime:',
      '      region: eu-west-1',
      '      targets: [web, i-0123456789abcdef0]',
      '      commands: [uptime]',
    ].join('\n'),
    'runs.yml',
  );
}

/** A stored run awaiting approval, with overrides. */
export function runItem(overrides: Partial<RunItem> = {}): RunItem {
  return {
    ...keys.run('r-0a1b2c3d4e'),
    type: 'run',
    status: 'AWAITING_APPROVAL',
    version: 1,
    runId: 'r-0a1b2c3d4e',
    runbook: 'restart',
    adHoc: false,
    document: 'AWS-RunShellScript',
    region: 'eu-west-1',
    target: 'web',
    instanceIds: ['i-0123456789abcdef0'],
    instanceNames: {},
    values: { unit: 'nginx' },
    documentParameters: {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${…}
      commands: ["SGW_unit='nginx'", 'systemctl restart "${SGW_unit}"'],
      executionTimeout: ['600'],
    },
    comment: 'sg-warden r-0a1b2c3d4e by erin (U0ENGINEER)',
    timeoutSeconds: 600,
    maxOutputChars: 2500,
    requestedBy: REQUESTER.id,
    requestedByName: REQUESTER.name,
    createdAt: '2026-11-23T10:00:00.000Z',
    approvalRequired: true,
    approvalExpiresAt: '2026-11-23T10:30:00.000Z',
    invocations: {},
    ...overrides,
  };
}
