import { randomBytes } from 'node:crypto';
import type { Config, WhitelistTarget } from '../config/config';
import type { AuditEntry } from '../kernel/audit';
import { type DueKind, keys, type StateStore, type StoredItem, tryTransition } from '../kernel/state';
import { parseCidr } from '../shared/cidr';
import { formatDuration } from '../shared/duration';
import {
  AwsCallError,
  describeError,
  NotAuthorisedError,
  NotFoundError,
  SgWardenError,
  StateConflictError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { RuleFacts } from '../shared/model';
import { type Directory, isAllowed } from '../shared/people';
import type { AwsTarget, RuleAuthorizer, RuleRemover, SecurityGroupReader } from '../shared/ports';
import { parseHostAddress } from './address';
import type { GrantItem, GrantStatus } from './items';

/** What the grant service works with (handlers/wiring.ts builds it once per container). */
export interface GrantDeps {
  config: Config;
  store: StateStore;
  ec2: SecurityGroupReader & RuleRemover & RuleAuthorizer;
  directory: Directory;
  clock: () => Date;
  logger: Logger;
}

/** Who asks: a Slack user. */
export interface Requester {
  userId: string;
  userName: string;
}

/** A grant request sg-warden refuses, or an EC2 answer that stopped it: one sentence and a stable code. */
export class GrantRefusedError extends SgWardenError {
  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

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
const MAX_REVOKE_BACKOFF_SECONDS = 1800;
/** Account key for targets without `account`: the bot's own account. */
export const OWN_ACCOUNT = 'self';

/** Statuses in which a grant's rule may exist in EC2. */
export const LIVE_GRANT_STATUSES: readonly GrantStatus[] = ['PENDING', 'ACTIVE', 'REVOKING', 'REVOKE_FAILED'];

const ID_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** A short, unguessable grant ID such as g-k3m9x2q7hw. */
export function newGrantId(): string {
  const bytes = randomBytes(10);
  return `g-${[...bytes].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('')}`;
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

function grantTags(grant: Pick<GrantItem, 'grantId' | 'expiresAt' | 'userId'>): Record<string, string> {
  return {
    [GRANT_TAGS.grantId]: grant.grantId,
    [GRANT_TAGS.expiresAt]: tagValue(grant.expiresAt),
    [GRANT_TAGS.slackUser]: tagValue(grant.userId),
  };
}

export function awsTargetOf(grant: Pick<GrantItem, 'account' | 'region'>): AwsTarget {
  return { account: grant.account, region: grant.region };
}

function plusSeconds(date: Date | string, seconds: number): string {
  return new Date(new Date(date).getTime() + seconds * 1000).toISOString();
}

/** Where an ACTIVE grant sits on the due index: the warning first, then the expiry. */
export function activeDue(expiresAt: string, now: Date, warned: boolean): { kind: DueKind; at: string } {
  const warnAt = plusSeconds(expiresAt, -WARN_BEFORE_SECONDS);
  if (!warned && warnAt > now.toISOString()) return { kind: 'GRANT_WARN', at: warnAt };
  return { kind: 'GRANT_EXPIRY', at: expiresAt };
}

/** "TCP 22", "UDP 53", "ICMP", "all traffic". */
export function describeAccess(protocol: string, port: number | null): string {
  if (protocol === 'all') return 'all traffic';
  if (port === null) return protocol.toUpperCase().replace('V6', 'v6');
  return `${protocol.toUpperCase()} ${port}`;
}

function grantAudit(
  grant: Pick<GrantItem, 'grantId'>,
  action: string,
  fromState: string | null,
  toState: string | null,
  actor: { type: AuditEntry['actorType']; id: string; name?: string },
  at: string,
  extra: Partial<AuditEntry> = {},
): AuditEntry {
  return {
    subjectId: grant.grantId,
    subjectType: 'grant',
    action,
    fromState,
    toState,
    actorType: actor.type,
    actorId: actor.id,
    ...(actor.name ? { actorName: actor.name } : {}),
    result: 'ok',
    at,
    ...extra,
  };
}

function userActor(r: Requester): { type: 'slack-user'; id: string; name: string } {
  return { type: 'slack-user', id: r.userId, name: r.userName };
}

const SYSTEM = { type: 'system' as const, id: 'sg-warden' };
const TIMEOUT = { type: 'timeout' as const, id: 'timeout' };

/** The configured target for an alias, or a refusal naming the targets there are. */
export function targetFor(config: Config, alias: string): WhitelistTarget {
  const target = config.whitelist.targets[alias];
  if (target) return target;
  const known = Object.keys(config.whitelist.targets);
  throw new GrantRefusedError(
    'UNKNOWN_TARGET',
    known.length === 0
      ? 'No whitelist targets are configured, so nothing can be granted.'
      : `There is no whitelist target called "${alias}". Targets: ${known.join(', ')}.`,
  );
}

/** Writes a refusal (no state change) to the audit trail: who asked for what, and why not. */
export async function auditRefusal(
  deps: Pick<GrantDeps, 'store' | 'clock' | 'logger'>,
  subjectId: string,
  requester: Requester,
  error: SgWardenError,
  details: Record<string, unknown> = {},
): Promise<void> {
  const at = deps.clock().toISOString();
  await deps.store
    .appendAudit(
      grantAudit({ grantId: subjectId }, 'request', null, null, userActor(requester), at, {
        result: 'refused',
        error: error.message,
        details: { code: error.code, ...details },
      }),
    )
    .catch((e) => deps.logger.error({ err: describeError(e) }, 'refusal not audited'));
}

/** Runs a check; a refusal it throws is audited before it reaches the asker. */
export async function refusalAudited<T>(
  deps: Pick<GrantDeps, 'store' | 'clock' | 'logger'>,
  subjectId: string,
  requester: Requester,
  check: () => Promise<T>,
): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof SgWardenError) await auditRefusal(deps, subjectId, requester, error);
    throw error;
  }
}

