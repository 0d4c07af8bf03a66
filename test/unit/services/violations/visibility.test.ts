import { keys } from '../../../../services/kernel/state';
import { createLogger } from '../../../../services/shared/logger';
import type { ViolationItem } from '../../../../services/violations/items';
import { restartLateDeadlines } from '../../../../services/violations/visibility';
import { MemoryStateStore } from '../../../support/memory-store';

const logger = createLogger('silent');
const T0 = '2026-11-23T10:00:00.000Z';

function pending(id: string): ViolationItem {
  return {
    ...keys.violation(id),
    type: 'violation',
    status: 'PENDING',
    version: 1,
    violationId: id,
    createdAt: T0,
    deadline: '2026-11-23T10:15:00.000Z',
    dueKind: 'DEADLINE',
    dueAt: '2026-11-23T10:15:00.000Z',
  } as unknown as ViolationItem;
}

async function storeWith(...items: ViolationItem[]): Promise<MemoryStateStore> {
  const store = new MemoryStateStore();
  await store.createAll(items as unknown as Record<string, unknown>[], []);
  return store;
}

describe('restartLateDeadlines', () => {
  it('moves a late post’s deadline to count from the post, with both times on the audit trail', async () => {
    const store = await storeWith(pending('v1'));
    const postedAt = '2026-11-23T10:05:00.000Z';

    expect(await restartLateDeadlines({ store, logger }, ['v1'], postedAt)).toBe(1);

    const moved = await store.get<ViolationItem>(keys.violation('v1'));
    expect(moved).toMatchObject({
      status: 'PENDING',
      deadline: '2026-11-23T10:20:00.000Z',
      dueKind: 'DEADLINE',
      dueAt: '2026-11-23T10:20:00.000Z',
      postedAt,
    });
    const [entry] = await store.auditFor('v1');
    expect(entry).toMatchObject({
      action: 'deadline',
      fromState: 'PENDING',
      toState: 'PENDING',
      actorType: 'system',
      details: {
        detectedAt: T0,
        postedAt,
        previousDeadline: '2026-11-23T10:15:00.000Z',
        deadline: '2026-11-23T10:20:00.000Z',
      },
    });
  });

  it('lets a decision made meanwhile win: the conditional write loses and nothing moves', async () => {
    const store = await storeWith(pending('v1'));
    // Read as pending, then decided before the deadline is written.
    const get = store.get.bind(store);
    store.get = async <
      T extends { pk: string; sk: string; type: string; status: string; version: number },
    >(key: {
      pk: string;
      sk: string;
    }) => {
      const seen = await get<T>(key);
      await store.transition({ key, from: ['PENDING'], to: 'REVOKED', due: null, audit: null });
      return seen;
    };

    expect(await restartLateDeadlines({ store, logger }, ['v1'], '2026-11-23T10:05:00.000Z')).toBe(0);

    expect(await get<ViolationItem>(keys.violation('v1'))).toMatchObject({
      status: 'REVOKED',
      deadline: '2026-11-23T10:15:00.000Z',
    });
    expect(await store.auditFor('v1')).toEqual([]);
  });

  it('leaves an on-time post and a decided rule alone', async () => {
    const store = await storeWith(pending('v1'), { ...pending('v2'), status: 'KEPT' });
    expect(await restartLateDeadlines({ store, logger }, ['v1'], '2026-11-23T10:00:30.000Z')).toBe(0);
    expect(await restartLateDeadlines({ store, logger }, ['v2'], '2026-11-23T10:30:00.000Z')).toBe(0);
    expect((await store.get<ViolationItem>(keys.violation('v1')))!.deadline).toBe('2026-11-23T10:15:00.000Z');
  });
});
