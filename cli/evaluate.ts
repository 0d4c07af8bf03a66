import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, loadConfig } from '../services/config/config';
import { decodeJson, parseCloudTrail } from '../services/detection/cloudtrail';
import { describeRule, evaluate } from '../services/detection/policy';
import { BadInputError } from '../services/shared/errors';
import { type CommandModule, EXIT, type Io } from './program';

/** The repository's config, used when no --policy / file is given. */
export const DEFAULT_CONFIG = join(__dirname, '..', 'config', 'sg-warden.yml');

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

/** Evaluates every security-group event in `path` offline; writes the JSON report; returns the exit code. */
async function evaluateFile(path: string, policyPath: string | undefined, io: Io): Promise<number> {
  const config: Config = loadConfig(policyPath ?? DEFAULT_CONFIG, { slackOptional: true });
  const events = parseCloudTrail(decodeJson(await readInput(path, io)));
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
    for (const r of event.rules.filter((rule) => rule.sourceKind === 'prefix-list')) {
      io.stderr.write(
        `sg-warden: event ${event.eventId}: rule ${r.ruleId ?? describeRule(r)} comes from prefix list ${r.source}, whose entries need AWS; judged offline without them.\n`,
      );
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

/** `sg-warden evaluate <file|-> [--policy <file>]`. */
export const evaluateCommand: CommandModule = (program, { io, exit }) => {
  program
    .command('evaluate')
    .description('evaluate CloudTrail events against the policy, offline (JSON on stdout)')
    .argument(
      '<file>',
      'CloudTrail events in any shape (EventBridge, records, S3 log file, lookup-events); - reads stdin',
    )
    .argumentsError('evaluate takes exactly one file (or - for standard input).')
    .option('--policy <file>', 'the config/policy file (default: config/sg-warden.yml)')
    .addHelpText('after', '\nExit codes: 0 no violations, 1 violations found, 2 bad input.')
    .action(async (file: string, options: { policy?: string }) => {
      exit(await evaluateFile(file, options.policy, io));
    });
};
