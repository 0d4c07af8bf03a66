import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BIN, runCli } from '../../support/cli';

const corpus = (name: string) => join(__dirname, '..', '..', 'fixtures', 'corpus', name);
const tmp = mkdtempSync(join(tmpdir(), 'sg-warden-cli-'));

function writeTmp(name: string, content: string | Buffer): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

describe('sg-warden evaluate', () => {
  describe('the output contract', () => {
    it('prints every field of a violation and exits 1 for a world-open event', () => {
      const { code, stdout, stderr } = runCli([
        'evaluate',
        corpus('nuvibit_eventbridge_authorize_sg_ingress_ipv4_assumedrole_sso.json'),
      ]);
      expect(stderr).toBe('');
      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toEqual({
        events: 1,
        violations: [
          {
            eventId: 'ed2b58c7-5b71-49d8-9f26-66b695f0e2a7',
            region: 'eu-west-1',
            account: '626708301729',
            groupId: 'sg-b0673be3',
            ruleId: 'sgr-0c609e6f9cdaf10ea',
            direction: 'ingress',
            protocol: 'tcp',
            fromPort: 0,
            toPort: 65535,
            source: '0.0.0.0/0',
            severity: 'critical',
            reasons: [expect.stringContaining('0.0.0.0/0')],
            principal:
              'arn:aws:sts::626708301729:assumed-role/AWSReservedSSO_AdministratorAccess_1f51a532758ff888/michael.ullrich@nuvibit.com',
          },
        ],
      });
    });

    it('reads the legacy flat form and reports SSH as high', () => {
      const { code, stdout } = runCli([
        'evaluate',
        corpus('stratus_detonation_authorize_sg_ingress_legacy_flat_params_loglicker.json'),
      ]);
      expect(code).toBe(1);
      const out = JSON.parse(stdout);
      expect(out.violations).toHaveLength(1);
      expect(out.violations[0]).toMatchObject({
        severity: 'high',
        fromPort: 22,
        toPort: 22,
        ruleId: 'sgr-09b3e3d2ca1edf2a2',
      });
    });

    it('exits 0 with no violations for a narrow source and ignores failed calls', () => {
      const narrow = runCli([
        'evaluate',
        corpus('elastic_integrations_authorize_sg_ingress_iamuser_grimoire_rulearn.json'),
      ]);
      expect(narrow.code).toBe(0);
      expect(JSON.parse(narrow.stdout)).toEqual({ events: 1, violations: [] });
      const failed = runCli([
        'evaluate',
        corpus('panther_manual_sg_change_authorize_sg_ingress_error_unauthorized_panther_enriched.json'),
      ]);
      expect(failed.code).toBe(0);
      expect(JSON.parse(failed.stdout)).toEqual({ events: 0, violations: [] });
    });

    it('leaves egress alone by default and evaluates it when the policy says so', () => {
      const egress = corpus(
        'panther_manual_sg_change_authorize_sg_egress_all_protocols_with_description.json',
      );
      expect(runCli(['evaluate', egress]).code).toBe(0);
      const policy = writeTmp('egress.yml', 'policy:\n  evaluateEgress: true\n');
      const { code, stdout } = runCli(['evaluate', egress, '--policy', policy]);
      expect(code).toBe(1);
      expect(JSON.parse(stdout).violations[0]).toMatchObject({
        direction: 'egress',
        protocol: 'all',
        fromPort: null,
        toPort: null,
        severity: 'critical',
        ruleId: null,
      });
    });
  });

  describe('input shapes', () => {
    const record = JSON.parse(
      readFileSync(
        corpus('stratus_detonation_authorize_sg_ingress_legacy_flat_params_loglicker.json'),
        'utf8',
      ),
    )[0];

    it.each([
      ['an S3 log file', { Records: [record] }],
      [
        'lookup-events output',
        {
          Events: [
            { EventId: record.eventID, EventName: record.eventName, CloudTrailEvent: JSON.stringify(record) },
          ],
        },
      ],
      ['a bare record', record],
    ])('reads %s', (_name, value) => {
      const { code, stdout } = runCli([
        'evaluate',
        writeTmp(`shape-${_name.replace(/\W/g, '')}.json`, JSON.stringify(value)),
      ]);
      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({ events: 1, violations: [{ severity: 'high' }] });
    });

    it('reads a gzip-compressed S3 log file', () => {
      const path = writeTmp('log.json.gz', gzipSync(JSON.stringify({ Records: [record, record] })));
      const { code, stdout } = runCli(['evaluate', path]);
      expect(code).toBe(1);
      expect(JSON.parse(stdout).events).toBe(2);
    });

    it('reads standard input when the file is -', () => {
      const { code, stdout } = runCli(['evaluate', '-'], { input: JSON.stringify(record) });
      expect(code).toBe(1);
      expect(JSON.parse(stdout).violations).toHaveLength(1);
    });

    it('case 4: says on stderr that a prefix-list rule is judged offline without the list’s entries', () => {
      const fixture = join(
        __dirname,
        '..',
        '..',
        'fixtures',
        'cloudtrail',
        'bare_authorize_sg_ingress_group_and_prefix_list_sources.json',
      );
      const { stderr } = runCli(['evaluate', fixture]);
      expect(stderr).toContain(
        'rule sgr-0b0b0b0b0b0b0b0b2 comes from prefix list pl-0123abcd4567ef890, whose entries need AWS',
      );
    });

    it('says on stderr that a ModifySecurityGroupRules event needs AWS', () => {
      const modify = {
        ...record,
        eventName: 'ModifySecurityGroupRules',
        requestParameters: {
          ModifySecurityGroupRulesRequest: {
            GroupId: 'sg-0123456789abcdef0',
            SecurityGroupRule: {
              SecurityGroupRuleId: 'sgr-0123456789abcdef0',
              SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' },
            },
          },
        },
      };
      const { code, stdout, stderr } = runCli(['evaluate', writeTmp('modify.json', JSON.stringify(modify))]);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ events: 1, violations: [] });
      expect(stderr).toMatch(/needs AWS/);
    });
  });

  describe('#24 big inputs: streamed, one record at a time', () => {
    const record = JSON.parse(
      readFileSync(
        corpus('stratus_detonation_authorize_sg_ingress_legacy_flat_params_loglicker.json'),
        'utf8',
      ),
    )[0];
    const other = { ...record, eventSource: 's3.amazonaws.com', eventName: 'GetObject' };
    const trail = JSON.stringify({ Records: [record, other, record] });

    it.each([
      ['a JSON array of records', JSON.stringify([record, other, record]), 2],
      ['{"Records": [...]}', trail, 2],
      ['NDJSON', `${JSON.stringify(record)}\n${JSON.stringify(other)}\n${JSON.stringify(record)}\n`, 2],
      ['concatenated S3 log files', `${trail}\n${trail}`, 4],
    ])('reads %s', (name, text, events) => {
      const { code, stdout, stderr } = runCli([
        'evaluate',
        writeTmp(`stream-${name.replace(/\W/g, '')}.json`, text),
      ]);
      expect(stderr).toBe('');
      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({
        events,
        violations: Array(events).fill({ severity: 'high' }),
      });
    });

    it('reads two gzip members one after the other, as `cat a.json.gz b.json.gz` makes them, from a file and stdin', () => {
      const both = Buffer.concat([gzipSync(trail), gzipSync(JSON.stringify([record]))]);
      for (const { code, stdout } of [
        runCli(['evaluate', writeTmp('cat.json.gz', both)]),
        runCli(['evaluate', '-'], { input: both }),
      ]) {
        expect(code).toBe(1);
        expect(JSON.parse(stdout).events).toBe(3);
      }
    });

    it('reads UTF-16 as Windows PowerShell writes it (little-endian with a byte-order mark), big-endian, and without a mark', () => {
      const le = Buffer.from(`\ufeff${trail}`, 'utf16le');
      const be = Buffer.from(le).swap16();
      const bare = Buffer.from(trail, 'utf16le');
      for (const [name, bytes] of [
        ['le.json', le],
        ['be.json', be],
        ['bare.json', bare],
        ['le.json.gz', gzipSync(le)],
      ] as const) {
        const { code, stdout, stderr } = runCli(['evaluate', writeTmp(`utf16-${name}`, bytes)]);
        expect({ name, code, stderr }).toEqual({ name, code: 1, stderr: '' });
        expect(JSON.parse(stdout).events).toBe(2);
      }
    });

    it('refuses UTF-32 with exit 2 and one sentence naming the encoding', () => {
      const text = `\ufeff${trail}`;
      const utf32 = Buffer.alloc(text.length * 4);
      for (let i = 0; i < text.length; i++) utf32.writeUInt32LE(text.charCodeAt(i), i * 4);
      const { code, stdout, stderr } = runCli(['evaluate', writeTmp('utf32.json', utf32)]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        'sg-warden: The input is UTF-32 (little-endian) text, which sg-warden does not read: save it as UTF-8 (or UTF-16).\n',
      );
    });

    it('exits 2 for a truncated gzip file, saying where, with nothing on stdout', () => {
      const whole = gzipSync(JSON.stringify({ Records: Array(50).fill(record) }));
      const { code, stdout, stderr } = runCli([
        'evaluate',
        writeTmp('truncated.json.gz', whole.subarray(0, whole.length - 20)),
      ]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(
        /^sg-warden: The gzip-compressed input ends early at byte [\d,]+ of the compressed data, (after|inside) record \d+.* \(is it truncated\?\)\.\n$/,
      );
    });

    it('exits 2 for JSON broken midway, naming the record and byte, with nothing on stdout', () => {
      const good = JSON.stringify(record);
      const text = `{"Records": [${good},${good},${good.slice(0, -1)},${good}]}`;
      const { code, stdout, stderr } = runCli(['evaluate', writeTmp('broken.json', text)]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      const offset = (13 + 2 * (good.length + 1)).toLocaleString('en-US');
      expect(stderr).toBe(
        `sg-warden: The input is not valid JSON: record 3, which starts at byte ${offset}, does not parse.\n`,
      );
    });

    it('prints a report larger than it keeps in memory exactly as JSON.stringify would', () => {
      const many = JSON.stringify({ Records: Array(20_000).fill(record) });
      // Over 8 MiB of violations: spooled to a temporary file, so read with a large enough buffer.
      const out = spawnSync(process.execPath, [BIN, 'evaluate', writeTmp('many.json', many)], {
        maxBuffer: 64 * 1024 * 1024,
        timeout: 60_000,
      });
      expect(out.status).toBe(1);
      const stdout = out.stdout.toString('utf8');
      expect(stdout.length).toBeGreaterThan(8 * 1024 * 1024);
      const report = JSON.parse(stdout);
      expect(report.events).toBe(20_000);
      expect(report.violations).toHaveLength(20_000);
      expect(stdout).toBe(`${JSON.stringify(report, null, 2)}\n`);
    });
  });

  describe('bad input', () => {
    it.each([
      ['a missing file', ['evaluate', join(tmp, 'nope.json')], /no such file/],
      ['a file that is not JSON', ['evaluate', writeTmp('not-json.txt', 'hello: world')], /not valid JSON/],
      ['JSON that is not CloudTrail', ['evaluate', 'package.json'], /not a CloudTrail event/],
      ['no file at all', ['evaluate'], /exactly one file/],
      ['an unknown option', ['evaluate', 'x.json', '--frobnicate', '1'], /Unknown option --frobnicate/],
      ['an unknown command', ['evaluat'], /Unknown command/],
    ])('exits 2 with one clear sentence for %s', (_name, args, message) => {
      const { code, stderr, stdout } = runCli(args as string[]);
      expect(code).toBe(2);
      expect(stderr).toMatch(message as RegExp);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(stdout).toBe('');
    });

    it('exits 2 naming the file and field for an invalid policy', () => {
      const policy = writeTmp('bad.yml', 'policy:\n  timeouts:\n    high: soon\n');
      const { code, stderr } = runCli([
        'evaluate',
        corpus('nuvibit_eventbridge_authorize_sg_ingress_ipv4_assumedrole_sso.json'),
        '--policy',
        policy,
      ]);
      expect(code).toBe(2);
      expect(stderr).toContain(policy);
      expect(stderr).toContain('policy.timeouts.high');
    });
  });
});

