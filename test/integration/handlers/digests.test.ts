import { dueHandlers } from '../../../handlers/wiring';
import type { EmulatedMessage } from '../../../local/shared/slack-emulator-types';
import { keys, tryTransition } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import { SEVERITIES } from '../../../services/shared/model';
import type { DigestItem, PosterLeaseItem } from '../../../services/violations/items';
import type { NotifyPacing } from '../../../services/violations/post-sweep';
import {
  alertOf,
  auditOf,
  deliver,
  drain,
  type FaultSuite,
  press,
  type Raised,
  raise,
  startFaultSuite,
  submitKeep,
  violation,
} from '../../support/fault-harness';
import { ALERT_CHANNEL, baseConfig } from '../../support/handler-env';
import { APPROVER, ENGINEER } from '../../support/slack-requests';

// Digests against the Slack emulator, which enforces Slack's pace (one chat.postMessage and one
// chat.update a second per channel, 429 with Retry-After beyond it) and Block Kit's limits. Time is the
// test's: the product, the emulator and the pacing all read one clock that moves only when told, so
// nothing here depends on how fast the machine is.

let suite: FaultSuite;
let clock = Date.now();
const PRINCIPALS = [0, 1, 2].map(
  (i) => `arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/burst${i}@example.com`,
);

const pacing: NotifyPacing = {
  minIntervalMs: 1100,
  budgetMs: 35_000,
  nowMs: () => clock,
  sleep: async (ms) => {
    clock += ms;
  },
};

