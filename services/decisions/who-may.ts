import { actorEmail } from '../actors/identity';
import { resolveActor } from '../actors/resolve';
import type { Config } from '../config/config';
import { matchesPattern } from '../detection/policy';
import { approversFor, revokersFor } from '../routing/routes';
import { formatDuration } from '../shared/duration';
import type { Person } from '../shared/people';
import { isAllowed } from '../shared/people';
import type { ViolationItem } from '../violations/items';
import type { DecisionDeps } from './deps';
import { alreadyDecided, capitalise, type DecisionRefusal, MAX_JUSTIFICATION } from './states';

/**
 * Who may decide what: the revokers and approvers lists, the self-approval rule, which severities may be
 * kept permanently and for how long a rule may be kept. Each check answers a refusal (code and the
 * sentence the person sees) or null; none of them writes anything.
 */

/**
 * Checks the person may revoke this rule: a revoker of its route (the route stored with it; without one,
 * `decisions.revokers`), or the person who made the change, who may always take their own change back.
 */
export async function checkRevoke(
  deps: Pick<DecisionDeps, 'config' | 'directory'>,
  person: Person,
  v: ViolationItem,
): Promise<DecisionRefusal | null> {
  if (await isAllowed(revokersFor(deps.config, v), person.id, deps.directory)) return null;
  if (isOwnChange(deps, v, person.id)) return null;
  return {
    code: 'NOT_AUTHORISED',
    message: v.route
      ? `You are not on the list of people who may revoke rules routed to ${v.route}, so nothing was changed.`
      : 'You are not on the list of people who may revoke rules, so nothing was changed.',
  };
}

/**
 * The refusal for someone who may revoke nothing at all: on no route's list nor `decisions.revokers`. Asked
 * when a request's binding cannot be read, so that a person who may not revoke hears that first, as before
 * routes; null when they may revoke something.
 */
export async function checkRevokerAnywhere(
  deps: Pick<DecisionDeps, 'config' | 'directory'>,
  person: Person,
): Promise<DecisionRefusal | null> {
  const lists = [
    deps.config.decisions.revokers,
    ...deps.config.slack.routes.flatMap((r) => r.revokers ?? []),
  ];
  for (const people of lists) if (await isAllowed(people, person.id, deps.directory)) return null;
  return {
    code: 'NOT_AUTHORISED',
    message: 'You are not on the list of people who may revoke rules, so nothing was changed.',
  };
}

/**
 * The self-approval rule: the Slack user who made the change may not keep it. They are the user the
 * principal maps to (`decisions.principalToSlack`), or the one found for the principal's e-mail and stored
 * with the violation (`actorUser`).
 */
export function isOwnChange(
  deps: Pick<DecisionDeps, 'config'>,
  v: ViolationItem,
  slackUserId: string,
): boolean {
  if (v.actorUser !== undefined && v.actorUser === slackUserId) return true;
  const names = [v.actor.arn, v.actor.roleArn].filter((n): n is string => !!n);
  return Object.entries(deps.config.decisions.principalToSlack).some(
    ([pattern, user]) => user === slackUserId && names.some((n) => matchesPattern(pattern, n)),
  );
}

/**
 * Whether the person made the change: isOwnChange, or — while the violation does not name its author yet
 * (they are stored once asked) — the Slack user found for the principal's e-mail. 'unknown' when Slack
 * could not say: a Keep is then refused rather than risk someone approving their own change.
 */
async function isAuthor(
  deps: Pick<DecisionDeps, 'config' | 'users'>,
  v: ViolationItem,
  slackUserId: string,
): Promise<boolean | 'unknown'> {
  if (isOwnChange(deps, v, slackUserId)) return true;
  if (v.actorUser !== undefined || !deps.users || actorEmail(v.actor) === null) return false;
  const found = await resolveActor(deps, v.actor);
  if (found.kind === 'error') return 'unknown';
  return found.kind === 'found' && found.user === slackUserId;
}

/** Whether a violation of this severity may be kept permanently. */
export function mayKeepPermanently(
  deps: Pick<DecisionDeps, 'config'>,
  v: Pick<ViolationItem, 'severity'>,
): boolean {
  return deps.config.decisions.permanentKeepFor.includes(v.severity);
}

