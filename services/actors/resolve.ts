import type { Config } from '../config/config';
import { describeError } from '../shared/errors';
import type { Actor } from '../shared/model';
import { actorEmail, mappedSlackUser } from './identity';
import type { SlackUserLookup } from './ports';

/** Who a change's author is in Slack, or why that is not known. */
export type ActorResolution =
  | { kind: 'found'; user: string; via: 'map' | 'email'; email?: string }
  /** Nothing says: no principal map entry, and the principal's name is no e-mail AWS set. */
  | { kind: 'none' }
  /** No Slack user has the principal's e-mail address. */
  | { kind: 'not-found'; email: string }
  /** Slack could not say (an error, a missing scope). */
  | { kind: 'error'; email: string; error: string };

/** False when nothing could name this author in Slack (no map entry, no e-mail name or no lookup): no call made. */
export function mayResolve(
  deps: { config: Pick<Config, 'decisions'>; users?: SlackUserLookup },
  actor: Actor,
): boolean {
  return !!mappedSlackUser(deps.config, actor) || (!!actorEmail(actor) && !!deps.users);
}

/**
 * Finds the Slack user who made a change: `decisions.principalToSlack` first, then the principal's e-mail
 * (identity.ts) through `users` (users.lookupByEmail; the Slack adapter caches answers per container).
 * Never throws: a failed lookup is an answer.
 */
export async function resolveActor(
  deps: { config: Pick<Config, 'decisions'>; users?: SlackUserLookup },
  actor: Actor,
): Promise<ActorResolution> {
  const mapped = mappedSlackUser(deps.config, actor);
  if (mapped) return { kind: 'found', user: mapped, via: 'map' };
  const email = actorEmail(actor);
  if (!email || !deps.users) return { kind: 'none' };
  try {
    const user = await deps.users.userIdByEmail(email);
    return user ? { kind: 'found', user, via: 'email', email } : { kind: 'not-found', email };
  } catch (error) {
    return { kind: 'error', email, error: describeError(error) };
  }
}
