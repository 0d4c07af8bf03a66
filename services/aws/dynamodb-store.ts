import type {
  DynamoDBDocumentClient,
  QueryCommandInput,
  TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { AuditEntry, StoredAuditEntry } from '../kernel/audit';
import {
  type DueKind,
  type ItemKey,
  keyId,
  type StateStore,
  type StoredItem,
  type Transition,
} from '../kernel/state';
import { StateConflictError } from '../shared/errors';
import { documentSdk, dynamoDbSdk } from './sdk';

export const DUE_INDEX = 'due';
export const AUDIT_INDEX = 'audit';
export const STATUS_INDEX = 'status';

/** Audit entries are partitioned by day so export reads a few partitions, never the whole table. */
function auditDay(iso: string): string {
  return iso.slice(0, 10);
}

/**
 * The partition-key prefix of every audit item. The deployed IAM lets no function update (or delete) an
 * item whose partition key starts with it (`dynamodb:LeadingKeys`, serverless.yml); no other item uses it.
 */
export const AUDIT_KEY_PREFIX = 'AUDIT#';

/** Audit entries are written once: a put of an entry whose key exists fails instead of replacing it. */
const WRITE_ONCE = 'attribute_not_exists(pk)';

function auditItem(entry: AuditEntry, id: string): Record<string, unknown> {
  const entryId = `${entry.at}#${id}`;
  return {
    pk: `${AUDIT_KEY_PREFIX}${entry.subjectId}`,
    sk: entryId,
    type: 'audit',
    entryId,
    gsi2pk: `AUDIT#${auditDay(entry.at)}`,
    gsi2sk: entryId,
    ...stripUndefined(entry as unknown as Record<string, unknown>),
  };
}

/** True when `item` is the subject of audit entry `a` (a violation, grant, run, … with its own ID). */
function isSubjectOf(item: Record<string, unknown>, a: AuditEntry): boolean {
  return item.type === a.subjectType && typeof item.pk === 'string' && item.pk.endsWith(`#${a.subjectId}`);
}

/**
 * The item after a transition, from the item it was made on (`basis`, read at `expectVersion`, so the
 * write succeeding means nothing but patches changed it since): what a read back would answer, without
 * the read. Null without a basis at that version.
 */
function afterTransition<T>(t: Transition): T | null {
  const basis = t.basis as Record<string, unknown> | undefined;
  if (!basis || t.expectVersion === undefined || basis.version !== t.expectVersion) return null;
  const setAttrs: Record<string, unknown> = {
    ...stripUndefined(t.set ?? {}),
    ...statusIndex(t.key, t.to, t.set),
    ...(t.due ? dueAttributes(t.due) : {}),
  };
  const after: Record<string, unknown> = { ...basis };
  const removes = [...(t.due ? [] : ['dueKind', 'dueAt', 'gsi1pk', 'gsi1sk']), ...(t.remove ?? [])];
  for (const r of removes) if (!(r in setAttrs)) delete after[r];
  Object.assign(after, setAttrs, { status: t.to, version: t.expectVersion + 1 });
  return structuredClone(after) as T;
}

/** The wait before attempt `attempt + 1` of a write or read DynamoDB answered only in part (jittered, doubling). */
function retryPause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
}

/** A transition that writes nothing beside its item: one conditional UpdateItem, no transaction. */
function isLoneUpdate(t: Transition): boolean {
  return !t.audit && !t.alsoPut?.length && !t.alsoPatch?.length;
}

/** Keys one BatchGetItem may carry. */
const BATCH_GET_LIMIT = 100;

function stripUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function dueAttributes(due: { kind: DueKind; at: string }): Record<string, string> {
  return { dueKind: due.kind, dueAt: due.at, gsi1pk: `DUE#${due.kind}`, gsi1sk: due.at };
}

