import { alertThread, armBackstop, disarmBackstop, tellBackstop } from '../backstop/backstop';
import { dueViolation } from '../backstop/plan';
import { tryTransition } from '../kernel/state';
import type { Person } from '../shared/people';
import type { MessageRef } from '../shared/ports';
import { refreshAlertMessage } from '../violations/alerts';
import type { ExceptionItem, ViolationItem } from '../violations/items';
import { currentViolation, type DecisionDeps } from './deps';
import { planKeep } from './plans';
import {
  type DecisionTarget,
  isRefusal,
  isWholeAlert,
  refreshResolvedMessage,
  refuse,
  resolveTarget,
  subjectOf,
} from './requests';
import { alreadyDecided, type DecisionRefusal, targetOf } from './states';
import {
  checkJustification,
  checkKeep,
  keepChoices,
  mayKeepPermanently,
  permanentNotAllowed,
} from './who-may';

export type KeepResult =
  | { ok: true; violation: ViolationItem; exception: ExceptionItem }
  | { ok: false; refusal: DecisionRefusal; violation: ViolationItem | null };

/**
 * Keeps one violating rule: PENDING → KEPT (justification, until when, by whom) and, in the same
 * transaction, an ACTIVE exception for that exact rule (due to expire, or permanent), so later events
 * about the rule raise nothing. An earlier, expired exception for the same rule is replaced. Checks
 * approvers, self-approval and the allowed durations; every refusal is audited. The request's binding to
 * its alert message is the caller's to check (keepForPerson does, before any keep).
 */
export async function keepViolation(
  deps: DecisionDeps,
  violationId: string,
  person: Person,
  justification: string,
  durationSeconds: number | null,
  options: { refresh?: boolean } = {},
): Promise<KeepResult> {
  const text = justification.trim();
  const subject = { id: violationId, type: 'violation' as const };
  const v = await currentViolation(deps, violationId);
  if (!v) {
    const unknown: DecisionRefusal = {
      code: 'NOT_FOUND',
      message: 'sg-warden does not know the rule this button refers to, so nothing was changed.',
    };
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'keep', unknown, { justification: text }),
      violation: null,
    };
  }
  const refusal = checkJustification(text) ?? (await checkKeep(deps, person, v, durationSeconds));
  if (refusal) {
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'keep', refusal, {
        fromState: v.status,
        justification: text,
      }),
      violation: v,
    };
  }
  // The backstop goes first: a kept rule must never be revoked by a stale schedule. When it cannot be
  // deleted the rule is not kept: it stays pending (its deadline runs), and the thread says why.
  const disarmed = dueViolation(v)
    ? await disarmBackstop(deps, { kind: 'violation', id: v.violationId, target: targetOf(v) })
    : ({ ok: true, existed: false } as const);
  if (!disarmed.ok) {
    const notRemoved: DecisionRefusal = {
      code: 'BACKSTOP_NOT_REMOVED',
      message: `The rule was not kept: its backstop schedule (which revokes it after the deadline) could not be deleted (${disarmed.error}). It stays pending; try Keep again.`,
    };
    await tellBackstop(
      deps,
      await alertThread(deps, v.alertId),
      `:warning: Keep by ${person.name} not recorded for ${v.violationId}: the backstop schedule could not be deleted (${disarmed.error}). The rule stays pending and is revoked at its deadline unless kept again.`,
    );
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'keep', notRemoved, {
        fromState: v.status,
        justification: text,
      }),
      violation: v,
    };
  }
  const { transition, exception } = planKeep(v, person, text, durationSeconds, deps.clock());
  const after = await tryTransition<ViolationItem>(deps.store, transition);
  if (!after) {
    const now = await currentViolation(deps, violationId);
    // Not kept after all (another decision won): a rule still waiting for its deadline gets its backstop back.
    if (now && (now.status === 'PENDING' || now.status === 'REVOKE_RETRY') && disarmed.existed)
      await armBackstop(deps, dueViolation(now), await alertThread(deps, now.alertId));
    const conflict: DecisionRefusal =
      now && now.status !== 'PENDING'
        ? { code: 'ALREADY_DECIDED', message: alreadyDecided(now) }
        : {
            code: 'ALREADY_KEPT',
            message: 'This exact rule is already kept by another decision, so nothing was changed.',
          };
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'keep', conflict, {
        fromState: now?.status ?? null,
        justification: text,
      }),
      violation: now,
    };
  }
  if (options.refresh !== false) await refreshAlertMessage(deps, v.alertId);
  return { ok: true, violation: after, exception };
}

