import { awsError } from '../../services/aws/ec2-security-groups';
import { REVOKE_LEASE_SECONDS } from '../../services/decisions/states';
import type { AwsCallError } from '../../services/shared/errors';
import { createGroup, liveRuleIds } from '../support/aws';
import { type AwsFaults, namesRule, Throttle } from '../support/aws-faults';
import {
  alertOf,
  auditOf,
  command,
  deliver,
  drain,
  type FaultSuite,
  messagesShowing,
  press,
  type Raised,
  REGION,
  raise,
  startFaultSuite,
  submitKeep,
  sweepAt,
  violation,
} from '../support/fault-harness';
import { getGrant } from '../support/grants';
import { ALERT_CHANNEL, baseConfig } from '../support/handler-env';
import { APPROVER, ENGINEER } from '../support/slack-requests';
import type { SlowProxy } from '../support/slow-proxy';

// AWS failing under sg-warden: EC2 throttling and errors during a revoke, DynamoDB throttling and lost
// conditional writes during transitions, and a process that dies between the EC2 call and the state
// write. Faults are injected on the wire (a proxy in front of moto answers with AWS's own errors), so
// the real SDK clients, their retries and sg-warden's error handling all take part.

let suite: FaultSuite;
let proxy: SlowProxy;
let faults: AwsFaults;

let bastion: string;

beforeAll(async () => {
  ({ groupId: bastion } = await createGroup(REGION));
  suite = await startFaultSuite({
    faultyAws: true,
    config: baseConfig(`whitelist:
  targets:
    bastion: { groupId: ${bastion}, region: ${REGION}, ports: [22], allowed: { users: [${ENGINEER.id}] } }
policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
  # A group nothing uses keeps its severity here: these tests are about other things (exposure has its own).
  exposure: { unattached: keep }
decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { users: [${APPROVER.id}] }
  keepDurations: [1h, 1d]
  revokeAttempts: 4
`),
  });
  proxy = suite.proxy!;
  faults = suite.faults!;
});

afterAll(() => suite.stop());

afterEach(() => faults.clear());

/** More failures in a row than any SDK retries (EC2 tries 3 times, DynamoDB 4): the call fails for good. */
const PERSISTENT = 50;

/** EC2 revoke calls that reached moto (and so took effect) for this rule. */
function revokesReaching(ruleId: string): number {
  return proxy
    .callsTo('RevokeSecurityGroupIngress', 'ec2')
    .filter((c) => !c.intercepted && c.status === 200 && namesRule(ruleId)(c.body ?? '')).length;
}

/** The violation's audit trail as [fromState, toState, result]. */
async function trail(violationId: string): Promise<[string | null, string | null, string][]> {
  return (await auditOf(suite, violationId)).map((a) => [a.fromState, a.toState, a.result]);
}

const minutes = (m: number) => new Date(Date.now() + m * 60_000);
const pressRevoke = async (r: Raised, user = ENGINEER) => {
  const alert = await alertOf(suite, r.alertId);
  const click = await press(suite, 'violation_revoke', r.violationIds[0]!, { user, messageTs: alert!.ts! });
  expect(click.result.statusCode).toBe(200);
  await drain(suite);
  return click;
};