describe('sg-warden policy check', () => {
  it('accepts the repository default config once its alert channel is a real one', () => {
    const shipped = readFileSync(join(__dirname, '..', '..', '..', 'config', 'sg-warden.yml'), 'utf8');
    const path = writeTmp(
      'ours.yml',
      shipped.replace('alertChannel: C0SGWARDEN', 'alertChannel: C0OURALERTS'),
    );
    const { code, stdout } = runCli(['policy', 'check', path]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/valid/);
  });

  it('refuses the shipped example alert channel with one sentence saying what to put there', () => {
    const { code, stdout, stderr } = runCli(['policy', 'check']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('slack.alertChannel is still the example C0SGWARDEN');
    expect(stderr).toContain("put your alert channel's ID there");
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 with the field for an invalid file', () => {
    const path = writeTmp('invalid.yml', 'slack:\n  alertChannel: general\n');
    const { code, stderr } = runCli(['policy', 'check', path]);
    expect(code).toBe(2);
    expect(stderr).toContain('slack.alertChannel');
  });

  it('case 10: exits 2 naming the field when ad-hoc commands name no approvers', () => {
    const path = writeTmp(
      'adhoc.yml',
      [
        'slack:',
        '  alertChannel: C0ALERTS',
        'runbooks:',
        '  allowAdHoc: true',
        '  targets:',
        '    web: { region: eu-west-1, tags: { Role: web } }',
        '  adHoc:',
        '    region: eu-west-1',
        '    targets: [web]',
        '    allowed: { users: [U0ENGINEER] }',
        '    approvers: { users: [] }',
        '    channel: C0ADHOC',
        '',
      ].join('\n'),
    );
    const { code, stderr } = runCli(['policy', 'check', path]);
    expect(code).toBe(2);
    expect(stderr).toContain('runbooks.adHoc.approvers: must name users or userGroups');
  });

  it('case 3: warns on stderr, still valid, when a principal rule covers every principal of an account', () => {
    const path = writeTmp(
      'wide.yml',
      'slack:\n  alertChannel: C0TEST\npolicy:\n  principals:\n    - { arn: "arn:aws:iam::*:role/*", action: notify }\n',
    );
    const { code, stdout, stderr } = runCli(['policy', 'check', path]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/valid/);
    expect(stderr).toContain(
      'sg-warden: warning: policy.principals.0.arn: "arn:aws:iam::*:role/*" matches every role',
    );
    // The shipped policy (with a real channel) covers no whole account: no warning.
    const shipped = readFileSync(join(__dirname, '..', '..', '..', 'config', 'sg-warden.yml'), 'utf8');
    const own = writeTmp('shipped.yml', shipped.replace('C0SGWARDEN', 'C0TEST'));
    expect(runCli(['policy', 'check', own]).stderr).toBe('');
  });

  it('case 3: exits 2 naming the field and the expected form for a service exempted on its own', () => {
    const path = writeTmp(
      'cfn.yml',
      'slack:\n  alertChannel: C0TEST\npolicy:\n  principals:\n    - { invokedBy: cloudformation.amazonaws.com, action: notify }\n',
    );
    const { code, stderr } = runCli(['policy', 'check', path]);
    expect(code).toBe(2);
    expect(stderr).toContain('policy.principals.0: invokedBy alone would exempt every caller');
  });

  it('#13 validates policy.exceptions.trustedTaggers: an ARN pattern or exit 2, and a warning for a whole account', () => {
    const check = (pattern: string) =>
      runCli([
        'policy',
        'check',
        writeTmp(
          'taggers.yml',
          `slack:\n  alertChannel: C0TEST\npolicy:\n  exceptions:\n    trustedTaggers: ["${pattern}"]\n`,
        ),
      ]);

    const named = check('arn:aws:iam::123456789012:role/network-admins');
    expect(named).toMatchObject({ code: 0, stderr: '' });
    const notArn = check('network-admins');
    expect(notArn.code).toBe(2);
    expect(notArn.stderr).toContain(
      'policy.exceptions.trustedTaggers.0: "network-admins" is not an ARN pattern',
    );
    const wide = check('arn:aws:iam::*:role/*');
    expect(wide.code).toBe(0);
    expect(wide.stderr).toContain(
      'sg-warden: warning: policy.exceptions.trustedTaggers.0: "arn:aws:iam::*:role/*" matches every role',
    );
  });

  it('exits 2 for YAML that does not parse', () => {
    const path = writeTmp('broken.yml', 'slack: [unclosed\n');
    const { code, stderr } = runCli(['policy', 'check', path]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/not valid YAML/);
  });
});
