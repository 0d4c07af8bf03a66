import { DynamoDbStateStore } from '../../../../services/aws/dynamodb-store';
import type { Transition } from '../../../../services/kernel/state';
import { StateConflictError } from '../../../../services/shared/errors';
import { createTable, documentClient } from '../../../support/aws';

let store: DynamoDbStateStore;

beforeAll(async () => {
  store = new DynamoDbStateStore({ client: documentClient(), tableName: await createTable() });
});

let n = 0;
async function pendingItem(): Promise<{ pk: string; sk: string }> {
  n += 1;
  const key = { pk: `VIOLATION#t-${n}`, sk: 'VIOLATION' };
  await store.createAll([{ ...key, type: 'violation', status: 'PENDING', version: 1, createdAt: 'x' }], []);
  return key;
}

function keep(key: { pk: string; sk: string }, exception: Record<string, unknown>, at: string): Transition {
  return {
    key,
    from: ['PENDING'],
    to: 'KEPT',
    due: null,
    audit: null,
    alsoPut: [exception],
    alsoPutReplaces: { unlessStatus: 'ACTIVE', expiredBy: at },
  };
}

const exKey = (name: string) => ({ pk: `EXCEPTION#${name}`, sk: 'EXCEPTION' });

describe('DynamoDbStateStore transition alsoPut', () => {
  it('puts a new item, and refuses to overwrite a live one (nothing written)', async () => {
    const at = '2026-11-23T10:00:00.000Z';
    const first = await pendingItem();
    const ex = {
      ...exKey('live'),
      type: 'exception',
      createdAt: 'x',
      status: 'ACTIVE',
      version: 1,
      expiresAt: '2026-11-23T11:00:00.000Z',
    };
    await store.transition(keep(first, ex, at));
    const second = await pendingItem();
    await expect(store.transition(keep(second, { ...ex, violationId: 'other' }, at))).rejects.toBeInstanceOf(
      StateConflictError,
    );
    expect(await store.get(second)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(await store.get(exKey('live'))).not.toHaveProperty('violationId');
  });

  it('replaces an EXPIRED item, and an ACTIVE one whose expiry has passed', async () => {
    const at = '2026-11-23T12:00:00.000Z';
    await store.createAll(
      [
        {
          ...exKey('expired'),
          type: 'exception',
          createdAt: 'x',
          status: 'EXPIRED',
          version: 2,
          expiresAt: null,
        },
        {
          ...exKey('lapsed'),
          type: 'exception',
          createdAt: 'x',
          status: 'ACTIVE',
          version: 1,
          expiresAt: '2026-11-23T11:00:00.000Z',
        },
      ],
      [],
    );
    for (const name of ['expired', 'lapsed']) {
      const key = await pendingItem();
      await store.transition(
        keep(
          key,
          {
            ...exKey(name),
            type: 'exception',
            createdAt: 'x',
            status: 'ACTIVE',
            version: 1,
            expiresAt: null,
            by: 'new',
          },
          at,
        ),
      );
      expect(await store.get(exKey(name))).toMatchObject({ status: 'ACTIVE', by: 'new' });
    }
  });

  it('keeps a permanent ACTIVE item (expiresAt null) live', async () => {
    await store.createAll(
      [
        {
          ...exKey('permanent'),
          type: 'exception',
          createdAt: 'x',
          status: 'ACTIVE',
          version: 1,
          expiresAt: null,
        },
      ],
      [],
    );
    const key = await pendingItem();
    await expect(
      store.transition(
        keep(
          key,
          { ...exKey('permanent'), type: 'exception', createdAt: 'x', status: 'ACTIVE', version: 1 },
          '2030-01-01T00:00:00.000Z',
        ),
      ),
    ).rejects.toBeInstanceOf(StateConflictError);
  });

  it('without alsoPutReplaces, any existing item makes the transition fail', async () => {
    const key = await pendingItem();
    await expect(
      store.transition({
        key,
        from: ['PENDING'],
        to: 'KEPT',
        due: null,
        audit: null,
        alsoPut: [{ ...exKey('expired'), type: 'exception', createdAt: 'x', status: 'ACTIVE', version: 1 }],
      }),
    ).rejects.toBeInstanceOf(StateConflictError);
  });
});
