import { SsmEmulator } from '../../local/shared/ssm-emulator';
import type { StoredAuditEntry } from '../../services/kernel/audit';
import { createGroup } from '../support/aws';
import {
  addedAudit,
  alertOf,
  allAudit,
  command,
  type DoorExchange,
  drain,
  type FaultSuite,
  press,
  type Raised,
  REGION,
  raise,
  send,
  startFaultSuite,
  submitKeep,
  tableState,
  violation,
} from '../support/fault-harness';
import { rulesOf } from '../support/grants';
import { ALERT_CHANNEL, baseConfig } from '../support/handler-env';
import { launchInstances } from '../support/instances';
import {
  APPROVER,
  blockActionBody,
  ENGINEER,
  OUTSIDER,
  type SlackUser,
  signedEvent,
  slashCommandBody,
  viewSubmissionBody,
} from '../support/slack-requests';

// Abuse at the Slack door: requests that are not Slack's, Slack's requests replayed or tampered with,
// another workspace, and people who may not do what they ask. Each gets a clear refusal, changes no
// state (table, EC2 rules, SSM commands) and, where a person was identified, leaves an audit entry.

const TEAM = 'T0SGWARDEN';
const OTHER_TEAM = 'T0ELSEWHERE';

let suite: FaultSuite;
let ssm: SsmEmulator;
let bastion: string;
let first: Raised;
let second: Raised;
let firstTs: string;
let grantId: string;
let runId: string;

beforeAll(async () => {
  ({ groupId: bastion } = await createGroup(REGION));
  const role = `abuse-${Date.now()}`;
  const [web] = await launchInstances(REGION, { Role: role, Name: 'web-1' });
  suite = await startFaultSuite({
    config: baseConfig(`  teamId: ${TEAM}
decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { users: [${APPROVER.id}] }
  keepDurations: [1h, 1d]
whitelist:
  targets:
    bastion: { groupId: ${bastion}, region: ${REGION}, ports: [22], allowed: { users: [${ENGINEER.id}, ${APPROVER.id}] } }
runbooks:
  targets:
    web: { region: ${REGION}, tags: { Role: ${role} } }
  items:
    restart-service:
      region: ${REGION}
      targets: [web]
      allowed: { users: [${ENGINEER.id}] }
      commands: ['systemctl restart {{ service }}']
      parameters:
        - { name: service, pattern: '^[a-z][a-z0-9@._-]{0,63}$' }
    deploy:
      region: ${REGION}
      targets: [web]
      allowed: { users: [${ENGINEER.id}] }
      commands: ['/opt/deploy.sh']
      approval: { required: true, approvers: { users: [${APPROVER.id}] } }
`),
  });
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  ssm.setInstance(web!, 'online');

  first = await raise(suite, { ports: [22, 3389] });
  second = await raise(suite, { ports: [5432] });
  firstTs = (await alertOf(suite, first.alertId))!.ts!;
  const granted = await command(suite, '/sg-whitelist', 'bastion 203.0.113.10');
  await drain(suite);
  grantId = /\bg-[a-z0-9]{10}\b/.exec(granted.said())![0];
  const asked = await command(suite, '/sg-run', 'deploy web', { channel: 'C0OPS' });
  await drain(suite);
  runId = /\br-[0-9a-z]{10}\b/.exec(asked.said())![0];
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SSM;
  await ssm.stop();
  await suite.stop();
});

/** Everything a refusal must leave alone: the table (audit aside), the groups' rules, SSM commands, the alert channel. */
async function world(): Promise<string> {
  const items = [...(await tableState(suite.env.tableName)).values()]
    .filter((item) => item.type !== 'marker')
    .map(
      (item) =>
        `${item.pk} ${item.status ?? ''} v${item.version ?? ''} ${item.dueKind ?? ''} ${item.expiresAt ?? ''}`,
    )
    .sort();
  const rules = await Promise.all([bastion, first.groupId, second.groupId].map((g) => rulesOf(g)));
  const posts = suite.env.slack.calls
    .filter((c) => ['chat.postMessage', 'chat.update', 'chat.delete'].includes(c.method))
    .map((c) => `${c.method} ${c.args.channel} ${c.args.ts ?? ''}`);
  return [
    ...items,
    ...rules.map((r) =>
      r
        .map((x) => x.SecurityGroupRuleId)
        .sort()
        .join(','),
    ),
    `ssm commands: ${ssm.sent.length}`,
    ...posts,
  ].join('\n');
}

