import type { DecisionDeps } from '../decisions/deps';
import { refuse } from '../decisions/requests';
import { type RevokeResult, revokeViolation } from '../decisions/revoke';
import { type DecisionRefusal, MAX_JUSTIFICATION } from '../decisions/states';
import { checkRevoke } from '../decisions/who-may';
import { keys, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import { mapSettled } from '../kernel/sweep';
import { approversFor } from '../routing/routes';
import { describeError } from '../shared/errors';
import type { Person } from '../shared/people';
import type { MessageRef } from '../shared/ports';
import { loadAlertView, refreshAlertMessage } from '../violations/alerts';
import type { ViolationItem } from '../violations/items';
import { askSummary, loadAskView, pendingOf } from './ask';
import type { AskDeps } from './deps';
import type { AskItem } from './items';

/** What answering the direct message works with: deciding, and talking to the author. */
export type AnswerDeps = DecisionDeps & AskDeps;

export type AnswerResult =
  | { ok: true; ask: AskItem; revoked: RevokeResult[] }
  | { ok: false; refusal: DecisionRefusal };

const ID = /^[\w:.-]{1,100}$/;

/**
 * Checks an answer against the table, never against the button: the alert was asked about, the person
 * pressing is the one it was sent to, the press came from that very message, and the ask is in a state
 * that takes this answer. Refusals are audited on the alert.
 */
async function checkAnswer(
  deps: AnswerDeps,
  person: Person,
  alertId: string | null,
  message: MessageRef | null,
  action: 'actor-revoke' | 'actor-need',
  takes: readonly AskItem['status'][],
): Promise<AskItem | DecisionRefusal> {
  const subject = {
    id: alertId && ID.test(alertId) ? alertId : person.id,
    type: alertId ? 'alert' : 'request',
  } as const;
  const no = (refusal: DecisionRefusal, fromState: string | null = null) =>
    refuse(deps, person, subject, action, refusal, { fromState });
  const ask = alertId && ID.test(alertId) ? await deps.store.get<AskItem>(keys.ask(alertId)) : null;
  if (!ask?.channel || !ask.ts)
    return no({
      code: 'NOT_FOUND',
      message: 'sg-warden did not ask about this change, so nothing was changed.',
    });
  if (ask.user !== person.id)
    return no(
      {
        code: 'NOT_YOURS',
        message:
          'This message was sent to the person who made the change, not to you, so nothing was changed.',
      },
      ask.status,
    );
  if (message?.channel !== ask.channel || message.ts !== ask.ts)
    return no(
      {
        code: 'WRONG_MESSAGE',
        message: 'That button does not belong to this message, so nothing was changed.',
      },
      ask.status,
    );
  if (!takes.includes(ask.status)) {
    const refusal: DecisionRefusal =
      ask.status === 'REVOKED'
        ? { code: 'ALREADY_DECIDED', message: 'You already revoked this change.' }
        : {
            code: 'ALREADY_ANSWERED',
            message: 'You already told the approvers why you need it; they decide now.',
          };
    return no(refusal, ask.status);
  }
  return ask;
}

function isRefusal(value: AskItem | DecisionRefusal): value is DecisionRefusal {
  return 'code' in value;
}

/** Moves the ask to its answer (audited on the alert); null when another answer got there first. */
async function recordAnswer(
  deps: AnswerDeps,
  ask: AskItem,
  person: Person,
  to: 'NEEDED' | 'REVOKED',
  extra: { justification?: string; details: Record<string, unknown> },
): Promise<AskItem | null> {
  const at = deps.clock().toISOString();
  const answered = await tryTransition<AskItem>(
    deps.store,
    step(ask, {
      to,
      action: 'actor-answer',
      by: { type: 'slack-user', id: person.id, name: person.name },
      at,
      due: null,
      set: { answeredAt: at, ...(extra.justification ? { justification: extra.justification } : {}) },
      ...(extra.justification ? { justification: extra.justification } : {}),
      details: extra.details,
    }),
  );
  if (answered) await deps.store.patch(keys.alert(ask.alertId), { actorAsk: askSummary(answered, at) });
  return answered;
}

/** Brings the direct message up to date (its buttons go once answered); a failure is only logged. */
async function refreshAsk(deps: AnswerDeps, ask: AskItem): Promise<void> {
  if (!deps.actorNotifier || !ask.channel || !ask.ts) return;
  try {
    const view = await loadAskView(deps, ask);
    if (view) await deps.actorNotifier.updateAsk({ channel: ask.channel, ts: ask.ts }, view);
  } catch (error) {
    deps.logger.warn({ alertId: ask.alertId, err: describeError(error) }, 'direct message not updated');
  }
}

async function pendingRules(deps: AnswerDeps, alertId: string): Promise<ViolationItem[]> {
  return pendingOf((await loadAlertView(deps, alertId))?.violations ?? []);
}

/**
 * "Revoke it now" in the author's direct message: every rule of the alert still pending is revoked for
 * them (the author may always take back their own change, whatever the route's revokers), each through the
 * one conditional claim a Revoke press makes, so a click racing the clock or an approver revokes once.
 */
export async function revokeOwnChange(
  deps: AnswerDeps,
  person: Person,
  alertId: string | null,
  message: MessageRef | null,
): Promise<AnswerResult> {
  const checked = await checkAnswer(deps, person, alertId, message, 'actor-revoke', ['ASKED', 'NEEDED']);
  if (isRefusal(checked)) return { ok: false, refusal: checked };
  const subject = { id: checked.alertId, type: 'alert' } as const;
  const pending = await pendingRules(deps, checked.alertId);
  for (const v of pending) {
    const refusal = await checkRevoke(deps, person, v);
    if (refusal) return { ok: false, refusal: await refuse(deps, person, subject, 'actor-revoke', refusal) };
  }
  if (pending.length === 0) {
    await refreshAsk(deps, checked);
    const refusal: DecisionRefusal = {
      code: 'ALREADY_DECIDED',
      message: 'Every rule of this change is already decided.',
    };
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'actor-revoke', refusal, { fromState: checked.status }),
    };
  }
  const revoked: RevokeResult[] = [];
  await mapSettled(pending, 4, async (v) => {
    revoked.push(
      await revokeViolation(deps, v.violationId, { type: 'slack-user', ...person }, { refresh: false }),
    );
  });
  const answered = await recordAnswer(deps, checked, person, 'REVOKED', {
    details: {
      answer: 'revoke',
      outcomes: Object.fromEntries(revoked.map((r) => [r.violationId, r.outcome])),
    },
  });
  await refreshAlertMessage(deps, checked.alertId);
  const now = answered ?? (await deps.store.get<AskItem>(keys.ask(checked.alertId))) ?? checked;
  await refreshAsk(deps, now);
  return { ok: true, ask: now, revoked };
}

