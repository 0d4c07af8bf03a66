import { validateConfig } from '../../../../services/config/config';
import {
  type DecisionDeps,
  expireException,
  keepForPerson,
  keepViolation,
  REVOKE_LEASE_SECONDS,
  reconcileRevoke,
  retryBackoffSeconds,
  retryRevoke,
  revokeAtDeadline,
  revokeForPerson,
  revokeViolation,
} from '../../../../services/decisions/decisions';
import { keys } from '../../../../services/kernel/state';
import { AwsCallError } from '../../../../services/shared/errors';
import { ruleFingerprint } from '../../../../services/shared/ids';
import { silentLogger } from '../../../../services/shared/logger';
import type { Direction, RuleFacts } from '../../../../services/shared/model';
import type {
  AlertNotifier,
  AlertView,
  AwsTarget,
  GroupInfo,
  MessageRef,
  RevokeFailure,
} from '../../../../services/shared/ports';
import type { AlertItem, ExceptionItem, ViolationItem } from '../../../../services/violations/items';
import { alertBlocks, revokeFailureText } from '../../../../slack/blocks/alert';
import { MemoryStateStore } from '../../../support/memory-store';

const T0 = new Date('2026-11-23T10:00:00.000Z');
const MESSAGE: MessageRef = { channel: 'C0ALERTS', ts: '1700000000.000100' };
const ALICE = { id: 'U0ALICE', name: 'alice' };
const BOB = { id: 'U0BOB', name: 'bob' };
const PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/Admin/bob@example.com';

/** EC2 as a map of live rules; records revokes and can refuse the next N of them. */
class FakeEc2 {
  rules = new Map<string, RuleFacts>();
  revokes: string[][] = [];
  refuse = 0;
  refuseWith = 'UnauthorizedOperation';
  tags: Record<string, string> = {};

  async describeRules(_t: AwsTarget, ids: readonly string[]): Promise<RuleFacts[]> {
    return ids.flatMap((id) => (this.rules.has(id) ? [this.rules.get(id)!] : []));
  }
  async describeGroupRules(_t: AwsTarget, groupId: string): Promise<RuleFacts[]> {
    return [...this.rules.values()].filter((r) => r.groupId === groupId);
  }
  async describeGroup(_t: AwsTarget, groupId: string): Promise<GroupInfo | null> {
    return { groupId, name: 'web', vpcId: 'vpc-1', tags: this.tags };
  }
  async revokeRules(_t: AwsTarget, _g: string, _d: Direction, ids: readonly string[]) {
    this.revokes.push([...ids]);
    if (this.refuse > 0) {
      this.refuse--;
      throw new AwsCallError(`RevokeSecurityGroupIngress failed: ${this.refuseWith}`, {
        awsCode: this.refuseWith,
        requestId: 'req-refused',
      });
    }
    for (const id of ids) this.rules.delete(id);
    return { requestId: `req-${this.revokes.length}` };
  }
}

class FakeNotifier implements AlertNotifier {
  posts: AlertView[] = [];
  updates: AlertView[] = [];
  notices: { channel: string; text: string; threadTs?: string }[] = [];
  async postAlert(channel: string, view: AlertView) {
    this.posts.push(view);
    return { channel, ts: `17000000${this.posts.length}.000100` };
  }
  async updateAlert(_ref: MessageRef, view: AlertView) {
    this.updates.push(view);
  }
  async postRevokeFailure(channel: string, failure: RevokeFailure, threadTs?: string) {
    this.notices.push({ channel, text: revokeFailureText(failure), ...(threadTs ? { threadTs } : {}) });
  }
}

function sshRule(ruleId: string | null = 'sgr-0ssh'): RuleFacts {
  return {
    groupId: 'sg-0123456789abcdef0',
    ruleId,
    direction: 'ingress',
    protocol: 'tcp',
    fromPort: 22,
    toPort: 22,
    source: '0.0.0.0/0',
    sourceKind: 'ipv4',
    description: null,
  };
}

function setup(decisions: Record<string, unknown> = {}, policy: Record<string, unknown> = {}) {
  const store = new MemoryStateStore();
  const ec2 = new FakeEc2();
  const notifier = new FakeNotifier();
  let now = T0;
  const groups: Record<string, string[]> = { S0APPROVERS: [ALICE.id] };
  const deps: DecisionDeps = {
    store,
    ec2,
    notifier,
    config: validateConfig({ slack: { alertChannel: 'C0ALERTS' }, decisions, policy }, 'test.yml'),
    clock: () => now,
    logger: silentLogger,
    directory: { membersOf: async (g) => groups[g] ?? [] },
  };
  return {
    store,
    ec2,
    notifier,
    deps,
    setNow: (d: Date) => {
      now = d;
    },
  };
}

