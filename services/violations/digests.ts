import { randomUUID } from 'node:crypto';
import { SYSTEM_ACTOR } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import { describeError, RateLimitedError } from '../shared/errors';
import type { MessageRef } from '../shared/ports';
import { type AlertDeps, POST_LEASE_SECONDS, type PostOutcome, recordPosted } from './alerts';
import { type BacklogGroup, type WaitingAlert, withVisibleDeadlines, worstFirst } from './digest-plan';
import { loadDigestView, refreshDigestMessageOutcome } from './digest-refresh';
import type { AlertItem, DigestItem } from './items';
import type { DigestView } from './ports';

/**
 * Posting digests: one message for many alerts of a burst. The digest item is created already claimed
 * (POSTING, with a lease) before any alert joins it, each alert joins by a conditional write (so an alert
 * is in one message only), and the alerts learn the message before the digest is marked POSTED. A poster
 * that dies anywhere in between leaves a claim whose lease runs out: a sweep takes it over, looks for the
 * message in the channel first (so nothing is posted twice) and finishes the work.
 */

const MAX_BACKOFF_SECONDS = 900;
/** Not seen by people for so long while carried by an unposted digest: a sweep looks at the alert. */
export const CARRIED_CHECK_SECONDS = 4 * POST_LEASE_SECONDS;
/** How far before a post of unknown outcome sg-warden looks for its message (clocks differ a little). */
const LOOKBACK_SECONDS = 60;

/**
 * Creates a digest for `carried` (claimed by this caller) and lets each alert join it while it is still
 * waiting. Returns the claimed digest, or null when no alert joined (the digest is then EMPTY).
 */
export async function startDigest(
  deps: AlertDeps,
  channel: string,
  group: Pick<BacklogGroup, 'principal' | 'region'>,
  carried: readonly WaitingAlert[],
): Promise<DigestItem | null> {
  const now = deps.clock();
  const digestId = `digest-${randomUUID()}`;
  const digest: DigestItem = {
    ...keys.digest(digestId),
    type: 'digest',
    status: 'POSTING',
    version: 1,
    digestId,
    channel,
    principal: group.principal,
    region: group.region,
    alertIds: carried.map((c) => c.alert.alertId),
    violationIds: worstFirst(carried.flatMap((c) => c.violations)).map((v) => v.violationId),
    notifyAttempts: 0,
    createdAt: now.toISOString(),
    dueKind: 'NOTIFY',
    dueAt: plusSeconds(now, POST_LEASE_SECONDS),
  };
  if (!(await deps.store.createAll([digest as unknown as Record<string, unknown>], []))) return null;
  const joined = await Promise.all(
    carried.map((c) =>
      tryTransition<AlertItem>(deps.store, {
        key: keys.alert(c.alert.alertId),
        from: ['UNNOTIFIED'],
        to: 'POSTING',
        set: { digestId },
        // A safety net: should the digest never carry it, a sweep hands the alert back (checkCarriedAlert).
        due: { kind: 'NOTIFY', at: plusSeconds(now, CARRIED_CHECK_SECONDS) },
        audit: null,
      }),
    ),
  );
  if (joined.some((j) => j !== null)) return digest;
  await tryTransition(deps.store, {
    key: keys.digest(digestId),
    from: ['POSTING'],
    to: 'EMPTY',
    due: null,
    audit: null,
  });
  return null;
}

/**
 * Posts a digest's message once: claims it (UNNOTIFIED → POSTING; `staleClaim` takes over a POSTING
 * claim whose lease ran out, at the version seen), or goes on with the claim `claimed` just made by
 * startDigest. A post of unknown outcome is looked for in the channel before posting again. On a rate
 * limit the digest waits as long as Slack asks; on another failure it backs off, like an alert.
 */
