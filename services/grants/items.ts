import type { StoredItem } from '../kernel/state';

/**
 * A temporary allow-list entry (`/sg-whitelist`). PENDING while the rule is being added; ACTIVE with
 * its rule ID; REVOKING while its rule is being removed (claimed); REVOKE_FAILED until a retry removes
 * it; EXPIRED (by the clock) or REVOKED (early, by a person) once the rule is gone; FAILED when EC2
 * refused to add it; CHANGED when someone changed its rule outside sg-warden (the grant ended there, and
 * the rule is judged like any other: services/grants/changed-rule.ts).
 */
export type GrantStatus =
  | 'PENDING'
  | 'ACTIVE'
  | 'REVOKING'
  | 'REVOKE_FAILED'
  | 'EXPIRED'
  | 'REVOKED'
  | 'FAILED'
  | 'CHANGED';

export interface GrantItem extends StoredItem {
  type: 'grant';
  status: GrantStatus;
  grantId: string;
  /** The whitelist target's alias (config `whitelist.targets`). */
  alias: string;
  account: string;
  region: string;
  groupId: string;
  protocol: string;
  /** The port granted (tcp/udp), null for all ports or ICMP types. */
  port: number | null;
  /** A single host: x.x.x.x/32 or …/128. */
  cidr: string;
  userId: string;
  userName: string;
  /** How the address was given: typed, or captured by the one-time link (`me`). */
  via: 'address' | 'link';
  /** The channel the request came from, to answer there. */
  channel?: string;
  createdAt: string;
  expiresAt: string;
  ruleId?: string;
  revokeAttempts: number;
  lastError?: string;
  /** What the grant becomes once its rule is removed. */
  endAs?: 'EXPIRED' | 'REVOKED';
  endedAt?: string;
  endedBy?: string;
  warnedAt?: string;
  /** Set on FAILED: EC2's code. */
  failureCode?: string;
  /** Its target ended sessions when it was granted (`endSessions`): what the confirmation promised. */
  endSessions?: boolean;
}

/**
 * A one-time `me` link: the token's SHA-256 is the key; the token itself is never stored. (Stored as
 * type `iplink` under `IPLINK#…`, the names it has always had in the table.)
 */
export interface LinkItem extends StoredItem {
  type: 'iplink';
  status: 'OPEN' | 'USED';
  /** The grant the link will create (its ID is chosen when the link is issued). */
  grantId: string;
  userId: string;
  userName: string;
  alias: string;
  port: number | null;
  durationSeconds: number;
  channel?: string;
  createdAt: string;
  expiresAt: string;
  /** DynamoDB TTL attribute (epoch seconds): the table forgets the link a day after it expires. */
  expiresAtEpoch: number;
  usedAt?: string;
  sourceIp?: string;
}