describe('EC2 throttles or fails the revoke', () => {
  it('throttled twice: the SDK retries and the rule is revoked in one go, recorded once', async () => {
    const r = await raise(suite);
    faults.add({
      service: 'ec2',
      action: 'RevokeSecurityGroupIngress',
      when: namesRule(r.ruleIds[0]!),
      times: 2,
      error: Throttle.ec2,
    });
    await pressRevoke(r);
    expect(faults.injectedInto('RevokeSecurityGroupIngress', 'RequestLimitExceeded')).toHaveLength(2);
    expect(await violation(suite, r.violationIds[0]!)).toMatchObject({
      status: 'REVOKED',
      revokeAttempts: 0,
    });
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleIds[0]);
    expect(await trail(r.violationIds[0]!)).toEqual([
      [null, 'PENDING', 'ok'],
      ['PENDING', 'REVOKING', 'ok'],
      ['REVOKING', 'REVOKED', 'ok'],
    ]);
  });

  it('throttled past the SDK’s retries at the deadline: REVOKE_RETRY on record, revoked by a later sweep, once', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    faults.add({
      service: 'ec2',
      action: 'RevokeSecurityGroupIngress',
      when: namesRule(r.ruleIds[0]!),
      times: PERSISTENT,
      error: Throttle.ec2,
    });
    await sweepAt(suite, minutes(16));
    faults.clear();
    const retry = await violation(suite, id);
    expect(retry).toMatchObject({ status: 'REVOKE_RETRY', revokeAttempts: 1, dueKind: 'REVOKE_RETRY' });
    expect(retry!.lastError).toContain('RequestLimitExceeded');
    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleIds[0]);
    expect(JSON.stringify(messagesShowing(suite, id)[0]!.blocks)).toContain('retrying');

    // Before the backoff is over nothing is tried; after it the clock revokes it.
    await sweepAt(suite, minutes(16.2));
    expect(revokesReaching(r.ruleIds[0]!)).toBe(0);
    await sweepAt(suite, minutes(18));
    expect(await violation(suite, id)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleIds[0]);
    const audit = await auditOf(suite, id);
    expect(audit.map((a) => [a.fromState, a.toState, a.result])).toEqual([
      [null, 'PENDING', 'ok'],
      ['PENDING', 'REVOKING', 'ok'],
      ['REVOKING', 'REVOKE_RETRY', 'error'],
      ['REVOKE_RETRY', 'REVOKING', 'ok'],
      ['REVOKING', 'AUTO_REVOKED', 'ok'],
    ]);
    expect(audit[2]!.error).toContain('RequestLimitExceeded');
    expect(audit[2]!.awsRequestId).toEqual(expect.any(String));
    // Two more sweeps later: nothing more happens.
    await sweepAt(suite, minutes(60));
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    expect(await auditOf(suite, id)).toHaveLength(5);
  });

  it('EC2 fails reading the rule back before the revoke: nothing is revoked blind, and it is retried', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    faults.add({
      service: 'ec2',
      action: 'DescribeSecurityGroupRules',
      times: PERSISTENT,
      error: { code: 'InternalError', status: 500, message: 'An internal error has occurred.' },
    });
    const click = await pressRevoke(r);
    faults.clear();
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKE_RETRY', revokeAttempts: 1 });
    expect(
      proxy.callsTo('RevokeSecurityGroupIngress').filter((c) => namesRule(r.ruleIds[0]!)(c.body ?? '')),
    ).toHaveLength(0);
    expect(click.said()).toContain('sg-warden will try again');
    await sweepAt(suite, minutes(2));
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
  });
});

describe('EC2 removes the rule but its answer is lost', () => {
  /** Makes the next revoke of `ruleId` take effect in EC2 and then fail as `error` says. */
  function loseAnswer(ruleId: string, error: () => AwsCallError): () => void {
    const real = suite.wiring.ec2.revokeRules;
    suite.wiring.ec2.revokeRules = async (target, groupId, direction, ruleIds) => {
      const out = await real.call(suite.wiring.ec2, target, groupId, direction, ruleIds);
      if (ruleIds[0] !== ruleId) return out;
      suite.wiring.ec2.revokeRules = real;
      throw error();
    };
    return () => {
      suite.wiring.ec2.revokeRules = real;
    };
  }

  it('no answer at all: the retry finds the rule gone and records the revoke, not a removal by someone else', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    const restore = loseAnswer(r.ruleIds[0]!, () =>
      // As the EC2 adapter wraps the SDK's error: no answer (no HTTP status), three tries.
      awsError(
        'RevokeSecurityGroupIngress',
        Object.assign(new Error('socket hang up'), { name: 'TimeoutError', $metadata: { attempts: 3 } }),
      ),
    );
    try {
      await pressRevoke(r);
    } finally {
      restore();
    }
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKE_RETRY', revokeMayHaveApplied: true });
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleIds[0]);

    await sweepAt(suite, minutes(2));
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    const last = (await auditOf(suite, id)).at(-1)!;
    expect(last).toMatchObject({
      toState: 'REVOKED',
      actorId: ENGINEER.id,
      details: expect.objectContaining({ reconciled: true }),
    });
    const message = JSON.stringify(messagesShowing(suite, id)[0]!.blocks);
    expect(message).toContain('Revoked');
    expect(message).not.toContain('Already gone');
  });

  it('the SDK retried the call and EC2 then said the rule was gone: recorded as revoked at once', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    const restore = loseAnswer(r.ruleIds[0]!, () =>
      awsError('RevokeSecurityGroupIngress', {
        name: 'InvalidSecurityGroupRuleId.NotFound',
        $metadata: { httpStatusCode: 400, attempts: 2 },
      }),
    );
    try {
      await pressRevoke(r);
    } finally {
      restore();
    }
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    expect((await auditOf(suite, id)).at(-1)!.details).toMatchObject({ reconciled: true });
  });
});

