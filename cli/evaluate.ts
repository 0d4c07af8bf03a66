import { join } from 'node:path';
import { type Config, loadConfig } from '../services/config/config';
import { describeRule, evaluate } from '../services/detection/policy';
import type { SgEvent } from '../services/shared/model';
import { readCloudTrailEvents } from './input/cloudtrail-stream';
import { type CommandModule, EXIT, type Io } from './program';
import { ReportSpool } from './report-spool';

/** The repository's config, used when no --policy / file is given. */
export const DEFAULT_CONFIG = join(__dirname, '..', 'config', 'sg-warden.yml');

/** Evaluates every security-group event in `path` offline; writes the JSON report; returns the exit code. */
async function evaluateFile(path: string, policyPath: string | undefined, io: Io): Promise<number> {
  const config: Config = loadConfig(policyPath ?? DEFAULT_CONFIG, { slackOptional: true });
  // The input is read as a stream, one record at a time; the report is printed only once all of it was
  // read and valid (bad input: nothing on stdout, exit 2), its violations held on disk when they are many.
  const violations = new ReportSpool();
  let events = 0;
  let needAws = 0;
  const judge = (event: SgEvent) => {
    events++;
    if (event.kind !== 'authorize' && event.kind !== 'modify') return;
    if (event.kind === 'modify') {
      needAws++;
      io.stderr.write(
        `sg-warden: event ${event.eventId} (${event.eventName}) needs AWS to evaluate: ${event.lookupReason}; not evaluated offline.\n`,
      );
      return;
    }
    for (const r of event.rules.filter((rule) => rule.sourceKind === 'prefix-list')) {
      io.stderr.write(
        `sg-warden: event ${event.eventId}: rule ${r.ruleId ?? describeRule(r)} comes from prefix list ${r.source}, whose entries need AWS; judged offline without them.\n`,
      );
    }
    const findings = evaluate(event.rules, config.policy, { actor: event.actor, groupTags: null });
    for (const f of findings) {
      violations.add({
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
  };
  try {
    await readCloudTrailEvents(path, io.stdin, judge);
    await violations.writeReport(io.stdout, 'events', events, 'violations');
  } finally {
    violations.dispose();
  }
  if (needAws > 0) io.stderr.write(`sg-warden: ${needAws} event(s) could not be evaluated offline.\n`);
  return violations.count > 0 ? EXIT.violations : EXIT.ok;
}

/** `sg-warden evaluate <file|-> [--policy <file>]`. */
export const evaluateCommand: CommandModule = (program, { io, exit }) => {
  program
    .command('evaluate')
    .description('evaluate CloudTrail events against the policy, offline (JSON on stdout)')
    .argument(
      '<file>',
      'CloudTrail events in any shape (EventBridge, records, S3 log file, NDJSON, lookup-events), plain or gzip, UTF-8 or UTF-16, any size; - reads stdin',
    )
    .argumentsError('evaluate takes exactly one file (or - for standard input).')
    .option('--policy <file>', 'the config/policy file (default: config/sg-warden.yml)')
    .addHelpText('after', '\nExit codes: 0 no violations, 1 violations found, 2 bad input.')
    .action(async (file: string, options: { policy?: string }) => {
      exit(await evaluateFile(file, options.policy, io));
    });
};
