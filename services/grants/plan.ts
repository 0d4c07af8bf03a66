import { randomBytes } from 'node:crypto';
import type { Config, WhitelistTarget } from '../config/config';
import { type AuditActor, type AuditEntry, auditEntry, SYSTEM_ACTOR, TIMEOUT_ACTOR } from '../kernel/audit';
import type { Refusal } from '../kernel/refusal';
import { type DueKind, keys } from '../kernel/state';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import { parseCidr } from '../shared/cidr';
import { formatDuration } from '../shared/duration';
import type { RuleFacts } from '../shared/model';
import type { Person } from '../shared/people';
import type { AwsTarget } from '../shared/ports';
import type { HostAddress } from './address';
import type { GrantItem } from './items';

// The pure core of grants: names, tags, due times and plans. No I/O here; the orchestration
// (request.ts, extend.ts, expiry.ts, links.ts) reads, calls EC2 and writes.

/** Tags every granted rule carries, so a rule can be traced to its grant (and found again by the sweeper). */
export const GRANT_TAGS = {
  grantId: 'sg-warden:grant-id',
  expiresAt: 'sg-warden:expires-at',
  slackUser: 'sg-warden:slack-user',
} as const;

/** The owner is offered an Extend button this long before a grant expires. */
export const WARN_BEFORE_SECONDS = 600;
/** A PENDING grant older than this was abandoned mid-way (its worker died); the sweeper cleans it up. */
export const PENDING_LEASE_SECONDS = 300;
/** A REVOKING claim older than this is taken over by the sweeper. */
export const REVOKE_LEASE_SECONDS = 120;
/** A failed revoke is tried again after 1, 2, 4 … minutes, at most this far apart. */
const REVOKE_BACKOFF_BASE_SECONDS = 60;
const MAX_REVOKE_BACKOFF_SECONDS = 1800;
/** Account key for targets without `account`: the bot's own account. */
export const OWN_ACCOUNT = 'self';

/** A retry of a failed removal, as the audit trail names it. */
export const RETRY_ACTOR: AuditActor = { ...SYSTEM_ACTOR, name: 'retry' };

const ID_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** A short, unguessable grant ID such as g-k3m9x2q7hw. */
export function newGrantId(): string {
  const bytes = randomBytes(10);
  return `g-${[...bytes].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('')}`;
}

/**
 * The configured whitelist target called `alias`, or null. Own keys only: a typed `constructor` or
 * `__proto__` is no target, whatever Object.prototype holds.
 */
export function targetNamed(config: Config, alias: string): WhitelistTarget | null {
  const targets = config.whitelist.targets;
  return Object.hasOwn(targets, alias) ? (targets[alias] ?? null) : null;
}

/** EC2 accepts these in rule descriptions (a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*), up to 255. */
export function sanitizeRuleDescription(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/[^a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, 255);
}

/** "sg-warden grant g-… for @user until 2026-11-23T12:00Z", within EC2's description rules. */
export function grantDescription(grantId: string, userName: string, expiresAt: string): string {
  const name = sanitizeRuleDescription(userName).replace(/\s/g, '').slice(0, 80) || 'unknown';
  return sanitizeRuleDescription(`sg-warden grant ${grantId} for @${name} until ${expiresAt.slice(0, 16)}Z`);
}

/** Tag values may hold letters, digits, spaces and _.:/=+-@ (up to 256). */
function tagValue(text: string): string {
  return text.replace(/[^a-zA-Z0-9 _.:/=+\-@]/g, '').slice(0, 256);
}

/** The tags a grant's rule carries. */
export function grantTags(
  grant: Pick<GrantItem, 'grantId' | 'expiresAt' | 'userId'>,
): Record<string, string> {
  return {
    [GRANT_TAGS.grantId]: grant.grantId,
    [GRANT_TAGS.expiresAt]: tagValue(grant.expiresAt),
    [GRANT_TAGS.slackUser]: tagValue(grant.userId),
  };
}

/** The account and region a grant's rule lives in. */
export function awsTargetOf(grant: Pick<GrantItem, 'account' | 'region'>): AwsTarget {
  return { account: grant.account, region: grant.region };
}

/** The grant's owner, as the audit trail and the who-may rules see them. */
export function ownerOf(grant: Pick<GrantItem, 'userId' | 'userName'>): Person {
  return { id: grant.userId, name: grant.userName };
}

/** A Slack user as an audit actor. */
export function personActor(person: Person): AuditActor {
  return { type: 'slack-user', id: person.id, name: person.name };
}