describe('DynamoDB throttles', () => {
  it('a throttled claim is retried by the SDK: one claim, one revoke', async () => {
    const r = await raise(suite);
    faults.add({
      service: 'dynamodb',
      action: 'TransactWriteItems',
      when: (body) => body.includes('"REVOKING"'),
      times: 2,
      error: Throttle.dynamodb,
    });
    await pressRevoke(r);
    expect(faults.injected).toHaveLength(2);
    expect(await violation(suite, r.violationIds[0]!)).toMatchObject({ status: 'REVOKED' });
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    expect((await trail(r.violationIds[0]!)).filter(([, to]) => to === 'REVOKING')).toHaveLength(1);
  });

  it('a claim throttled past every retry changes nothing and says so; the deadline still revokes it', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    faults.add({
      service: 'dynamodb',
      action: 'TransactWriteItems',
      when: (body) => body.includes('"REVOKING"'),
      times: PERSISTENT,
      error: Throttle.dynamodbRequests,
    });
    const click = await pressRevoke(r);
    faults.clear();
    expect(click.said()).toMatch(/went wrong|try again/i);
    expect(click.said()).not.toMatch(/\bat \w+ \(|Error:|stack/);
    expect(await violation(suite, id)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleIds[0]);
    expect(await trail(id)).toEqual([[null, 'PENDING', 'ok']]);

    await sweepAt(suite, minutes(16));
    expect(await violation(suite, id)).toMatchObject({ status: 'AUTO_REVOKED' });
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
  });

  it('a transaction cancelled for throttling (not a lost condition) is retried, not mistaken for a race', async () => {
    const r = await raise(suite);
    faults.add({
      service: 'dynamodb',
      action: 'TransactWriteItems',
      when: (body) => body.includes('"REVOKING"'),
      times: 1,
      error: {
        code: 'TransactionCanceledException',
        status: 400,
        cancellationReasons: ['ThrottlingError', 'None'],
      },
    });
    const click = await pressRevoke(r);
    expect(await violation(suite, r.violationIds[0]!)).toMatchObject({ status: 'REVOKED' });
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    expect(click.said()).not.toContain('already');
  });

  it('detection throttled past every retry throws for Lambda to retry; the retry stores and posts once', async () => {
    const r = await raise(suite, { ports: [22, 3389], deliver: false });
    faults.add({
      service: 'dynamodb',
      action: 'TransactWriteItems',
      when: (body) => body.includes('"violation"'),
      times: PERSISTENT,
      error: Throttle.dynamodb,
    });
    await expect(deliver(suite, r.record)).rejects.toThrow(/throughput/);
    faults.clear();
    expect(await alertOf(suite, r.alertId)).toMatchObject({ status: 'STORING' });
    expect(
      suite.env.slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args).includes(r.groupId)),
    ).toHaveLength(0);

    // Lambda delivers the event again (twice, as its async retries may).
    await deliver(suite, r.record);
    await deliver(suite, r.record);
    const alert = await alertOf(suite, r.alertId);
    expect(alert).toMatchObject({ status: 'POSTED' });
    expect(alert!.violationIds).toHaveLength(2);
    for (const id of alert!.violationIds) {
      expect(await violation(suite, id)).toMatchObject({ status: 'PENDING' });
      expect(await trail(id)).toEqual([[null, 'PENDING', 'ok']]);
      expect(messagesShowing(suite, id)).toHaveLength(1);
    }
  });
});

describe('the process dies between the EC2 revoke and the DynamoDB write', () => {
  it('after the revoke: the reconcile sweep finds the rule gone and records AUTO_REVOKED once', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    // Every write of the outcome fails (the SDK's retries too): as good as a process that died.
    faults.add({
      service: 'dynamodb',
      action: 'TransactWriteItems',
      when: (body) => body.includes('"AUTO_REVOKED"'),
      times: PERSISTENT,
      error: Throttle.dynamodb,
    });
    const deadline = minutes(16);
    const summary = await sweepAt(suite, deadline);
    faults.clear();
    // The sweep logs the item as failed (its handler threw) and carries on.
    expect(summary.DEADLINE!.failed).toBeGreaterThanOrEqual(1);
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleIds[0]);
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKING', dueKind: 'RECONCILE' });

    // Within the lease nothing happens; after it two overlapping sweeps settle it once, from EC2's truth.
    await sweepAt(suite, new Date(deadline.getTime() + 60_000));
    expect((await violation(suite, id))!.status).toBe('REVOKING');
    const later = new Date(deadline.getTime() + (REVOKE_LEASE_SECONDS + 30) * 1000);
    await Promise.all([sweepAt(suite, later), sweepAt(suite, later)]);
    expect(await violation(suite, id)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    const finals = (await auditOf(suite, id)).filter((a) => a.toState === 'AUTO_REVOKED');
    expect(finals).toHaveLength(1);
    expect(finals[0]!.details).toMatchObject({ reconciled: true });
    expect(JSON.stringify(messagesShowing(suite, id)[0]!.blocks)).toContain('Auto-revoked');
  });

  it('before the revoke: the reconcile sweep finds the rule still open and revokes it, once', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    // EC2 fails the revoke, and then the write of REVOKE_RETRY fails too: the claim is all that is left.
    faults.add({
      service: 'ec2',
      action: 'RevokeSecurityGroupIngress',
      when: namesRule(r.ruleIds[0]!),
      times: PERSISTENT,
      error: { code: 'InternalError', status: 500 },
    });
    faults.add({
      service: 'dynamodb',
      action: 'TransactWriteItems',
      when: (body) => body.includes('"REVOKE_RETRY"'),
      times: PERSISTENT,
      error: Throttle.dynamodb,
    });
    await pressRevoke(r);
    faults.clear();
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKING' });
    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleIds[0]);

    await sweepAt(suite, new Date(Date.now() + (REVOKE_LEASE_SECONDS + 30) * 1000));
    expect(await violation(suite, id)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleIds[0]);
    expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    expect(await trail(id)).toEqual([
      [null, 'PENDING', 'ok'],
      ['PENDING', 'REVOKING', 'ok'],
      ['REVOKING', 'REVOKING', 'ok'],
      ['REVOKING', 'REVOKED', 'ok'],
    ]);
  });
});

