import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, loadConfig } from '../services/config/config';
import { decodeJson, parseCloudTrail } from '../services/detection/cloudtrail';
import { evaluate } from '../services/detection/policy';
import { BadInputError, SgWardenError } from '../services/shared/errors';
import { auditExportOptions, csvHeader, toCsvRow, toJsonLine } from './audit-export';
import { slackManifestCommand } from './slack-manifest';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/** Exit codes other tools rely on: 0 clean, 1 violations found, 2 bad input. */
export const EXIT = { ok: 0, violations: 1, badInput: 2 } as const;

const USAGE = `Usage:
  sg-warden evaluate <file|-> [--policy <file>]   evaluate CloudTrail events against the policy (JSON on stdout)
  sg-warden policy check [file]                  validate a config/policy file
  sg-warden audit export [--since <ISO time>] [--format jsonl|csv]
                         [--table <name>] [--endpoint <url>] [--region <region>]
                                                 the audit trail, oldest first (table: SG_WARDEN_TABLE;
                                                 endpoint: AWS_ENDPOINT_URL; default since: 30 days ago)
  sg-warden slack-manifest --url <https endpoint> [--json]
                                                 the Slack app manifest with the deployed request URL
  sg-warden help                                 this text

Exit codes: 0 no violations / valid, 1 violations found, 2 bad input.`;

const DEFAULT_CONFIG = join(__dirname, '..', 'config', 'sg-warden.yml');

/** Splits argv into positionals and --flag value pairs; flags listed in `booleans` take no value. */
export function parseArgs(
  argv: string[],
  booleans: string[] = [],
): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
      if (booleans.includes(name)) flags[name] = true;
      else if (inline !== undefined) flags[name] = inline;
      else {
        const value = argv[i + 1];
        if (value === undefined || value.startsWith('--')) throw new BadInputError(`--${name} needs a value`);
        flags[name] = value;
        i++;
      }
    } else positional.push(arg);
  }
  return { positional, flags };
}

async function readInput(path: string, io: Io): Promise<Buffer> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BadInputError(
      `Cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}.`,
    );
  }
}

function flag(flags: Record<string, string | true>, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

async function evaluateCommand(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  const unknown = Object.keys(flags).filter((f) => f !== 'policy');
  if (unknown.length > 0) throw new BadInputError(`Unknown option --${unknown[0]}.`);
  if (positional.length !== 1)
    throw new BadInputError('evaluate takes exactly one file (or - for standard input).');
  const config: Config = loadConfig(flag(flags, 'policy') ?? DEFAULT_CONFIG, { slackOptional: true });
  const events = parseCloudTrail(decodeJson(await readInput(positional[0]!, io)));
  const violations = [];
  let needAws = 0;
  for (const event of events) {
    if (event.kind !== 'authorize' && event.kind !== 'modify') continue;
    if (event.kind === 'modify') {
      needAws++;
      io.stderr.write(
        `sg-warden: event ${event.eventId} (${event.eventName}) needs AWS to evaluate: ${event.lookupReason}; not evaluated offline.\n`,
      );
      continue;
    }
    const findings = evaluate(event.rules, config.policy, { actor: event.actor, groupTags: null });
    for (const f of findings) {
      violations.push({
        eventId: event.eventId,
        region: event.region,
        account: event.account,
        groupId: f.rule.groupId,
        ruleId: f.rule.ruleId,
        direction: f.rule.direction,
        protocol: f.rule.protocol,
        fromPort: f.rule.fromPort,
        toPort: f.rule.toPort,
        source: f.rule.source,
        severity: f.severity,
        reasons: f.reasons,
        principal: event.actor.arn,
      });
    }
  }
  io.stdout.write(`${JSON.stringify({ events: events.length, violations }, null, 2)}\n`);
  if (needAws > 0) io.stderr.write(`sg-warden: ${needAws} event(s) could not be evaluated offline.\n`);
  return violations.length > 0 ? EXIT.violations : EXIT.ok;
}

function policyCommand(argv: string[], io: Io): number {
  const [sub, file, ...rest] = argv;
  if (sub !== 'check' || rest.length > 0) throw new BadInputError('Usage: sg-warden policy check [file]');
  const path = file ?? DEFAULT_CONFIG;
  const config = loadConfig(path);
  const p = config.policy;
  io.stdout.write(
    `${path}: valid. ${p.adminPorts.length} admin ports, ${p.principals.length} principal rules, ${p.onlyFrom.length} only-from rules, ` +
      `${Object.keys(config.whitelist.targets).length} whitelist targets, ${Object.keys(config.runbooks.items).length} runbooks; ` +
      `egress ${p.evaluateEgress ? 'evaluated' : 'not evaluated'}; dry run ${JSON.stringify(p.dryRun)}.\n`,
  );
  return EXIT.ok;
}

async function auditCommand(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  if (positional[0] !== 'export' || positional.length > 1)
    throw new BadInputError(
      'Usage: sg-warden audit export [--since <ISO time>] [--format jsonl|csv] [--table <name>]',
    );
  const options = auditExportOptions(flags, io.env, new Date());
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

/** Runs the CLI; returns the exit code. Known errors become one sentence on stderr and exit 2. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'evaluate':
        return await evaluateCommand(rest, io);
      case 'policy':
        return policyCommand(rest, io);
      case 'audit':
        return await auditCommand(rest, io);
      case 'slack-manifest':
        return slackManifestCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT.badInput : EXIT.ok;
      default:
        throw new BadInputError(`Unknown command "${command}".\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof SgWardenError) {
      io.stderr.write(`sg-warden: ${error.message}\n`);
      return EXIT.badInput;
    }
    io.stderr.write(`sg-warden: unexpected error: ${(error as Error).message}\n`);
    return 3;
  }
}
