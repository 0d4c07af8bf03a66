import { auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys, type StateStore } from '../kernel/state';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { AlertItem } from '../violations/items';
import { type DueRule, planSchedule, scheduleName } from './plan';
import type { BackstopDeps, BackstopSchedule } from './ports';

/**
 * The backstop's orchestration: arm (create a due rule's schedule), move it (Extend), disarm (delete it
 * when the sweeper or a person acted first). Arming and disarming never throw: a failure is audited on the
 * item and told where people follow it, and the item is still swept as always. Moving throws, so that an
 * expiry is never recorded later than its backstop.
 */

export type ArmDeps = BackstopDeps & { store: StateStore; clock: () => Date; logger: Logger };

/** Where people follow an item: its alert thread, or a channel. */
export interface NoteWhere {
  channel: string | null;
  threadTs?: string | null;
}

/** What arming came to: armed, off (no backstop here), or failed with the reason (audited, told). */
export type ArmOutcome =
  | { kind: 'armed'; schedule: BackstopSchedule }
  | { kind: 'off' }
  | { kind: 'failed'; error: string; note: string };

async function audit(
  deps: ArmDeps,
  rule: Pick<DueRule, 'kind' | 'id'>,
  action: string,
  result: 'ok' | 'error',
  details: Record<string, unknown>,
  error?: string,
): Promise<void> {
  await deps.store
    .appendAudit(
      auditEntry({ id: rule.id, type: rule.kind }, SYSTEM_ACTOR, {
        action,
        fromState: null,
        toState: null,
        result,
        ...(error ? { error } : {}),
        details,
        at: deps.clock().toISOString(),
      }),
    )
    .catch((e: unknown) =>
      deps.logger.error(
        { err: describeError(e), subject: rule.id, action },
        'backstop audit entry not written',
      ),
    );
}

/** Tells people about a backstop; a failure to tell is logged only. */
export async function tellBackstop(deps: ArmDeps, where: NoteWhere, text: string): Promise<void> {
  const backstop = deps.backstop;
  if (!backstop) return;
  try {
    await backstop.tell({ channel: where.channel, threadTs: where.threadTs ?? null, text });
  } catch (error) {
    deps.logger.warn({ err: describeError(error) }, 'backstop note not posted');
  }
}

/**
 * Creates the schedule that revokes `rule` at its due time plus the grace. A schedule that cannot be
 * made is audited (`backstop-unarmed`) and told at `where` (`later`: the caller tells `note` once the
 * item's thread exists); the item is still swept as always.
 */
export async function armBackstop(
  deps: ArmDeps,
  rule: DueRule | null,
  where: NoteWhere | 'later',
): Promise<ArmOutcome> {
  const backstop = deps.backstop;
  if (!backstop || !rule) return { kind: 'off' };
  const schedule = planSchedule(rule, backstop.stage, backstop.graceSeconds, deps.clock());
  try {
    await backstop.schedules.put(schedule);
    deps.logger.info({ subject: rule.id, schedule: schedule.name, at: schedule.at }, 'backstop armed');
    return { kind: 'armed', schedule };
  } catch (error) {
    const reason = describeError(error);
    deps.logger.warn({ subject: rule.id, schedule: schedule.name, err: reason }, 'backstop not armed');
    await audit(
      deps,
      rule,
      'backstop-unarmed',
      'error',
      { schedule: schedule.name, at: schedule.at, ruleId: rule.ruleId },
      reason,
    );
    const note = `:warning: No backstop for ${rule.kind} ${rule.id} (rule ${rule.ruleId}): its schedule could not be created (${reason}). sg-warden's sweeper still removes the rule at ${rule.dueAt}; if sg-warden is down then, nothing else will.`;
    if (where !== 'later') await tellBackstop(deps, where, note);
    return { kind: 'failed', error: reason, note };
  }
}

/**
 * Moves the schedule to a new due time (Extend), before the new time is recorded: no grant outlives its
 * backstop. Throws when the schedule cannot be moved (the caller keeps the old expiry).
 */
export async function moveBackstop(deps: ArmDeps, rule: DueRule | null): Promise<void> {
  const backstop = deps.backstop;
  if (!backstop || !rule) return;
  const schedule = planSchedule(rule, backstop.stage, backstop.graceSeconds, deps.clock());
  await backstop.schedules.move(schedule);
  deps.logger.info({ subject: rule.id, schedule: schedule.name, at: schedule.at }, 'backstop moved');
}

/** What disarming came to: removed (or there was none), off, or failed with the reason. */
export type DisarmOutcome = { ok: true; existed: boolean } | { ok: false; error: string };

/** Deletes the item's schedule (the sweeper or a person acted first). Never throws; see `disarmOrTell`. */
export async function disarmBackstop(
  deps: ArmDeps,
  item: Pick<DueRule, 'kind' | 'id' | 'target'>,
): Promise<DisarmOutcome> {
  const backstop = deps.backstop;
  if (!backstop) return { ok: true, existed: false };
  const name = scheduleName(backstop.stage, item.id);
  try {
    const existed = await backstop.schedules.remove(item.target, name);
    deps.logger.info({ subject: item.id, schedule: name, existed }, 'backstop disarmed');
    return { ok: true, existed };
  } catch (error) {
    const reason = describeError(error);
    deps.logger.warn({ subject: item.id, schedule: name, err: reason }, 'backstop not disarmed');
    return { ok: false, error: reason };
  }
}

/**
 * Disarms after the item was decided (revoked, expired, resolved): a schedule left behind would fire at
 * a rule that is gone (its dead letter is reconciled) or, for a rule kept or changed meanwhile, revoke it:
 * a failure is audited and told at `where`, with the schedule's name to delete by hand. `where` may be a
 * function: then it is looked up only when there is something to tell (the usual removal reads nothing).
 */
export async function disarmOrTell(
  deps: ArmDeps,
  item: Pick<DueRule, 'kind' | 'id' | 'target'>,
  where: NoteWhere | (() => Promise<NoteWhere>),
): Promise<DisarmOutcome> {
  const outcome = await disarmBackstop(deps, item);
  if (outcome.ok || !deps.backstop) return outcome;
  const name = scheduleName(deps.backstop.stage, item.id);
  await audit(deps, item, 'backstop-not-removed', 'error', { schedule: name }, outcome.error);
  await tellBackstop(
    deps,
    typeof where === 'function' ? await where() : where,
    `:warning: The backstop schedule ${name} of ${item.kind} ${item.id} could not be deleted (${outcome.error}). If the rule is gone it fails harmlessly; if the rule was kept or changed, delete the schedule by hand (aws scheduler delete-schedule --group-name <group> --name ${name}) or it will revoke the rule.`,
  );
  return outcome;
}

/** Where people follow a violation: its alert's thread once posted, else the alert channel. */
export async function alertThread(deps: Pick<ArmDeps, 'store'>, alertId: string): Promise<NoteWhere> {
  const alert = await deps.store.get<AlertItem>(keys.alert(alertId));
  return { channel: alert?.channel ?? null, threadTs: alert?.ts ?? null };
}
