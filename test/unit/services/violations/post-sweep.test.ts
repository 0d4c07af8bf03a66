import { validateConfig } from '../../../../services/config/config';
import { keys } from '../../../../services/kernel/state';
import { RateLimitedError } from '../../../../services/shared/errors';
import { silentLogger } from '../../../../services/shared/logger';
import type { MessageRef } from '../../../../services/shared/ports';
import type { AlertItem } from '../../../../services/violations/items';
import type { AlertNotifier, AlertView } from '../../../../services/violations/ports';
import { pacedNotifyHandler } from '../../../../services/violations/post-sweep';
import { MemoryStateStore } from '../../../support/memory-store';

const NOW = new Date('2026-11-23T10:00:00.000Z');

/** Posts as Slack would, on a virtual clock; a channel in `limited` answers 429 every time. */
class ChannelNotifier implements AlertNotifier {
  posts: { channel: string; at: number }[] = [];
  limited = new Set<string>();
  constructor(private readonly clock: () => number) {}
  async postAlert(channel: string, view: AlertView): Promise<MessageRef> {
    if (this.limited.has(channel)) throw new RateLimitedError('slow down', { retryAfterSeconds: 1 });
    this.posts.push({ channel, at: this.clock() });
    return { channel, ts: `${1700000000 + this.posts.length}.000100-${view.alert.alertId}` };
  }
  async updateAlert(): Promise<void> {}
  async postRevokeFailure(): Promise<void> {}
}

function alert(alertId: string, channel: string | undefined): AlertItem {
  return {
    ...keys.alert(alertId),
    type: 'alert',
    status: 'UNNOTIFIED',
    version: 1,
    alertId,
    eventId: alertId,
    eventName: 'AuthorizeSecurityGroupIngress',
    eventTime: NOW.toISOString(),
    region: 'us-east-1',
    account: '123456789012',
    groupId: 'sg-0123456789abcdef0',
    groupName: null,
    actor: {
      arn: 'arn:aws:iam::123456789012:user/a',
      type: 'IAMUser',
      roleArn: null,
      invokedBy: null,
      sourceIp: null,
      userAgent: null,
    },
    violationIds: [],
    notifyAttempts: 0,
    createdAt: NOW.toISOString(),
    ...(channel ? { channel } : {}),
  };
}

async function setup(alerts: AlertItem[]) {
  const store = new MemoryStateStore();
  await store.createAll(alerts as unknown as Record<string, unknown>[], []);
  let virtual = 0;
  const notifier = new ChannelNotifier(() => virtual);
  const deps = {
    store,
    notifier,
    config: validateConfig({ slack: { alertChannel: 'C0ALERTS' } }, 'test.yml'),
    clock: () => NOW,
    logger: silentLogger,
  };
  const pacing = {
    nowMs: () => virtual,
    sleep: async (ms: number) => {
      virtual += ms;
    },
  };
  return {
    store,
    notifier,
    deps,
    pacing,
    status: async (id: string) => (await store.get<AlertItem>(keys.alert(id)))?.status,
  };
}

describe('violations: NOTIFY pacing per channel', () => {
  it('spaces posts within a channel, not across channels', async () => {
    const alerts = [
      alert('a1', 'C0TEAMA'),
      alert('b1', 'C0TEAMB'),
      alert('a2', 'C0TEAMA'),
      alert('b2', 'C0TEAMB'),
    ];
    const env = await setup(alerts);
    const handle = pacedNotifyHandler(env.deps, { minIntervalMs: 1000, budgetMs: 60_000, ...env.pacing });
    for (const a of alerts) await handle(a, NOW);
    const at = (channel: string) => env.notifier.posts.filter((p) => p.channel === channel).map((p) => p.at);
    expect(at('C0TEAMA')).toEqual([0, 1000]);
    // Team B's first post did not wait for team A's interval.
    expect(at('C0TEAMB')[0]).toBe(0);
    expect(at('C0TEAMB')[1]! - at('C0TEAMB')[0]!).toBeGreaterThanOrEqual(1000);
  });

  it('stops posting to a rate-limited channel for the sweep and goes on with the others (unpaced)', async () => {
    const alerts = [
      alert('a1', 'C0TEAMA'),
      alert('b1', 'C0TEAMB'),
      alert('a2', 'C0TEAMA'),
      alert('b2', 'C0TEAMB'),
    ];
    const env = await setup(alerts);
    env.notifier.limited.add('C0TEAMA');
    const handle = pacedNotifyHandler(env.deps, { minIntervalMs: 0, budgetMs: 60_000, ...env.pacing });
    for (const a of alerts) await handle(a, NOW);
    expect(env.notifier.posts.map((p) => p.channel)).toEqual(['C0TEAMB', 'C0TEAMB']);
    expect(await env.status('a1')).toBe('UNNOTIFIED');
    // a2 was never tried: the first 429 stopped that channel, not the sweep.
    expect(await env.status('a2')).toBe('UNNOTIFIED');
    expect(await env.status('b2')).toBe('POSTED');
  });

  it('posts an alert stored before routes (no channel) to slack.alertChannel', async () => {
    const env = await setup([alert('old', undefined)]);
    await pacedNotifyHandler(env.deps)(alert('old', undefined), NOW);
    expect(env.notifier.posts.map((p) => p.channel)).toEqual(['C0ALERTS']);
    expect(await env.store.get<AlertItem>(keys.alert('old'))).toMatchObject({
      status: 'POSTED',
      channel: 'C0ALERTS',
    });
  });
});