/**
 * "I need it" in the author's direct message, with their reason: recorded (ASKED → NEEDED, the reason in
 * the audit entry), shown on the alert, posted in the alert's thread to its approvers (the route's, or
 * decisions.approvers, mentioned). It keeps nothing: an approver still decides, and the author can never
 * keep their own change.
 */
export async function needOwnChange(
  deps: AnswerDeps,
  person: Person,
  alertId: string | null,
  message: MessageRef | null,
  justification: string,
): Promise<AnswerResult> {
  const text = justification.trim();
  if (text.length === 0 || text.length > MAX_JUSTIFICATION) {
    const refusal: DecisionRefusal = {
      code: 'BAD_INPUT',
      message:
        text.length === 0
          ? 'Say why you need this change: the approvers read it.'
          : `The reason is longer than ${MAX_JUSTIFICATION} characters.`,
    };
    return {
      ok: false,
      refusal: await refuse(deps, person, { id: person.id, type: 'request' }, 'actor-need', refusal),
    };
  }
  const checked = await checkAnswer(deps, person, alertId, message, 'actor-need', ['ASKED']);
  if (isRefusal(checked)) return { ok: false, refusal: checked };
  const subject = { id: checked.alertId, type: 'alert' } as const;
  const pending = await pendingRules(deps, checked.alertId);
  if (pending.length === 0) {
    await refreshAsk(deps, checked);
    const refusal: DecisionRefusal = {
      code: 'ALREADY_DECIDED',
      message: 'Every rule of this change is already decided.',
    };
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'actor-need', refusal, {
        fromState: checked.status,
        justification: text,
      }),
    };
  }
  const approvers = approversFor(deps.config, pending[0]!);
  const answered = await recordAnswer(deps, checked, person, 'NEEDED', {
    justification: text,
    details: { answer: 'need', approvers },
  });
  if (!answered) {
    const refusal: DecisionRefusal = {
      code: 'ALREADY_ANSWERED',
      message: 'This change was answered meanwhile.',
    };
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'actor-need', refusal, {
        fromState: checked.status,
        justification: text,
      }),
    };
  }
  await refreshAlertMessage(deps, checked.alertId);
  const alert = (await loadAlertView(deps, checked.alertId))?.alert;
  if (deps.actorNotifier && alert?.channel && alert.ts) {
    try {
      await deps.actorNotifier.postNeed(
        { channel: alert.channel, ts: alert.ts },
        { user: person.id, justification: text, approvers },
      );
    } catch (error) {
      // On the alert and in the audit already: the thread post is a notice.
      deps.logger.warn({ alertId: checked.alertId, err: describeError(error) }, 'need notice not posted');
    }
  }
  await refreshAsk(deps, answered);
  return { ok: true, ask: answered, revoked: [] };
}