/** Runs `act`, drains its jobs, and checks that nothing but the audit trail changed. */
async function refusedWithoutChange(
  act: () => Promise<DoorExchange>,
): Promise<{ exchange: DoorExchange; audit: StoredAuditEntry[] }> {
  const before = await world();
  const auditBefore = await allAudit(suite.env.tableName);
  const exchange = await act();
  await drain(suite);
  expect(await world()).toBe(before);
  const audit = addedAudit(auditBefore, await allAudit(suite.env.tableName));
  // No stack traces or internals in anything the person or Slack sees.
  expect(exchange.said()).not.toMatch(/\n\s+at |TypeError|ReferenceError|node_modules|\.ts:\d+/);
  return { exchange, audit };
}

function refusalsBy(audit: StoredAuditEntry[], user: SlackUser): StoredAuditEntry[] {
  return audit.filter((a) => a.actorId === user.id && a.result === 'refused');
}

const validBody = () =>
  blockActionBody({
    actionId: 'violation_revoke',
    value: first.violationIds[0]!,
    messageTs: firstTs,
    channel: ALERT_CHANNEL,
  });
const now = () => Math.floor(Date.now() / 1000);

describe('requests that are not (or no longer) Slack’s', () => {
  it.each([
    ['a forged signature', { signature: `v0=${'ab'.repeat(32)}` }, 401],
    ['a signature made with another secret', { secret: 'guessed-secret' }, 401],
    ['a signature of another scheme', { signature: 'v1=deadbeef' }, 401],
    ['no signature header', { signature: null }, 401],
    ['a timestamp six minutes old', { timestamp: now() - 360 }, 401],
    ['a timestamp six minutes ahead', { timestamp: now() + 360 }, 401],
  ] as const)('%s: refused (401), nothing done', async (_name, sign, status) => {
    const { exchange, audit } = await refusedWithoutChange(() => send(suite, validBody(), sign));
    expect(exchange.result.statusCode).toBe(status);
    expect(exchange.result.body).toMatch(/^[A-Z][^\n]{5,80}\.$/);
    expect(audit).toHaveLength(0);
  });

  it('a request without the timestamp header: 401', async () => {
    const event = (await import('../support/slack-requests')).signedEvent(validBody());
    delete event.headers['x-slack-request-timestamp'];
    const before = await world();
    const result = await suite.slackHttp(event, {} as never);
    expect(result.statusCode).toBe(401);
    await drain(suite);
    expect(await world()).toBe(before);
  });

  it.each([
    ['an oversized body', `payload=${'x'.repeat(300 * 1024)}`, 'application/x-www-form-urlencoded', 413],
    [
      'a form whose payload is not JSON',
      'payload=%7B%22type%22%3A',
      'application/x-www-form-urlencoded',
      400,
    ],
    [
      'a form whose payload is JSON but not an object',
      'payload=42',
      'application/x-www-form-urlencoded',
      400,
    ],
    ['a JSON body that does not parse', '{"type":"block_actions",', 'application/json', 400],
    ['a body of another content type', '<xml/>', 'text/xml', 415],
  ])(
    '%s, correctly signed: refused with a 4xx and one sentence',
    async (_name, body, contentType, status) => {
      const { exchange } = await refusedWithoutChange(() => send(suite, body, { contentType }));
      expect(exchange.result.statusCode).toBe(status);
      expect(exchange.result.body).toMatch(/^[A-Z][^\n]{5,80}\.$/);
    },
  );

  it('#12.6 an oversized body sent base64-encoded: 413 before it is decoded, nothing done', async () => {
    const { exchange } = await refusedWithoutChange(() =>
      send(suite, `payload=${'x'.repeat(300 * 1024)}`, { base64: true }),
    );
    expect(exchange.result).toMatchObject({ statusCode: 413, body: 'Request body too large.' });
  });

  it('#12.6 an oversized POST to the `me` link: 413, nothing done', async () => {
    const { handler: ipCapture } = await import('../../handlers/ip-capture');
    const event = signedEvent(`token=${'x'.repeat(20_000)}`);
    const before = await world();
    const result = await ipCapture({
      ...event,
      rawPath: '/ip/abc',
      pathParameters: { token: 'abc' },
      requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'POST' } },
    });
    expect(result).toMatchObject({ statusCode: 413, body: 'Request body too large.' });
    expect(await world()).toBe(before);
  });

  it.each([
    ['an empty form', ''],
    ['a payload that is an empty object', `payload=${encodeURIComponent('{}')}`],
    ['a payload that is a list', `payload=${encodeURIComponent('[1,2]')}`],
    [
      'a payload of an unknown type',
      `payload=${encodeURIComponent('{"type":"message_action","user":{"id":"U0ENGINEER"},"team":{"id":"T0SGWARDEN"}}')}`,
    ],
  ])('%s, correctly signed: a 4xx, nothing done', async (_name, body) => {
    const { exchange } = await refusedWithoutChange(() => send(suite, body));
    expect(exchange.result.statusCode).toBeGreaterThanOrEqual(400);
    expect(exchange.result.statusCode).toBeLessThan(500);
  });

  it('unknown action IDs, commands and dialogs: 404, nothing done', async () => {
    const bodies = [
      blockActionBody({
        actionId: 'violation_delete_everything',
        value: first.violationIds[0]!,
        messageTs: firstTs,
      }),
      slashCommandBody({ command: '/sg-admin', text: 'grant all' }),
      viewSubmissionBody({ callbackId: 'root_modal', values: {} }),
    ];
    for (const body of bodies) {
      const { exchange } = await refusedWithoutChange(() => send(suite, body));
      expect(exchange.result.statusCode).toBe(404);
    }
  });
});

