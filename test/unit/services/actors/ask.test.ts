import { askActor } from '../../../../services/actors/ask';
import type { ActorNotifier, AskView } from '../../../../services/actors/ports';
import { validateConfig } from '../../../../services/config/config';
import { keys } from '../../../../services/kernel/state';
import { silentLogger } from '../../../../services/shared/logger';
import type { AlertItem, ViolationItem } from '../../../../services/violations/items';
import { MemoryStateStore } from '../../../support/memory-store';
import { FakeNotifier, sshRule } from '../decisions/fixtures';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/deploy/erin';

class Dms implements ActorNotifier {
  asked: { user: string; view: AskView }[] = [];
  async ask(user: string, view: AskView) {
    this.asked.push({ user, view });
    return { channel: `D${user.slice(1)}`, ts: '1700000000.000200' };
  }
  async updateAsk() {}
  async postNeed() {}
}

async function setup(options: { askActor?: boolean; status?: ViolationItem['status'] } = {}) {
  const store = new MemoryStateStore();
  const actor = {
    arn: PRINCIPAL,
    type: 'AssumedRole',
    roleArn: null,
    invokedBy: null,
    sourceIp: null,
    userAgent: null,
  };
  const alert: AlertItem = {
    ...keys.alert('a1'),
    type: 'alert',
    status: 'POSTED',
    version: 1,
    alertId: 'a1',
    eventId: 'a1',
    eventName: 'AuthorizeSecurityGroupIngress',
    eventTime: NOW.toISOString(),
    region: 'us-east-1',
    account: '123456789012',
    groupId: 'sg-0123456789abcdef0',
    groupName: null,
    actor,
    violationIds: ['v1'],
    notifyAttempts: 1,
    channel: 'C0ALERTS',
    ts: '1700000000.000100',
    createdAt: NOW.toISOString(),
  };
  const v = {
    ...keys.violation('v1'),
    type: 'violation',
    status: options.status ?? 'PENDING',
    version: 1,
    violationId: 'v1',
    alertId: 'a1',
    eventId: 'a1',
    region: 'us-east-1',
    account: '123456789012',
    groupId: 'sg-0123456789abcdef0',
    groupName: null,
    rule: sshRule(),
    severity: 'high',
    reasons: [],
    action: 'alert',
    dryRun: false,
    actor,
    eventTime: NOW.toISOString(),
    createdAt: NOW.toISOString(),
    deadline: null,
    revokeAttempts: 0,
  } as ViolationItem;
  await store.createAll([alert, v] as unknown as Record<string, unknown>[], []);
  const dms = new Dms();
  const deps = {
    store,
    notifier: new FakeNotifier(),
    actorNotifier: dms,
    config: validateConfig(
      {
        slack: { alertChannel: 'C0ALERTS' },
        decisions: { principalToSlack: { [PRINCIPAL]: 'U0ERIN' }, askActor: options.askActor ?? true },
      },
      't.yml',
    ),
    clock: () => NOW,
    logger: silentLogger,
  };
  return { store, dms, deps };
}

describe('actors: askActor', () => {
  it('asks the mapped author once, and stores who they are on the violations', async () => {
    const env = await setup();
    expect(await askActor(env.deps, 'a1')).toBe('asked');
    expect(await askActor(env.deps, 'a1')).toBe('already');
    expect(env.dms.asked.map((a) => a.user)).toEqual(['U0ERIN']);
    expect(await env.store.get(keys.violation('v1'))).toMatchObject({ actorUser: 'U0ERIN' });
    expect(await env.store.get(keys.alert('a1'))).toMatchObject({
      actorAsk: { user: 'U0ERIN', status: 'ASKED' },
    });
  });

  it('asks nobody when decisions.askActor is off', async () => {
    const env = await setup({ askActor: false });
    expect(await askActor(env.deps, 'a1')).toBe('off');
    expect(env.dms.asked).toEqual([]);
    expect(await env.store.get(keys.ask('a1'))).toBeNull();
  });

  it('asks nobody about an alert already decided', async () => {
    const env = await setup({ status: 'REVOKED' });
    expect(await askActor(env.deps, 'a1')).toBe('nothing-pending');
    expect(env.dms.asked).toEqual([]);
  });

  it('never throws: a store that fails is logged, and the alert is left alone', async () => {
    const env = await setup();
    env.store.get = async () => {
      throw new Error('table unreachable');
    };
    expect(await askActor(env.deps, 'a1')).toBe('failed');
  });
});