describe('EC2 throttles the revoke of an expired grant', () => {
  it('the grant stays REVOKE_FAILED until a later sweep removes its rule, once', async () => {
    const asked = await command(suite, '/sg-whitelist', 'bastion 203.0.113.44 for 1h');
    await drain(suite);
    const grantId = /\bg-[a-z0-9]{10}\b/.exec(asked.said())![0];
    const grant = (await getGrant(suite.env.tableName, grantId))!;
    expect(grant).toMatchObject({ status: 'ACTIVE' });
    const ruleId = grant.ruleId!;
    faults.add({
      service: 'ec2',
      action: 'RevokeSecurityGroupIngress',
      when: namesRule(ruleId),
      times: PERSISTENT,
      error: Throttle.ec2,
    });
    const expired = new Date(new Date(grant.expiresAt).getTime() + 30_000);
    await sweepAt(suite, expired);
    faults.clear();
    expect(await getGrant(suite.env.tableName, grantId)).toMatchObject({
      status: 'REVOKE_FAILED',
      revokeAttempts: 1,
    });
    expect(await liveRuleIds(REGION, bastion)).toContain(ruleId);

    await sweepAt(suite, new Date(expired.getTime() + 10 * 60_000));
    expect(await getGrant(suite.env.tableName, grantId)).toMatchObject({ status: 'EXPIRED' });
    expect(await liveRuleIds(REGION, bastion)).not.toContain(ruleId);
    expect(revokesReaching(ruleId)).toBe(1);
    const trail = (await auditOf(suite, grantId)).map((a) => [a.toState, a.result]);
    expect(trail).toContainEqual(['REVOKE_FAILED', 'error']);
    expect(trail.at(-1)).toEqual(['EXPIRED', 'ok']);
  });
});

describe('conditional writes lost to a race', () => {
  it('Keep and Revoke pressed at once: exactly one wins, EC2 and the exception agree with it', async () => {
    const r = await raise(suite);
    const id = r.violationIds[0]!;
    const alert = await alertOf(suite, r.alertId);
    const metadata = JSON.stringify({ violationIds: [id], channel: ALERT_CHANNEL, ts: alert!.ts });
    await Promise.all([
      submitKeep(suite, { metadata, justification: 'load test', duration: '3600', user: APPROVER }),
      press(suite, 'violation_revoke', id, { messageTs: alert!.ts! }),
    ]);
    await drain(suite);
    const v = await violation(suite, id);
    const audit = await auditOf(suite, id);
    const finals = audit.filter(
      (a) => a.result === 'ok' && (a.toState === 'KEPT' || a.toState === 'REVOKED'),
    );
    expect(finals).toHaveLength(1);
    expect(finals[0]!.toState).toBe(v!.status);
    const live = await liveRuleIds(REGION, r.groupId);
    if (v!.status === 'KEPT') {
      expect(live).toContain(r.ruleIds[0]);
      expect(revokesReaching(r.ruleIds[0]!)).toBe(0);
    } else {
      expect(v!.status).toBe('REVOKED');
      expect(live).not.toContain(r.ruleIds[0]);
      expect(revokesReaching(r.ruleIds[0]!)).toBe(1);
    }
    // The loser is on record as refused, with the person who tried.
    expect(audit.some((a) => a.result === 'refused')).toBe(true);
  });
});