describe('replays: the same signed request twice acts once', () => {
  it.each([
    ['a Revoke click', () => validBody(), 'violation'],
    [
      '/sg-whitelist extend',
      () => slashCommandBody({ command: '/sg-whitelist', text: `extend ${grantId} 30m` }),
      'grant',
    ],
    [
      '/sg-run',
      () => slashCommandBody({ command: '/sg-run', text: 'restart-service web service=nginx' }),
      'run',
    ],
  ])('%s', async (_name, body, kind) => {
    const signed = body();
    const timestamp = now() - 30;
    const audit0 = (await allAudit(suite.env.tableName)).length;
    const sent0 = ssm.sent.length;
    const original = await send(suite, signed, { timestamp });
    await drain(suite);
    const afterFirst = await world();
    const auditAfterFirst = await allAudit(suite.env.tableName);
    expect(auditAfterFirst.length).toBeGreaterThan(audit0);

    const replay = await send(suite, signed, { timestamp });
    await drain(suite);
    expect(replay.result.statusCode).toBe(original.result.statusCode);
    expect(await world()).toBe(afterFirst);
    // The worker refuses the replayed job (#12.1): nothing else is added to the trail but that refusal.
    const added = addedAudit(auditAfterFirst, await allAudit(suite.env.tableName));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      subjectType: 'request',
      result: 'refused',
      details: expect.objectContaining({ reason: 'replayed' }),
    });
    if (kind === 'run') expect(ssm.sent.length).toBe(sent0 + 1);
    if (kind === 'violation')
      expect(await violation(suite, first.violationIds[0]!)).toMatchObject({ status: 'REVOKED' });
  });
});

