import { moveBackstop } from '../backstop/backstop';
import { dueGrant } from '../backstop/plan';
import type { AuditActor } from '../kernel/audit';
import { RefusedError, recordRefusal } from '../kernel/refusal';
import { keys, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import { describeError } from '../shared/errors';
import type { Person } from '../shared/people';
import { type GrantDeps, loadGrant, refuse } from './deps';
import type { GrantItem } from './items';
import { activeDue, awsTargetOf, grantDescription, grantTags, personActor, planExtension } from './plan';
import { GRANT_MOVES } from './states';
import { mayExtend } from './who-may';

/** Moves an ACTIVE grant's expiry (conditional on its version), re-labels its rule, re-arms the warning. */
export async function setExpiry(
  deps: GrantDeps,
  grant: GrantItem,
  expiresAt: string,
  by: AuditActor,
  now: Date,
  details: Record<string, unknown> = {},
): Promise<GrantItem> {
  // The backstop moves first: a grant is never recorded to end later than its schedule revokes it.
  try {
    await moveBackstop(deps, dueGrant(grant, expiresAt));
  } catch (error) {
    const refusal = {
      code: 'BACKSTOP_NOT_MOVED',
      message: `Grant ${grant.grantId} was not extended: its backstop schedule could not be moved (${describeError(error)}), so it still ends at ${grant.expiresAt.slice(0, 16)}Z. Try again in a minute.`,
    };
    await recordRefusal(deps, {
      subject: { id: grant.grantId, type: 'grant' },
      action: 'extend',
      by,
      refusal,
      fromState: grant.status,
      details: { from: grant.expiresAt, to: expiresAt },
    });
    throw new RefusedError(refusal, { cause: error });
  }
  const updated = await tryTransition<GrantItem>(
    deps.store,
    step(grant, {
      from: GRANT_MOVES.extend.from,
      to: 'ACTIVE',
      action: 'extend',
      by,
      at: now.toISOString(),
      set: { expiresAt },
      remove: ['warnedAt'],
      due: activeDue(expiresAt, now, false),
      details: { from: grant.expiresAt, to: expiresAt, ...details },
    }),
  );
  if (!updated) {
    // The schedule was moved for an extension that was not recorded: put it back to what is recorded.
    const now = await deps.store.get<GrantItem>(keys.grant(grant.grantId));
    if (now?.status === 'ACTIVE')
      await moveBackstop(deps, dueGrant(now)).catch((e) =>
        deps.logger.warn({ grantId: grant.grantId, err: describeError(e) }, 'backstop not moved back'),
      );
    throw new RefusedError({
      code: 'GRANT_CHANGED',
      message: `Grant ${grant.grantId} changed at the same moment (it may have just expired); check /sg-whitelist list and try again.`,
    });
  }
  if (updated.ruleId) {
    // The table is the truth; the rule's label only helps people reading the console.
    await deps.ec2
      .relabelRule(
        awsTargetOf(updated),
        updated.groupId,
        updated.ruleId,
        grantDescription(updated.grantId, updated.userName, expiresAt),
        grantTags(updated),
      )
      .catch((error) =>
        deps.logger.warn({ grantId: grant.grantId, err: describeError(error) }, 'rule label not updated'),
      );
  }
  return updated;
}

/**
 * Extends the owner's ACTIVE grant by `seconds` (from its current expiry; the target's default when
 * null), never past the target's longest duration from now. `capped` (the Extend button) shortens an
 * extension that would go past it.
 */
export async function extendGrant(
  deps: GrantDeps,
  grantId: string,
  person: Person,
  seconds: number | null,
  options: { capped?: boolean } = {},
): Promise<GrantItem> {
  const grant = await loadGrant(deps, grantId);
  const ruling = await mayExtend(deps, grant, person);
  if (!ruling.ok) throw await refuse(deps, grantId, 'extend', person, ruling.refusal);
  const now = deps.clock();
  const plan = planExtension(ruling.value, grant, seconds, now, options.capped ?? false);
  if ('refusal' in plan) throw await refuse(deps, grantId, 'extend', person, plan.refusal);
  return setExpiry(deps, grant, plan.expiresAt, personActor(person), now);
}
