import { isDefiniteRefusal } from '../aws/call-status';
import { armBackstop } from '../backstop/backstop';
import { dueGrant } from '../backstop/plan';
import { type AuditActor, SYSTEM_ACTOR } from '../kernel/audit';
import { type Refusal, RefusedError } from '../kernel/refusal';
import { keys, type StoredItem } from '../kernel/state';
import { step } from '../kernel/step';
import { plusSeconds } from '../kernel/time';
import { AwsCallError, describeError } from '../shared/errors';
import type { Person } from '../shared/people';
import { parseHostAddress } from './address';
import { type GrantDeps, refuse } from './deps';
import { setExpiry } from './extend';
import type { GrantItem } from './items';
import {
  activeDue,
  awsTargetOf,
  type CheckedRequest,
  describeAccess,
  ec2Refusal,
  GRANT_TAGS,
  type GrantOutcome,
  grantDescription,
  grantTags,
  isRuleLimit,
  newGrantId,
  ownerOf,
  personActor,
  planGrant,
  sameAccess,
} from './plan';
import { GRANT_MOVES } from './states';
import { mayRequest } from './who-may';

export type { GrantOutcome } from './plan';

export interface GrantRequest {
  alias: string;
  /** The address as typed, or as API Gateway saw it. */
  address: string;
  port?: number | null;
  durationSeconds?: number | null;
  person: Person;
  via: GrantItem['via'];
  channel?: string;
  /** Chosen in advance when the request came through a `me` link. */
  grantId?: string;
}

/**
 * Checks a request with the who-may rules; a refusal is audited (subject `subjectId`) and thrown as a
 * RefusedError with its sentence.
 */
export async function checkRequest(
  deps: GrantDeps,
  subjectId: string,
  request: { alias: string; port?: number | null; durationSeconds?: number | null; person: Person },
): Promise<CheckedRequest> {
  const ruling = await mayRequest(deps, request);
  if (!ruling.ok) throw await refuse(deps, subjectId, 'request', request.person, ruling.refusal);
  return ruling.value;
}

/**
 * Grants one host access to a target: validates, stores a PENDING grant, adds the rule (described and
 * tagged with the grant), then in one transaction marks the grant ACTIVE with its rule ID and records
 * the rule as sg-warden's own (so detection never raises it). EC2 refusals leave the grant FAILED and
 * throw one sentence; the same rule already granted to the asker extends that grant instead.
 */
export async function requestGrant(deps: GrantDeps, request: GrantRequest): Promise<GrantOutcome> {
  const subject = request.grantId ?? `target:${request.alias}`;
  const checked = await checkRequest(deps, subject, request);
  const parsed = parseHostAddress(request.address);
  if (!parsed.ok) {
    throw await refuse(deps, subject, 'request', request.person, {
      code: 'BAD_ADDRESS',
      message: parsed.reason,
    });
  }
  const now = deps.clock();
  const grantId = request.grantId ?? newGrantId();
  const { grant, audit } = planGrant({
    grantId,
    checked,
    host: parsed.host,
    person: request.person,
    via: request.via,
    ...(request.channel ? { channel: request.channel } : {}),
    now,
  });
  const stored = await deps.store.createAll([{ ...grant }], [audit]);
  if (!stored) {
    throw new RefusedError({ code: 'ALREADY_REQUESTED', message: `Grant ${grantId} was already requested.` });
  }
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
    if (isDefiniteRefusal(awsError)) throw await failRequest(deps, grant, awsError);
    // The call failed on the way (timeout, network, 5xx): EC2 may or may not have added the rule.
    let adopted: string | null;
    try {
      adopted = await ruleTaggedFor(deps, grant);
    } catch (lookupError) {
      log.warn({ err: describeError(lookupError) }, 'grant outcome unknown; left for the sweeper');
      throw new RefusedError(
        {
          code: 'GRANT_UNCONFIRMED',
          message: `EC2 did not confirm the rule for ${grantId} (${awsError.awsCode}). If it was added, sg-warden removes it within minutes; please try again later.`,
        },
        { cause: error },
      );
    }
    if (adopted) return { kind: 'granted', grant: await activated(deps, grant, adopted, null, now) };
    throw await failRequest(deps, grant, awsError);
  }
  try {
    return { kind: 'granted', grant: await activated(deps, grant, added.ruleId, added.requestId, now) };
  } catch (error) {
    // The rule exists but is not recorded: take it out again so nothing half-done stays (the sweeper
    // finds it by its tag if this fails too).
    log.error({ err: describeError(error), ruleId: added.ruleId }, 'grant not recorded; removing its rule');
    await deps.ec2
      .revokeRules(awsTarget, grant.groupId, 'ingress', [added.ruleId])
      .catch((e) => log.error({ err: describeError(e) }, 'rule of unrecorded grant not removed'));
    throw new RefusedError(
      {
        code: 'GRANT_NOT_RECORDED',
        message: `The rule for ${grantId} could not be recorded, so it was taken out again. Please try again.`,
      },
      { cause: error },
    );
  }
}

/** The ID of a rule tagged with the grant, if EC2 has one. */
export async function ruleTaggedFor(deps: GrantDeps, grant: GrantItem): Promise<string | null> {
  const rules = await deps.ec2.describeRulesTagged(awsTargetOf(grant), GRANT_TAGS.grantId, grant.grantId);
  return rules.find((r) => r.ruleId)?.ruleId ?? null;
}