beforeAll(async () => {
  suite = await startFaultSuite({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 2h, medium: 2h, low: null }
  # The emulator's groups have nothing attached: keep their severity (this is not about exposure).
  exposure: { unattached: keep }
decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { users: [${APPROVER.id}] }
  keepDurations: [1h, 1d]
`),
    slack: {
      now: () => clock,
      rateLimits: {
        'chat.postMessage': { calls: 1, perSeconds: 1 },
        'chat.update': { calls: 1, perSeconds: 1 },
      },
    },
  });
  suite.wiring.clock = () => new Date(clock);
  suite.wiring.posting = { ...pacing, budgetMs: 30_000 };
}, 60_000);

afterAll(() => suite.stop());

beforeEach(() => {
  suite.env.slack.clearFaults();
  clock = Math.max(clock, Date.now()) + 60_000;
});

/** One sweep `seconds` on, as the scheduled handler runs it (NOTIFY one at a time, paced). */
async function sweepIn(seconds: number) {
  clock += seconds * 1000;
  return sweep(suite.wiring, dueHandlers(suite.wiring, pacing), new Date(clock), {
    concurrencyByKind: { NOTIFY: 1 },
  });
}

const lease = keys.poster(ALERT_CHANNEL);

/** Another poster holds the channel (a detection draining elsewhere): detections leave their alerts waiting. */
async function holdChannel(): Promise<void> {
  const { store } = suite.wiring;
  const current = await store.get<PosterLeaseItem>(lease);
  const held = { holder: 'another-poster', leaseUntil: new Date(clock + 3_600_000).toISOString() };
  if (!current) {
    await store.createAll(
      [
        {
          ...lease,
          type: 'poster',
          status: 'HELD',
          version: 1,
          channel: ALERT_CHANNEL,
          createdAt: 'x',
          ...held,
        },
      ],
      [],
    );
  } else {
    await store.transition({
      key: lease,
      from: [current.status],
      to: 'HELD',
      set: held,
      due: null,
      audit: null,
    });
  }
}

async function releaseChannel(): Promise<void> {
  await tryTransition(suite.wiring.store, { key: lease, from: ['HELD'], to: 'FREE', due: null, audit: null });
}

/**
 * A burst: `count` changes, each opening SSH (high) and port 8081 (medium) to the world, by the principals
 * given in turn, detected at once while another poster holds the channel and Slack refuses posts, so every
 * alert waits in the backlog. The channel is free again afterwards.
 */
async function burstWaiting(count: number, principals: string[], ports = [8081, 22]): Promise<Raised[]> {
  const made = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      raise(suite, { ports, principalArn: principals[i % principals.length]!, deliver: false }),
    ),
  );
  await holdChannel();
  suite.env.slack.failAlways('chat.postMessage', { kind: 'rate-limited', retryAfterSeconds: 2 });
  await Promise.all(made.map((r) => deliver(suite, r.record)));
  suite.env.slack.clearFaults();
  await releaseChannel();
  return Promise.all(
    made.map(async (r) => ({ ...r, violationIds: (await alertOf(suite, r.alertId))!.violationIds })),
  );
}

/** The channel's top-level messages. */
function channelMessages(): EmulatedMessage[] {
  return [...suite.env.slack.messages.values()].filter(
    (m) => m.channel === ALERT_CHANNEL && !m.threadTs && !m.ephemeralTo,
  );
}

function digestIdOf(m: EmulatedMessage): string | null {
  const meta = m.metadata as { event_type?: string; event_payload?: { digest_id?: string } } | undefined;
  return meta?.event_type === 'sg_warden_digest' ? (meta.event_payload?.digest_id ?? null) : null;
}

/** The ID of every block of a message that belongs to a violation's line, in order. */
function lineIds(m: EmulatedMessage): string[] {
  return (m.blocks as { block_id?: string }[])
    .map((b) => b.block_id ?? '')
    .filter((id) => id.startsWith('rule:'))
    .map((id) => id.slice('rule:'.length));
}

function messagesShowing(violationId: string): EmulatedMessage[] {
  return channelMessages().filter((m) => JSON.stringify(m.blocks).includes(violationId));
}

async function digestOf(violationId: string): Promise<DigestItem> {
  const v = await violation(suite, violationId);
  const alert = await alertOf(suite, v!.alertId);
  return (await suite.wiring.store.get<DigestItem>(keys.digest(alert!.digestId!)))!;
}

function expectEachShownOnce(raised: Raised[]): void {
  for (const id of raised.flatMap((r) => r.violationIds)) expect(messagesShowing(id)).toHaveLength(1);
}

function updatesOf(ts: string, since = 0) {
  return suite.env.slack.callsTo('chat.update').filter((c) => c.args.ts === ts && c.at >= since);
}

describe('the sweeper’s updates', () => {
  it('auto-revoke of a whole digest gives one update; a 429 on it is retried at Retry-After, not lost', async () => {
    const raised = await burstWaiting(6, [PRINCIPALS[2]!]);
    await sweepIn(5);
    const digest = await digestOf(raised[0]!.violationIds[0]!);
    const ids = raised.flatMap((r) => r.violationIds);
    expect(ids).toHaveLength(12);
    expect(digest.violationIds).toHaveLength(12);

    // Past every deadline (two hours): the sweep revokes all twelve. Slack refuses the update.
    suite.env.slack.failNext('chat.update', { kind: 'rate-limited', retryAfterSeconds: 7 });
    const since = clock;
    await sweepIn(121 * 60);
    for (const id of ids) expect(await violation(suite, id)).toMatchObject({ status: 'AUTO_REVOKED' });
    expect(updatesOf(digest.ts!, since)).toHaveLength(1);
    const waiting = (await suite.wiring.store.get<DigestItem>(keys.digest(digest.digestId)))!;
    expect(waiting).toMatchObject({ dueKind: 'NOTIFY', updatePendingSince: expect.any(String) });
    expect(Date.parse(waiting.dueAt!) - clock).toBeGreaterThanOrEqual(7000);
    expect(JSON.stringify(messagesShowing(ids[0]!)[0]!.blocks)).toContain('"violation_revoke"');

    // Before Slack's wait is over nothing is tried; after it, one update brings the whole message up to date.
    await sweepIn(3);
    expect(updatesOf(digest.ts!, since)).toHaveLength(1);
    await sweepIn(5);
    expect(updatesOf(digest.ts!, since)).toHaveLength(2);
    const [m] = messagesShowing(ids[0]!);
    expect((m!.blocks[0] as { text: { text: string } }).text.text).toContain('0 pending · 12 revoked');
    expect(JSON.stringify(m!.blocks)).not.toContain('"violation_revoke"');
    const after = (await suite.wiring.store.get<DigestItem>(keys.digest(digest.digestId)))!;
    expect(after.dueKind).toBeUndefined();
    expect(after.updatePendingSince).toBeUndefined();
  }, 60_000);
});

describe('a burst', () => {
  it('becomes digests, one per (principal, region) group, worst first, each within Slack’s limits', async () => {
    const raised = await burstWaiting(12, PRINCIPALS);
    const before = new Set(channelMessages().map((m) => m.ts));

    await sweepIn(5);

    // Three principals, four changes of two rules each: three digests, not 12 messages.
    const posted = channelMessages().filter((m) => !before.has(m.ts));
    const digests = posted.filter((m) => digestIdOf(m) !== null);
    expect(posted).toHaveLength(3);
    expect(digests).toHaveLength(3);
    expectEachShownOnce(raised);
    for (const m of digests) {
      expect(m.blocks.length).toBeLessThanOrEqual(50);
      expect(m.text.length).toBeLessThanOrEqual(4000);
      const lines = await Promise.all(lineIds(m).map((id) => violation(suite, id)));
      expect(lines).toHaveLength(8);
      // One principal per digest, worst severity first.
      expect(new Set(lines.map((v) => v!.actor.arn)).size).toBe(1);
      const ranks = lines.map((v) => SEVERITIES.indexOf(v!.severity));
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      expect(ranks[0]).toBeLessThan(ranks[ranks.length - 1]!);
      // Each pending line has its own Revoke and Keep…; the digest its Revoke all / Keep all….
      const text = JSON.stringify(m.blocks);
      expect(text.match(/"violation_revoke"/g)).toHaveLength(8);
      expect(text.match(/"violation_keep"/g)).toHaveLength(8);
      expect(text).toContain('Revoke all 8');
      expect(text).toContain('Keep all 8…');
      expect(String((m.blocks[0] as { text: { text: string } }).text.text)).toContain(
        '8 pending · 0 revoked · 0 kept',
      );
    }
    // Every alert is posted, bound to its digest's message, with an audit entry naming the digest.
    for (const r of raised) {
      const alert = (await alertOf(suite, r.alertId))!;
      const digest = await digestOf(r.violationIds[0]!);
      expect(alert).toMatchObject({ status: 'POSTED', digestId: digest.digestId, ts: digest.ts });
      const notify = (await auditOf(suite, r.alertId)).filter(
        (a) => a.action === 'notify' && a.result === 'ok',
      );
      expect(notify).toHaveLength(1);
      expect(notify[0]!.details).toMatchObject({ digestId: digest.digestId, ts: digest.ts });
    }
    // Nothing was refused for pace: the sweep kept to one post every 1.1 s.
    expect(suite.env.slack.rateLimited.filter((c) => c.at > clock - 60_000)).toHaveLength(0);
  }, 60_000);

  it('a digest that would exceed Slack’s limits is split: 26 rules of one principal make two messages', async () => {
    const raised = await burstWaiting(13, [PRINCIPALS[0]!]);
    const before = new Set(channelMessages().map((m) => m.ts));

    await sweepIn(5);

    const posted = channelMessages().filter((m) => !before.has(m.ts));
    expect(posted.map(digestIdOf).every(Boolean)).toBe(true);
    expect(posted).toHaveLength(2);
    // As many as fit (every line with its buttons, within 50 blocks), then the rest.
    // Whole alerts (their buttons are bound to one message): eleven changes of two rules, then two.
    expect(posted.map((m) => lineIds(m).length)).toEqual([22, 4]);
    for (const m of posted) expect(m.blocks.length).toBeLessThanOrEqual(50);
    expectEachShownOnce(raised);
  }, 60_000);

  it('outside a burst, alerts still come one message each, as before', async () => {
    const raised = await Promise.all([0, 1, 2].map(() => raise(suite, { deliver: false })));
    for (const r of raised) {
      clock += 2000;
      await deliver(suite, r.record);
    }
    for (const r of raised) {
      const alert = (await alertOf(suite, r.alertId))!;
      expect(alert.status).toBe('POSTED');
      expect(alert.digestId).toBeUndefined();
      const [m] = messagesShowing(alert.violationIds[0]!);
      expect(digestIdOf(m!)).toBeNull();
      expect((m!.metadata as { event_type: string }).event_type).toBe('sg_warden_alert');
    }
  }, 60_000);
});

describe('deciding from a digest', () => {
  let raised: Raised[];
  let digest: DigestItem;

  beforeAll(async () => {
    clock += 60_000;
    raised = await burstWaiting(8, [PRINCIPALS[1]!], [22]);
    await sweepIn(5);
    digest = await digestOf(raised[0]!.violationIds[0]!);
  }, 60_000);

  it('a line decided alone: Revoke updates that line in place and the header counts', async () => {
    const [first, second] = lineIds(messagesShowing(raised[0]!.violationIds[0]!)[0]!);
    clock += 2000;
    const since = clock;
    const click = await press(suite, 'violation_revoke', first!, { messageTs: digest.ts! });
    expect(click.result.statusCode).toBe(200);
    await drain(suite);

    expect(await violation(suite, first!)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    expect(await violation(suite, second!)).toMatchObject({ status: 'PENDING' });
    const [m] = messagesShowing(first!);
    expect(m!.ts).toBe(digest.ts);
    expect(updatesOf(digest.ts!, since)).toHaveLength(1);
    // The decided line lost its buttons and says what happened; the others are as they were.
    const blocks = m!.blocks as { block_id?: string; text?: { text: string } }[];
    expect(blocks.some((b) => b.block_id === `actions:${first}`)).toBe(false);
    expect(blocks.some((b) => b.block_id === `actions:${second}`)).toBe(true);
    expect(blocks.find((b) => b.block_id === `rule:${first}`)!.text!.text).toContain('Revoked by');
    expect(lineIds(m!)).toEqual(digest.violationIds);
    expect(blocks[0]!.text!.text).toContain('7 pending · 1 revoked · 0 kept');
    expect(JSON.stringify(m!.blocks)).toContain('Revoke all 7');
  });

  it('a line kept alone through the Keep dialog, bound to the digest’s message', async () => {
    const id = digest.violationIds[2]!;
    clock += 2000;
    const submitted = await submitKeep(suite, {
      metadata: JSON.stringify({ violationIds: [id], channel: ALERT_CHANNEL, ts: digest.ts }),
      justification: 'load-balancer health checks during the migration',
      duration: '3600',
      user: APPROVER,
    });
    expect(submitted.result.statusCode).toBe(200);
    await drain(suite);
    expect(await violation(suite, id)).toMatchObject({ status: 'KEPT', decidedBy: APPROVER.id });
    const [m] = messagesShowing(id);
    expect((m!.blocks[0] as { text: { text: string } }).text.text).toContain(
      '6 pending · 1 revoked · 1 kept',
    );
  });

  it('a Revoke all from another message is refused and changes nothing', async () => {
    const other = channelMessages().find((m) => m.ts !== digest.ts)!;
    const click = await press(suite, 'alert_revoke_all', digest.digestId, { messageTs: other.ts });
    await drain(suite);
    expect(click.result.statusCode).toBe(200);
    expect(JSON.stringify(suite.env.slack.responseUrlPosts.at(-1)?.body)).toContain('WRONG_MESSAGE');
    expect(await violation(suite, digest.violationIds[3]!)).toMatchObject({ status: 'PENDING' });
  });

  it('Revoke all revokes what is still pending in the digest, and only that', async () => {
    clock += 2000;
    const since = clock;
    const click = await press(suite, 'alert_revoke_all', digest.digestId, { messageTs: digest.ts! });
    expect(click.result.statusCode).toBe(200);
    await drain(suite);

    const states = await Promise.all(digest.violationIds.map((id) => violation(suite, id)));
    expect(states.map((v) => v!.status).sort()).toEqual([...Array(7).fill('REVOKED'), 'KEPT'].sort());
    expect(states.filter((v) => v!.status === 'REVOKED' && v!.decidedBy === ENGINEER.id)).toHaveLength(7);
    const [m] = messagesShowing(digest.violationIds[0]!);
    expect(updatesOf(digest.ts!, since)).toHaveLength(1);
    expect((m!.blocks[0] as { text: { text: string } }).text.text).toContain(
      'all decided: 0 pending · 7 revoked · 1 kept',
    );
    expect(JSON.stringify(m!.blocks)).not.toContain('"violation_revoke"');
  });
});

describe('a poster that dies half-way', () => {
  it('loses nothing and posts nothing twice when the next sweep takes over', async () => {
    const raised = await burstWaiting(12, [PRINCIPALS[0]!, PRINCIPALS[1]!], [22]);
    const before = new Set(channelMessages().map((m) => m.ts));
    const { store } = suite.wiring;
    // The process dies right after Slack took the first digest: every table call fails from then on.
    let dead = false;
    const off = suite.env.slack.onCall((c) => {
      if (c.method === 'chat.postMessage' && JSON.stringify(c.args.metadata).includes('sg_warden_digest'))
        dead = true;
    });
    const original = { transition: store.transition, get: store.get, patch: store.patch };
    const dying = <F extends (...args: never[]) => Promise<unknown>>(f: F) =>
      (async (...args: Parameters<F>) => {
        if (dead) throw new Error('the poster died');
        return f.apply(store, args);
      }) as unknown as F;
    store.transition = dying(original.transition);
    store.get = dying(original.get);
    store.patch = dying(original.patch);
    try {
      await sweepIn(5);
    } finally {
      off();
      Object.assign(store, original);
    }
    const first = channelMessages().filter((m) => !before.has(m.ts));
    expect(first).toHaveLength(1);
    const firstDigest = digestIdOf(first[0]!)!;
    expect((await store.get<DigestItem>(keys.digest(firstDigest)))!.status).toBe('POSTING');

    // The restart: a sweep after the claims ran out finds the message (adopts it) and posts the rest.
    await sweepIn(125);
    await sweepIn(60);
    expectEachShownOnce(raised);
    const posts = suite.env.slack
      .callsTo('chat.postMessage')
      .filter((c) => JSON.stringify(c.args.metadata ?? '').includes(firstDigest));
    expect(posts).toHaveLength(1);
    for (const r of raised) expect(await alertOf(suite, r.alertId)).toMatchObject({ status: 'POSTED' });
    expect((await store.get<DigestItem>(keys.digest(firstDigest)))!.status).toBe('POSTED');
    const adopted = (await auditOf(suite, firstDigest)).find((a) => a.action === 'notify');
    expect(String(adopted?.details?.note)).toContain('reached Slack after all');
  }, 90_000);
});

describe('deadlines that respect visibility', () => {
  it('a violation posted more than a minute late gets its full time from the post; the audit has both times', async () => {
    suite.env.slack.failAlways('chat.postMessage', { kind: 'rate-limited', retryAfterSeconds: 30 });
    const r = await raise(suite, { ports: [22] });
    suite.env.slack.clearFaults();
    const stored = (await violation(suite, r.violationIds[0]!))!;
    expect(Date.parse(stored.deadline!) - Date.parse(stored.createdAt)).toBe(2 * 3600_000);

    await sweepIn(5 * 60);
    const moved = (await violation(suite, r.violationIds[0]!))!;
    const postedAt = (await alertOf(suite, r.alertId))!.postedAt!;
    expect(Date.parse(moved.deadline!)).toBe(Date.parse(postedAt) + 2 * 3600_000);
    expect(moved).toMatchObject({ status: 'PENDING', dueKind: 'DEADLINE', dueAt: moved.deadline, postedAt });
    const entry = (await auditOf(suite, moved.violationId)).find((a) => a.action === 'deadline')!;
    expect(entry.details).toMatchObject({
      detectedAt: stored.createdAt,
      postedAt,
      previousDeadline: stored.deadline,
      deadline: moved.deadline,
    });
    // The message shows the deadline the rule has.
    const epoch = Math.floor(Date.parse(moved.deadline!) / 1000);
    expect(JSON.stringify(messagesShowing(moved.violationId)[0]!.blocks)).toContain(`<!date^${epoch}^`);
  }, 60_000);

  it('a post within the minute leaves the deadline as it was', async () => {
    const r = await raise(suite, { ports: [22] });
    const v = (await violation(suite, r.violationIds[0]!))!;
    expect(Date.parse(v.deadline!) - Date.parse(v.createdAt)).toBe(2 * 3600_000);
    expect((await auditOf(suite, v.violationId)).some((a) => a.action === 'deadline')).toBe(false);
  });
});
