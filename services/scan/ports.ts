import type { ExposureLookup } from '../exposure/lookup';
import type { Metrics } from '../shared/metrics';
import type {
  AccountScope,
  AwsTarget,
  PrefixListReader,
  RuleInventory,
  SecurityGroupReader,
} from '../shared/ports';
import type { PosterDeps } from '../violations/channel-poster';

/** An account and region the scan could not read, told once a day in the alert channel. */
export interface UnreadableTarget extends AwsTarget {
  runId: string;
  /** What failed, as one line (the AWS call and its error code). */
  error: string;
}

/** Tells people what the scan could not do (Slack in production). */
export interface ScanNotifier {
  postUnreadable(channel: string, target: UnreadableTarget): Promise<void>;
}

/** Starts another invocation to carry on a run that ran out of time (Lambda's asynchronous invoke). */
export interface ScanContinuation {
  continueScan(): Promise<void>;
}

/** The scan posts as detection does (PosterDeps: at once, or digests for a burst) and arms backstops (`backstop`). */
export interface ScanDeps extends PosterDeps {
  inventory: RuleInventory;
  /** A group's rules and tags read again when the scan re-grades it (exposure/regrade.ts). */
  groups: SecurityGroupReader;
  /** The groups' exposure (policy.exposure): one lookup per invocation. Unset: severities are the rules' own. */
  exposure?: ExposureLookup;
  metrics?: Metrics;
  /** Prefix-list entries (the run caches each list once per invocation). */
  prefixLists: PrefixListReader;
  accounts: AccountScope;
  scanNotifier: ScanNotifier;
  /** Absent (tests, the sandbox): a paused run waits for the next invocation. */
  continuation?: ScanContinuation;
  /** How a throttled call waits before its next try; default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}
