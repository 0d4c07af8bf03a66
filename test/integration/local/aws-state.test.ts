import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { RecordingAwsProxy } from '../../../local/aws-recorder';
import { type MotoServer, repoRoot, startMoto } from '../../../local/shared/moto-server';
import { silentLogger } from '../../../services/shared/logger';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const SNAPSHOT_EVERY = 40;

/** moto as the sandbox runs it (local/moto-state.py, state in `dir`) behind a recording proxy. */
async function account(
  dir: string,
): Promise<{ moto: MotoServer; proxy: RecordingAwsProxy; db: DynamoDBClient }> {
  const moto = await startMoto({
    launcher: join(repoRoot, 'local', 'moto-state.py'),
    env: { SG_WARDEN_MOTO_STATE: join(dir, 'aws-state.pickle') },
  });
  const proxy = await new RecordingAwsProxy({
    motoUrl: moto.url,
    logFile: join(dir, 'aws-mutations.jsonl'),
    logger: silentLogger,
    snapshotEvery: SNAPSHOT_EVERY,
  }).start();
  return { moto, proxy, db: new DynamoDBClient({ region: 'us-east-1', endpoint: proxy.url, credentials }) };
}

async function put(db: DynamoDBClient, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await db.send(new PutItemCommand({ TableName: 'state', Item: { pk: { S: `item-${i}` } } }));
  }
}

async function count(db: DynamoDBClient): Promise<number> {
  return (await db.send(new ScanCommand({ TableName: 'state', Select: 'COUNT' }))).Count ?? -1;
}

function loggedCalls(dir: string): number {
  return readFileSync(join(dir, 'aws-mutations.jsonl'), 'utf8').split('\n').filter(Boolean).length;
}

describe('the sandbox restores the net state of its AWS account, not its history', () => {
  it('restarts from the saved state without replaying calls, and replays only what came after a hard stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aws-state-'));
    const first = await account(dir);
    try {
      await first.db.send(
        new CreateTableCommand({
          TableName: 'state',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await put(first.db, 0, 3 * SNAPSHOT_EVERY);
      // Saved every SNAPSHOT_EVERY calls: the log never holds more than that.
      expect(loggedCalls(dir)).toBeLessThanOrEqual(SNAPSHOT_EVERY);
    } finally {
      await first.proxy.stop();
      await first.moto.stop();
    }
    // A clean stop saves everything: nothing left to replay.
    expect(loggedCalls(dir)).toBe(0);

    const second = await account(dir);
    try {
      expect(await second.proxy.replay()).toEqual({ replayed: 0, differed: 0 });
      expect(second.proxy.snapshotSeq).toBe(1 + 3 * SNAPSHOT_EVERY);
      expect(await count(second.db)).toBe(3 * SNAPSHOT_EVERY);
      await put(second.db, 3 * SNAPSHOT_EVERY, 5);
      expect(second.proxy.mutations).toBe(1 + 3 * SNAPSHOT_EVERY + 5);
    } finally {
      // A hard stop (a crash, a power cut): no last save.
      await second.proxy.stopWithoutSaving();
      await second.moto.stop();
    }
    expect(loggedCalls(dir)).toBe(5);

    const third = await account(dir);
    try {
      expect(await third.proxy.replay()).toEqual({ replayed: 5, differed: 0 });
      expect(await count(third.db)).toBe(3 * SNAPSHOT_EVERY + 5);
    } finally {
      await third.proxy.stop();
      await third.moto.stop();
    }
  }, 120_000);

  it('refuses a saved state it cannot read with a sentence that says what to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aws-state-'));
    writeFileSync(join(dir, 'aws-state.pickle'), 'not a pickle');
    const broken = await account(dir);
    try {
      await expect(broken.proxy.replay()).rejects.toThrow(/cannot be read .*start with --reset/);
    } finally {
      await broken.proxy.stopWithoutSaving();
      await broken.moto.stop();
    }
  }, 60_000);
});
