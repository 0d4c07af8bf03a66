import {
  alertOf,
  auditOf,
  drain,
  type FaultSuite,
  messagesShowing,
  postsShowing,
  press,
  type Raised,
  raise,
  startFaultSuite,
  sweepAt,
  violation,
} from '../support/fault-harness';
import { baseConfig } from '../support/handler-env';
import { ENGINEER } from '../support/slack-requests';

// Slack down, slow or rate-limiting while sg-warden works: nothing detected is lost, every alert is
// posted exactly once when Slack is back, and decisions made meanwhile still show on their messages.

let suite: FaultSuite;
/** The sweeps' clock (ms), moved on by each sweep; the emulator's rate limit follows it too. */
let clock = Date.now();

beforeAll(async () => {
  suite = await startFaultSuite({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
  # A group nothing uses keeps its severity here: these tests are about other things (exposure has its own).
  exposure: { unattached: keep }
decisions:
  revokers: { users: [${ENGINEER.id}] }
`),
    slack: { now: () => clock },
  });
});

afterAll(() => suite.stop());

beforeEach(() => {
  suite.env.slack.clearFaults();
  suite.env.slack.options.channelRateLimitPerSecond = undefined;
  clock = Date.now();
});

/** Sweeps `seconds` after the previous sweep (or the test's start). */
function sweepIn(seconds: number) {
  clock = Math.max(clock, Date.now()) + seconds * 1000;
  return sweepAt(suite, new Date(clock));
}

async function expectPostedOnce(raised: Raised): Promise<void> {
  const alert = await alertOf(suite, raised.alertId);
  expect(alert).toMatchObject({ status: 'POSTED' });
  for (const id of raised.violationIds) expect(messagesShowing(suite, id)).toHaveLength(1);
  const message = messagesShowing(suite, raised.violationIds[0]!)[0]!;
  expect(message.ts).toBe(alert!.ts);
}

describe('Slack is down (HTTP 5xx)', () => {
  it('stores every violation, posts nothing twice, and posts each alert once when Slack is back', async () => {
    suite.env.slack.failAlways('chat.postMessage', { kind: 'http', status: 503 });
    const raised: Raised[] = [];
    for (let i = 0; i < 3; i++) raised.push(await raise(suite, { ports: [22, 3389] }));

    for (const r of raised) {
      expect(r.violationIds).toHaveLength(2);
      for (const id of r.violationIds)
        expect(await violation(suite, id)).toMatchObject({ status: 'PENDING' });
      expect(await alertOf(suite, r.alertId)).toMatchObject({
        status: 'UNNOTIFIED',
        dueKind: 'NOTIFY',
        notifyAttempts: 1,
      });
      expect(messagesShowing(suite, r.violationIds[0]!)).toHaveLength(0);
    }

    // Still down at the next due time: one more attempt each, backing off further.
    await sweepIn(45);
    for (const r of raised) {
      expect(await alertOf(suite, r.alertId)).toMatchObject({ status: 'UNNOTIFIED', notifyAttempts: 2 });
    }

    suite.env.slack.clearFaults();
    const callsBefore = suite.env.slack.callsTo('chat.postMessage').length;
    for (let i = 0; i < 5; i++) await sweepIn(120);
    for (const r of raised) {
      await expectPostedOnce(r);
      const audit = (await auditOf(suite, r.alertId)).filter((a) => a.action === 'notify');
      expect(audit.map((a) => a.result)).toEqual(['error', 'error', 'ok']);
      expect(audit[0]!.error).toContain('503');
    }
    // After recovery: exactly one chat.postMessage per alert, even though several sweeps ran.
    const after = suite.env.slack.callsTo('chat.postMessage').slice(callsBefore);
    for (const r of raised) {
      expect(after.filter((c) => JSON.stringify(c.args.blocks).includes(r.violationIds[0]!))).toHaveLength(1);
    }
  });

  it('a violation nobody saw is still revoked at its deadline, and the late message shows the outcome', async () => {
    suite.env.slack.failAlways('chat.postMessage', { kind: 'http', status: 500 });
    const r = await raise(suite, { ports: [22] });
    await sweepIn(16 * 60);
    expect(await violation(suite, r.violationIds[0]!)).toMatchObject({ status: 'AUTO_REVOKED' });

    suite.env.slack.clearFaults();
    await sweepIn(20 * 60);
    await expectPostedOnce(r);
    expect(JSON.stringify(messagesShowing(suite, r.violationIds[0]!)[0]!.blocks)).toContain('Auto-revoked');
  });
});

describe('Slack rate-limits the channel (429 with Retry-After)', () => {
  it('waits as long as Slack asks, then posts once', async () => {
    suite.env.slack.failNext('chat.postMessage', { kind: 'rate-limited', retryAfterSeconds: 30 });
    const r = await raise(suite);
    const alert = await alertOf(suite, r.alertId);
    expect(alert).toMatchObject({ status: 'UNNOTIFIED', notifyAttempts: 0 });
    const waits = new Date(alert!.dueAt!).getTime() - Date.now();
    expect(waits).toBeGreaterThan(25_000);

    await sweepIn(10);
    expect(messagesShowing(suite, r.violationIds[0]!)).toHaveLength(0);
    await sweepIn(25);
    await expectPostedOnce(r);
    expect(postsShowing(suite, r.violationIds[0]!)).toHaveLength(2);
  });

  it('a burst stored during an outage drains at Slack’s pace: every alert once, none twice', async () => {
    suite.env.slack.options.channelRateLimitPerSecond = 1;
    suite.env.slack.failAlways('chat.postMessage', { kind: 'http', status: 503 });
    const raised: Raised[] = [];
    for (let i = 0; i < 4; i++) raised.push(await raise(suite));
    suite.env.slack.clearFaults();
    // Past the first backoff (30 s), then a sweep a second.
    clock += 30_000;

    // The emulator allows one post per second of its clock: a sweep posts one, is refused the next
    // and leaves the rest for later sweeps.
    const sweeps: number[] = [];
    for (
      let i = 0;
      i < 30 && raised.some((r) => messagesShowing(suite, r.violationIds[0]!).length === 0);
      i++
    ) {
      const before = suite.env.slack.messages.size;
      await sweepIn(1);
      sweeps.push(suite.env.slack.messages.size - before);
    }
    for (const r of raised) await expectPostedOnce(r);
    expect(Math.max(...sweeps)).toBeLessThanOrEqual(1);
  });
});

describe('Slack is slow (answers after the client gave up)', () => {
  it('an alert whose post timed out but reached Slack is not posted a second time', async () => {
    suite.env.slack.failNext('chat.postMessage', { kind: 'delay', ms: 5_600 });
    const r = await raise(suite);
    // The slow post lands in the channel after the client gave up.
    await new Promise((resolve) => setTimeout(resolve, 800));
    for (let i = 0; i < 4; i++) await sweepIn(120);
    await expectPostedOnce(r);
    // One chat.postMessage for this alert: the client did not repeat it, and no sweep posted it again.
    expect(postsShowing(suite, r.violationIds[0]!)).toHaveLength(1);
    const notify = (await auditOf(suite, r.alertId)).filter((a) => a.action === 'notify');
    expect(notify.map((a) => a.result)).toEqual(['error', 'ok']);
    expect(String(notify[1]!.details?.note)).toContain('reached Slack after all');
  }, 30_000);
});

describe('Slack fails while a decision updates its message', () => {
  it('the decision stands and the message catches up once Slack is back', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    const posted = await alertOf(suite, r.alertId);
    suite.env.slack.failAlways('chat.update', { kind: 'http', status: 503 });
    const click = await press(suite, 'violation_revoke', id, { messageTs: posted!.ts! });
    expect(click.result.statusCode).toBe(200);
    await drain(suite);
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    expect(JSON.stringify(messagesShowing(suite, id)[0]!.blocks)).not.toContain('Revoked');

    suite.env.slack.clearFaults();
    await sweepIn(120);
    const message = messagesShowing(suite, id);
    expect(message).toHaveLength(1);
    expect(JSON.stringify(message[0]!.blocks)).toContain('Revoked');
    expect(JSON.stringify(message[0]!.blocks)).not.toContain('"type":"actions"');
    // Up to date again: the alert is no longer due.
    expect((await alertOf(suite, r.alertId))?.dueKind).toBeUndefined();
  });
});