/**
 * Activates the grant, then arms its backstop: the schedule that revokes the rule at the expiry plus the
 * grace if the sweeper has not (a schedule that cannot be made is audited and told; the grant stands).
 */
async function activated(
  deps: GrantDeps,
  grant: GrantItem,
  ruleId: string,
  requestId: string | null,
  now: Date,
): Promise<GrantItem> {
  const active = await activate(deps, grant, ruleId, requestId, now);
  await armBackstop(deps, dueGrant(active), { channel: active.channel ?? null });
  return active;
}

/** PENDING → ACTIVE with its rule ID, and the rule recorded as sg-warden's own, in one transaction. */
async function activate(
  deps: GrantDeps,
  grant: GrantItem,
  ruleId: string,
  requestId: string | null,
  now: Date,
): Promise<GrantItem> {
  const at = deps.clock().toISOString();
  return deps.store.transition<GrantItem>(
    step(grant, {
      from: GRANT_MOVES.activate.from,
      anyVersion: true,
      to: 'ACTIVE',
      action: 'grant',
      by: personActor(ownerOf(grant)),
      at,
      set: { ruleId },
      due: activeDue(grant.expiresAt, now, false),
      ...(requestId ? { awsRequestId: requestId } : {}),
      details: { ruleId, groupId: grant.groupId, cidr: grant.cidr, expiresAt: grant.expiresAt },
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
    }),
  );
}

/** Marks a PENDING grant FAILED after EC2 refused it, and returns the sentence to tell the asker. */
async function failRequest(deps: GrantDeps, grant: GrantItem, error: AwsCallError): Promise<RefusedError> {
  const rules = isRuleLimit(error.awsCode)
    ? await deps.ec2
        .describeGroupRules(awsTargetOf(grant), grant.groupId)
        .then((all) => all.filter((r) => r.direction === 'ingress').length)
        .catch(() => null)
    : null;
  const refusal = ec2Refusal(grant, error.awsCode, {
    rules,
    limit: deps.config.whitelist.rulesPerGroupLimit,
  });
  await failPending(deps, grant, refusal.code, describeError(error), SYSTEM_ACTOR);
  // The request's ID lets people find its history (/sg-status audit g-…).
  return new RefusedError(withRequestId(refusal, grant), { cause: error });
}

function withRequestId(refusal: Refusal, grant: GrantItem): Refusal {
  return { code: refusal.code, message: `${refusal.message} (request ${grant.grantId})` };
}

/** PENDING → FAILED with the code: EC2 refused, the rule was not ours to extend, or the request was abandoned. */
export async function failPending(
  deps: GrantDeps,
  grant: GrantItem,
  code: string,
  message: string,
  by: AuditActor,
): Promise<void> {
  const at = deps.clock().toISOString();
  await deps.store.transition(
    step(grant, {
      from: GRANT_MOVES.fail.from,
      anyVersion: true,
      to: 'FAILED',
      action: 'grant',
      by,
      at,
      set: { failureCode: code, lastError: message, endedAt: at },
      due: null,
      result: code === 'DUPLICATE_EXTENDED' ? 'ok' : 'error',
      error: message,
      details: { code },
    }),
  );
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
  const fail = async (code: string, message: string): Promise<never> => {
    await failPending(deps, pending, code, message, SYSTEM_ACTOR);
    throw new RefusedError(withRequestId({ code, message }, pending));
  };
  if (!rule?.ruleId) {
    return fail(
      'DUPLICATE',
      `EC2 says ${access} already exists, but the rule could not be found. Try again.`,
    );
  }
  const own = await deps.store.get<StoredItem & { grantId: string }>(
    keys.ownRule(pending.region, rule.ruleId),
  );
  const existing = own ? await deps.store.get<GrantItem>(keys.grant(own.grantId)) : null;
  if (!existing) {
    return fail(
      'RULE_EXISTS',
      `${access} is already allowed by rule ${rule.ruleId}, which sg-warden did not create (it does not expire). Nothing was added.`,
    );
  }
  if (existing.status !== 'ACTIVE') {
    return fail(
      'RULE_BEING_REMOVED',
      `${access} belongs to grant ${existing.grantId}, which has ended and is being removed (${existing.status}). Try again in a few minutes.`,
    );
  }
  if (existing.userId !== pending.userId) {
    return fail(
      'ALREADY_GRANTED',
      `${access} is already granted to ${existing.userName} (${existing.grantId}) until ${existing.expiresAt.slice(0, 16)}Z. Nothing was added; ask them to extend it, or wait until it ends.`,
    );
  }
  const now = deps.clock();
  const wanted = plusSeconds(now, durationSeconds);
  const previousExpiresAt = existing.expiresAt;
  let grant = existing;
  if (wanted > existing.expiresAt) {
    grant = await setExpiry(deps, existing, wanted, personActor(ownerOf(pending)), now, {
      reason: `asked again (${pending.grantId})`,
    });
  }
  await failPending(
    deps,
    pending,
    'DUPLICATE_EXTENDED',
    `the same rule is grant ${existing.grantId}`,
    SYSTEM_ACTOR,
  );
  return { kind: 'extended', grant, previousExpiresAt };
}
