import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runbook, RunbookParameter } from '../../../../services/config/config';
import {
  checkAdHocCommand,
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

describe('run-params', () => {
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
      expect(runComment('r-0a1b2c3d4e', { id: 'U0ENGINEER', name: 'erin' })).toBe(
        'sg-warden r-0a1b2c3d4e by erin (U0ENGINEER)',
      );
      const long = runComment('r-0a1b2c3d4e', { id: 'U0ENGINEER', name: `${'é'.repeat(150)}` });
      expect(long.length).toBeLessThanOrEqual(100);
      expect(long).toMatch(/^sg-warden r-0a1b2c3d4e by \?+~ \(U0ENGINEER\)$/);
    });
  });
});
