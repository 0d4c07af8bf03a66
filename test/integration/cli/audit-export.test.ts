import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIT_COLUMNS, csvField } from '../../../cli/audit-export';
import { DynamoDbStateStore } from '../../../services/aws/dynamodb-store';
import type { AuditEntry } from '../../../services/kernel/audit';
import { createTable, documentClient, motoUrl } from '../../support/aws';
import { runCli } from '../../support/cli';

let table: string;
const base = new Date(Date.now() - 3 * 86400_000);
const at = (minutes: number) => new Date(base.getTime() + minutes * 60_000).toISOString();

function entry(minutes: number, overrides: Partial<AuditEntry>): AuditEntry {
  return {
    subjectId: 'v-export',
    subjectType: 'violation',
    action: 'detect',
    fromState: null,
    toState: 'PENDING',
    actorType: 'aws-principal',
    actorId: 'arn:aws:sts::123456789012:assumed-role/Admin/dev',
    result: 'ok',
    at: at(minutes),
    ...overrides,
  };
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF records, line breaks inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

beforeAll(async () => {
  table = await createTable();
  const store = new DynamoDbStateStore({ client: documentClient(), tableName: table });
  // Written out of order, across two days: the export must come back in time order.
  await store.appendAudit(
    entry(24 * 60 + 5, {
      action: 'keep',
      fromState: 'PENDING',
      toState: 'KEPT',
      actorType: 'slack-user',
      actorId: 'U0APPROVER',
      actorName: 'alex',
      justification: 'Partner load test, "phase 2"\nticket CHG-1',
      details: { keptUntil: at(24 * 60 + 65) },
    }),
  );
  await store.appendAudit(entry(0, {}));
  await store.appendAudit(
    entry(2, {
      action: 'revoke',
      fromState: 'REVOKING',
      toState: 'REVOKE_RETRY',
      actorType: 'timeout',
      actorId: 'timeout',
      result: 'error',
      error: 'RevokeSecurityGroupIngress failed: UnauthorizedOperation',
      awsRequestId: 'req-123',
    }),
  );
  await store.appendAudit(
    entry(1, {
      action: 'revoke-start',
      fromState: 'PENDING',
      toState: 'REVOKING',
      actorType: 'timeout',
      actorId: 'timeout',
    }),
  );
});

const env = () => ({ SG_WARDEN_TABLE: table, AWS_ENDPOINT_URL: motoUrl(), AWS_REGION: 'us-east-1' });

describe('sg-warden audit export', () => {
  it('prints every entry since --since as JSON lines, oldest first, with a fixed set of keys', () => {
    const out = runCli(['audit', 'export', '--since', base.toISOString()], { env: env() });
    expect(out.stderr).toContain('4 audit entries');
    expect(out.code).toBe(0);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.action)).toEqual(['detect', 'revoke-start', 'revoke', 'keep']);
    expect(Object.keys(lines[0]!)).toEqual([...AUDIT_COLUMNS]);
    expect(lines[2]).toMatchObject({ awsRequestId: 'req-123', result: 'error', actorType: 'timeout' });
    expect(lines[3]).toMatchObject({
      justification: 'Partner load test, "phase 2"\nticket CHG-1',
      actorName: 'alex',
    });
  });

  it('leaves out entries before --since', () => {
    const out = runCli(['audit', 'export', '--since', at(2)], { env: env() });
    expect(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).action),
    ).toEqual(['revoke', 'keep']);
  });

  it('writes properly quoted CSV that parses back to the same values', () => {
    const out = runCli(['audit', 'export', '--since', base.toISOString(), '--format', 'csv'], {
      env: { ...env(), SG_WARDEN_TABLE: '' },
    });
    // --table is required when SG_WARDEN_TABLE is empty.
    expect(out.code).toBe(2);
    const csv = runCli(
      [
        'audit',
        'export',
        '--since',
        base.toISOString(),
        '--format',
        'csv',
        '--table',
        table,
        '--endpoint',
        motoUrl(),
      ],
      { env: { AWS_REGION: 'us-east-1' } },
    );
    expect(csv.code).toBe(0);
    const rows = parseCsv(csv.stdout);
    expect(rows[0]).toEqual([...AUDIT_COLUMNS]);
    expect(rows).toHaveLength(5);
    const keep = rows[4]!;
    expect(keep[AUDIT_COLUMNS.indexOf('justification')]).toBe('Partner load test, "phase 2"\nticket CHG-1');
    expect(JSON.parse(keep[AUDIT_COLUMNS.indexOf('details')]!)).toEqual({ keptUntil: at(24 * 60 + 65) });
    expect(rows[1]![AUDIT_COLUMNS.indexOf('fromState')]).toBe('');
  });

  it.each([
    [['--since', 'yesterday'], '--since must be an ISO time'],
    [['--format', 'xml'], '--format must be jsonl or csv'],
    [['--colour', 'red'], 'Unknown option --colour'],
    [['--since'], '--since needs a value'],
    [['--table', 'no-such-table-here'], 'Cannot read the audit trail from table "no-such-table-here"'],
    [['--endpoint', 'not a url'], '--endpoint must be an http(s) URL'],
  ])('exits 2 with one sentence for %j', (args, sentence) => {
    const out = runCli(['audit', 'export', ...args], { env: env() });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(sentence);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });

  it('keeps the evaluate and policy commands working', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-warden-policy-'));
    const path = join(dir, 'sg-warden.yml');
    writeFileSync(path, 'slack:\n  alertChannel: C0OURALERTS\n');
    const out = runCli(['policy', 'check', path]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('valid');
  });
});

describe('csvField', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['@SUM(A1)', "'@SUM(A1)"],
    [null, ''],
    [{ a: 1 }, '"{""a"":1}"'],
  ])('encodes %j as %s', (value, encoded) => {
    expect(csvField(value)).toBe(encoded);
  });
});