/** What a valid request resolves to (before the address is known, for `me` links). */
export interface CheckedRequest {
  alias: string;
  target: WhitelistTarget;
  port: number | null;
  durationSeconds: number;
}

function defaultPort(target: WhitelistTarget): number | null {
  if (target.protocol !== 'tcp' && target.protocol !== 'udp') return null;
  return target.ports[0] ?? null;
}

/**
 * Checks everything about a request except the address: the target exists, the person may use it, the
 * port is one of the target's and the duration within its longest. Throws GrantRefusedError /
 * NotAuthorisedError with one sentence.
 */
export async function checkRequest(
  deps: Pick<GrantDeps, 'config' | 'directory'>,
  request: { alias: string; port?: number | null; durationSeconds?: number | null; requester: Requester },
): Promise<CheckedRequest> {
  const target = targetFor(deps.config, request.alias);
  if (!(await isAllowed(target.allowed, request.requester.userId, deps.directory))) {
    throw new NotAuthorisedError(
      `You are not on the list of people who may use the "${request.alias}" target.`,
    );
  }
  let port = defaultPort(target);
  if (request.port !== undefined && request.port !== null) {
    if (target.protocol !== 'tcp' && target.protocol !== 'udp') {
      throw new GrantRefusedError(
        'BAD_PORT',
        `The "${request.alias}" target grants ${describeAccess(target.protocol, null)}; it takes no port.`,
      );
    }
    if (!target.ports.includes(request.port)) {
      throw new GrantRefusedError(
        'BAD_PORT',
        `Port ${request.port} is not offered by "${request.alias}"; choose one of ${target.ports.join(', ')}.`,
      );
    }
    port = request.port;
  }
  const durationSeconds = request.durationSeconds ?? target.defaultDuration;
  if (durationSeconds < 60) throw new GrantRefusedError('BAD_DURATION', 'A grant lasts at least 1m.');
  if (durationSeconds > target.maxDuration) {
    throw new GrantRefusedError(
      'BAD_DURATION',
      `"${request.alias}" allows at most ${formatDuration(target.maxDuration)}; ask for that or less.`,
    );
  }
  return { alias: request.alias, target, port, durationSeconds };
}

export interface GrantRequest {
  alias: string;
  /** The address as typed, or as API Gateway saw it. */
  address: string;
  port?: number | null;
  durationSeconds?: number | null;
  requester: Requester;
  via: GrantItem['via'];
  channel?: string;
  /** Chosen in advance when the request came through a `me` link. */
  grantId?: string;
}

export type GrantOutcome =
  | { kind: 'granted'; grant: GrantItem }
  /** The same rule already existed as the asker's own grant: that grant was extended instead. */
  | { kind: 'extended'; grant: GrantItem; previousExpiresAt: string };

