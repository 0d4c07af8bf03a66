import { AUDIT_KEY_PREFIX, DynamoDbStateStore } from '../../../../services/aws/dynamodb-store';
import type { AuditEntry } from '../../../../services/kernel/audit';
import { StateConflictError } from '../../../../services/shared/errors';
import { createTable, documentClient } from '../../../support/aws';

// #12.4 a write-once audit trail: every audit put (alone, or inside the transaction of a state change)
// carries the condition that no item has its key, so an entry is never replaced, against moto's DynamoDB.

let tableName: string;
let nextId = 'FIXED';
let store: DynamoDbStateStore;

beforeAll(async () => {
  tableName = await createTable();
  // The unique part of each entry's key, chosen by the test, so a second entry can land on the first's key.
  store = new DynamoDbStateStore({ client: documentClient(), tableName, newId: () => nextId });
});

const AT = '2026-11-23T10:00:00.000Z';

function entry(subjectId: string, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    subjectId,
    subjectType: 'violation',
    action: 'revoke',
    fromState: 'PENDING',
    toState: 'REVOKED',
    actorType: 'slack-user',
    actorId: 'U0ENGINEER',
    actorName: 'erin',
    result: 'ok',
    at: AT,
    ...overrides,
  };
}

let n = 0;
async function pending(): Promise<{ pk: string; sk: string }> {
  n += 1;
  nextId = `CREATE${n}`;
  const key = { pk: `VIOLATION#w-${n}`, sk: 'VIOLATION' };
  await store.createAll([{ ...key, type: 'violation', status: 'PENDING', version: 1, createdAt: AT }], []);
  return key;
}

describe('#12.4 an audit entry cannot be overwritten', () => {
  it('a second put with the same key fails, and the first entry stays as it was', async () => {
    nextId = 'SAME1';
    await store.appendAudit(entry('v-once'));
    await expect(
      store.appendAudit(entry('v-once', { actorId: 'U0MALLORY', toState: 'KEPT' })),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const history = await store.auditFor('v-once');
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ actorId: 'U0ENGINEER', toState: 'REVOKED', entryId: `${AT}#SAME1` });
  });

  it('a state change whose audit entry would land on an existing key is not made at all', async () => {
    const key = await pending();
    const violationId = key.pk.replace('VIOLATION#', '');
    nextId = 'SAME2';
    await store.appendAudit(entry(violationId, { action: 'notice', toState: null }));
    await expect(
      store.transition({ key, from: ['PENDING'], to: 'REVOKED', due: null, audit: entry(violationId) }),
    ).rejects.toBeInstanceOf(StateConflictError);
    expect(await store.get(key)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(await store.auditFor(violationId)).toEqual([
      expect.objectContaining({ action: 'notice', entryId: `${AT}#SAME2` }),
    ]);
  });

  it('a creation whose audit entry would land on an existing key creates nothing', async () => {
    nextId = 'SAME3';
    await store.appendAudit(entry('g-created', { subjectType: 'grant', action: 'request' }));
    const grant = {
      pk: 'GRANT#g-created',
      sk: 'GRANT',
      type: 'grant',
      status: 'PENDING',
      version: 1,
      createdAt: AT,
    };
    expect(await store.createAll([grant], [entry('g-created', { subjectType: 'grant' })])).toBe(false);
    expect(await store.get({ pk: 'GRANT#g-created', sk: 'GRANT' })).toBeNull();
    expect(await store.auditFor('g-created')).toHaveLength(1);
  });

  it('entries with fresh IDs are all kept, under the audit prefix the IAM protects', async () => {
    for (const id of ['A1', 'A2', 'A3']) {
      nextId = id;
      await store.appendAudit(entry('v-many'));
    }
    const history = await store.auditFor('v-many');
    expect(history.map((e) => e.entryId)).toEqual([`${AT}#A1`, `${AT}#A2`, `${AT}#A3`]);
    expect(history.every((e) => (e as unknown as { pk: string }).pk === `${AUDIT_KEY_PREFIX}v-many`)).toBe(
      true,
    );
  });
});