async function seed(
  env: ReturnType<typeof setup>,
  options: {
    id?: string;
    alertId?: string;
    rule?: RuleFacts;
    severity?: ViolationItem['severity'];
    dryRun?: boolean;
  } = {},
): Promise<ViolationItem> {
  const rule = options.rule ?? sshRule();
  const alertId = options.alertId ?? 'evt-1';
  const violationId = options.id ?? 'v-1';
  if (rule.ruleId) env.ec2.rules.set(rule.ruleId, rule);
  const actor = {
    arn: PRINCIPAL,
    type: 'AssumedRole',
    roleArn: null,
    invokedBy: null,
    sourceIp: '198.51.100.7',
    userAgent: 'cli',
  };
  const existing = await env.store.get<AlertItem>(keys.alert(alertId));
  const alert: AlertItem = {
    ...keys.alert(alertId),
    type: 'alert',
    status: 'POSTED',
    version: 3,
    alertId,
    eventId: alertId,
    eventName: 'AuthorizeSecurityGroupIngress',
    eventTime: T0.toISOString(),
    region: 'us-east-1',
    account: '123456789012',
    groupId: rule.groupId,
    groupName: 'web',
    actor,
    violationIds: [...(existing?.violationIds ?? []), violationId],
    notifyAttempts: 1,
    channel: MESSAGE.channel,
    ts: MESSAGE.ts,
    createdAt: T0.toISOString(),
  };
  env.store.items.set(`${alert.pk}|${alert.sk}`, alert as never);
  const v: ViolationItem = {
    ...keys.violation(violationId),
    type: 'violation',
    status: 'PENDING',
    version: 1,
    violationId,
    alertId,
    eventId: alertId,
    region: 'us-east-1',
    account: '123456789012',
    groupId: rule.groupId,
    groupName: 'web',
    rule,
    severity: options.severity ?? 'high',
    reasons: ['admin port 22 (SSH) open: 0.0.0.0/0 is the whole internet'],
    action: 'alert',
    dryRun: options.dryRun ?? false,
    actor,
    eventTime: T0.toISOString(),
    createdAt: T0.toISOString(),
    deadline: new Date(T0.getTime() + 900_000).toISOString(),
    revokeAttempts: 0,
    dueKind: 'DEADLINE',
    dueAt: new Date(T0.getTime() + 900_000).toISOString(),
  };
  await env.store.createAll([v as never], []);
  return v;
}

async function status(env: ReturnType<typeof setup>, id = 'v-1') {
  return (await env.store.get<ViolationItem>(keys.violation(id)))!;
}