/** Where an ACTIVE grant sits on the due index: the warning first, then the expiry. */
export function activeDue(expiresAt: string, now: Date, warned: boolean): { kind: DueKind; at: string } {
  const warnAt = plusSeconds(expiresAt, -WARN_BEFORE_SECONDS);
  if (!warned && warnAt > now.toISOString()) return { kind: 'GRANT_WARN', at: warnAt };
  return { kind: 'GRANT_EXPIRY', at: expiresAt };
}

/** How long until a failed removal is tried again, after `attempts` failures. */
export function revokeBackoffSeconds(attempts: number): number {
  return backoffSeconds(attempts, REVOKE_BACKOFF_BASE_SECONDS, MAX_REVOKE_BACKOFF_SECONDS);
}

/** "TCP 22", "UDP 53", "ICMP", "all traffic". */
export function describeAccess(protocol: string, port: number | null): string {
  if (protocol === 'all') return 'all traffic';
  if (port === null) return protocol.toUpperCase().replace('V6', 'v6');
  return `${protocol.toUpperCase()} ${port}`;
}

/** True when a live rule gives exactly the access a grant asks for (same host, protocol and port). */
export function sameAccess(rule: RuleFacts, grant: Pick<GrantItem, 'protocol' | 'port' | 'cidr'>): boolean {
  if (rule.direction !== 'ingress') return false;
  if (rule.sourceKind !== 'ipv4' && rule.sourceKind !== 'ipv6') return false;
  const a = parseCidr(rule.source);
  const b = parseCidr(grant.cidr);
  if (!a || !b || a.kind !== b.kind || a.prefix !== b.prefix || a.address.toString() !== b.address.toString())
    return false;
  if (rule.protocol !== grant.protocol) return false;
  if (grant.protocol === 'all') return true;
  return rule.fromPort === grant.port && rule.toPort === grant.port;
}

/** A request the who-may rules accepted (before the address is known, for `me` links). */
export interface CheckedRequest {
  alias: string;
  target: WhitelistTarget;
  port: number | null;
  durationSeconds: number;
}

/** What a grant request came to. */
export type GrantOutcome =
  | { kind: 'granted'; grant: GrantItem }
  /** The same rule already existed as the asker's own grant: that grant was extended instead. */
  | { kind: 'extended'; grant: GrantItem; previousExpiresAt: string };

/** What a grant request stores first: the PENDING grant (due for clean-up if its worker dies) and its audit. */
export function planGrant(input: {
  grantId: string;
  checked: CheckedRequest;
  host: HostAddress;
  person: Person;
  via: GrantItem['via'];
  channel?: string;
  now: Date;
}): { grant: GrantItem; audit: AuditEntry } {
  const { checked, now } = input;
  const { target } = checked;
  const grant: GrantItem = {
    ...keys.grant(input.grantId),
    type: 'grant',
    status: 'PENDING',
    version: 1,
    grantId: input.grantId,
    alias: checked.alias,
    account: target.account ?? OWN_ACCOUNT,
    region: target.region,
    groupId: target.groupId,
    protocol: target.protocol,
    port: checked.port,
    cidr: input.host.cidr,
    userId: input.person.id,
    userName: input.person.name,
    via: input.via,
    ...(input.channel ? { channel: input.channel } : {}),
    ...(target.endSessions ? { endSessions: true } : {}),
    createdAt: now.toISOString(),
    expiresAt: plusSeconds(now, checked.durationSeconds),
    revokeAttempts: 0,
    dueKind: 'GRANT_EXPIRY',
    dueAt: plusSeconds(now, PENDING_LEASE_SECONDS),
  };
  const audit = auditEntry({ id: grant.grantId, type: 'grant' }, personActor(input.person), {
    action: 'request',
    fromState: null,
    toState: 'PENDING',
    result: 'ok',
    at: grant.createdAt,
    details: {
      alias: grant.alias,
      groupId: grant.groupId,
      region: grant.region,
      access: describeAccess(grant.protocol, grant.port),
      cidr: grant.cidr,
      expiresAt: grant.expiresAt,
      via: grant.via,
    },
  });
  return { grant, audit };
}

/** How long the Extend button may add to a grant (the target's default, within its longest), or null. */
export function extendBy(config: Config, grant: GrantItem, now: Date): number | null {
  const target = targetNamed(config, grant.alias);
  if (!target) return null;
  const latest = plusSeconds(now, target.maxDuration);
  const room = Math.floor((new Date(latest).getTime() - new Date(grant.expiresAt).getTime()) / 1000);
  const by = Math.min(target.defaultDuration, room);
  return by >= 60 ? by : null;
}

