import { loadConfig } from '../services/config/config';
import { type RouteFacts, routeFor, routeNamed } from '../services/routing/routes';
import { BadInputError } from '../services/shared/errors';
import type { Severity } from '../services/shared/model';
import { DEFAULT_CONFIG } from './evaluate';
import { type CommandModule, EXIT } from './program';

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

/** `sg-warden route`'s options, as commander hands them over. */
export interface RouteCliOptions {
  config?: string;
  account?: string;
  region?: string;
  tag: string[];
  severity?: string;
  principal?: string;
}

/** `--tag k=v` (repeatable) into a tag map; the value may be empty, as in EC2. */
function parseTags(raw: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const entry of raw) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new BadInputError(`--tag takes key=value, such as team=payments, not "${entry}".`);
    const key = entry.slice(0, at);
    if (Object.hasOwn(tags, key))
      throw new BadInputError(`--tag ${key} is given twice; a group has one value per tag.`);
    tags[key] = entry.slice(at + 1);
  }
  return tags;
}

/** The facts a route is chosen by, from the flags; every mistake is one sentence (exit 2). */
export function routeFactsFrom(
  options: RouteCliOptions,
): Omit<RouteFacts, 'severity'> & { severity: Severity | null } {
  if (options.account === undefined)
    throw new BadInputError('route needs --account <12-digit account ID>; see sg-warden route --help.');
  if (!ACCOUNT.test(options.account))
    throw new BadInputError(`--account must be a 12-digit AWS account ID, not "${options.account}".`);
  if (options.region === undefined)
    throw new BadInputError('route needs --region <region>, such as eu-west-1; see sg-warden route --help.');
  if (!REGION.test(options.region))
    throw new BadInputError(`--region must be an AWS region such as eu-west-1, not "${options.region}".`);
  const severity = options.severity;
  if (severity !== undefined && !(SEVERITIES as readonly string[]).includes(severity))
    throw new BadInputError(`--severity must be one of ${SEVERITIES.join(', ')}, not "${severity}".`);
  const principal = options.principal;
  if (principal !== undefined && !principal.startsWith('arn:'))
    throw new BadInputError(
      `--principal must be the ARN of the principal that made the change, such as arn:aws:sts::123456789012:assumed-role/deploy/session, not "${principal}".`,
    );
  return {
    account: options.account,
    region: options.region,
    tags: parseTags(options.tag),
    severity: (severity as Severity | undefined) ?? null,
    principals: principal ? [principal] : [],
  };
}

/**
 * The route and channel an alert with these facts would take, and who would decide it, as JSON. Without
 * --severity the answer must be the same for every severity (else: exit 2, asking for one).
 */
export function routeAnswer(options: RouteCliOptions, configPath: string): Record<string, unknown> {
  const facts = routeFactsFrom(options);
  const config = loadConfig(configPath);
  const severities = facts.severity ? [facts.severity] : SEVERITIES;
  const choices = severities.map((severity) => routeFor(config, { ...facts, severity }));
  if (new Set(choices.map((c) => c.route)).size > 1)
    throw new BadInputError(
      `The route depends on the severity (${severities.map((s, i) => `${s}: ${choices[i]!.route ?? 'none'}`).join(', ')}); give --severity.`,
    );
  const choice = choices[0]!;
  const route = routeNamed(config, choice.route);
  return {
    route: choice.route,
    channel: choice.channel,
    mention: facts.severity ? choice.mention : (route?.mention ?? null),
    revokers: {
      ...(route?.revokers ?? config.decisions.revokers),
      from: route?.revokers ? 'route' : 'decisions',
    },
    approvers: {
      ...(route?.approvers ?? config.decisions.approvers),
      from: route?.approvers ? 'route' : 'decisions',
    },
    facts: { ...facts, principal: facts.principals[0] ?? null, principals: undefined },
  };
}

/** `sg-warden route --account A --region R [--tag k=v]… [--severity S] [--principal ARN] [--config F]`. */
export const routeCommand: CommandModule = (program, { io, exit }) => {
  program
    .command('route')
    .description(
      'the route and channel an alert would take under slack.routes, and who would decide it (JSON)',
    )
    .option('--account <id>', "the group's 12-digit account ID")
    .option('--region <region>', "the group's region, such as eu-west-1")
    .option(
      '--tag <key=value>',
      "one of the group's tags (repeat for more)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--severity <severity>', 'critical, high, medium or low (the alert’s worst rule)')
    .option('--principal <arn>', 'the ARN of the principal that made the change')
    .option('--config <file>', 'the config file (default: $SG_WARDEN_CONFIG or config/sg-warden.yml)')
    .argumentsError('route takes no arguments, only options; see sg-warden route --help.')
    .addHelpText(
      'after',
      '\nWithout --principal, routes that name principals do not match. Exit codes: 0 answered, 2 bad flags or config.',
    )
    .action((options: RouteCliOptions) => {
      const answer = routeAnswer(options, options.config ?? io.env.SG_WARDEN_CONFIG ?? DEFAULT_CONFIG);
      io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      exit(EXIT.ok);
    });
};
