import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import type { RunItem } from '../../../services/runs/items';
import { shownCommandHash } from '../../../services/runs/plan';
import type { ViolationItem } from '../../../services/violations/items';
import { MAX_JOB_AGE_SECONDS } from '../../../slack/jobs/proof';
import { authorize, createGroup, documentClient, liveRuleIds } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { addedAudit, allAudit, tableState } from '../../support/fault-harness';
import { rulesOf } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { launchInstances } from '../../support/instances';
import {
  APPROVER,
  blockActionBody,
  ENGINEER,
  type SignOptions,
  type SlackUser,
  signedJob,
  slashCommandBody,
} from '../../support/slack-requests';

// The worker Lambda as deployed: it receives what the door hands off (the async invoke's payload: a job
// kind and the Slack request as Slack signed it) and never builds Bolt. Anyone allowed
// lambda:InvokeFunction can send it anything, so each payload here is one an attacker could send: only a
// request signed with the signing secret, recent and new, is acted on, and only as its signed body says.
const REGION = 'us-east-1';
const OPS_CHANNEL = 'C0OPSTEAM';

let env: HandlerEnv;
let ssm: SsmEmulator;
let worker: (event: unknown) => Promise<void>;
let cloudtrail: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
let bastion: string;
const groups: string[] = [];

beforeAll(async () => {
  ({ groupId: bastion } = await createGroup(REGION));
  groups.push(bastion);
  const role = `worker-${Date.now()}`;
  env = await startHandlerEnv();
  const [web] = await launchInstances(REGION, { Role: role, Name: 'web-1' });
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  ssm.setInstance(web!, 'online');
  env.writeConfig(
    baseConfig(`decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
whitelist:
  targets:
    bastion: { groupId: ${bastion}, region: ${REGION}, ports: [22], allowed: { users: [${ENGINEER.id}] } }
runbooks:
  targets:
    web: { region: ${REGION}, tags: { Role: ${role} } }
  items:
    uptime:
      region: ${REGION}
      targets: [web]
      allowed: { users: [${ENGINEER.id}] }
      commands: [uptime]
    deploy:
      region: ${REGION}
      targets: [web]
      allowed: { users: [${ENGINEER.id}] }
      commands: ['/opt/deploy.sh']
      approval: { required: true, approvers: { users: [${APPROVER.id}] } }
`),
  );
  ({ handler: worker } = (await import('../../../handlers/slack-worker')) as { handler: typeof worker });
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: typeof cloudtrail;
  });
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SSM;
  await ssm.stop();
  await env.stop();
});

async function item<T>(pk: string, sk: string): Promise<T> {
  const out = await documentClient().send(new GetCommand({ TableName: env.tableName, Key: { pk, sk } }));
  return out.Item as T;
}

/** A fresh SSH-from-anywhere rule, detected: its violation is PENDING on an alert. */
async function pendingViolation(): Promise<{
  groupId: string;
  ruleId: string;
  violationId: string;
  ts: string;
}> {
  const { groupId } = await createGroup(REGION);
  groups.push(groupId);
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  const record = authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }] });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = await item<{ violationIds: string[]; ts: string }>(`ALERT#${record.eventID}`, 'ALERT');
  return { groupId, ruleId: ruleId!, violationId: alert.violationIds[0]!, ts: alert.ts };
}

function revokePress(violationId: string, ts: string, user: SlackUser = ENGINEER): string {
  return blockActionBody({
    actionId: 'violation_revoke',
    value: violationId,
    messageTs: ts,
    channel: ALERT_CHANNEL,
    user,
    responseUrl: env.slack.responseUrl(),
  });
}

function slash(command: string, text: string, user: SlackUser = ENGINEER): string {
  return slashCommandBody({
    command,
    text,
    user,
    channel: OPS_CHANNEL,
    responseUrl: env.slack.responseUrl(),
  });
}

/** Everything a job could change: the table (audit aside), every group's rules, SSM commands, calls to Slack. */
async function world(): Promise<string> {
  const items = [...(await tableState(env.tableName)).values()]
    .map((i) => `${i.pk}/${i.sk} ${i.status ?? ''} v${i.version ?? ''}`)
    .sort();
  const rules = await Promise.all(groups.map((g) => rulesOf(g)));
  return [
    ...items,
    ...rules.map((r) =>
      r
        .map((x) => x.SecurityGroupRuleId)
        .sort()
        .join(','),
    ),
    `ssm commands: ${ssm.sent.length}`,
    `slack calls: ${env.slack.calls.length}`,
    `response_url posts: ${env.slack.responseUrlPosts.length}`,
  ].join('\n');
}