/**
 * The new expiry of an extension by `seconds` (the target's default when null) from the grant's current
 * expiry, never past the target's longest duration from now. `capped` (the Extend button) shortens an
 * extension that would go past it instead of refusing it.
 */
export function planExtension(
  target: WhitelistTarget,
  grant: GrantItem,
  seconds: number | null,
  now: Date,
  capped: boolean,
): { expiresAt: string } | { refusal: Refusal } {
  const latest = plusSeconds(now, target.maxDuration);
  const wanted = plusSeconds(grant.expiresAt, seconds ?? target.defaultDuration);
  if (wanted <= latest) return { expiresAt: wanted };
  if (capped && latest > grant.expiresAt) return { expiresAt: latest };
  return {
    refusal: {
      code: 'BAD_DURATION',
      message: `"${grant.alias}" grants last at most ${formatDuration(target.maxDuration)} from now, so ${grant.grantId} can run until ${latest.slice(0, 16)}Z at the latest (it ends ${grant.expiresAt.slice(0, 16)}Z).`,
    },
  };
}

const ACCESS_DENIED = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
]);
const GROUP_MISSING = new Set([
  'InvalidGroup.NotFound',
  'InvalidGroupId.Malformed',
  'InvalidGroupId.NotFound',
]);

/** True when EC2's refusal is "the group is full", for which the answer counts the group's rules. */
export function isRuleLimit(awsCode: string): boolean {
  return awsCode === 'RulesPerSecurityGroupLimitExceeded';
}

/**
 * The sentence for an EC2 refusal to add a grant's rule. `rules` (for a full group) is how many
 * inbound rules it has, when that could be read, and `limit` the configured quota.
 */
export function ec2Refusal(
  grant: Pick<GrantItem, 'groupId' | 'alias' | 'region'>,
  awsCode: string,
  full: { rules: number | null; limit: number } = { rules: null, limit: 60 },
): Refusal {
  const where = `${grant.groupId} ("${grant.alias}", ${grant.region})`;
  if (isRuleLimit(awsCode)) {
    return {
      code: 'RULE_LIMIT',
      message: `${where} is full: it has ${full.rules ?? 'too many'} inbound rules and the limit is ${full.limit}, so nothing was added. Remove a rule you no longer need, or ask an admin to raise the "rules per security group" quota.`,
    };
  }
  if (GROUP_MISSING.has(awsCode)) {
    return {
      code: 'GROUP_NOT_FOUND',
      message: `Security group ${grant.groupId} of target "${grant.alias}" does not exist in ${grant.region}, so nothing was added. Ask an admin to fix whitelist.targets.${grant.alias} in the configuration.`,
    };
  }
  if (ACCESS_DENIED.has(awsCode)) {
    return {
      code: 'AWS_ACCESS_DENIED',
      message: `sg-warden is not allowed to add rules to ${where} (${awsCode}), so nothing was added. Ask an admin to check the bot's IAM permissions.`,
    };
  }
  return {
    code: 'AWS_REFUSED',
    message: `EC2 refused the rule for ${where} (${awsCode}), so nothing was added.`,
  };
}

/** What the sweeper does with a grant on the GRANT_EXPIRY index at `now`. */
export type ExpiryPlan =
  | { kind: 'nothing' }
  /** A request whose worker died: remove any rule tagged with it, then mark it FAILED. */
  | { kind: 'reconcile' }
  /** Remove the rule (ending the grant as `endAs`), or retry a failed removal. */
  | { kind: 'remove'; endAs: 'EXPIRED' | 'REVOKED'; by: AuditActor };

/**
 * Decides what a GRANT_EXPIRY entry means now: nothing when it is stale (the grant was extended or
 * ended after the sweep read it), clean-up for an abandoned request, else removal of the rule.
 */
export function planExpiry(grant: GrantItem | null, now: Date): ExpiryPlan {
  const at = now.toISOString();
  if (!grant?.dueAt || grant.dueKind !== 'GRANT_EXPIRY' || grant.dueAt > at) return { kind: 'nothing' };
  if (grant.status === 'PENDING') return { kind: 'reconcile' };
  if (grant.status === 'ACTIVE' && grant.expiresAt > at) return { kind: 'nothing' };
  if (grant.status === 'ACTIVE') return { kind: 'remove', endAs: 'EXPIRED', by: TIMEOUT_ACTOR };
  if (grant.status === 'REVOKING' || grant.status === 'REVOKE_FAILED') {
    return { kind: 'remove', endAs: grant.endAs ?? 'EXPIRED', by: RETRY_ACTOR };
  }
  return { kind: 'nothing' };
}
