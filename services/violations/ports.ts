import type { MessageRef } from '../shared/ports';
import type { AlertItem, DigestItem, ViolationItem } from './items';

/** What an alert message shows: the event, its violations as they are now, and the time it is rendered. */
export interface AlertView {
  alert: AlertItem;
  violations: ViolationItem[];
  accountAlias: string | null;
  now: Date;
}

/**
 * What a digest message shows: the burst's principal and region, its violations (in the digest's order,
 * as they are now) and the alerts they came from.
 */
export interface DigestView {
  digest: DigestItem;
  alerts: AlertItem[];
  violations: ViolationItem[];
  /** Account ID → alias, for the accounts in it. */
  accountAliases: Record<string, string>;
  now: Date;
}

/** Tells people about alerts (Slack in production). */
export interface AlertNotifier {
  postAlert(channel: string, view: AlertView): Promise<MessageRef>;
  updateAlert(ref: MessageRef, view: AlertView): Promise<void>;
  /**
   * The alert's message in the channel, posted at or after `since` (ISO), or null when there is none:
   * how a post whose outcome is unknown is checked before posting again. Optional: without it, posts retry blindly.
   */
  findAlert?(channel: string, alertId: string, since: string): Promise<MessageRef | null>;
  /**
   * Digests (optional: a notifier without them posts every alert on its own). `fitsDigest` says whether a
   * digest would be within the channel's message limits with every line still pending (the most it can
   * ever show), which is how a burst is cut into messages.
   */
  postDigest?(channel: string, view: DigestView): Promise<MessageRef>;
  updateDigest?(ref: MessageRef, view: DigestView): Promise<void>;
  findDigest?(channel: string, digestId: string, since: string): Promise<MessageRef | null>;
  fitsDigest?(view: DigestView): boolean;
  /** A revoke that failed for good, told in the channel (in the alert's thread when known). */
  postRevokeFailure(channel: string, failure: RevokeFailure, threadTs?: string): Promise<void>;
}

/** A violation sg-warden gave up revoking: the rule is still open and people must act. */
export interface RevokeFailure {
  violation: ViolationItem;
  attempts: number;
  /** The last error, as one line. */
  error: string;
}
