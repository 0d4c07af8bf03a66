import type { StoredAuditEntry } from '../services/kernel/audit';
import { BadInputError } from '../services/shared/errors';
import { type CommandModule, EXIT, type Io } from './program';

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
  flags: Record<string, string | true | undefined>,
  env: NodeJS.ProcessEnv,
  now: Date,
): AuditExportOptions {
  const known = ['since', 'format', 'table', 'endpoint', 'region'];
  const unknown = Object.keys(flags).find((f) => !known.includes(f) && flags[f] !== undefined);
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

/** Writes the audit trail since `options.since`, oldest first; returns the exit code. */
async function exportAudit(options: AuditExportOptions, io: Io): Promise<number> {
  // The CLI is an entry point of its own and may read and set its environment (the Lambda code reads
  // it only in handlers/wiring.ts). The SDK's notice about future Node versions would break the
  // one-sentence stderr contract; the CLI supports Node 20 (package.json engines), so it is silenced
  // unless the user set it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Loaded here only: `evaluate` must start fast and never needs the AWS SDK.
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
  const { DynamoDbStateStore } = await import('../services/aws/dynamodb-store');
  const client = new DynamoDBClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: 3,
  });
  const store = new DynamoDbStateStore({
    client: DynamoDBDocumentClient.from(client),
    tableName: options.table,
  });
  let count = 0;
  try {
    if (options.format === 'csv') io.stdout.write(`${csvHeader()}\r\n`);
    for await (const entry of store.auditSince(options.since)) {
      io.stdout.write(options.format === 'csv' ? `${toCsvRow(entry)}\r\n` : `${toJsonLine(entry)}\n`);
      count++;
    }
  } catch (error) {
    const e = error as { name?: string; message?: string };
    const why = e.name && e.name !== 'Error' ? e.name : (e.message ?? 'unknown error');
    throw new BadInputError(
      `Cannot read the audit trail from table "${options.table}" in ${options.region}${options.endpoint ? ` at ${options.endpoint}` : ''}: ${why}.`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
  io.stderr.write(`sg-warden: ${count} audit entries since ${options.since}.\n`);
  return EXIT.ok;
}

/** `sg-warden audit export [--since …] [--format jsonl|csv] [--table …] [--endpoint …] [--region …]`. */
export const auditCommand: CommandModule = (program, { io, exit }) => {
  const audit = program.command('audit').description('read the audit trail');
  audit
    .command('export')
    .description('the audit trail, oldest first, as JSON lines or CSV (one Query per day, never a Scan)')
    .option('--since <time>', `ISO time or date to start from (default: ${DEFAULT_SINCE_DAYS} days ago)`)
    .option('--format <format>', 'jsonl or csv (default: jsonl)')
    .option('--table <name>', 'the DynamoDB table (default: $SG_WARDEN_TABLE)')
    .option('--endpoint <url>', 'the DynamoDB endpoint (default: $AWS_ENDPOINT_URL)')
    .option('--region <region>', 'the region (default: $AWS_REGION, else us-east-1)')
    .argumentsError('audit export takes no arguments, only options; see sg-warden audit export --help.')
    .addHelpText('after', '\nExit codes: 0 written, 2 bad options or an unreadable table.')
    .action(async (flags: Record<string, string | undefined>) => {
      exit(await exportAudit(auditExportOptions(flags, io.env, new Date()), io));
    });
};
