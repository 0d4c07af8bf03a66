import { type HomeItem, homeOwnerOf } from '../home/items';
import type { AuditSubject } from '../kernel/audit';
import { recordRefusal } from '../kernel/refusal';
import { keys } from '../kernel/state';
import type { Person } from '../shared/people';
import type { MessageRef } from '../shared/ports';
import { refreshAlertMessage } from '../violations/alerts';
import { refreshDigestMessageOutcome } from '../violations/digest-refresh';
import type { AlertItem, DigestItem, ViolationItem } from '../violations/items';
import { currentViolation, type DecisionDeps } from './deps';
import type { DecisionRefusal } from './states';

/**
 * What a person asked to act on: some rules (a button on one rule; a dialog for it, which also names the
 * rule's alert once sg-warden has read it), or every pending rule of an alert (Revoke all / Keep all) —
 * or of a digest, whose act-on-all buttons name the digest where an alert's name its alert.
 */
export type DecisionTarget = { violationIds: string[]; alertId?: string } | { alertId: string };

/** The violations a request refers to, checked against stored state: never trust IDs from a payload. */
export interface ResolvedTarget {
  alert: AlertItem | null;
  violations: ViolationItem[];
  /** Set when the request was about every pending rule of a digest. */
  digest?: DigestItem;
}

/** Digest IDs start so (services/violations/digests.ts): the audit trail files a request under the digest. */
const DIGEST_PREFIX = 'digest-';

/** True when the request is about every pending rule of an alert, not about rules it names. */
export function isWholeAlert(target: DecisionTarget): target is { alertId: string } {
  return !('violationIds' in target);
}

/** What the audit trail files a refused request under: the rule, the alert, or (naming neither) the person. */
export function subjectOf(target: DecisionTarget | null, person: Person): AuditSubject {
  if (!target) return { id: person.id, type: 'request' };
  if (isWholeAlert(target))
    return { id: target.alertId, type: target.alertId.startsWith(DIGEST_PREFIX) ? 'digest' : 'alert' };
  return { id: target.violationIds[0] ?? 'unknown', type: 'violation' };
}

/** Puts a person's refused request on the audit trail (kernel refusal model) and returns the refusal. */
export async function refuse(
  deps: DecisionDeps,
  person: Person,
  subject: AuditSubject,
  action: string,
  refusal: DecisionRefusal,
  extra: { fromState?: string | null; justification?: string; details?: Record<string, unknown> } = {},
): Promise<DecisionRefusal> {
  await recordRefusal(deps, {
    subject,
    action,
    by: { type: 'slack-user', id: person.id, name: person.name },
    refusal,
    ...(extra.fromState !== undefined ? { fromState: extra.fromState } : {}),
    ...(extra.justification ? { justification: extra.justification } : {}),
    ...(extra.details ? { details: extra.details } : {}),
  });
  return refusal;
}

