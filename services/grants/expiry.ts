import { disarmOrTell } from '../backstop/backstop';
import { type AuditActor, TIMEOUT_ACTOR } from '../kernel/audit';
import { RefusedError } from '../kernel/refusal';
import { keys, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import { plusSeconds } from '../kernel/time';
import { describeError, StateConflictError } from '../shared/errors';
import type { Person } from '../shared/people';
import { type GrantDeps, type GrantNotifier, type GrantSessions, loadGrant, refuse, tell } from './deps';
import type { GrantItem } from './items';
import {
  awsTargetOf,
  extendBy,
  GRANT_TAGS,
  personActor,
  planExpiry,
  REVOKE_LEASE_SECONDS,
  revokeBackoffSeconds,
} from './plan';
import { failPending } from './request';
import { endGrantSessions } from './sessions';
import { GRANT_MOVES } from './states';
import { mayDisown, mayRevoke, type Ruling } from './who-may';

export type RemovalOutcome = 'removed' | 'already-gone' | 'failed' | 'skipped';

/** The claim is bookkeeping (not audited), so the trail says the state the grant was really in. */
function fromSeen<T extends { audit: { fromState: string | null } | null }>(grant: GrantItem, t: T): T {
  return t.audit ? { ...t, audit: { ...t.audit, fromState: grant.status } } : t;
}

/**
 * Removes a grant's rule: claims the grant (→ REVOKING, with a lease), revokes by rule ID, and ends it
 * as `endAs` — also when the rule is already gone. A failed revoke leaves the grant REVOKE_FAILED and
 * due again with backoff, so it is never forgotten while its rule exists. Once the rule is gone, the
 * sessions it let in are ended where the target asks for it (`sessions`: endGrantSessions).
 */
export async function removeGrantRule(
  deps: GrantDeps,
  grant: GrantItem,
  endAs: 'EXPIRED' | 'REVOKED',
  by: AuditActor,
  now: Date,
  reason: Record<string, unknown> = {},
): Promise<{ outcome: RemovalOutcome; grant: GrantItem; sessions?: GrantSessions }> {
  const claimed = await tryTransition<GrantItem>(
    deps.store,
    step(grant, {
      from: GRANT_MOVES.claim.from,
      to: 'REVOKING',
      action: 'claim',
      by,
      at: now.toISOString(),
      set: { endAs, endedBy: by.id },
      due: { kind: 'GRANT_EXPIRY', at: plusSeconds(now, REVOKE_LEASE_SECONDS) },
      unaudited: true,
    }),
  );
  if (!claimed) return { outcome: 'skipped', grant };
  const target = awsTargetOf(claimed);
  const action = endAs === 'REVOKED' ? 'revoke' : 'expire';
  const finish = async (details: Record<string, unknown>, requestId?: string | null) => {
    const at = deps.clock().toISOString();
    const ended = await deps.store.transition<GrantItem>(
      fromSeen(
        grant,
        step(claimed, {
          to: endAs,
          action,
          by,
          at,
          set: { endedAt: at },
          remove: ['lastError'],
          due: null,
          ...(requestId ? { awsRequestId: requestId } : {}),
          details: { ruleId: claimed.ruleId, attempts: claimed.revokeAttempts + 1, ...reason, ...details },
        }),
      ),
    );
    // The rule is gone: its backstop has nothing left to do.
    if (claimed.ruleId)
      await disarmOrTell(
        deps,
        { kind: 'grant', id: ended.grantId, target: target },
        { channel: ended.channel ?? null },
      );
    return ended;
  };
  if (!claimed.ruleId) {
    return { outcome: 'already-gone', grant: await finish({ note: 'no rule was recorded' }) };
  }
  let ended: GrantItem | null = null;
  let outcome: RemovalOutcome = 'removed';
  try {
    const out = await deps.ec2.revokeRules(target, claimed.groupId, 'ingress', [claimed.ruleId]);
    ended = await finish({}, out.requestId);
  } catch (error) {
    const stillThere = await deps.ec2
      .describeRules(target, [claimed.ruleId])
      .then((rules) => rules.length > 0)
      .catch(() => true);
    if (!stillThere) {
      ended = await finish({ alreadyGone: true });
      outcome = 'already-gone';
    }
    if (!ended) return failRemoval(deps, grant, claimed, action, by, now, reason, error);
  }
  // The rule is gone; a connection it let in is not (security groups track connections).
  return { outcome, grant: ended, sessions: await endGrantSessions(deps, ended, by) };
}

/** A revoke EC2 refused while the rule is still there: REVOKE_FAILED, due again with backoff. */
async function failRemoval(
  deps: GrantDeps,
  grant: GrantItem,
  claimed: GrantItem,
  action: string,
  by: AuditActor,
  now: Date,
  reason: Record<string, unknown>,
  error: unknown,
): Promise<{ outcome: RemovalOutcome; grant: GrantItem }> {
  const attempts = claimed.revokeAttempts + 1;
  const retryAt = plusSeconds(now, revokeBackoffSeconds(attempts));
  deps.logger.warn(
    { grantId: claimed.grantId, attempts, err: describeError(error) },
    'grant rule not removed; will retry',
  );
  const failed = await deps.store.transition<GrantItem>(
    fromSeen(
      grant,
      step(claimed, {
        to: 'REVOKE_FAILED',
        action,
        by,
        at: deps.clock().toISOString(),
        set: { revokeAttempts: attempts, lastError: describeError(error) },
        due: { kind: 'GRANT_EXPIRY', at: retryAt },
        result: 'error',
        error: describeError(error),
        details: { ruleId: claimed.ruleId, attempts, retryAt, ...reason },
      }),
    ),
  );
  return { outcome: 'failed', grant: failed };
}

/** Ends a grant at a person's request once a who-may rule allowed it; a lost race is GRANT_CHANGED. */
async function endForPerson(
  deps: GrantDeps,
  grant: GrantItem,
  person: Person,
  ruling: Ruling<true>,
  action: string,
  reason: Record<string, unknown> = {},
): Promise<{ outcome: RemovalOutcome; grant: GrantItem }> {
  if (!ruling.ok) throw await refuse(deps, grant.grantId, action, person, ruling.refusal);
  const result = await removeGrantRule(deps, grant, 'REVOKED', personActor(person), deps.clock(), reason);
  if (result.outcome === 'skipped') {
    throw new RefusedError({
      code: 'GRANT_CHANGED',
      message: `Grant ${grant.grantId} changed at the same moment; check /sg-whitelist list.`,
    });
  }
  return result;
}

/** Ends a grant early at its owner's (or an approver's) request. */
export async function revokeGrant(
  deps: GrantDeps,
  grantId: string,
  person: Person,
): Promise<{ outcome: RemovalOutcome; grant: GrantItem }> {
  const grant = await loadGrant(deps, grantId);
  return endForPerson(deps, grant, person, await mayRevoke(deps, grant, person), 'revoke');
}

/**
 * "Not me — revoke": the owner says the grant their `me` link made was not theirs (a forwarded or
 * leaked link). Revokes it, audited as such, and tells the alert channel.
 */
export async function disownGrant(
  deps: GrantDeps,
  notifier: GrantNotifier,
  grantId: string,
  person: Person,
): Promise<{ outcome: RemovalOutcome; grant: GrantItem }> {
  const grant = await loadGrant(deps, grantId);
  const result = await endForPerson(deps, grant, person, mayDisown(grant, person), 'not-me', {
    reason: 'not me: the owner says someone else used their link',
  });
  await tell(deps, grantId, 'disowned', () => notifier.disowned(result.grant, person));
  return result;
}

/** GRANT_WARN: offer the owner an Extend button ten minutes before the end, once. */
export async function warnGrant(
  deps: GrantDeps,
  notifier: GrantNotifier,
  grantId: string,
  now: Date,
): Promise<void> {
  const grant = await deps.store.get<GrantItem>(keys.grant(grantId));
  if (grant?.status !== 'ACTIVE' || grant.dueKind !== 'GRANT_WARN') return;
  const claimed = await tryTransition<GrantItem>(
    deps.store,
    step(grant, {
      from: GRANT_MOVES.warn.from,
      to: 'ACTIVE',
      action: 'warn',
      by: TIMEOUT_ACTOR,
      at: now.toISOString(),
      set: { warnedAt: now.toISOString() },
      due: { kind: 'GRANT_EXPIRY', at: grant.expiresAt },
      unaudited: true,
    }),
  );
  // Late (the sweeper did not run, or the clock skipped past the end): the grant is over, so there is
  // nothing to extend; the expiry, due now, tells its owner instead.
  if (!claimed || claimed.expiresAt <= now.toISOString()) return;
  await tell(deps, grantId, 'expiring', () =>
    notifier.expiring(claimed, extendBy(deps.config, claimed, now), now),
  );
}

/**
 * GRANT_EXPIRY: removes the rule of a grant past its expiry (or retries a failed removal), and cleans
 * up a PENDING grant whose worker died. Safe to run twice: every step is a conditional transition.
 */
export async function expireGrant(
  deps: GrantDeps,
  notifier: GrantNotifier,
  grantId: string,
  now: Date,
): Promise<void> {
  const grant = await deps.store.get<GrantItem>(keys.grant(grantId));
  const plan = planExpiry(grant, now);
  if (plan.kind === 'nothing' || !grant) return;
  if (plan.kind === 'reconcile') return reconcilePending(deps, notifier, grant);
  const result = await removeGrantRule(deps, grant, plan.endAs, plan.by, now);
  if (result.outcome === 'removed' || result.outcome === 'already-gone') {
    await tell(deps, grantId, 'ended', () =>
      notifier.ended(result.grant, result.sessions ?? { kind: 'off' }),
    );
  } else if (result.outcome === 'failed' && result.grant.revokeAttempts === 1) {
    await tell(deps, grantId, 'revoke-failed', () => notifier.revokeFailed(result.grant));
  }
}

/** A PENDING grant past its lease: remove any rule tagged with it, then mark it FAILED. */
async function reconcilePending(deps: GrantDeps, notifier: GrantNotifier, grant: GrantItem): Promise<void> {
  const target = awsTargetOf(grant);
  const rules = await deps.ec2.describeRulesTagged(target, GRANT_TAGS.grantId, grant.grantId);
  const ruleIds = rules.map((r) => r.ruleId).filter((id): id is string => id !== null);
  // A failure here throws: the grant stays PENDING and due, so the next sweep tries again.
  if (ruleIds.length > 0) await deps.ec2.revokeRules(target, grant.groupId, 'ingress', ruleIds);
  try {
    await failPending(
      deps,
      grant,
      'ABANDONED',
      `the request did not finish; ${ruleIds.length} ${ruleIds.length === 1 ? 'rule' : 'rules'} removed`,
      TIMEOUT_ACTOR,
    );
  } catch (error) {
    if (error instanceof StateConflictError) return;
    throw error;
  }
  await tell(deps, grant.grantId, 'abandoned', () => notifier.abandoned(grant, ruleIds.length));
}