describe('decisions', () => {
  describe('revokeViolation', () => {
    it('revokes the rule by ID and records who, when and EC2 request ID', async () => {
      const env = setup();
      await seed(env);
      const result = await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      expect(result.outcome).toBe('REVOKED');
      expect(env.ec2.revokes).toEqual([['sgr-0ssh']]);
      expect(await status(env)).toMatchObject({
        status: 'REVOKED',
        decidedBy: ALICE.id,
        decidedByName: 'alice',
        decidedAt: T0.toISOString(),
      });
      expect((await status(env)).dueKind).toBeUndefined();
      const audit = await env.store.auditFor('v-1');
      expect(audit.map((a) => [a.fromState, a.toState])).toEqual([
        ['PENDING', 'REVOKING'],
        ['REVOKING', 'REVOKED'],
      ]);
      expect(audit[1]).toMatchObject({
        actorType: 'slack-user',
        actorId: ALICE.id,
        actorName: 'alice',
        awsRequestId: 'req-1',
        result: 'ok',
      });
      expect(env.notifier.updates).toHaveLength(1);
    });

    it('ends as AUTO_REVOKED with actor "timeout" at the deadline', async () => {
      const env = setup();
      const v = await seed(env);
      const result = await revokeAtDeadline(env.deps, v);
      expect(result.outcome).toBe('AUTO_REVOKED');
      expect(await status(env)).toMatchObject({ decidedBy: 'timeout' });
      const audit = await env.store.auditFor('v-1');
      expect(audit.at(-1)).toMatchObject({
        actorType: 'timeout',
        actorId: 'timeout',
        toState: 'AUTO_REVOKED',
      });
    });

    it('ends as GONE without revoking when the rule no longer exists', async () => {
      const env = setup();
      await seed(env);
      env.ec2.rules.clear();
      const result = await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      expect(result.outcome).toBe('GONE');
      expect(env.ec2.revokes).toHaveLength(0);
    });

    it('ends as RESOLVED when the rule changed and no longer violates', async () => {
      const env = setup();
      await seed(env);
      env.ec2.rules.set('sgr-0ssh', { ...sshRule(), source: '10.0.0.0/8' });
      const result = await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(result.outcome).toBe('RESOLVED');
      expect(env.ec2.revokes).toHaveLength(0);
    });

    it('ends as RESOLVED when the group became exempt by tag', async () => {
      const env = setup({}, { exceptions: { tags: [{ key: 'sg-warden:exempt' }] } });
      await seed(env);
      env.ec2.tags = { 'sg-warden:exempt': 'load test' };
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('RESOLVED');
    });

    it('never auto-revokes a rule kept under another alert, but a person still may', async () => {
      const env = setup();
      await seed(env);
      await seed(env, { id: 'v-2', alertId: 'evt-2' });
      expect((await keepViolation(env.deps, 'v-2', ALICE, 'needed', 3600)).ok).toBe(true);
      const result = await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(result.outcome).toBe('RESOLVED');
      expect(env.ec2.revokes).toHaveLength(0);
      expect((await env.store.auditFor('v-1')).at(-1)!.details).toMatchObject({ keptViolation: 'v-2' });

      await seed(env, { id: 'v-3', alertId: 'evt-3' });
      expect((await revokeViolation(env.deps, 'v-3', { type: 'slack-user', ...BOB })).outcome).toBe(
        'REVOKED',
      );
    });

    it('records a dry run and never calls EC2 to revoke', async () => {
      const env = setup();
      await seed(env, { dryRun: true });
      const result = await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(result.outcome).toBe('DRY_RUN');
      expect(env.ec2.revokes).toHaveLength(0);
      expect(env.ec2.rules.has('sgr-0ssh')).toBe(true);
    });

    it('finds a rule without an ID by its content and revokes it by the ID EC2 gives', async () => {
      const env = setup();
      await seed(env, { rule: sshRule(null) });
      env.ec2.rules.set('sgr-0live', sshRule('sgr-0live'));
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('AUTO_REVOKED');
      expect(env.ec2.revokes).toEqual([['sgr-0live']]);
    });

    it('makes exactly one EC2 call when a click and the clock race', async () => {
      const env = setup();
      const v = await seed(env);
      const results = await Promise.all([
        revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE }),
        revokeAtDeadline(env.deps, v),
        revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...BOB }),
      ]);
      expect(env.ec2.revokes).toHaveLength(1);
      const winners = results.filter((r) => r.outcome === 'REVOKED' || r.outcome === 'AUTO_REVOKED');
      expect(winners).toHaveLength(1);
    });

    it('answers not-pending for a decided violation and not-found for an unknown one', async () => {
      const env = setup();
      await seed(env);
      await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('not-pending');
      expect((await revokeViolation(env.deps, 'v-nope', { type: 'timeout' })).outcome).toBe('not-found');
      expect(env.ec2.revokes).toHaveLength(1);
    });
  });

  describe('a revoke EC2 refuses', () => {
    it('is retried with backoff, then FAILED with a notice in the alert thread naming the rule and error', async () => {
      const env = setup({ revokeAttempts: 3 });
      await seed(env);
      env.ec2.refuse = 10;
      let result = await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      expect(result.outcome).toBe('REVOKE_RETRY');
      let v = await status(env);
      expect(v).toMatchObject({ status: 'REVOKE_RETRY', revokeAttempts: 1, dueKind: 'REVOKE_RETRY' });
      expect(v.dueAt).toBe(new Date(T0.getTime() + retryBackoffSeconds(1) * 1000).toISOString());
      expect(v.lastError).toContain('UnauthorizedOperation');

      result = await retryRevoke(env.deps, v);
      expect(result.outcome).toBe('REVOKE_RETRY');
      v = await status(env);
      expect(v.revokeAttempts).toBe(2);
      result = await retryRevoke(env.deps, v);
      expect(result.outcome).toBe('FAILED');
      expect(env.ec2.revokes).toHaveLength(3);
      expect(await status(env)).toMatchObject({ status: 'FAILED', revokeAttempts: 3 });
      expect((await status(env)).dueKind).toBeUndefined();
      expect(env.notifier.notices).toHaveLength(1);
      expect(env.notifier.notices[0]).toMatchObject({ channel: 'C0ALERTS', threadTs: MESSAGE.ts });
      expect(env.notifier.notices[0]!.text).toContain('sgr-0ssh');
      expect(env.notifier.notices[0]!.text).toContain('UnauthorizedOperation');
      const audit = await env.store.auditFor('v-1');
      const errors = audit.filter((a) => a.result === 'error');
      expect(errors).toHaveLength(3);
      expect(errors[0]).toMatchObject({ awsRequestId: 'req-refused', actorId: ALICE.id });
    });

    it('ends as REVOKED for the person who asked when a retry succeeds', async () => {
      const env = setup();
      await seed(env);
      env.ec2.refuse = 1;
      await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      const result = await retryRevoke(env.deps, await status(env));
      expect(result.outcome).toBe('REVOKED');
      expect(await status(env)).toMatchObject({ decidedBy: ALICE.id });
    });

    it('ends as GONE when EC2 says the rule is not found', async () => {
      const env = setup();
      await seed(env);
      env.ec2.refuse = 1;
      env.ec2.refuseWith = 'InvalidSecurityGroupRuleId.NotFound';
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('GONE');
    });
  });

  describe('reconcile', () => {
    it('records a revoke whose state write was lost exactly once, as reconciled', async () => {
      const env = setup();
      await seed(env);
      env.store.failTransition = (t) => t.to === 'REVOKED';
      await expect(revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE })).rejects.toThrow(
        'simulated write failure',
      );
      env.store.failTransition = null;
      const claimed = await status(env);
      expect(claimed).toMatchObject({ status: 'REVOKING', dueKind: 'RECONCILE' });
      expect(claimed.dueAt).toBe(new Date(T0.getTime() + REVOKE_LEASE_SECONDS * 1000).toISOString());
      expect(env.ec2.rules.has('sgr-0ssh')).toBe(false);

      env.setNow(new Date(T0.getTime() + (REVOKE_LEASE_SECONDS + 1) * 1000));
      const [first, second] = await Promise.all([
        reconcileRevoke(env.deps, claimed),
        reconcileRevoke(env.deps, claimed),
      ]);
      expect([first.outcome, second.outcome].sort()).toEqual(['REVOKED', 'lost-race']);
      expect(env.ec2.revokes).toHaveLength(1);
      const audit = await env.store.auditFor('v-1');
      const revoked = audit.filter((a) => a.toState === 'REVOKED');
      expect(revoked).toHaveLength(1);
      expect(revoked[0]).toMatchObject({
        actorId: ALICE.id,
        details: expect.objectContaining({ reconciled: true }),
      });
    });

    it('revokes when the claim died before the EC2 call', async () => {
      const env = setup();
      const v = await seed(env);
      env.ec2.refuse = 0;
      const origRevoke = env.ec2.revokeRules.bind(env.ec2);
      env.ec2.revokeRules = async () => {
        throw new Error('process died');
      };
      env.store.failTransition = (t) => t.to === 'REVOKE_RETRY';
      await expect(revokeAtDeadline(env.deps, v)).rejects.toThrow();
      env.store.failTransition = null;
      env.ec2.revokeRules = origRevoke;
      const result = await reconcileRevoke(env.deps, await status(env));
      expect(result.outcome).toBe('AUTO_REVOKED');
      expect(env.ec2.rules.has('sgr-0ssh')).toBe(false);
    });
  });

  describe('keepViolation', () => {
    it('keeps the rule with justification and expiry and records an ACTIVE exception due at expiry', async () => {
      const env = setup();
      const v = await seed(env);
      const result = await keepViolation(env.deps, 'v-1', ALICE, '  load test until 11:00 ', 3600);
      expect(result.ok).toBe(true);
      const until = new Date(T0.getTime() + 3600_000).toISOString();
      expect(await status(env)).toMatchObject({
        status: 'KEPT',
        keptUntil: until,
        justification: 'load test until 11:00',
        decidedBy: ALICE.id,
      });
      const ex = await env.store.get<ExceptionItem>(
        keys.exception(ruleFingerprint(v.account, v.region, v.rule)),
      );
      expect(ex).toMatchObject({
        status: 'ACTIVE',
        expiresAt: until,
        dueKind: 'EXCEPTION_EXPIRY',
        dueAt: until,
      });
      const audit = await env.store.auditFor('v-1');
      expect(audit.at(-1)).toMatchObject({
        action: 'keep',
        toState: 'KEPT',
        justification: 'load test until 11:00',
        actorName: 'alice',
      });
    });

    it.each([
      ['not an approver', { approvers: { users: [ALICE.id] } }, BOB, 3600, 'NOT_AUTHORISED'],
      ['the author of the change', { principalToSlack: { [PRINCIPAL]: BOB.id } }, BOB, 3600, 'SELF_APPROVAL'],
      ['permanent for a high rule', {}, ALICE, null, 'PERMANENT_NOT_ALLOWED'],
      ['a duration not offered', {}, ALICE, 1234, 'BAD_DURATION'],
    ])('refuses %s and audits the refusal', async (_name, decisions, person, duration, code) => {
      const env = setup(decisions);
      await seed(env);
      const result = await keepViolation(env.deps, 'v-1', person, 'because', duration as number | null);
      expect(result).toMatchObject({ ok: false, refusal: { code } });
      expect((await status(env)).status).toBe('PENDING');
      expect((await env.store.auditFor('v-1')).at(-1)).toMatchObject({
        result: 'refused',
        actorId: person.id,
        details: { code },
      });
    });

    it('allows an approver through a user group, and a wildcard principal mapping catches self-approval', async () => {
      const env = setup({
        approvers: { userGroups: ['S0APPROVERS'] },
        principalToSlack: { 'arn:aws:sts::*:assumed-role/Admin/bob@example.com': BOB.id },
      });
      await seed(env);
      expect((await keepViolation(env.deps, 'v-1', BOB, 'x', 3600)).ok).toBe(false);
      expect((await keepViolation(env.deps, 'v-1', ALICE, 'x', 3600)).ok).toBe(true);
    });

    it('keeps a low rule permanently: never due', async () => {
      const env = setup();
      const v = await seed(env, { severity: 'low' });
      expect((await keepViolation(env.deps, 'v-1', ALICE, 'ping monitoring', null)).ok).toBe(true);
      const ex = await env.store.get<ExceptionItem>(
        keys.exception(ruleFingerprint(v.account, v.region, v.rule)),
      );
      expect(ex).toMatchObject({ status: 'ACTIVE', expiresAt: null });
      expect(ex!.dueKind).toBeUndefined();
    });

    it('refuses a keep after a revoke won, and a revoke after a keep won', async () => {
      const env = setup();
      await seed(env);
      await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(await keepViolation(env.deps, 'v-1', ALICE, 'x', 3600)).toMatchObject({
        ok: false,
        refusal: { code: 'ALREADY_DECIDED' },
      });
      await seed(env, { id: 'v-2', alertId: 'evt-2', rule: sshRule('sgr-0two') });
      await keepViolation(env.deps, 'v-2', ALICE, 'x', 3600);
      expect((await revokeViolation(env.deps, 'v-2', { type: 'timeout' })).outcome).toBe('not-pending');
    });

    it('refuses a button value that belongs to another alert message', async () => {
      const env = setup();
      await seed(env);
      const result = await keepViolation(env.deps, 'v-1', ALICE, 'x', 3600, {
        message: { channel: 'C0ALERTS', ts: '1600000000.000001' },
      });
      expect(result).toMatchObject({ ok: false, refusal: { code: 'WRONG_MESSAGE' } });
    });
  });

  describe('people acting on an alert', () => {
    it('revoke-all revokes every pending rule of the alert and refreshes the message once', async () => {
      const env = setup();
      await seed(env);
      await seed(env, { id: 'v-2', rule: sshRule('sgr-0two') });
      const out = await revokeForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE);
      expect(out.refused).toBeNull();
      expect(out.results.map((r) => r.outcome)).toEqual(['REVOKED', 'REVOKED']);
      expect(env.ec2.revokes).toHaveLength(2);
      expect(env.notifier.updates).toHaveLength(1);
    });

    it('revoke-all reports a revoke that failed on our side as an error, not as someone else’s decision', async () => {
      const env = setup();
      await seed(env);
      await seed(env, { id: 'v-2', rule: sshRule('sgr-0two') });
      env.store.failTransition = (t) => t.key.pk === 'VIOLATION#v-2' && t.to === 'REVOKING';

      const out = await revokeForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE);

      expect(out.results.map((r) => r.outcome)).toEqual(['REVOKED', 'error']);
      expect(out.results[1]).toMatchObject({ violationId: 'v-2', error: 'simulated write failure' });
      expect((await status(env, 'v-2')).status).toBe('PENDING');
    });

    it('refuses someone not on the revokers list: nothing changes but the audit trail', async () => {
      const env = setup({ revokers: { users: [ALICE.id] } });
      await seed(env);
      const out = await revokeForPerson(env.deps, BOB, { violationIds: ['v-1'] }, MESSAGE);
      expect(out.refused).toMatchObject({ code: 'NOT_AUTHORISED' });
      expect(env.ec2.revokes).toHaveLength(0);
      expect((await status(env)).status).toBe('PENDING');
      expect((await env.store.auditFor('v-1')).at(-1)).toMatchObject({ action: 'revoke', result: 'refused' });
    });

    it('refuses an unknown violation ID', async () => {
      const env = setup();
      await seed(env);
      const out = await revokeForPerson(env.deps, ALICE, { violationIds: ['v-forged'] }, MESSAGE);
      expect(out.refused).toMatchObject({ code: 'NOT_FOUND' });
      expect(env.ec2.revokes).toHaveLength(0);
    });

    it('keep-all keeps every pending rule, or none when permanent is not allowed for one of them', async () => {
      const env = setup();
      await seed(env, { severity: 'low' });
      await seed(env, { id: 'v-2', rule: sshRule('sgr-0two') });
      const refused = await keepForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE, 'x', null);
      expect(refused.refused).toMatchObject({ code: 'PERMANENT_NOT_ALLOWED' });
      expect((await status(env)).status).toBe('PENDING');
      const kept = await keepForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE, 'x', 86400);
      expect(kept.results.every((r) => r.ok)).toBe(true);
      expect((await status(env, 'v-2')).status).toBe('KEPT');
    });
  });

  describe('exception expiry', () => {
    async function keptFor(env: ReturnType<typeof setup>, seconds: number) {
      const v = await seed(env);
      await keepViolation(env.deps, 'v-1', ALICE, 'load test', seconds);
      const ex = (await env.store.get<ExceptionItem>(
        keys.exception(ruleFingerprint(v.account, v.region, v.rule)),
      ))!;
      env.setNow(new Date(T0.getTime() + (seconds + 60) * 1000));
      return { v, ex };
    }

    it('re-opens a still-violating rule as a fresh PENDING decision with its own alert and deadline', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      const result = await expireException(env.deps, ex);
      expect(result.outcome).toBe('reopened');
      const again = await env.store.get<ExceptionItem>(keys.exception(ex.fingerprint));
      expect(again).toMatchObject({ status: 'EXPIRED' });
      const fresh = await status(env, result.violationId);
      expect(fresh).toMatchObject({ status: 'PENDING', alertId: result.alertId, dueKind: 'DEADLINE' });
      expect(new Date(fresh.deadline!).getTime()).toBe(T0.getTime() + (3600 + 60 + 900) * 1000);
      expect(env.notifier.posts).toHaveLength(1);
      expect(env.notifier.posts[0]!.alert.reopenedFrom).toBe('v-1');
      expect((await status(env)).status).toBe('KEPT');
      // Who kept it until when goes to the alert as data: it shows the date as every message does.
      expect(fresh.previousKeep).toEqual({ byName: ex.approvedByName, until: ex.expiresAt });
      const section = alertBlocks(env.notifier.posts[0]!).find(
        (b) => b.block_id === `rule:${result.violationId}`,
      );
      expect(section?.text.text).toMatch(/kept by .+ until <!date\^\d+\^/);
      expect(section?.text.text).not.toMatch(/\d{4}-\d{2}-\d{2}T/);

      // Running twice (overlapping sweeps) creates nothing new.
      expect((await expireException(env.deps, ex)).outcome).toBe('not-due');
      expect(env.notifier.posts).toHaveLength(1);
    });

    it('just expires when the rule is gone from EC2', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      env.ec2.rules.clear();
      expect((await expireException(env.deps, ex)).outcome).toBe('expired');
      expect(env.notifier.posts).toHaveLength(0);
    });

    it('lets the re-opened rule be kept again, replacing the expired exception', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      const result = await expireException(env.deps, ex);
      const kept = await keepViolation(env.deps, result.violationId!, ALICE, 'still testing', 86400);
      expect(kept.ok).toBe(true);
      expect(await env.store.get<ExceptionItem>(keys.exception(ex.fingerprint))).toMatchObject({
        status: 'ACTIVE',
        violationId: result.violationId,
      });
    });

    it('is not due before its expiry', async () => {
      const env = setup();
      const { ex } = await keptFor(env, 3600);
      env.setNow(T0);
      expect((await expireException(env.deps, ex)).outcome).toBe('not-due');
    });
  });
});