export function isRefusal(value: unknown): value is DecisionRefusal {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

const ID = /^[\w:.-]{1,100}$/;

/** Whether the alert is the one whose message is `message` (its stored channel and ts). */
function isOnMessage(alert: AlertItem | null, message: MessageRef): boolean {
  return alert?.channel === message.channel && alert.ts === message.ts;
}

const UNBOUND: DecisionRefusal = {
  code: 'WRONG_MESSAGE',
  message: 'This request does not say which alert message it came from, so nothing was changed.',
};
const UNNAMED: DecisionRefusal = {
  code: 'NOT_FOUND',
  message: 'This request does not say which rules it is about, so nothing was changed.',
};

/**
 * Loads what a request refers to and checks it is bound to the alert message it came from: the message
 * (channel and ts) must be named — a payload without it is refused, never waved through — and must be the
 * stored message of the alert every named rule belongs to (and of the named alert, when one is named).
 * An unknown ID, another alert's rule (a tampered button value or dialog), or a missing binding is refused.
 */
export async function resolveTarget(
  deps: DecisionDeps,
  target: DecisionTarget | null,
  message: MessageRef | null,
): Promise<ResolvedTarget | DecisionRefusal> {
  if (!target) return UNNAMED;
  if (!message?.channel || !message.ts) return UNBOUND;
  const homeOwner = homeOwnerOf(message);
  if (homeOwner !== null) return resolveOnHome(deps, target, homeOwner, message.ts);
  const named =
    typeof target.alertId === 'string' && ID.test(target.alertId)
      ? await deps.store.get<AlertItem>(keys.alert(target.alertId))
      : null;
  if (isWholeAlert(target) && !named && ID.test(target.alertId) && target.alertId.startsWith(DIGEST_PREFIX))
    return resolveDigest(deps, target.alertId, message);
  if (isWholeAlert(target) || target.alertId !== undefined) {
    if (!named)
      return { code: 'NOT_FOUND', message: 'sg-warden does not know this alert, so nothing was changed.' };
    if (!isOnMessage(named, message))
      return {
        code: 'WRONG_MESSAGE',
        message: 'That button does not belong to this alert, so nothing was changed.',
      };
  }
  if (isWholeAlert(target)) {
    const violations = (
      await Promise.all(named!.violationIds.map((id) => currentViolation(deps, id)))
    ).filter((v): v is ViolationItem => v !== null);
    return { alert: named, violations };
  }
  const violations: ViolationItem[] = [];
  let alert: AlertItem | null = named;
  for (const id of target.violationIds) {
    const v = typeof id === 'string' && ID.test(id) ? await currentViolation(deps, id) : null;
    if (!v)
      return {
        code: 'NOT_FOUND',
        message: 'sg-warden does not know the rule this button refers to, so nothing was changed.',
      };
    if (named && v.alertId !== named.alertId)
      return {
        code: 'WRONG_MESSAGE',
        message: 'That button refers to a rule of another alert, so nothing was changed.',
      };
    if (!alert || alert.alertId !== v.alertId) alert = await deps.store.get<AlertItem>(keys.alert(v.alertId));
    if (!isOnMessage(alert, message))
      return {
        code: 'WRONG_MESSAGE',
        message: 'That button refers to a rule of another alert, so nothing was changed.',
      };
    violations.push(v);
  }
  return { alert, violations };
}

/**
 * Every rule of a digest, checked like an alert's: the digest is the one whose message this is, and each
 * rule is carried by an alert bound to that same message (a line its digest lost is not decided from it).
 */
async function resolveDigest(
  deps: DecisionDeps,
  digestId: string,
  message: MessageRef,
): Promise<ResolvedTarget | DecisionRefusal> {
  const digest = await deps.store.get<DigestItem>(keys.digest(digestId));
  if (!digest)
    return { code: 'NOT_FOUND', message: 'sg-warden does not know this alert, so nothing was changed.' };
  if (digest.status !== 'POSTED' || digest.channel !== message.channel || digest.ts !== message.ts)
    return {
      code: 'WRONG_MESSAGE',
      message: 'That button does not belong to this alert, so nothing was changed.',
    };
  const alerts = new Map<string, AlertItem | null>();
  const violations: ViolationItem[] = [];
  for (const id of digest.violationIds) {
    const v = await currentViolation(deps, id);
    if (!v) continue;
    if (!alerts.has(v.alertId)) alerts.set(v.alertId, await deps.store.get<AlertItem>(keys.alert(v.alertId)));
    if (isOnMessage(alerts.get(v.alertId) ?? null, message)) violations.push(v);
  }
  return { alert: null, violations, digest };
}

/** Brings the message a resolved request was about up to date (an alert's, or a digest's). */
export async function refreshResolvedMessage(deps: DecisionDeps, resolved: ResolvedTarget): Promise<void> {
  if (resolved.digest) await refreshDigestMessageOutcome(deps, resolved.digest.digestId);
  else if (resolved.alert) await refreshAlertMessage(deps, resolved.alert.alertId);
}

/**
 * A press on a person's Home tab, bound to it as a press on an alert is bound to its message: the view
 * must be the one last published to them, and each rule one it showed with buttons (a rule decided since
 * goes on, to be answered as decided). The Home has no Revoke all / Keep all.
 */
async function resolveOnHome(
  deps: DecisionDeps,
  target: DecisionTarget,
  owner: string,
  viewId: string,
): Promise<ResolvedTarget | DecisionRefusal> {
  const home = await deps.store.get<HomeItem>(keys.home(owner));
  if (isWholeAlert(target) || !home || home.viewId !== viewId)
    return {
      code: 'WRONG_MESSAGE',
      message:
        'That button is not on your current Home tab, so nothing was changed. Open the Home tab again.',
    };
  const violations: ViolationItem[] = [];
  for (const id of target.violationIds) {
    const v = typeof id === 'string' && ID.test(id) ? await currentViolation(deps, id) : null;
    if (!v)
      return {
        code: 'NOT_FOUND',
        message: 'sg-warden does not know the rule this button refers to, so nothing was changed.',
      };
    if (v.status === 'PENDING' && !home.shownViolationIds.includes(v.violationId))
      return {
        code: 'WRONG_MESSAGE',
        message: 'That button refers to a rule your Home tab does not show, so nothing was changed.',
      };
    if (target.alertId !== undefined && v.alertId !== target.alertId)
      return {
        code: 'WRONG_MESSAGE',
        message: 'That button refers to a rule of another alert, so nothing was changed.',
      };
    violations.push(v);
  }
  const alert = violations[0] ? await deps.store.get<AlertItem>(keys.alert(violations[0].alertId)) : null;
  return { alert, violations };
}