describe('another Slack workspace (slack.teamId is set)', () => {
  it.each([
    [
      'a Revoke click',
      () => press(suite, 'violation_revoke', second.violationIds[0]!, { teamId: OTHER_TEAM, user: APPROVER }),
    ],
    [
      'Revoke all',
      () => press(suite, 'alert_revoke_all', second.alertId, { teamId: OTHER_TEAM, user: APPROVER }),
    ],
    [
      'a Keep click',
      () => press(suite, 'violation_keep', second.violationIds[0]!, { teamId: OTHER_TEAM, user: APPROVER }),
    ],
    ['Extend', () => press(suite, 'grant_extend', grantId, { teamId: OTHER_TEAM })],
    ['Approve', () => press(suite, 'run_approve', runId, { teamId: OTHER_TEAM, user: APPROVER })],
    ['/sg-status', () => command(suite, '/sg-status', '', { teamId: OTHER_TEAM })],
    ['/sg-whitelist', () => command(suite, '/sg-whitelist', 'bastion 203.0.113.77', { teamId: OTHER_TEAM })],
    ['/sg-run', () => command(suite, '/sg-run', 'restart-service web service=nginx', { teamId: OTHER_TEAM })],
    [
      'a Keep dialog submission',
      () =>
        submitKeep(suite, {
          metadata: JSON.stringify({
            violationIds: [second.violationIds[0]],
            channel: ALERT_CHANNEL,
            ts: 'x',
          }),
          justification: 'from elsewhere',
          duration: '3600',
          user: APPROVER,
          teamId: OTHER_TEAM,
        }),
    ],
  ])('%s is refused, changes nothing and is audited', async (_name, act) => {
    const views = suite.env.slack.callsTo('views.open').length;
    const { exchange, audit } = await refusedWithoutChange(act);
    expect(exchange.result.statusCode).toBe(200);
    expect(exchange.said()).toContain('serves another Slack workspace');
    expect(suite.env.slack.callsTo('views.open')).toHaveLength(views);
    const refused = audit.filter((a) => a.result === 'refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      subjectType: 'request',
      details: expect.objectContaining({ code: 'WRONG_WORKSPACE' }),
    });
  });

  it('a user of another workspace in a shared channel (user.team_id differs) is refused too', async () => {
    const body = blockActionBody({
      actionId: 'violation_revoke',
      value: second.violationIds[0]!,
      user: APPROVER,
    });
    const form = new URLSearchParams(body);
    const payload = JSON.parse(form.get('payload')!);
    payload.user.team_id = OTHER_TEAM;
    form.set('payload', JSON.stringify(payload));
    const { exchange, audit } = await refusedWithoutChange(() => send(suite, form.toString()));
    expect(exchange.result.statusCode).toBe(200);
    expect(refusalsBy(audit, APPROVER)).toHaveLength(1);
  });
});

describe('tampered button values and dialogs', () => {
  it.each([
    [
      'Revoke with another alert’s violation ID',
      () => press(suite, 'violation_revoke', second.violationIds[0]!, { messageTs: firstTs }),
      'another alert',
    ],
    [
      'Revoke all with another alert’s ID',
      () => press(suite, 'alert_revoke_all', second.alertId, { messageTs: firstTs }),
      'does not belong',
    ],
    [
      'Revoke with an ID that does not exist',
      () => press(suite, 'violation_revoke', 'v-000000000000', { messageTs: firstTs }),
      'does not know',
    ],
    [
      'Revoke with a path as the ID',
      () => press(suite, 'violation_revoke', '../../ALERT#x', { messageTs: firstTs }),
      'does not know',
    ],
    [
      'Revoke with a huge value',
      () => press(suite, 'violation_revoke', 'v'.repeat(4000), { messageTs: firstTs }),
      'does not know',
    ],
    [
      'Extend with a grant that does not exist',
      () => press(suite, 'grant_extend', 'g-doesnotexis'),
      'no grant',
    ],
    [
      'Approve with a run ID that does not exist',
      () => press(suite, 'run_approve', 'r-0000000000', { user: APPROVER }),
      'r-0000000000',
    ],
    [
      'Approve with no run ID at all',
      () => press(suite, 'run_approve', '<!channel>', { user: APPROVER }),
      'does not name a run',
    ],
  ])('%s', async (_name, act, sentence) => {
    const { exchange } = await refusedWithoutChange(act);
    expect(exchange.result.statusCode).toBe(200);
    expect(exchange.said()).toContain(sentence);
    expect(exchange.said()).not.toContain('<!channel>');
  });

  it('a Keep dialog whose metadata names another alert’s rule for this message is refused', async () => {
    const metadata = JSON.stringify({
      violationIds: [second.violationIds[0]],
      channel: ALERT_CHANNEL,
      ts: firstTs,
    });
    const { exchange, audit } = await refusedWithoutChange(() =>
      submitKeep(suite, { metadata, justification: 'sneaky', duration: '3600', user: APPROVER }),
    );
    expect(exchange.result.statusCode).toBe(200);
    const told = suite.env.slack.callsTo('chat.postEphemeral').at(-1)!;
    expect(told.args).toMatchObject({ user: APPROVER.id, text: expect.stringContaining('another alert') });
    expect(refusalsBy(audit, APPROVER)).toHaveLength(1);
  });

  it('a Keep dialog with metadata that is not ours is answered in the dialog', async () => {
    const { exchange } = await refusedWithoutChange(() =>
      submitKeep(suite, {
        metadata: '{"violationIds":"all"',
        justification: 'x',
        duration: '3600',
        user: APPROVER,
      }),
    );
    expect(JSON.parse(exchange.result.body!)).toMatchObject({ response_action: 'errors' });
  });
});