function sameAccess(rule: RuleFacts, grant: Pick<GrantItem, 'protocol' | 'port' | 'cidr'>): boolean {
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

/** True when EC2 answered (so it refused and added nothing), rather than the call failing on the way. */
function isDefiniteRefusal(error: AwsCallError): boolean {
  const status = (error.cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
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

/**
 * Grants one host access to a target: validates, stores a PENDING grant, adds the rule (described and
 * tagged with the grant), then in one transaction marks the grant ACTIVE with its rule ID and records
 * the rule as sg-warden's own (so detection never raises it). EC2 refusals leave the grant FAILED and
 * throw one sentence; the same rule already granted to the asker extends that grant instead.
 */
export async function requestGrant(deps: GrantDeps, request: GrantRequest): Promise<GrantOutcome> {
  const subject = request.grantId ?? `target:${request.alias}`;
  const checked = await refusalAudited(deps, subject, request.requester, () => checkRequest(deps, request));
  const parsed = parseHostAddress(request.address);
  if (!parsed.ok) {
    const refusal = new GrantRefusedError('BAD_ADDRESS', parsed.reason);
    await auditRefusal(deps, subject, request.requester, refusal);
    throw refusal;
  }
  const { target } = checked;
  const now = deps.clock();
  const nowIso = now.toISOString();
  const grantId = request.grantId ?? newGrantId();
  const grant: GrantItem = {
    ...keys.grant(grantId),
    type: 'grant',
    status: 'PENDING',
    version: 1,
    grantId,
    alias: checked.alias,
    account: target.account ?? OWN_ACCOUNT,
    region: target.region,
    groupId: target.groupId,
    protocol: target.protocol,
    port: checked.port,
    cidr: parsed.host.cidr,
    userId: request.requester.userId,
    userName: request.requester.userName,
    via: request.via,
    ...(request.channel ? { channel: request.channel } : {}),
    createdAt: nowIso,
    expiresAt: plusSeconds(now, checked.durationSeconds),
    revokeAttempts: 0,
    dueKind: 'GRANT_EXPIRY',
    dueAt: plusSeconds(now, PENDING_LEASE_SECONDS),
  };
  const stored = await deps.store.createAll(
    [{ ...grant }],
    [
      grantAudit(grant, 'request', null, 'PENDING', userActor(request.requester), nowIso, {
        details: {
          alias: grant.alias,
          groupId: grant.groupId,
          region: grant.region,
          access: describeAccess(grant.protocol, grant.port),
          cidr: grant.cidr,
          expiresAt: grant.expiresAt,
          via: grant.via,
        },
      }),
    ],
  );
  if (!stored) throw new GrantRefusedError('ALREADY_REQUESTED', `Grant ${grantId} was already requested.`);
  const log = deps.logger.child({ grantId, slackUser: grant.userId, groupId: grant.groupId });
  const awsTarget = awsTargetOf(grant);

  let added: { ruleId: string; requestId: string | null };
  try {
    added = await deps.ec2.authorizeIngress(awsTarget, {
      groupId: grant.groupId,
      protocol: grant.protocol,
      port: grant.port,
      cidr: grant.cidr,
      description: grantDescription(grantId, grant.userName, grant.expiresAt),
      tags: grantTags(grant),
    });
  } catch (error) {
    const awsError =
      error instanceof AwsCallError
        ? error
        : new AwsCallError(describeError(error), { awsCode: 'Unknown', cause: error });
    if (awsError.awsCode === 'InvalidPermission.Duplicate')
      return duplicate(deps, grant, checked.durationSeconds);
    if (isDefiniteRefusal(awsError)) throw await fail(deps, grant, awsError, target);
    // The call failed on the way (timeout, network, 5xx): EC2 may or may not have added the rule.
    let adopted: string | null;
    try {
      adopted = await ruleTaggedFor(deps, grant);
    } catch (lookupError) {
      log.warn({ err: describeError(lookupError) }, 'grant outcome unknown; left for the sweeper');
      throw new GrantRefusedError(
        'GRANT_UNCONFIRMED',
        `EC2 did not confirm the rule for ${grantId} (${awsError.awsCode}). If it was added, sg-warden removes it within minutes; please try again later.`,
        { cause: error },
      );
    }
    if (adopted) return { kind: 'granted', grant: await activate(deps, grant, adopted, null, now) };
    throw await fail(deps, grant, awsError, target);
  }
  try {
    return { kind: 'granted', grant: await activate(deps, grant, added.ruleId, added.requestId, now) };
  } catch (error) {
    // The rule exists but is not recorded: take it out again so nothing half-done stays (the sweeper
    // finds it by its tag if this fails too).
    log.error({ err: describeError(error), ruleId: added.ruleId }, 'grant not recorded; removing its rule');
    await deps.ec2
      .revokeRules(awsTarget, grant.groupId, 'ingress', [added.ruleId])
      .catch((e) => log.error({ err: describeError(e) }, 'rule of unrecorded grant not removed'));
    throw new GrantRefusedError(
      'GRANT_NOT_RECORDED',
      `The rule for ${grantId} could not be recorded, so it was taken out again. Please try again.`,
      { cause: error },
    );
  }
}

async function ruleTaggedFor(deps: GrantDeps, grant: GrantItem): Promise<string | null> {
  const rules = await deps.ec2.describeRulesTagged(awsTargetOf(grant), GRANT_TAGS.grantId, grant.grantId);
  return rules.find((r) => r.ruleId)?.ruleId ?? null;
}

async function activate(
  deps: GrantDeps,
  grant: GrantItem,
  ruleId: string,
  requestId: string | null,
  now: Date,
): Promise<GrantItem> {
  const at = deps.clock().toISOString();
  return deps.store.transition<GrantItem>({
    key: keys.grant(grant.grantId),
    from: ['PENDING'],
    to: 'ACTIVE',
    set: { ruleId },
    due: activeDue(grant.expiresAt, now, false),
    audit: grantAudit(grant, 'grant', 'PENDING', 'ACTIVE', userActor(grant), at, {
      ...(requestId ? { awsRequestId: requestId } : {}),
      details: { ruleId, groupId: grant.groupId, cidr: grant.cidr, expiresAt: grant.expiresAt },
    }),
    alsoPut: [
      {
        ...keys.ownRule(grant.region, ruleId),
        type: 'ownrule',
        grantId: grant.grantId,
        groupId: grant.groupId,
        region: grant.region,
        createdAt: at,
      },
    ],
  });
}

/** Marks a PENDING grant FAILED and returns the sentence to tell the asker. */
async function fail(
  deps: GrantDeps,
  grant: GrantItem,
  error: AwsCallError,
  target: WhitelistTarget,
): Promise<GrantRefusedError> {
  let refusal: GrantRefusedError;
  const where = `${grant.groupId} ("${grant.alias}", ${grant.region})`;
  if (error.awsCode === 'RulesPerSecurityGroupLimitExceeded') {
    const limit = deps.config.whitelist.rulesPerGroupLimit;
    const count = await deps.ec2
      .describeGroupRules(awsTargetOf(grant), target.groupId)
      .then((rules) => rules.filter((r) => r.direction === 'ingress').length)
      .catch(() => null);
    refusal = new GrantRefusedError(
      'RULE_LIMIT',
      `${where} is full: it has ${count ?? 'too many'} inbound rules and the limit is ${limit}, so nothing was added. Remove a rule you no longer need, or ask an admin to raise the "rules per security group" quota.`,
      { cause: error },
    );
  } else if (GROUP_MISSING.has(error.awsCode)) {
    refusal = new GrantRefusedError(
      'GROUP_NOT_FOUND',
      `Security group ${grant.groupId} of target "${grant.alias}" does not exist in ${grant.region}, so nothing was added. Ask an admin to fix whitelist.targets.${grant.alias} in the configuration.`,
      { cause: error },
    );
  } else if (ACCESS_DENIED.has(error.awsCode)) {
    refusal = new GrantRefusedError(
      'AWS_ACCESS_DENIED',
      `sg-warden is not allowed to add rules to ${where} (${error.awsCode}), so nothing was added. Ask an admin to check the bot's IAM permissions.`,
      { cause: error },
    );
  } else {
    refusal = new GrantRefusedError(
      'AWS_REFUSED',
      `EC2 refused the rule for ${where} (${error.awsCode}), so nothing was added.`,
      { cause: error },
    );
  }
  await failPending(deps, grant, refusal.code, describeError(error), SYSTEM);
  // The request's ID lets people find its history (/sg-status audit g-…).
  return new GrantRefusedError(refusal.code, `${refusal.message} (request ${grant.grantId})`, {
    cause: error,
  });
}

async function failPending(
  deps: GrantDeps,
  grant: GrantItem,
  code: string,
  message: string,
  actor: { type: AuditEntry['actorType']; id: string },
): Promise<void> {
  const at = deps.clock().toISOString();
  await deps.store.transition({
    key: keys.grant(grant.grantId),
    from: ['PENDING'],
    to: 'FAILED',
    set: { failureCode: code, lastError: message, endedAt: at },
    due: null,
    audit: grantAudit(grant, 'grant', 'PENDING', 'FAILED', actor, at, {
      result: code === 'DUPLICATE_EXTENDED' ? 'ok' : 'error',
      error: message,
      details: { code },
    }),
  });
}

/** EC2 says the rule exists already: extend the asker's own grant of it, or say whose rule it is. */
async function duplicate(
  deps: GrantDeps,
  pending: GrantItem,
  durationSeconds: number,
): Promise<GrantOutcome> {
  const target = awsTargetOf(pending);
  const live = await deps.ec2.describeGroupRules(target, pending.groupId);
  const rule = live.find((r) => sameAccess(r, pending));
  const access = `${describeAccess(pending.protocol, pending.port)} from ${pending.cidr} in ${pending.groupId}`;
  const refuse = async (code: string, message: string): Promise<never> => {
    await failPending(deps, pending, code, message, SYSTEM);
    throw new GrantRefusedError(code, `${message} (request ${pending.grantId})`);
  };
  if (!rule?.ruleId) {
    return refuse(
      'DUPLICATE',
      `EC2 says ${access} already exists, but the rule could not be found. Try again.`,
    );
  }
  const own = await deps.store.get<StoredItem & { grantId: string }>(
    keys.ownRule(pending.region, rule.ruleId),
  );
  const existing = own ? await deps.store.get<GrantItem>(keys.grant(own.grantId)) : null;
  if (!existing) {
    return refuse(
      'RULE_EXISTS',
      `${access} is already allowed by rule ${rule.ruleId}, which sg-warden did not create (it does not expire). Nothing was added.`,
    );
  }
  if (existing.status !== 'ACTIVE') {
    return refuse(
      'RULE_BEING_REMOVED',
      `${access} belongs to grant ${existing.grantId}, which has ended and is being removed (${existing.status}). Try again in a few minutes.`,
    );
  }
  if (existing.userId !== pending.userId) {
    return refuse(
      'ALREADY_GRANTED',
      `${access} is already granted to ${existing.userName} (${existing.grantId}) until ${existing.expiresAt.slice(0, 16)}Z. Nothing was added; ask them to extend it, or wait until it ends.`,
    );
  }
  const now = deps.clock();
  const wanted = plusSeconds(now, durationSeconds);
  const previousExpiresAt = existing.expiresAt;
  let grant = existing;
  if (wanted > existing.expiresAt) {
    grant = await setExpiry(deps, existing, wanted, userActor(pending), now, {
      reason: `asked again (${pending.grantId})`,
    });
  }
  await failPending(
    deps,
    pending,
    'DUPLICATE_EXTENDED',
    `the same rule is grant ${existing.grantId}`,
    SYSTEM,
  );
  return { kind: 'extended', grant, previousExpiresAt };
}

/** Moves an ACTIVE grant's expiry (conditional on its version), re-labels its rule, re-arms the warning. */
async function setExpiry(
  deps: GrantDeps,
  grant: GrantItem,
  expiresAt: string,
  actor: { type: AuditEntry['actorType']; id: string; name?: string },
  now: Date,
  details: Record<string, unknown> = {},
): Promise<GrantItem> {
  const updated = await tryTransition<GrantItem>(deps.store, {
    key: keys.grant(grant.grantId),
    from: ['ACTIVE'],
    expectVersion: grant.version,
    to: 'ACTIVE',
    set: { expiresAt },
    remove: ['warnedAt'],
    due: activeDue(expiresAt, now, false),
    audit: grantAudit(grant, 'extend', 'ACTIVE', 'ACTIVE', actor, now.toISOString(), {
      details: { from: grant.expiresAt, to: expiresAt, ...details },
    }),
  });
  if (!updated) {
    throw new GrantRefusedError(
      'GRANT_CHANGED',
      `Grant ${grant.grantId} changed at the same moment (it may have just expired); check /sg-whitelist list and try again.`,
    );
  }
  if (updated.ruleId) {
    // The table is the truth; the rule's label only helps people reading the console.
    await deps.ec2
      .relabelRule(
        awsTargetOf(updated),
        updated.groupId,
        updated.ruleId,
        grantDescription(updated.grantId, updated.userName, expiresAt),
        grantTags(updated),
      )
      .catch((error) =>
        deps.logger.warn({ grantId: grant.grantId, err: describeError(error) }, 'rule label not updated'),
      );
  }
  return updated;
}

async function loadGrant(deps: Pick<GrantDeps, 'store'>, grantId: string): Promise<GrantItem> {
  const grant = /^g-[a-z0-9]{4,20}$/.test(grantId)
    ? await deps.store.get<GrantItem>(keys.grant(grantId))
    : null;
  if (!grant) throw new NotFoundError(`There is no grant ${grantId}. /sg-whitelist list shows yours.`);
  return grant;
}

/** The latest expiry the target allows from now. */
function latestExpiry(config: Config, grant: GrantItem, now: Date): string | null {
  const target = config.whitelist.targets[grant.alias];
  return target ? plusSeconds(now, target.maxDuration) : null;
}

/** How long the Extend button may add to a grant (the target's default, within its longest), or null. */
export function extendBy(config: Config, grant: GrantItem, now: Date): number | null {
  const target = config.whitelist.targets[grant.alias];
  const latest = latestExpiry(config, grant, now);
  if (!target || !latest) return null;
  const room = Math.floor((new Date(latest).getTime() - new Date(grant.expiresAt).getTime()) / 1000);
  const by = Math.min(target.defaultDuration, room);
  return by >= 60 ? by : null;
}

/**
 * Extends the owner's ACTIVE grant by `seconds` (from its current expiry), never past the target's
 * longest duration from now. `capped` (the Extend button) shortens an extension that would go past it.
 */
export async function extendGrant(
  deps: GrantDeps,
  grantId: string,
  requester: Requester,
  seconds: number | null,
  options: { capped?: boolean } = {},
): Promise<GrantItem> {
  const grant = await loadGrant(deps, grantId);
  if (grant.userId !== requester.userId) {
    const refusal = new NotAuthorisedError(
      `Only ${grant.userName}, who asked for ${grantId}, can extend it.`,
    );
    await auditRefusal(deps, grantId, requester, refusal);
    throw refusal;
  }
  if (grant.status !== 'ACTIVE') {
    throw new GrantRefusedError(
      'GRANT_NOT_ACTIVE',
      `Grant ${grantId} is ${grant.status}, so it cannot be extended. Ask for a new one with /sg-whitelist.`,
    );
  }
  const target = deps.config.whitelist.targets[grant.alias];
  if (!target) {
    throw new GrantRefusedError(
      'UNKNOWN_TARGET',
      `The "${grant.alias}" target is no longer configured, so ${grantId} cannot be extended.`,
    );
  }
  if (!(await isAllowed(target.allowed, requester.userId, deps.directory))) {
    const refusal = new NotAuthorisedError(`You are no longer allowed to use the "${grant.alias}" target.`);
    await auditRefusal(deps, grantId, requester, refusal);
    throw refusal;
  }
  const now = deps.clock();
  const latest = plusSeconds(now, target.maxDuration);
  let wanted = plusSeconds(grant.expiresAt, seconds ?? target.defaultDuration);
  if (wanted > latest) {
    if (!options.capped || latest <= grant.expiresAt) {
      throw new GrantRefusedError(
        'BAD_DURATION',
        `"${grant.alias}" grants last at most ${formatDuration(target.maxDuration)} from now, so ${grantId} can run until ${latest.slice(0, 16)}Z at the latest (it ends ${grant.expiresAt.slice(0, 16)}Z).`,
      );
    }
    wanted = latest;
  }
  return setExpiry(deps, grant, wanted, userActor(requester), now);
}

export type RemovalOutcome = 'removed' | 'already-gone' | 'failed' | 'skipped';

/**
 * Removes a grant's rule: claims the grant (→ REVOKING, with a lease), revokes by rule ID, and ends it
 * as `endAs` — also when the rule is already gone. A failed revoke leaves the grant REVOKE_FAILED and
 * due again with backoff, so it is never forgotten while its rule exists.
 */
export async function removeGrantRule(
  deps: GrantDeps,
  grant: GrantItem,
  endAs: 'EXPIRED' | 'REVOKED',
  actor: { type: AuditEntry['actorType']; id: string; name?: string },
  now: Date,
): Promise<{ outcome: RemovalOutcome; grant: GrantItem }> {
  const claimed = await tryTransition<GrantItem>(deps.store, {
    key: keys.grant(grant.grantId),
    from: ['ACTIVE', 'REVOKE_FAILED', 'REVOKING'],
    expectVersion: grant.version,
    to: 'REVOKING',
    set: { endAs, endedBy: actor.id },
    due: { kind: 'GRANT_EXPIRY', at: plusSeconds(now, REVOKE_LEASE_SECONDS) },
    audit: null,
  });
  if (!claimed) return { outcome: 'skipped', grant };
  const target = awsTargetOf(claimed);
  const action = endAs === 'REVOKED' ? 'revoke' : 'expire';
  const finish = async (details: Record<string, unknown>, requestId?: string | null) => {
    const at = deps.clock().toISOString();
    return deps.store.transition<GrantItem>({
      key: keys.grant(claimed.grantId),
      from: ['REVOKING'],
      expectVersion: claimed.version,
      to: endAs,
      set: { endedAt: at },
      remove: ['lastError'],
      due: null,
      audit: grantAudit(claimed, action, grant.status, endAs, actor, at, {
        ...(requestId ? { awsRequestId: requestId } : {}),
        details: { ruleId: claimed.ruleId, attempts: claimed.revokeAttempts + 1, ...details },
      }),
    });
  };
  if (!claimed.ruleId) {
    return { outcome: 'already-gone', grant: await finish({ note: 'no rule was recorded' }) };
  }
  try {
    const out = await deps.ec2.revokeRules(target, claimed.groupId, 'ingress', [claimed.ruleId]);
    return { outcome: 'removed', grant: await finish({}, out.requestId) };
  } catch (error) {
    const stillThere = await deps.ec2
      .describeRules(target, [claimed.ruleId])
      .then((rules) => rules.length > 0)
      .catch(() => true);
    if (!stillThere) return { outcome: 'already-gone', grant: await finish({ alreadyGone: true }) };
    const attempts = claimed.revokeAttempts + 1;
    const backoff = Math.min(MAX_REVOKE_BACKOFF_SECONDS, 60 * 2 ** (attempts - 1));
    const at = deps.clock().toISOString();
    deps.logger.warn(
      { grantId: claimed.grantId, attempts, err: describeError(error) },
      'grant rule not removed; will retry',
    );
    const failed = await deps.store.transition<GrantItem>({
      key: keys.grant(claimed.grantId),
      from: ['REVOKING'],
      expectVersion: claimed.version,
      to: 'REVOKE_FAILED',
      set: { revokeAttempts: attempts, lastError: describeError(error) },
      due: { kind: 'GRANT_EXPIRY', at: plusSeconds(now, backoff) },
      audit: grantAudit(claimed, action, grant.status, 'REVOKE_FAILED', actor, at, {
        result: 'error',
        error: describeError(error),
        details: { ruleId: claimed.ruleId, attempts, retryAt: plusSeconds(now, backoff) },
      }),
    });
    return { outcome: 'failed', grant: failed };
  }
}

/** Ends a grant early at its owner's (or an approver's) request. */
export async function revokeGrant(
  deps: GrantDeps,
  grantId: string,
  requester: Requester,
): Promise<{ outcome: RemovalOutcome; grant: GrantItem }> {
  const grant = await loadGrant(deps, grantId);
  if (
    grant.userId !== requester.userId &&
    !(await isAllowed(deps.config.decisions.approvers, requester.userId, deps.directory))
  ) {
    const refusal = new NotAuthorisedError(
      `Only ${grant.userName}, who asked for ${grantId}, or an approver can revoke it.`,
    );
    await auditRefusal(deps, grantId, requester, refusal);
    throw refusal;
  }
  if (grant.status === 'PENDING') {
    throw new GrantRefusedError(
      'GRANT_PENDING',
      `Grant ${grantId} is still being set up; try again in a moment.`,
    );
  }
  if (!['ACTIVE', 'REVOKE_FAILED'].includes(grant.status)) {
    throw new GrantRefusedError('GRANT_ENDED', `Grant ${grantId} has already ended (${grant.status}).`);
  }
  const result = await removeGrantRule(deps, grant, 'REVOKED', userActor(requester), deps.clock());
  if (result.outcome === 'skipped') {
    throw new GrantRefusedError(
      'GRANT_CHANGED',
      `Grant ${grantId} changed at the same moment; check /sg-whitelist list.`,
    );
  }
  return result;
}

/** Tells people about grants (Slack in production); failures are logged, never undo state. */
export interface GrantNotifier {
  /** The owner's grant ends in a few minutes; `extendBy` seconds may be added with a button. */
  expiring(grant: GrantItem, extendBy: number | null): Promise<void>;
  /** The owner's grant ended and its rule is gone. */
  ended(grant: GrantItem): Promise<void>;
  /** The grant's rule could not be removed; it stays listed as REVOKE_FAILED and is retried. */
  revokeFailed(grant: GrantItem): Promise<void>;
  /** A grant that never finished was cleaned up. */
  abandoned(grant: GrantItem, rulesRemoved: number): Promise<void>;
}

async function tell(
  deps: GrantDeps,
  grantId: string,
  what: string,
  send: () => Promise<void>,
): Promise<void> {
  try {
    await send();
  } catch (error) {
    deps.logger.warn({ grantId, what, err: describeError(error) }, 'grant notification not sent');
  }
}

/** GRANT_WARN: offer the owner an Extend button ten minutes before the end, once. */
export async function warnGrant(
  deps: GrantDeps,
  notifier: GrantNotifier,
  grantId: string,
  now: Date,
): Promise<void> {
  const grant = await deps.store.get<GrantItem>(keys.grant(grantId));
  if (grant?.status !== 'ACTIVE' || grant.dueKind !== 'GRANT_WARN') return;
  const claimed = await tryTransition<GrantItem>(deps.store, {
    key: keys.grant(grantId),
    from: ['ACTIVE'],
    expectVersion: grant.version,
    to: 'ACTIVE',
    set: { warnedAt: now.toISOString() },
    due: { kind: 'GRANT_EXPIRY', at: grant.expiresAt },
    audit: null,
  });
  // Late (the sweeper did not run, or the clock skipped past the end): the grant is over, so there is
  // nothing to extend; the expiry, due now, tells its owner instead.
  if (!claimed || claimed.expiresAt <= now.toISOString()) return;
  await tell(deps, grantId, 'expiring', () =>
    notifier.expiring(claimed, extendBy(deps.config, claimed, now)),
  );
}

/**
 * GRANT_EXPIRY: removes the rule of a grant past its expiry (or retries a failed removal), and cleans
 * up a PENDING grant whose worker died. Safe to run twice: every step is a conditional transition.
 */
export async function expireGrant(
  deps: GrantDeps,
  notifier: GrantNotifier,
  grantId: string,
  now: Date,
): Promise<void> {
  const grant = await deps.store.get<GrantItem>(keys.grant(grantId));
  if (!grant?.dueAt || grant.dueKind !== 'GRANT_EXPIRY' || grant.dueAt > now.toISOString()) return;
  if (grant.status === 'PENDING') return reconcilePending(deps, notifier, grant);
  if (grant.status === 'ACTIVE' && grant.expiresAt > now.toISOString()) return;
  if (!['ACTIVE', 'REVOKING', 'REVOKE_FAILED'].includes(grant.status)) return;
  const endAs = grant.status === 'ACTIVE' ? 'EXPIRED' : (grant.endAs ?? 'EXPIRED');
  const actor = grant.status === 'ACTIVE' ? TIMEOUT : { ...SYSTEM, name: 'retry' };
  const result = await removeGrantRule(deps, grant, endAs, actor, now);
  if (result.outcome === 'removed' || result.outcome === 'already-gone') {
    await tell(deps, grantId, 'ended', () => notifier.ended(result.grant));
  } else if (result.outcome === 'failed' && result.grant.revokeAttempts === 1) {
    await tell(deps, grantId, 'revoke-failed', () => notifier.revokeFailed(result.grant));
  }
}

/** A PENDING grant past its lease: remove any rule tagged with it, then mark it FAILED. */
async function reconcilePending(deps: GrantDeps, notifier: GrantNotifier, grant: GrantItem): Promise<void> {
  const target = awsTargetOf(grant);
  const rules = await deps.ec2.describeRulesTagged(target, GRANT_TAGS.grantId, grant.grantId);
  const ruleIds = rules.map((r) => r.ruleId).filter((id): id is string => id !== null);
  // A failure here throws: the grant stays PENDING and due, so the next sweep tries again.
  if (ruleIds.length > 0) await deps.ec2.revokeRules(target, grant.groupId, 'ingress', ruleIds);
  try {
    await failPending(
      deps,
      grant,
      'ABANDONED',
      `the request did not finish; ${ruleIds.length} ${ruleIds.length === 1 ? 'rule' : 'rules'} removed`,
      TIMEOUT,
    );
  } catch (error) {
    if (error instanceof StateConflictError) return;
    throw error;
  }
  await tell(deps, grant.grantId, 'abandoned', () => notifier.abandoned(grant, ruleIds.length));
}

/** The grants whose rule may exist, newest first (status index; no scan). */
export async function liveGrants(deps: Pick<GrantDeps, 'store'>, limit = 500): Promise<GrantItem[]> {
  const lists = await Promise.all(
    LIVE_GRANT_STATUSES.map((s) => deps.store.queryByStatus<GrantItem>('grant', s, limit)),
  );
  return lists.flat().sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** One person's grants whose rule may exist. */
export async function grantsOf(deps: Pick<GrantDeps, 'store'>, userId: string): Promise<GrantItem[]> {
  return (await liveGrants(deps)).filter((g) => g.userId === userId);
}
