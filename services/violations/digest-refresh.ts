import type { Config } from '../config/config';
import { keys, type StateStore, tryTransition } from '../kernel/state';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import { describeError, RateLimitedError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { AlertItem, DigestItem, ViolationItem } from './items';
import type { AlertNotifier, DigestView } from './ports';

/** What a digest's posting and refreshing work with (the same as an alert's). */
export interface DigestDeps {
  store: StateStore;
  notifier: AlertNotifier;
  config: Config;
  clock: () => Date;
  logger: Logger;
}

/** What one attempt to bring a message up to date came to: a sweep paces its updates by it. */
export type UpdateOutcome = 'updated' | 'failed' | 'rate-limited';

const MAX_BACKOFF_SECONDS = 900;
/** Failed updates retried by sweeps before the message is left as it is (about a day), as for an alert. */
const MAX_REFRESH_ATTEMPTS = 12;

/**
 * A digest with what it shows now: the alerts that joined it (claimed it and were not taken back) and
 * their violations in the digest's order (any not in that order yet at the end, worst first as planned).
 */
export async function loadDigestView(deps: DigestDeps, digestId: string): Promise<DigestView | null> {
  const digest = await deps.store.get<DigestItem>(keys.digest(digestId));
  if (!digest) return null;
  const alerts = (
    await Promise.all(digest.alertIds.map((id) => deps.store.get<AlertItem>(keys.alert(id))))
  ).filter(
    (a): a is AlertItem =>
      a !== null && a.digestId === digestId && (a.status === 'POSTING' || a.status === 'POSTED'),
  );
  const carried = new Set(alerts.flatMap((a) => a.violationIds));
  const order = [
    ...digest.violationIds.filter((id) => carried.has(id)),
    ...[...carried].filter((id) => !digest.violationIds.includes(id)),
  ];
  const violations = (
    await Promise.all(order.map((id) => deps.store.get<ViolationItem>(keys.violation(id))))
  ).filter((v): v is ViolationItem => v !== null);
  const accountAliases: Record<string, string> = {};
  for (const a of alerts) {
    const alias = deps.config.accounts.aliases[a.account];
    if (alias) accountAliases[a.account] = alias;
  }
  return { digest, alerts, violations, accountAliases, now: deps.clock() };
}

/**
 * Re-renders a posted digest's message from the current state of its violations (deciding one line
 * updates that line in place: the rest of the message is rendered the same), again when a violation
 * changed meanwhile. When Slack refuses, the digest is made due (NOTIFY) so a sweep updates it later: at
 * Slack's Retry-After for a rate limit, backing off otherwise.
 */
export async function refreshDigestMessageOutcome(
  deps: DigestDeps,
  digestId: string,
): Promise<UpdateOutcome> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const view = await loadDigestView(deps, digestId);
    const { digest } = view ?? {};
    if (!view || !digest || digest.status !== 'POSTED' || !digest.ts || !deps.notifier.updateDigest)
      return 'updated';
    const versions = view.violations.map((v) => v.version).join(',');
    try {
      await deps.notifier.updateDigest({ channel: digest.channel, ts: digest.ts }, view);
    } catch (error) {
      deps.logger.warn({ digestId, err: describeError(error) }, 'digest message not updated');
      await scheduleDigestRefresh(deps, digest, error);
      return error instanceof RateLimitedError ? 'rate-limited' : 'failed';
    }
    const after = await loadDigestView(deps, digestId);
    if (!after || after.violations.map((v) => v.version).join(',') === versions) return 'updated';
  }
  return 'updated';
}

/** Keeps an update that Slack refused in the table (due NOTIFY), so no restart loses it. */
async function scheduleDigestRefresh(deps: DigestDeps, digest: DigestItem, error: unknown): Promise<void> {
  const now = deps.clock();
  const limited = error instanceof RateLimitedError;
  const attempts = limited ? (digest.refreshAttempts ?? 0) : (digest.refreshAttempts ?? 0) + 1;
  const giveUp = attempts > MAX_REFRESH_ATTEMPTS;
  const wait = limited ? error.retryAfterSeconds : backoffSeconds(attempts, 30, MAX_BACKOFF_SECONDS);
  // A transition, not a patch: its new version tells a sweep that is updating the message meanwhile not
  // to clear this mark (services/violations/message-updates.ts).
  await tryTransition(deps.store, {
    key: keys.digest(digest.digestId),
    from: ['POSTED'],
    to: 'POSTED',
    set: {
      refreshAttempts: giveUp ? 0 : attempts,
      ...(giveUp ? {} : { updatePendingSince: digest.updatePendingSince ?? now.toISOString() }),
    },
    ...(giveUp ? { remove: ['updatePendingSince'] } : {}),
    due: giveUp ? null : { kind: 'NOTIFY', at: plusSeconds(now, wait) },
    audit: null,
  }).catch((err) =>
    deps.logger.error({ digestId: digest.digestId, err: describeError(err) }, 'digest refresh not scheduled'),
  );
  if (giveUp) deps.logger.error({ digestId: digest.digestId, attempts }, 'digest message left out of date');
}
