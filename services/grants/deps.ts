import type { BackstopDeps } from '../backstop/ports';
import type { Config } from '../config/config';
import { type Refusal, RefusedError, recordRefusal } from '../kernel/refusal';
import { keys, type StateStore } from '../kernel/state';
import type { SessionPorts } from '../sessions/deps';
import type { SessionsStart } from '../sessions/end';
import { describeError, NotFoundError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Directory, Person } from '../shared/people';
import type { RuleAuthorizer, RuleRemover, SecurityGroupReader } from '../shared/ports';
import type { GrantItem, LinkItem } from './items';
import { type GrantOutcome, personActor } from './plan';

/** What the grant service works with (handlers/wiring.ts builds it once per container). */
export interface GrantDeps extends BackstopDeps {
  config: Config;
  store: StateStore;
  ec2: SecurityGroupReader & RuleRemover & RuleAuthorizer;
  directory: Directory;
  clock: () => Date;
  logger: Logger;
  /** Run Command for `endSessions` targets; absent: sessions are not ended in this process. */
  sessions?: SessionPorts;
}

/** What became of a grant's sessions when its rule went: `off` when its target does not end them. */
export type GrantSessions = { kind: 'off' } | SessionsStart;

/** Tells people about grants (Slack in production); failures are logged, never undo state. */
export interface GrantNotifier {
  /** The owner's grant ends in a few minutes (at `now`); `extendBy` seconds may be added with a button. */
  expiring(grant: GrantItem, extendBy: number | null, now: Date): Promise<void>;
  /** The owner's grant ended and its rule is gone; what became of their open sessions. */
  ended(grant: GrantItem, sessions: GrantSessions): Promise<void>;
  /** The grant's rule could not be removed; it stays listed as REVOKE_FAILED and is retried. */
  revokeFailed(grant: GrantItem): Promise<void>;
  /** A grant that never finished was cleaned up. */
  abandoned(grant: GrantItem, rulesRemoved: number): Promise<void>;
  /**
   * The owner's `me` link was used: which address was granted (with a way to say "not me"), or why
   * nothing was.
   */
  linkUsed(link: LinkItem, result: { outcome: GrantOutcome } | { refusal: Refusal }): Promise<void>;
  /** The owner said a grant made through their link was not theirs, and it was revoked. */
  disowned(grant: GrantItem, by: Person): Promise<void>;
}

/** Sends a notice; a failure is logged and never undoes what was done. */
export async function tell(
  deps: Pick<GrantDeps, 'logger'>,
  grantId: string,
  what: string,
  send: () => Promise<void>,
): Promise<void> {
  try {
    await send();
  } catch (error) {
    deps.logger.warn({ grantId, what, err: describeError(error) }, 'grant notification not sent');
  }
}

/**
 * Puts a refusal on the audit trail (subject: the grant, or `target:<alias>` before there is one) and
 * returns it as the error to throw, so the person sees its sentence and code.
 */
export async function refuse(
  deps: Pick<GrantDeps, 'store' | 'clock' | 'logger'>,
  subjectId: string,
  action: string,
  by: Person,
  refusal: Refusal,
  details?: Record<string, unknown>,
): Promise<RefusedError> {
  await recordRefusal(deps, {
    subject: { id: subjectId, type: 'grant' },
    action,
    by: personActor(by),
    refusal,
    ...(details ? { details } : {}),
  });
  return new RefusedError(refusal);
}

/** Reads a grant by the ID a person typed or a button carried; a malformed or unknown ID is NOT_FOUND. */
export async function loadGrant(deps: Pick<GrantDeps, 'store'>, grantId: string): Promise<GrantItem> {
  const grant = /^g-[a-z0-9]{4,20}$/.test(grantId)
    ? await deps.store.get<GrantItem>(keys.grant(grantId))
    : null;
  if (!grant) throw new NotFoundError(`There is no grant ${grantId}. /sg-whitelist list shows yours.`);
  return grant;
}
