import type { Config, WhitelistTarget } from '../config/config';
import type { Refusal } from '../kernel/refusal';
import { formatDuration } from '../shared/duration';
import { type Directory, isAllowed, type Person } from '../shared/people';
import type { GrantItem } from './items';
import { type CheckedRequest, describeAccess, targetNamed } from './plan';
import { REVOCABLE_GRANT_STATUSES } from './states';

// Who may do what with grants, and the sentence each refusal says. Each rule answers a Refusal (the
// orchestration records it and throws it as a RefusedError) or what the request resolved to.

/** What the rules read: the configuration and Slack's user groups. */
export interface WhoMayDeps {
  config: Config;
  directory: Directory;
}

/** The answer of a rule: what was allowed, or why not. */
export type Ruling<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

const allowed = <T>(value: T): Ruling<T> => ({ ok: true, value });
const refused = (code: string, message: string): Ruling<never> => ({ ok: false, refusal: { code, message } });

/** "There is no whitelist target called …", naming the targets there are. */
export function unknownTarget(config: Config, alias: string): Refusal {
  const known = Object.keys(config.whitelist.targets);
  return {
    code: 'UNKNOWN_TARGET',
    message:
      known.length === 0
        ? 'No whitelist targets are configured, so nothing can be granted.'
        : `There is no whitelist target called "${alias}". Targets: ${known.join(', ')}.`,
  };
}

function defaultPort(target: WhitelistTarget): number | null {
  if (target.protocol !== 'tcp' && target.protocol !== 'udp') return null;
  return target.ports[0] ?? null;
}

/**
 * Everything about a request except the address: the target exists, the person may use it, the port is
 * one of the target's and the duration within its longest.
 */
export async function mayRequest(
  deps: WhoMayDeps,
  request: { alias: string; port?: number | null; durationSeconds?: number | null; person: Person },
): Promise<Ruling<CheckedRequest>> {
  const { alias } = request;
  const target = targetNamed(deps.config, alias);
  if (!target) return { ok: false, refusal: unknownTarget(deps.config, alias) };
  if (!(await isAllowed(target.allowed, request.person.id, deps.directory))) {
    return refused('NOT_AUTHORISED', `You are not on the list of people who may use the "${alias}" target.`);
  }
  let port = defaultPort(target);
  if (request.port !== undefined && request.port !== null) {
    if (target.protocol !== 'tcp' && target.protocol !== 'udp') {
      return refused(
        'BAD_PORT',
        `The "${alias}" target grants ${describeAccess(target.protocol, null)}; it takes no port.`,
      );
    }
    if (!target.ports.includes(request.port)) {
      return refused(
        'BAD_PORT',
        `Port ${request.port} is not offered by "${alias}"; choose one of ${target.ports.join(', ')}.`,
      );
    }
    port = request.port;
  }
  const durationSeconds = request.durationSeconds ?? target.defaultDuration;
  if (durationSeconds < 60) return refused('BAD_DURATION', 'A grant lasts at least 1m.');
  if (durationSeconds > target.maxDuration) {
    return refused(
      'BAD_DURATION',
      `"${alias}" allows at most ${formatDuration(target.maxDuration)}; ask for that or less.`,
    );
  }
  return allowed({ alias, target, port, durationSeconds });
}

/**
 * Extending: only the owner, only an ACTIVE grant, only while its target is configured and still
 * allows them. Answers the target (for the longest duration).
 */
export async function mayExtend(
  deps: WhoMayDeps,
  grant: GrantItem,
  person: Person,
): Promise<Ruling<WhitelistTarget>> {
  if (grant.userId !== person.id) {
    return refused(
      'NOT_AUTHORISED',
      `Only ${grant.userName}, who asked for ${grant.grantId}, can extend it.`,
    );
  }
  if (grant.status !== 'ACTIVE') {
    return refused(
      'GRANT_NOT_ACTIVE',
      `Grant ${grant.grantId} is ${grant.status}, so it cannot be extended. Ask for a new one with /sg-whitelist.`,
    );
  }
  const target = targetNamed(deps.config, grant.alias);
  if (!target) {
    return refused(
      'UNKNOWN_TARGET',
      `The "${grant.alias}" target is no longer configured, so ${grant.grantId} cannot be extended.`,
    );
  }
  if (!(await isAllowed(target.allowed, person.id, deps.directory))) {
    return refused('NOT_AUTHORISED', `You are no longer allowed to use the "${grant.alias}" target.`);
  }
  return allowed(target);
}

/** Ending a grant early: its owner or an approver, once it is set up and while it has not ended. */
export async function mayRevoke(deps: WhoMayDeps, grant: GrantItem, person: Person): Promise<Ruling<true>> {
  if (
    grant.userId !== person.id &&
    !(await isAllowed(deps.config.decisions.approvers, person.id, deps.directory))
  ) {
    return refused(
      'NOT_AUTHORISED',
      `Only ${grant.userName}, who asked for ${grant.grantId}, or an approver can revoke it.`,
    );
  }
  return revocable(grant);
}

/**
 * "Not me — revoke": only the owner (the person the link was bound to, who is told of its use), only
 * for a grant made through a `me` link, while it has not ended.
 */
export function mayDisown(grant: GrantItem, person: Person): Ruling<true> {
  if (grant.userId !== person.id) {
    return refused(
      'NOT_AUTHORISED',
      `Only ${grant.userName}, whose link made ${grant.grantId}, can say it was not them.`,
    );
  }
  if (grant.via !== 'link') {
    return refused(
      'NOT_FROM_LINK',
      `Grant ${grant.grantId} was not made through a \`me\` link; \`/sg-whitelist revoke ${grant.grantId}\` ends it.`,
    );
  }
  return revocable(grant);
}

function revocable(grant: GrantItem): Ruling<true> {
  if (grant.status === 'PENDING') {
    return refused('GRANT_PENDING', `Grant ${grant.grantId} is still being set up; try again in a moment.`);
  }
  if (!REVOCABLE_GRANT_STATUSES.includes(grant.status)) {
    return refused('GRANT_ENDED', `Grant ${grant.grantId} has already ended (${grant.status}).`);
  }
  return allowed(true);
}

/**
 * A `me` link's confirmation: the address the page showed must be the address the POST comes from, so
 * a page opened on one machine cannot grant another's address.
 */
export function mayConfirmFrom(shownAddress: string | null, sourceAddress: string): Ruling<true> {
  if (shownAddress === null || shownAddress === '') {
    return refused(
      'ADDRESS_NOT_SHOWN',
      'The confirmation did not say which address it was for. Open the link from Slack again and press Confirm.',
    );
  }
  if (shownAddress !== sourceAddress) {
    // An address is at most 45 characters; anything longer is not one, and is not echoed whole.
    const shown = shownAddress.length > 45 ? `${shownAddress.slice(0, 45)}…` : shownAddress;
    return refused(
      'ADDRESS_CHANGED',
      `The page showed ${shown}, but the confirmation came from ${sourceAddress}. Nothing was granted; open the link again from the machine that needs access (the link still works until it expires).`,
    );
  }
  return allowed(true);
}