/** Invokes the worker with `event` and checks that nothing changed but one refusal on the audit trail. */
async function refused(event: unknown, reason: string): Promise<StoredAuditEntry> {
  const before = await world();
  const auditBefore = await allAudit(env.tableName);
  await worker(event);
  expect(await world()).toBe(before);
  const added = addedAudit(auditBefore, await allAudit(env.tableName));
  expect(added).toHaveLength(1);
  expect(added[0]).toMatchObject({
    subjectType: 'request',
    action: 'slack-job',
    result: 'refused',
    actorType: 'aws-principal',
    details: expect.objectContaining({ reason }),
  });
  return added[0]!;
}

const now = () => Math.floor(Date.now() / 1000);

describe('slack-worker handler', () => {
  describe('#12.1 a genuine hand-off still works end to end', () => {
    it('runs a revoke the door handed off: the signed press of a revoker revokes the rule', async () => {
      const v = await pendingViolation();
      await worker(signedJob('decision.revoke', revokePress(v.violationId, v.ts)));
      expect(await liveRuleIds(REGION, v.groupId)).not.toContain(v.ruleId);
      expect(await item<ViolationItem>(`VIOLATION#${v.violationId}`, 'VIOLATION')).toMatchObject({
        status: 'REVOKED',
        decidedBy: ENGINEER.id,
      });
    });

    it('reads who asked and what from the signed body, never from fields an invoker adds beside it', async () => {
      const asked = await pendingViolation();
      const other = await pendingViolation();
      const job = {
        ...signedJob('decision.revoke', revokePress(asked.violationId, asked.ts)),
        // What a forger would like the worker to believe: another person, another rule, another channel.
        actor: { userId: APPROVER.id, userName: APPROVER.name },
        args: { target: { violationIds: [other.violationId] } },
        reply: { channel: 'C0ELSEWHERE', responseUrl: 'https://attacker.invalid/' },
      };
      await worker(job);
      expect(await item<ViolationItem>(`VIOLATION#${asked.violationId}`, 'VIOLATION')).toMatchObject({
        status: 'REVOKED',
        decidedBy: ENGINEER.id,
      });
      expect(await item<ViolationItem>(`VIOLATION#${other.violationId}`, 'VIOLATION')).toMatchObject({
        status: 'PENDING',
      });
      expect(await liveRuleIds(REGION, other.groupId)).toContain(other.ruleId);
    });

    it('answers a signed revoke of a rule it does not know with a sentence, and changes nothing', async () => {
      const responseUrl = env.slack.responseUrl();
      const body = blockActionBody({ actionId: 'violation_revoke', value: 'v-000000000000', responseUrl });
      await worker(signedJob('decision.revoke', body));
      const id = responseUrl.split('/').at(-1);
      expect(env.slack.responseUrlPosts.find((p) => p.id === id)?.body.text).toContain('does not know');
    });
  });

  describe('#12.1 a forged worker invocation with the right shape and no valid signature', () => {
    it.each([
      ['a job as the door sent it before #12.1 (no signed request)', 'malformed'],
      ['no signature', 'unsigned'],
      ['a signature made with a guessed secret', 'forged'],
      ['a signature of another body (a genuine signature, the body changed)', 'forged'],
    ])('%s: changes nothing, calls no one, is audited as refused', async (name, reason) => {
      const v = await pendingViolation();
      const genuine = signedJob('decision.revoke', revokePress(v.violationId, v.ts));
      const forged: Record<string, unknown> =
        reason === 'malformed'
          ? {
              kind: 'decision.revoke',
              actor: { userId: ENGINEER.id, userName: ENGINEER.name },
              reply: { channel: ALERT_CHANNEL, messageTs: v.ts },
              args: { target: { violationIds: [v.violationId] } },
              receivedAt: new Date().toISOString(),
              requestId: 'r-forged',
            }
          : name.startsWith('no signature')
            ? { ...genuine, request: { ...genuine.request, signature: '' } }
            : name.includes('guessed')
              ? signedJob('decision.revoke', revokePress(v.violationId, v.ts), { secret: 'guessed-secret' })
              : {
                  ...genuine,
                  request: { ...genuine.request, body: revokePress(v.violationId, v.ts, APPROVER) },
                };
      const entry = await refused(forged, reason);
      expect(entry.error).toMatch(/^The job.+nothing was done\.$/);
      expect(await liveRuleIds(REGION, v.groupId)).toContain(v.ruleId);
    });

    it('a forged grant for oneself: no rule is added to the group', async () => {
      await refused(
        signedJob('whitelist.grant', slash('/sg-whitelist', 'bastion 203.0.113.66'), { secret: 'guessed' }),
        'forged',
      );
      expect((await rulesOf(bastion)).filter((r) => r.CidrIpv4 === '203.0.113.66/32')).toEqual([]);
    });

    it('a forged approval of a runbook run: the run keeps waiting and nothing is sent to SSM', async () => {
      await worker(signedJob('run.command', slash('/sg-run', 'deploy web')));
      const [run] = (await allAudit(env.tableName)).filter(
        (a) => a.subjectType === 'run' && a.toState === 'AWAITING_APPROVAL',
      );
      const runId = run!.subjectId;
      // The Approve button names the run and the hash of the command its message showed.
      const stored = await item<RunItem>(`RUN#${runId}`, 'RUN');
      const approve = (options: SignOptions = {}) =>
        signedJob(
          'run.approve',
          blockActionBody({
            actionId: 'run_approve',
            value: `${runId} ${shownCommandHash(stored!)}`,
            user: APPROVER,
            responseUrl: env.slack.responseUrl(),
          }),
          options,
        );
      await refused(approve({ secret: 'guessed' }), 'forged');
      expect(await item<RunItem>(`RUN#${runId}`, 'RUN')).toMatchObject({ status: 'AWAITING_APPROVAL' });
      expect(ssm.sent).toHaveLength(0);

      // The approver's own signed press still works.
      await worker(approve());
      expect(ssm.sent).toHaveLength(1);
    });

    it.each([
      ['not an object', 'revoke everything'],
      ['null', null],
      ['an empty object', {}],
      [
        'a request without a body',
        { kind: 'decision.revoke', request: { signature: 'v0=ab', timestamp: '1' } },
      ],
    ])('a payload that is %s: refused as malformed, nothing done', async (_name, payload) => {
      await refused(payload, 'malformed');
    });
  });

  describe('#12.1 a worker invocation with a valid signature but stale', () => {
    it.each([
      [`older than ${MAX_JOB_AGE_SECONDS / 60} minutes`, -(MAX_JOB_AGE_SECONDS + 60)],
      ['dated six minutes ahead', 360],
    ])('%s: changes nothing, is audited as refused', async (_name, offset) => {
      const v = await pendingViolation();
      await refused(
        signedJob('decision.revoke', revokePress(v.violationId, v.ts), { timestamp: now() + offset }),
        'stale',
      );
      expect(await liveRuleIds(REGION, v.groupId)).toContain(v.ruleId);
    });

    it(`takes a hand-off up to ${MAX_JOB_AGE_SECONDS / 60} minutes old (the door's 5 minutes and Lambda's queue)`, async () => {
      const v = await pendingViolation();
      const job = signedJob('decision.revoke', revokePress(v.violationId, v.ts), {
        timestamp: now() - MAX_JOB_AGE_SECONDS + 30,
      });
      await worker(job);
      expect(await liveRuleIds(REGION, v.groupId)).not.toContain(v.ruleId);
    });
  });

  describe('#12.1 a valid worker invocation replayed', () => {
    it('acts once: the replay changes nothing and is audited as refused', async () => {
      const v = await pendingViolation();
      const job = signedJob('decision.revoke', revokePress(v.violationId, v.ts));
      await worker(job);
      expect(await item<ViolationItem>(`VIOLATION#${v.violationId}`, 'VIOLATION')).toMatchObject({
        status: 'REVOKED',
      });
      const entry = await refused(job, 'replayed');
      expect(entry.details).toMatchObject({ slackUser: ENGINEER.id });
    });

    it('a replayed /sg-run sends its command once', async () => {
      const job = signedJob('run.command', slash('/sg-run', 'uptime web'));
      const sent = ssm.sent.length;
      await worker(job);
      expect(ssm.sent).toHaveLength(sent + 1);
      await refused(job, 'replayed');
    });
  });

  describe('#12.1 a signed body that does not match the claimed job', () => {
    it('a signed /sg-status claimed as a revoke: refused, nothing done', async () => {
      await refused(signedJob('decision.revoke', slash('/sg-status', '')), 'mismatch');
    });

    it('a signed Revoke press claimed as a grant: refused, nothing done', async () => {
      const v = await pendingViolation();
      await refused(signedJob('whitelist.grant', revokePress(v.violationId, v.ts)), 'mismatch');
      expect(await liveRuleIds(REGION, v.groupId)).toContain(v.ruleId);
    });

    it('a signed request that asks for nothing in the background (/sg-run help): refused', async () => {
      await refused(signedJob('run.command', slash('/sg-run', 'help')), 'unreadable');
    });

    it('a job kind no request asks for: refused', async () => {
      await refused(signedJob('decision.nonsense', slash('/sg-status', '')), 'mismatch');
    });
  });
});
