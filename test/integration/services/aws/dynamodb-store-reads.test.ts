import { DynamoDbStateStore } from '../../../../services/aws/dynamodb-store';
import type { AuditEntry } from '../../../../services/kernel/audit';
import { keyId, tryMove } from '../../../../services/kernel/state';
import { StateConflictError } from '../../../../services/shared/errors';
import { createTable, documentClient } from '../../../support/aws';

// The store's cheaper paths (#24): one batch read for many keys, a transition without an audit entry as
// one update that answers the item, a move that does not read back, and an entry handed on with its item.

let store: DynamoDbStateStore;
const noted: { entry: AuditEntry; item?: Record<string, unknown> }[] = [];

beforeAll(async () => {
  store = new DynamoDbStateStore({
    client: documentClient(),
    tableName: await createTable(),
    onAudit: (entry, item) => noted.push({ entry, ...(item ? { item } : {}) }),
  });
});

let n = 0;
async function pending(): Promise<{ pk: string; sk: string }> {
  n += 1;
  const key = { pk: `VIOLATION#r-${n}`, sk: 'VIOLATION' };
  await store.createAll([{ ...key, type: 'violation', status: 'PENDING', version: 1, createdAt: 'x' }], []);
  return key;
}

function entry(subjectId: string): AuditEntry {
  return {
    subjectId,
    subjectType: 'violation',
    action: 'detect',
    fromState: null,
    toState: 'PENDING',
    actorType: 'system',
    actorId: 'sg-warden',
    actorName: 'sg-warden',
    result: 'ok',
    at: '2026-12-05T00:00:00.000Z',
  };
}

describe('DynamoDbStateStore reads and writes without read-back', () => {
  it('answers many keys in one batch, past 100 keys, leaving out the ones with no item', async () => {
    const made = [];
    for (let i = 0; i < 105; i++) made.push(await pending());
    const missing = { pk: 'VIOLATION#nobody', sk: 'VIOLATION' };
    const found = await store.getMany([...made, missing, made[0]!]);
    expect(found.size).toBe(105);
    expect(found.get(keyId(made[104]!))).toMatchObject({ status: 'PENDING', version: 1 });
    expect(found.has(keyId(missing))).toBe(false);
  });

  it('answers the item after a transition without an audit entry, and refuses one from another state', async () => {
    const key = await pending();
    const after = await store.transition({ key, from: ['PENDING'], to: 'REVOKING', due: null, audit: null });
    expect(after).toMatchObject({ ...key, status: 'REVOKING', version: 2 });
    await expect(
      store.transition({ key, from: ['PENDING'], to: 'REVOKING', due: null, audit: null }),
    ).rejects.toBeInstanceOf(StateConflictError);
    expect(await store.get(key)).toMatchObject({ status: 'REVOKING', version: 2 });
  });

  it('moves with or without an audit entry, exactly once when two race', async () => {
    const key = await pending();
    const move = () =>
      tryMove(store, { key, from: ['PENDING'], to: 'REVOKED', due: null, audit: entry(key.pk.slice(10)) });
    const outcomes = await Promise.all([move(), move()]);
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await store.get(key)).toMatchObject({ status: 'REVOKED', version: 2 });
    expect(await store.auditFor(key.pk.slice(10))).toHaveLength(1);
  });

  it('answers a transition made on an item read at its version as the table then has it, without reading it', async () => {
    const key = await pending();
    await store.patch(
      key,
      { channel: 'C1', ts: '1.2', doomed: 'x' },
      { kind: 'DEADLINE', at: '2026-12-05T01:00:00.000Z' },
    );
    const read = (await store.get(key))!;
    const after = await store.transition({
      key,
      from: ['PENDING'],
      to: 'REVOKING',
      expectVersion: read.version,
      basis: read,
      set: { revokeBy: { type: 'timeout' }, skipped: undefined },
      remove: ['doomed'],
      due: { kind: 'RECONCILE', at: '2026-12-05T00:05:00.000Z' },
      audit: entry(key.pk.slice(10)),
    });
    expect(after).toEqual(await store.get(key));
    const done = await store.transition({
      key,
      from: ['REVOKING'],
      to: 'REVOKED',
      expectVersion: after.version,
      basis: after,
      due: null,
      audit: entry(key.pk.slice(10)),
    });
    expect(done).toEqual(await store.get(key));
    expect(done).not.toHaveProperty('dueAt');
  });

  it('hands a created subject on with its audit entry, so nobody reads it back', async () => {
    noted.length = 0;
    const key = { pk: 'VIOLATION#created-1', sk: 'VIOLATION' };
    const item = { ...key, type: 'violation', status: 'PENDING', version: 1, createdAt: 'x' };
    const claim = {
      pk: 'RULECLAIM#created-1',
      sk: 'RULECLAIM',
      type: 'rule-claim',
      status: 'HELD',
      version: 1,
      createdAt: 'x',
    };
    expect(await store.createAll([item, claim], [entry('created-1')])).toBe(true);
    expect(noted).toEqual([{ entry: entry('created-1'), item }]);
  });
});