function isConditionFailure(error: unknown): boolean {
  if (error instanceof dynamoDbSdk().TransactionCanceledException) {
    return (error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
  }
  const name = (error as { name?: string }).name;
  return name === 'ConditionalCheckFailedException';
}

/**
 * Why DynamoDB cancels a transaction without judging its conditions: throttling, or another transaction
 * on the same item at that moment. Nothing was written, so sending it again is safe. (The SDK retries
 * throttling of plain requests itself, but not a cancelled transaction.)
 */
const TRANSIENT_CANCELLATIONS = new Set([
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'TransactionConflict',
]);
/** Sends of one transaction at most, when DynamoDB cancels it for a transient reason. */
const TRANSACT_ATTEMPTS = 4;

function isTransientCancellation(error: unknown): boolean {
  if (!(error instanceof dynamoDbSdk().TransactionCanceledException)) return false;
  const codes = (error.CancellationReasons ?? []).map((r) => r.Code ?? 'None').filter((c) => c !== 'None');
  return codes.length > 0 && codes.every((c) => TRANSIENT_CANCELLATIONS.has(c));
}

/** The DynamoDB single-table state store (see README "Data model"). */
export class DynamoDbStateStore implements StateStore {
  private readonly clientSource: () => DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly onAudit: (entry: AuditEntry, item?: Record<string, unknown>) => void;
  private readonly newId: () => string;

  /**
   * `client` is the document client, or a function that creates it on first use (the wiring's, so that
   * a function that never reads the table never loads the DynamoDB SDK). `onAudit` sees every audit
   * entry once it is stored (the wiring logs each as one JSON line and derives metrics from it), with the
   * item as it is after a transition.
   */
  constructor(options: {
    client: DynamoDBDocumentClient | (() => DynamoDBDocumentClient);
    tableName: string;
    onAudit?: (entry: AuditEntry, item?: Record<string, unknown>) => void;
    /** The unique part of an audit entry's key (a ULID); tests choose it to prove entries are written once. */
    newId?: () => string;
  }) {
    const client = options.client;
    this.clientSource = typeof client === 'function' ? client : () => client;
    this.tableName = options.tableName;
    this.onAudit = options.onAudit ?? (() => {});
    this.newId = options.newId ?? ulid;
  }

  /** The write of one audit entry, in a transaction or alone: only if no entry has its key. */
  private auditPut(entry: AuditEntry) {
    return {
      TableName: this.tableName,
      Item: auditItem(entry, this.newId()),
      ConditionExpression: WRITE_ONCE,
    };
  }

  private get client(): DynamoDBDocumentClient {
    return this.clientSource();
  }

  async get<T extends StoredItem>(key: ItemKey): Promise<T | null> {
    const { GetCommand } = documentSdk();
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return (out.Item as T | undefined) ?? null;
  }

  async getMany<T extends StoredItem>(wanted: readonly ItemKey[]): Promise<Map<string, T>> {
    const { BatchGetCommand } = documentSdk();
    const found = new Map<string, T>();
    const unique = [...new Map(wanted.map((k) => [keyId(k), { pk: k.pk, sk: k.sk }])).values()];
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      let pending: ItemKey[] = unique.slice(start, start + BATCH_GET_LIMIT);
      for (let attempt = 1; pending.length > 0; attempt++) {
        const out = await this.client.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? [])
          found.set(keyId(item as ItemKey), item as T);
        // DynamoDB may answer part of a batch (throttling, 16 MB): the rest is asked again, backing off.
        pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as ItemKey[];
        if (pending.length === 0) break;
        if (attempt >= TRANSACT_ATTEMPTS)
          throw new Error(`DynamoDB left ${pending.length} keys of a batch read unanswered`);
        await retryPause(attempt);
      }
    }
    return found;
  }

  async createAll(items: Record<string, unknown>[], audits: AuditEntry[]): Promise<boolean> {
    const puts = items.map((item) => ({
      Put: {
        TableName: this.tableName,
        Item: withIndexKeys(stripUndefined(item)),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    }));
    const auditPuts = audits.map((a) => ({ Put: this.auditPut(a) }));
    try {
      await this.transact([...puts, ...auditPuts]);
      // Each entry with its subject as written, when it is one of the items (nobody reads it back).
      for (const a of audits)
        this.onAudit(
          a,
          items.find((i) => isSubjectOf(i, a)),
        );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async transition<T extends StoredItem>(t: Transition): Promise<T> {
    const update = this.transitionUpdate(t);
    if (isLoneUpdate(t)) {
      // Nothing to write with it: one conditional update that answers the item as it now is.
      const { UpdateCommand } = documentSdk();
      const out = await this.conflictAware(t, () =>
        this.client.send(new UpdateCommand({ ...update, ReturnValues: 'ALL_NEW' })),
      );
      return out.Attributes as T;
    }
    await this.conflictAware(t, () => this.transact(this.transitionItems(t, update)));
    let after: T | null = afterTransition<T>(t);
    try {
      after ??= await this.get<T>(t.key);
    } finally {
      // The entry is stored whether or not the read back works.
      if (t.audit) this.onAudit(t.audit, (after as unknown as Record<string, unknown> | null) ?? undefined);
    }
    if (!after) throw new StateConflictError(`${t.key.pk} vanished after its transition`);
    return after;
  }

  async move(t: Transition): Promise<void> {
    const update = this.transitionUpdate(t);
    if (isLoneUpdate(t)) {
      const { UpdateCommand } = documentSdk();
      await this.conflictAware(t, () => this.client.send(new UpdateCommand(update)));
      return;
    }
    await this.conflictAware(t, () => this.transact(this.transitionItems(t, update)));
    if (t.audit) this.onAudit(t.audit);
  }

  /** Runs a transition's write; a failed condition becomes StateConflictError (someone moved it first). */
  private async conflictAware<R>(t: Transition, write: () => Promise<R>): Promise<R> {
    try {
      return await write();
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new StateConflictError(`${t.key.pk} is no longer in state ${t.from.join(' or ')}`, {
          cause: error,
          context: { key: t.key, from: t.from, to: t.to },
        });
      }
      throw error;
    }
  }

  /** A transition's writes in one transaction: the update, its further puts and its audit entry. */
  private transitionItems(
    t: Transition,
    update: ReturnType<DynamoDbStateStore['transitionUpdate']>,
  ): TransactWriteCommandInput['TransactItems'] {
    const alsoPut = (t.alsoPut ?? []).map((item) => ({
      Put: {
        TableName: this.tableName,
        Item: withIndexKeys(stripUndefined(item)),
        ...putCondition(t.alsoPutReplaces),
      },
    }));
    const alsoPatch = (t.alsoPatch ?? []).flatMap(({ key, set }) => {
      const patch = this.patchUpdate(key, set);
      return patch ? [{ Update: patch }] : [];
    });
    return [
      { Update: update },
      ...alsoPut,
      ...alsoPatch,
      ...(t.audit ? [{ Put: this.auditPut(t.audit) }] : []),
    ];
  }

  /** The conditional update of a transition: status, version, attributes and due index, from a `from` state. */
  private transitionUpdate(t: Transition) {
    const names: Record<string, string> = { '#status': 'status', '#version': 'version' };
    const values: Record<string, unknown> = { ':to': t.to, ':one': 1 };
    const sets = ['#status = :to', '#version = #version + :one'];
    const removes: string[] = [];
    const setAttrs: Record<string, unknown> = {
      ...stripUndefined(t.set ?? {}),
      ...statusIndex(t.key, t.to, t.set),
    };
    if (t.due) Object.assign(setAttrs, dueAttributes(t.due));
    else removes.push('dueKind', 'dueAt', 'gsi1pk', 'gsi1sk');
    for (const r of t.remove ?? []) removes.push(r);
    let i = 0;
    for (const [k, v] of Object.entries(setAttrs)) {
      if (k === 'status' || k === 'version') continue;
      names[`#s${i}`] = k;
      values[`:s${i}`] = v;
      sets.push(`#s${i} = :s${i}`);
      i++;
    }
    const removeExpr = [...new Set(removes)]
      .filter((r) => !(r in setAttrs))
      .map((r, j) => {
        names[`#r${j}`] = r;
        return `#r${j}`;
      });
    const fromKeys = t.from.map((_, j) => `:f${j}`);
    t.from.forEach((s, j) => {
      values[`:f${j}`] = s;
    });
    let condition = `attribute_exists(pk) AND #status IN (${fromKeys.join(', ')})`;
    if (t.expectVersion !== undefined) {
      values[':v'] = t.expectVersion;
      condition += ' AND #version = :v';
    }
    return {
      TableName: this.tableName,
      Key: t.key,
      UpdateExpression: `SET ${sets.join(', ')}${removeExpr.length ? ` REMOVE ${removeExpr.join(', ')}` : ''}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  async patch(
    key: ItemKey,
    set: Record<string, unknown>,
    due?: { kind: DueKind; at: string } | null,
  ): Promise<void> {
    const update = this.patchUpdate(key, set, due);
    if (!update) return;
    const { UpdateCommand } = documentSdk();
    await this.client.send(new UpdateCommand(update));
  }

  /** A patch as an update of an existing item (attributes and due index), or null when it changes nothing. */
  private patchUpdate(
    key: ItemKey,
    set: Record<string, unknown>,
    due?: { kind: DueKind; at: string } | null,
  ) {
    const attrs = { ...stripUndefined(set), ...(due ? dueAttributes(due) : {}) };
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets = Object.entries(attrs).map(([k, v], i) => {
      names[`#a${i}`] = k;
      values[`:a${i}`] = v;
      return `#a${i} = :a${i}`;
    });
    const removes =
      due === null
        ? ['dueKind', 'dueAt', 'gsi1pk', 'gsi1sk'].map((r, j) => {
            names[`#r${j}`] = r;
            return `#r${j}`;
          })
        : [];
    if (sets.length === 0 && removes.length === 0) return null;
    return {
      TableName: this.tableName,
      Key: key,
      UpdateExpression: [
        sets.length ? `SET ${sets.join(', ')}` : '',
        removes.length ? `REMOVE ${removes.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' '),
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: names,
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
    };
  }

  async queryDue<T extends StoredItem>(kind: DueKind, until: string, limit: number): Promise<T[]> {
    return this.queryAll<T>(
      {
        TableName: this.tableName,
        IndexName: DUE_INDEX,
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk <= :until',
        ExpressionAttributeValues: { ':pk': `DUE#${kind}`, ':until': until },
      },
      limit,
    );
  }

  async queryByStatus<T extends StoredItem>(type: string, status: string, limit: number): Promise<T[]> {
    return this.queryAll<T>(
      {
        TableName: this.tableName,
        IndexName: STATUS_INDEX,
        KeyConditionExpression: 'gsi3pk = :pk',
        ExpressionAttributeValues: { ':pk': `${type}#${status}` },
        ScanIndexForward: false,
      },
      limit,
    );
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    const { PutCommand } = documentSdk();
    await this.client.send(new PutCommand(this.auditPut(entry)));
    this.onAudit(entry);
  }

  async auditFor(subjectId: string): Promise<StoredAuditEntry[]> {
    return this.queryAll<StoredAuditEntry & StoredItem>(
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `${AUDIT_KEY_PREFIX}${subjectId}` },
        ConsistentRead: true,
      },
      10_000,
    );
  }

  async *auditSince(since: string, until = new Date().toISOString()): AsyncIterable<StoredAuditEntry> {
    const day = new Date(`${auditDay(since)}T00:00:00.000Z`);
    const lastDay = auditDay(until);
    const { QueryCommand } = documentSdk();
    while (auditDay(day.toISOString()) <= lastDay) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: AUDIT_INDEX,
            KeyConditionExpression: 'gsi2pk = :pk AND gsi2sk BETWEEN :from AND :to',
            ExpressionAttributeValues: {
              ':pk': `AUDIT#${auditDay(day.toISOString())}`,
              ':from': since,
              ':to': `${until}~`,
            },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of out.Items ?? []) yield item as StoredAuditEntry;
        startKey = out.LastEvaluatedKey;
      } while (startKey);
      day.setUTCDate(day.getUTCDate() + 1);
    }
  }

  /** One transaction, sent again (with backoff) while DynamoDB cancels it for a transient reason only. */
  private async transact(items: TransactWriteCommandInput['TransactItems']): Promise<void> {
    const { TransactWriteCommand } = documentSdk();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        if (attempt >= TRANSACT_ATTEMPTS || !isTransientCancellation(error)) throw error;
        await retryPause(attempt);
      }
    }
  }

  private async queryAll<T>(input: QueryCommandInput, limit: number): Promise<T[]> {
    const { QueryCommand } = documentSdk();
    const out: T[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ ...input, Limit: Math.min(limit - out.length, 500), ExclusiveStartKey: startKey }),
      );
      out.push(...((page.Items ?? []) as T[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey && out.length < limit);
    return out;
  }
}

