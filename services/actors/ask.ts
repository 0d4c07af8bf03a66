import { type AuditEntry, auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys } from '../kernel/state';
import { step } from '../kernel/step';
import { describeError } from '../shared/errors';
import type { Actor } from '../shared/model';
import { loadAlertView } from '../violations/alerts';
import type { ActorAskSummary, ViolationItem } from '../violations/items';
import type { AskDeps } from './deps';
import type { AskItem } from './items';
import type { AskView } from './ports';
import { type ActorResolution, mayResolve, resolveActor } from './resolve';

/** What asking an alert's author came to. */
export type AskOutcome =
  /** decisions.askActor is off, or nothing sends DMs here. */
  | 'off'
  /** Nothing left to ask about (no such alert, or nothing pending). */
  | 'nothing-pending'
  /** The author is not known as a Slack user (no map entry, no e-mail name). */
  | 'unknown'
  /** Already asked (a re-delivered event, a second caller). */
  | 'already'
  | 'asked'
  | 'failed';

/** The alert's view for the direct message: the rules as they are now and the channel the alert is in. */
export async function loadAskView(deps: AskDeps, ask: AskItem): Promise<AskView | null> {
  const view = await loadAlertView(deps, ask.alertId);
  if (!view) return null;
  return {
    ask,
    alert: view.alert,
    violations: view.violations,
    accountAlias: view.accountAlias,
    channel: view.alert.channel ?? deps.config.slack.alertChannel,
    now: view.now,
  };
}

/** What the alert shows of the ask (display only: the ask item is what answers are checked against). */
export function askSummary(ask: AskItem, at: string): ActorAskSummary {
  return {
    user: ask.user,
    status: ask.status === 'SENDING' ? 'ASKED' : ask.status,
    at,
    ...(ask.justification ? { justification: ask.justification } : {}),
  };
}

function failure(resolution: Exclude<ActorResolution, { kind: 'found' | 'none' }>): string {
  return resolution.kind === 'not-found'
    ? `no Slack user has the e-mail address ${resolution.email}`
    : `Slack could not look up ${resolution.email}: ${resolution.error}`;
}

/**
 * Asks the person who made an alert's change, by direct message, what they want done: once per alert
 * (the ask item is created only if none exists), only while some rule is still pending, and only when
 * `decisions.askActor` is on and they are a known Slack user (resolve.ts). Before the message goes out, the
 * violations learn who made them (`actorUser`), so that person can never keep them. A lookup that finds
 * nobody, or a message Slack refuses (DMs closed, no such user), is logged and audited (`ask-actor`,
 * result `error`) and changes nothing else. Never throws: the alert never waits on it or fails by it.
 */
export async function askActor(deps: AskDeps, alertId: string, actor?: Actor): Promise<AskOutcome> {
  // The author as the caller knows it (detection, from the event): nobody to ask means nothing to read.
  if (actor && deps.config.decisions.askActor && deps.actorNotifier && !mayResolve(deps, actor))
    return 'unknown';
  try {
    return await ask(deps, alertId);
  } catch (error) {
    deps.logger.warn({ alertId, err: describeError(error) }, 'change author not asked');
    return 'failed';
  }
}

async function ask(deps: AskDeps, alertId: string): Promise<AskOutcome> {
  const { store, clock, logger } = deps;
  if (!deps.config.decisions.askActor || !deps.actorNotifier) return 'off';
  const view = await loadAlertView(deps, alertId);
  const pending = view?.violations.filter((v) => v.status === 'PENDING') ?? [];
  if (!view || pending.length === 0) return 'nothing-pending';
  if (await store.get<AskItem>(keys.ask(alertId))) return 'already';
  const resolution = await resolveActor(deps, view.alert.actor);
  if (resolution.kind === 'none') return 'unknown';
  const now = clock().toISOString();
  const base = {
    ...keys.ask(alertId),
    type: 'ask' as const,
    version: 1,
    alertId,
    createdAt: now,
  };
  if (resolution.kind !== 'found') {
    const error = failure(resolution);
    const item: AskItem = { ...base, status: 'FAILED', user: '', via: 'email', error };
    const created = await store.createAll(
      [item as unknown as Record<string, unknown>],
      [askAudit(alertId, 'FAILED', now, { error, details: { via: 'email', email: resolution.email } })],
    );
    if (created) logger.warn({ alertId, err: error }, 'change author not asked: lookup failed');
    return created ? 'failed' : 'already';
  }
  const sending: AskItem = { ...base, status: 'SENDING', user: resolution.user, via: resolution.via };
  if (!(await store.createAll([sending as unknown as Record<string, unknown>], []))) return 'already';
  // Known now: the author may revoke and may never keep these rules, whatever happens to the message.
  await Promise.allSettled(
    view.violations.map((v) => store.patch(keys.violation(v.violationId), { actorUser: resolution.user })),
  );
  const askView = await loadAskView(deps, sending);
  const details = { user: resolution.user, via: resolution.via, channel: view.alert.channel ?? null };
  try {
    if (!askView) throw new Error('the alert is gone');
    const ref = await deps.actorNotifier.ask(resolution.user, askView);
    const asked = await store.transition<AskItem>(
      step(sending, {
        to: 'ASKED',
        action: 'ask-actor',
        by: SYSTEM_ACTOR,
        at: clock().toISOString(),
        due: null,
        set: { channel: ref.channel, ts: ref.ts },
        details: { ...details, dm: ref.channel },
      }),
    );
    await store.patch(keys.alert(alertId), { actorAsk: askSummary(asked, asked.createdAt) });
    logger.info({ alertId, slackUser: resolution.user, via: resolution.via }, 'change author asked');
    return 'asked';
  } catch (error) {
    const err = describeError(error);
    logger.warn({ alertId, slackUser: resolution.user, err }, 'change author not asked: message failed');
    await store.transition(
      step(sending, {
        to: 'FAILED',
        action: 'ask-actor',
        by: SYSTEM_ACTOR,
        at: clock().toISOString(),
        due: null,
        set: { error: err },
        result: 'error',
        error: err,
        details,
      }),
    );
    return 'failed';
  }
}

function askAudit(
  alertId: string,
  toState: AskItem['status'],
  at: string,
  extra: { error?: string; details?: Record<string, unknown> },
): AuditEntry {
  return auditEntry({ id: alertId, type: 'alert' }, SYSTEM_ACTOR, {
    action: 'ask-actor',
    fromState: null,
    toState,
    result: extra.error ? 'error' : 'ok',
    at,
    ...(extra.error ? { error: extra.error } : {}),
    ...(extra.details ? { details: extra.details } : {}),
  });
}

/** The pending rules of an alert's view. */
export function pendingOf(violations: ViolationItem[]): ViolationItem[] {
  return violations.filter((v) => v.status === 'PENDING');
}