/** The keep durations a person may choose for these violations: the configured ones, and null (permanent) where allowed for all. */
export function keepChoices(
  deps: Pick<DecisionDeps, 'config'>,
  violations: Pick<ViolationItem, 'severity'>[],
): (number | null)[] {
  const permanent = violations.length > 0 && violations.every((v) => mayKeepPermanently(deps, v));
  return [...deps.config.decisions.keepDurations, ...(permanent ? [null] : [])];
}

/** The value a Keep dialog's duration choice carries for "permanent". */
export const PERMANENT_CHOICE = 'permanent';

/** The value a Keep dialog's duration choice carries: the seconds, or PERMANENT_CHOICE. */
export function keepChoiceValue(seconds: number | null): string {
  return seconds === null ? PERMANENT_CHOICE : String(seconds);
}

/**
 * The duration a submitted choice names: seconds, null for permanent, undefined when it is none sg-warden
 * offers. The table of choices is looked up by own keys only, so a submitted `constructor` or `__proto__`
 * names nothing.
 */
export function keepDurationFor(config: Config, value: unknown): number | null | undefined {
  if (typeof value !== 'string') return undefined;
  const choices: Record<string, number | null> = Object.create(null);
  for (const seconds of config.decisions.keepDurations) choices[keepChoiceValue(seconds)] = seconds;
  if (config.decisions.permanentKeepFor.length > 0) choices[PERMANENT_CHOICE] = null;
  return Object.hasOwn(choices, value) ? choices[value] : undefined;
}

/** Checks a justification: required, and no longer than MAX_JUSTIFICATION (the text as trimmed). */
export function checkJustification(text: string): DecisionRefusal | null {
  if (text.length === 0) return { code: 'BAD_INPUT', message: 'A justification is required to keep a rule.' };
  if (text.length > MAX_JUSTIFICATION)
    return {
      code: 'BAD_INPUT',
      message: `The justification is longer than ${MAX_JUSTIFICATION} characters.`,
    };
  return null;
}

/** The refusal for a permanent keep of severities that may not be kept permanently. */
export function permanentNotAllowed(
  deps: Pick<DecisionDeps, 'config'>,
  severities: readonly string[],
): DecisionRefusal {
  return {
    code: 'PERMANENT_NOT_ALLOWED',
    message: `${capitalise(severities.join('/'))} rules may not be kept permanently (allowed for: ${deps.config.decisions.permanentKeepFor.join(', ') || 'none'}). Pick a duration.`,
  };
}

/**
 * Checks everything a Keep needs except the state write: an approver, not their own change, still
 * PENDING, and a duration that is allowed (`undefined`: not chosen yet, as the dialog opens).
 */
export async function checkKeep(
  deps: Pick<DecisionDeps, 'config' | 'directory' | 'users'>,
  person: Person,
  v: ViolationItem,
  durationSeconds: number | null | undefined,
): Promise<DecisionRefusal | null> {
  if (!(await isAllowed(approversFor(deps.config, v), person.id, deps.directory)))
    return {
      code: 'NOT_AUTHORISED',
      message: v.route
        ? `You are not on the list of people who may keep rules routed to ${v.route}, so nothing was changed.`
        : 'You are not on the list of people who may keep rules, so nothing was changed.',
    };
  const author = await isAuthor(deps, v, person.id);
  if (author === 'unknown')
    return {
      code: 'NOT_AUTHORISED',
      message:
        'sg-warden could not check whether this change is your own (Slack did not answer a user lookup), so nothing was changed. Try again in a minute.',
    };
  if (author)
    return {
      code: 'SELF_APPROVAL',
      message: 'This change was made by your own AWS identity: someone else must approve keeping it.',
    };
  if (v.status !== 'PENDING') return { code: 'ALREADY_DECIDED', message: alreadyDecided(v) };
  if (durationSeconds === null && !mayKeepPermanently(deps, v))
    return permanentNotAllowed(deps, [v.severity]);
  if (
    durationSeconds !== null &&
    durationSeconds !== undefined &&
    !deps.config.decisions.keepDurations.includes(durationSeconds)
  )
    return {
      code: 'BAD_DURATION',
      message: `${formatDuration(durationSeconds)} is not one of the allowed durations (${deps.config.decisions.keepDurations.map(formatDuration).join(', ')}).`,
    };
  return null;
}