export type KeepPreparation =
  | { refusal: DecisionRefusal }
  | {
      violations: ViolationItem[];
      choices: (number | null)[];
      /** The alert the rules belong to (checked against the message): the dialog's binding names it. */
      alertId: string | null;
    };

/** The rules a Keep is about: every pending rule of an alert, or the rules named. */
function chosenRules(target: DecisionTarget | null, violations: ViolationItem[]): ViolationItem[] {
  return target && isWholeAlert(target) ? violations.filter((v) => v.status === 'PENDING') : violations;
}

/**
 * Checks a Keep dialog as it opens (after it is shown): the IDs belong to the message, the person may
 * keep them, nobody decided them yet; and which durations to offer. Refusals are audited.
 */
export async function prepareKeep(
  deps: DecisionDeps,
  person: Person,
  target: DecisionTarget | null,
  message: MessageRef | null,
): Promise<KeepPreparation> {
  const subject = subjectOf(target, person);
  const resolved = await resolveTarget(deps, target, message);
  if (isRefusal(resolved)) return { refusal: await refuse(deps, person, subject, 'keep', resolved) };
  const chosen = chosenRules(target, resolved.violations);
  if (chosen.length === 0) {
    return {
      refusal: await refuse(deps, person, subject, 'keep', {
        code: 'ALREADY_DECIDED',
        message: 'Every rule of this alert is already decided.',
      }),
    };
  }
  for (const v of chosen) {
    const refusal = await checkKeep(deps, person, v, undefined);
    if (refusal) {
      return {
        refusal: await refuse(deps, person, { id: v.violationId, type: 'violation' }, 'keep', refusal, {
          fromState: v.status,
        }),
      };
    }
  }
  return {
    violations: chosen,
    choices: keepChoices(deps, chosen),
    alertId: resolved.alert?.alertId ?? null,
  };
}

export interface PersonKeepResult {
  refused: DecisionRefusal | null;
  results: KeepResult[];
}

/**
 * A person submitted the Keep dialog for one rule or for every pending rule of an alert. Checks that the
 * dialog is bound to the alert message it was opened from and that a permanent keep is allowed for every
 * rule before keeping any.
 */
export async function keepForPerson(
  deps: DecisionDeps,
  person: Person,
  target: DecisionTarget | null,
  message: MessageRef | null,
  justification: string,
  durationSeconds: number | null,
): Promise<PersonKeepResult> {
  const subject = subjectOf(target, person);
  const resolved = await resolveTarget(deps, target, message);
  if (isRefusal(resolved))
    return { refused: await refuse(deps, person, subject, 'keep', resolved, { justification }), results: [] };
  const chosen = chosenRules(target, resolved.violations);
  if (chosen.length === 0) {
    const refusal: DecisionRefusal = {
      code: 'ALREADY_DECIDED',
      message:
        resolved.violations.length === 1
          ? alreadyDecided(resolved.violations[0]!)
          : 'Every rule of this alert is already decided.',
    };
    return { refused: await refuse(deps, person, subject, 'keep', refusal, { justification }), results: [] };
  }
  const notPermanent = [
    ...new Set(chosen.filter((v) => !mayKeepPermanently(deps, v)).map((v) => v.severity)),
  ];
  if (durationSeconds === null && notPermanent.length > 0) {
    const refusal = permanentNotAllowed(deps, notPermanent);
    return { refused: await refuse(deps, person, subject, 'keep', refusal, { justification }), results: [] };
  }
  const results: KeepResult[] = [];
  for (const v of chosen) {
    results.push(
      await keepViolation(deps, v.violationId, person, justification, durationSeconds, { refresh: false }),
    );
  }
  // A Keep refused for every rule changed nothing: the message stays as it is.
  if (results.some((r) => r.ok)) await refreshResolvedMessage(deps, resolved);
  return { refused: null, results };
}
