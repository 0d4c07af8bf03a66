import { join } from 'node:path';

/** One AWS call a function made in the tests (test/support/iam-recording.ts), for the IAM simulation. */
export interface RecordedAwsCall {
  fn: string;
  testPath: string;
  method: string;
  host: string;
  path: string;
  service: string;
  region: string;
  accessKeyId: string;
  /** The caller behind a non-default access key (moto's GetCallerIdentity), e.g. an assumed member role. */
  callerArn?: string;
  target?: string;
  body: string;
  status: number;
  env: Record<string, string>;
  /** sha256 of the config file's text (the text is in .cache/iam-calls/configs/<hash>.yml). */
  configHash?: string;
  groups?: Record<string, { tags: Record<string, string>; vpcId?: string }>;
  rules?: Record<string, { tags: Record<string, string>; groupId?: string }>;
  instances?: Record<string, { tags: Record<string, string> }>;
}

/** Where the calls are recorded: one JSON line per call, one file per jest worker. */
export const RECORD_DIR = join(__dirname, '..', '..', '.cache', 'iam-calls');
