import type { StoredAuditEntry } from '../services/kernel/audit';
import { BadInputError } from '../services/shared/errors';

/** The columns of an export, in order (the same keys, in the same order, in JSON lines). */
export const AUDIT_COLUMNS = [
  'entryId',
  'at',
  'subjectType',
  'subjectId',
  'action',
  'fromState',
  'toState',
  'actorType',
  'actorId',
  'actorName',
  'justification',
  'awsRequestId',
  'result',
  'error',
  'details',
] as const;

export interface AuditExportOptions {
  since: string;
  format: 'jsonl' | 'csv';
  table: string;
  endpoint: string | undefined;
  region: string;
}

/** How far back an export reads when --since is not given. */
export const DEFAULT_SINCE_DAYS = 30;

/** Validates the flags (and their environment fallbacks) of `audit export`. */
export function auditExportOptions(
  flags: Record<string, string | true>,
  env: NodeJS.ProcessEnv,
  now: Date,
): AuditExportOptions {
  const known = ['since', 'format', 'table', 'endpoint', 'region'];
  const unknown = Object.keys(flags).find((f) => !known.includes(f));
  if (unknown)
    throw new BadInputError(
      `Unknown option --${unknown} (audit export takes ${known.map((k) => `--${k}`).join(', ')}).`,
    );
  const value = (name: string): string | undefined => {
    const v = flags[name];
    if (v === true || v === '') throw new BadInputError(`--${name} needs a value.`);
    return v;
  };
  const sinceText = value('since');
  let since = new Date(now.getTime() - DEFAULT_SINCE_DAYS * 86400_000).toISOString();
  if (sinceText !== undefined) {
    const parsed = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(sinceText)
      ? new Date(sinceText)
      : null;
    if (!parsed || Number.isNaN(parsed.getTime()))
      throw new BadInputError(
        `--since must be an ISO time such as 2026-11-01 or 2026-11-01T09:30:00Z, not "${sinceText}".`,
      );
    since = parsed.toISOString();
  }
  const format = value('format') ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv')
    throw new BadInputError(`--format must be jsonl or csv, not "${format}".`);
  const table = value('table') ?? env.SG_WARDEN_TABLE;
  if (!table) throw new BadInputError('No table to read: pass --table <name> or set SG_WARDEN_TABLE.');
  const endpoint = value('endpoint') ?? env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint))
    throw new BadInputError(`--endpoint must be an http(s) URL, not "${endpoint}".`);
  const region = value('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return { since, format, table, endpoint: endpoint || undefined, region };
}

function cell(entry: StoredAuditEntry, column: (typeof AUDIT_COLUMNS)[number]): unknown {
  const value = (entry as unknown as Record<string, unknown>)[column];
  return value === undefined ? null : value;
}

/** One entry as a JSON line with the export's keys in order. */
export function toJsonLine(entry: StoredAuditEntry): string {
  return JSON.stringify(Object.fromEntries(AUDIT_COLUMNS.map((c) => [c, cell(entry, c)])));
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a value a spreadsheet
 * would run as a formula (= + - @ at the start) gets a leading apostrophe so it is shown, not run.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(): string {
  return AUDIT_COLUMNS.join(',');
}

export function toCsvRow(entry: StoredAuditEntry): string {
  return AUDIT_COLUMNS.map((c) => csvField(cell(entry, c))).join(',');
}
