import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startMoto } from '../../local/shared/moto-server';

/** Starts one moto server for the whole run; test files isolate themselves by unique names. */
export default async function globalSetup(): Promise<void> {
  // This run's AWS calls, recorded per function for the IAM simulation (test/support/iam-recording.ts).
  rmSync(join(repoRoot, '.cache', 'iam-calls'), { recursive: true, force: true });
  // DynamoDB requests are serialised in the emulator: moto's transactions are not atomic under
  // concurrent requests (see moto-serial.py), and the race tests need DynamoDB's real guarantee.
  const moto = await startMoto({ launcher: join(repoRoot, 'test', 'support', 'moto-serial.py') });
  writeFileSync(join(repoRoot, '.cache', 'moto.pid'), String(moto.pid));
  process.env.MOTO_URL = moto.url;
  process.env.AWS_ENDPOINT_URL = moto.url;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_REGION = 'us-east-1';
  process.env.SG_WARDEN_LOG_LEVEL = process.env.SG_WARDEN_LOG_LEVEL ?? 'silent';
  (globalThis as { __moto?: unknown }).__moto = moto;
}