describe('people who may not', () => {
  it.each([
    [
      'Revoke',
      () => press(suite, 'violation_revoke', second.violationIds[0]!, { user: OUTSIDER }),
      'may revoke',
    ],
    ['Revoke all', () => press(suite, 'alert_revoke_all', second.alertId, { user: OUTSIDER }), 'may revoke'],
    [
      'Extend on someone else’s grant',
      () => press(suite, 'grant_extend', grantId, { user: OUTSIDER }),
      'can extend it',
    ],
    ['Approve', () => press(suite, 'run_approve', runId, { user: OUTSIDER }), 'not an approver'],
    ['Reject', () => press(suite, 'run_reject', runId, { user: OUTSIDER }), 'not an approver'],
    [
      '/sg-whitelist <target> <ip>',
      () => command(suite, '/sg-whitelist', 'bastion 203.0.113.66', { user: OUTSIDER }),
      'not on the list',
    ],
    [
      '/sg-whitelist revoke of someone else’s grant',
      () => command(suite, '/sg-whitelist', `revoke ${grantId}`, { user: OUTSIDER }),
      'can revoke it',
    ],
    [
      '/sg-whitelist extend of someone else’s grant',
      () => command(suite, '/sg-whitelist', `extend ${grantId} 1h`, { user: OUTSIDER }),
      'can extend it',
    ],
    [
      '/sg-run of a runbook',
      () => command(suite, '/sg-run', 'restart-service web service=nginx', { user: OUTSIDER }),
      'restart-service',
    ],
    [
      '/sg-run status of someone else’s run',
      () => command(suite, '/sg-run', `status ${runId}`, { user: OUTSIDER }),
      'may not see',
    ],
  ])('%s: refused, nothing changed, audited', async (_name, act, sentence) => {
    const { exchange, audit } = await refusedWithoutChange(act);
    expect(exchange.result.statusCode).toBe(200);
    expect(exchange.said()).toContain(sentence);
    expect(refusalsBy(audit, OUTSIDER).length).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['Keep…', 'violation_keep', (): string => second.violationIds[0]!, 'violationIds'],
    ['Keep all…', 'alert_keep_all', (): string => second.alertId, 'alertId'],
  ])(
    '%s: the dialog opens, then says why not; its submission is refused',
    async (_name, actionId, value, field) => {
      const secondTs = (await alertOf(suite, second.alertId))!.ts!;
      const triggerId = `${Date.now()}.${actionId}.outsider`;
      const { audit } = await refusedWithoutChange(() =>
        press(suite, actionId, value(), { messageTs: secondTs, user: OUTSIDER, triggerId }),
      );
      expect(
        suite.env.slack.callsTo('views.open').filter((c) => c.args.trigger_id === triggerId),
      ).toHaveLength(1);
      const update = suite.env.slack.callsTo('views.update').at(-1)!;
      expect(JSON.stringify(update.args.view)).toContain('not on the list of people who may keep');
      expect(refusalsBy(audit, OUTSIDER)).toHaveLength(1);
      const metadata = JSON.stringify({
        [field]: field === 'alertId' ? second.alertId : [second.violationIds[0]],
        channel: ALERT_CHANNEL,
        ts: secondTs,
      });
      const submitted = await refusedWithoutChange(() =>
        submitKeep(suite, { metadata, justification: 'trust me', duration: '3600', user: OUTSIDER }),
      );
      expect(refusalsBy(submitted.audit, OUTSIDER).length).toBeGreaterThanOrEqual(1);
    },
  );

  it('/sg-status is read-only: it answers a member of the alert channel and changes nothing', async () => {
    const { exchange } = await refusedWithoutChange(() =>
      command(suite, '/sg-status', '', { user: ENGINEER }),
    );
    expect(exchange.said()).toContain(second.violationIds[0]!);
  });

  it('case 6: /sg-status refuses someone outside the alert channel with who may, shows nothing, and is audited', async () => {
    const { exchange, audit } = await refusedWithoutChange(() =>
      command(suite, '/sg-status', '', { user: OUTSIDER }),
    );
    expect(exchange.said()).toContain('NOT_A_STATUS_READER');
    expect(exchange.said()).not.toContain(second.violationIds[0]!);
    expect(refusalsBy(audit, OUTSIDER)).toHaveLength(1);
  });
});