export async function postDigestOutcome(
  deps: AlertDeps,
  digestId: string,
  options: { claimed?: DigestItem; staleClaim?: DigestItem } = {},
): Promise<PostOutcome> {
  const { store, clock, logger } = deps;
  const now = clock();
  const claimed =
    options.claimed ??
    (await tryTransition<DigestItem>(store, {
      key: keys.digest(digestId),
      from: options.staleClaim ? ['POSTING'] : ['UNNOTIFIED'],
      ...(options.staleClaim ? { expectVersion: options.staleClaim.version } : {}),
      to: 'POSTING',
      due: { kind: 'NOTIFY', at: plusSeconds(now, POST_LEASE_SECONDS) },
      audit: null,
    }));
  if (!claimed) return 'not-claimable';
  const view = await loadDigestView(deps, digestId);
  if (!view || !deps.notifier.postDigest) return 'not-claimable';
  if (view.alerts.length === 0) {
    await tryTransition(store, {
      key: keys.digest(digestId),
      from: ['POSTING'],
      to: 'EMPTY',
      due: null,
      audit: null,
    });
    return 'not-claimable';
  }
  const uncertainSince =
    claimed.postUncertainSince ??
    (options.staleClaim?.dueAt ? plusSeconds(options.staleClaim.dueAt, -POST_LEASE_SECONDS) : null);
  if (uncertainSince && deps.notifier.findDigest) {
    const found = await deps.notifier
      .findDigest(claimed.channel, digestId, plusSeconds(uncertainSince, -LOOKBACK_SECONDS))
      .catch((error) => {
        logger.warn(
          { digestId, err: describeError(error) },
          'could not look for an earlier digest post; posting',
        );
        return null;
      });
    if (found) {
      await finishDigest(deps, view, found, { adopted: true });
      logger.info({ digestId, ts: found.ts }, 'digest was already posted; adopted its message');
      await refreshDigestMessageOutcome(deps, digestId);
      return 'posted';
    }
  }
  try {
    const postedAt = clock().toISOString();
    const ref = await deps.notifier.postDigest(claimed.channel, {
      ...view,
      violations: withVisibleDeadlines(view.violations, postedAt),
    });
    await finishDigest(deps, view, ref, { postedAt });
    logger.info(
      {
        digestId,
        channel: ref.channel,
        ts: ref.ts,
        alerts: view.alerts.length,
        violations: view.violations.length,
      },
      'digest posted',
    );
    return 'posted';
  } catch (error) {
    const limited = error instanceof RateLimitedError;
    const attempts = limited ? claimed.notifyAttempts : claimed.notifyAttempts + 1;
    const wait = limited
      ? error.retryAfterSeconds + Math.random() * 2
      : backoffSeconds(attempts, 30, MAX_BACKOFF_SECONDS);
    logger.warn({ digestId, attempts, err: describeError(error) }, 'digest not posted; will retry');
    await store.transition(
      step(claimed, {
        to: 'UNNOTIFIED',
        from: ['POSTING'],
        anyVersion: true,
        action: 'notify',
        by: SYSTEM_ACTOR,
        at: clock().toISOString(),
        due: { kind: 'NOTIFY', at: plusSeconds(clock(), wait) },
        // Only a rate limit says for sure that Slack did not post it.
        set: limited
          ? { ...(uncertainSince ? { postUncertainSince: uncertainSince } : {}) }
          : {
              notifyAttempts: attempts,
              notifyError: describeError(error),
              postUncertainSince: uncertainSince ?? now.toISOString(),
            },
        ...(limited ? { unaudited: true } : { result: 'error' as const, error: describeError(error) }),
      }),
    );
    return limited ? 'rate-limited' : 'failed';
  }
}

/**
 * The digest's message is in the channel: each alert it carries learns the message (POSTED, its audit
 * entry naming the digest; late deadlines move), then the digest is POSTED with the lines it shows.
 */
async function finishDigest(
  deps: AlertDeps,
  view: DigestView,
  ref: MessageRef,
  how: { adopted?: boolean; postedAt?: string },
): Promise<void> {
  const { digest } = view;
  const finished = await Promise.allSettled(
    view.alerts
      .filter((a) => a.status === 'POSTING')
      .map((a) =>
        recordPosted(deps, a, ref, {
          digestId: digest.digestId,
          ...(how.adopted ? { adopted: true } : {}),
          ...(how.postedAt ? { postedAt: how.postedAt } : {}),
        }),
      ),
  );
  for (const f of finished)
    if (f.status === 'rejected')
      deps.logger.warn(
        { digestId: digest.digestId, err: describeError(f.reason) },
        'alert of a digest not recorded',
      );
  const at = deps.clock().toISOString();
  await tryTransition(
    deps.store,
    step(digest, {
      to: 'POSTED',
      from: ['POSTING'],
      anyVersion: true,
      action: 'notify',
      by: SYSTEM_ACTOR,
      at,
      due: null,
      set: {
        channel: ref.channel,
        ts: ref.ts,
        postedAt: how.postedAt ?? at,
        notifyAttempts: digest.notifyAttempts + 1,
        alertIds: view.alerts.map((a) => a.alertId),
        violationIds: view.violations.map((v) => v.violationId),
      },
      remove: ['notifyError', 'postUncertainSince'],
      details: {
        channel: ref.channel,
        ts: ref.ts,
        principal: digest.principal,
        region: digest.region,
        alerts: view.alerts.map((a) => a.alertId),
        violations: view.violations.length,
        ...(how.adopted
          ? { note: 'an earlier post reached Slack after all: its message was kept, not posted again' }
          : {}),
      },
    }),
  );
}

/**
 * NOTIFY for an alert a digest claimed that is still not posted after a long while (the safety net): while
 * its digest is still being posted it waits longer; when the digest was posted with it (its poster died
 * before the alert learnt it) it is recorded as posted there; otherwise it goes back to waiting.
 */
export async function checkCarriedAlert(deps: AlertDeps, alert: AlertItem): Promise<void> {
  if (alert.status !== 'POSTING' || !alert.digestId) return;
  const digest = await deps.store.get<DigestItem>(keys.digest(alert.digestId));
  const now = deps.clock();
  if (digest && (digest.status === 'POSTING' || digest.status === 'UNNOTIFIED')) {
    await deps.store.patch(
      keys.alert(alert.alertId),
      {},
      {
        kind: 'NOTIFY',
        at: plusSeconds(now, CARRIED_CHECK_SECONDS),
      },
    );
    return;
  }
  if (digest?.status === 'POSTED' && digest.ts && digest.alertIds.includes(alert.alertId)) {
    await recordPosted(
      deps,
      alert,
      { channel: digest.channel, ts: digest.ts },
      {
        digestId: digest.digestId,
        adopted: true,
      },
    );
    await refreshDigestMessageOutcome(deps, digest.digestId);
    return;
  }
  await tryTransition(deps.store, {
    key: keys.alert(alert.alertId),
    from: ['POSTING'],
    expectVersion: alert.version,
    to: 'UNNOTIFIED',
    remove: ['digestId'],
    due: { kind: 'NOTIFY', at: now.toISOString() },
    audit: null,
  });
}