/** The condition of an `alsoPut`: must not exist, or (when replacing is allowed) must not be live. */
function putCondition(replaces: Transition['alsoPutReplaces']): {
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
} {
  if (!replaces) return { ConditionExpression: 'attribute_not_exists(pk)' };
  const names: Record<string, string> = { '#status': 'status' };
  const values: Record<string, unknown> = { ':live': replaces.unlessStatus };
  let condition = 'attribute_not_exists(pk) OR #status <> :live';
  if (replaces.expiredBy) {
    // A permanent item has expiresAt null: the type check keeps it live.
    names['#expiresAt'] = 'expiresAt';
    values[':expiredBy'] = replaces.expiredBy;
    values[':string'] = 'S';
    condition += ' OR (attribute_type(#expiresAt, :string) AND #expiresAt <= :expiredBy)';
  }
  return {
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/**
 * Derives an item's index keys from what it says: the due index (gsi1) from `dueKind` / `dueAt`, the
 * status index (gsi3) from `type` / `status`. Callers never write index keys, so an item created with
 * due work is always found by the sweeper.
 */
function withIndexKeys(item: Record<string, unknown>): Record<string, unknown> {
  const indexed = { ...item };
  if (typeof item.dueKind === 'string' && typeof item.dueAt === 'string')
    Object.assign(indexed, dueAttributes({ kind: item.dueKind as DueKind, at: item.dueAt }));
  if (typeof item.type === 'string' && typeof item.status === 'string')
    Object.assign(indexed, { gsi3pk: `${item.type}#${item.status}`, gsi3sk: String(item.createdAt ?? '') });
  return indexed;
}

function statusIndex(
  key: ItemKey,
  to: string,
  set: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const type = typeof set?.type === 'string' ? set.type : key.pk.split('#')[0]!.toLowerCase();
  return { gsi3pk: `${type}#${to}` };
}

/** The table's key schema and indexes, shared by serverless.yml's definition, tests and the local sandbox. */
export const TABLE_DEFINITION = {
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
    { AttributeName: 'gsi1pk', AttributeType: 'S' },
    { AttributeName: 'gsi1sk', AttributeType: 'S' },
    { AttributeName: 'gsi2pk', AttributeType: 'S' },
    { AttributeName: 'gsi2sk', AttributeType: 'S' },
    { AttributeName: 'gsi3pk', AttributeType: 'S' },
    { AttributeName: 'gsi3sk', AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: DUE_INDEX,
      KeySchema: [
        { AttributeName: 'gsi1pk', KeyType: 'HASH' },
        { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
    {
      IndexName: AUDIT_INDEX,
      KeySchema: [
        { AttributeName: 'gsi2pk', KeyType: 'HASH' },
        { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
    {
      IndexName: STATUS_INDEX,
      KeySchema: [
        { AttributeName: 'gsi3pk', KeyType: 'HASH' },
        { AttributeName: 'gsi3sk', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
  BillingMode: 'PAY_PER_REQUEST',
} as const;
