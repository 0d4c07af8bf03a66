import { AllocateAddressCommand, AssociateAddressCommand, CreateTagsCommand } from '@aws-sdk/client-ec2';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { scheduleName } from '../../../services/backstop/plan';
import type { ScanOutcome } from '../../../services/scan/scan';
import { AwsCallError } from '../../../services/shared/errors';
import { ruleFingerprint } from '../../../services/shared/ids';
import type { AlertItem, ExceptionItem, ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, ec2Client, uniqueName } from '../../support/aws';
import { createScheduleGroup, schedulesIn } from '../../support/backstop-harness';
import { eventBridgeEvent, tagsRecord } from '../../support/cloudtrail-factory';
import { tableState } from '../../support/fault-harness';
import { auditOf, getItem } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import {
  buildNetworkWorld,
  createAlbInWorld,
  createWorldGroup,
  launchInWorld,
} from '../../support/network-world';
import { APPROVER, blockActionBody, signedEvent, viewSubmissionBody } from '../../support/slack-requests';

/**
 * The scan treats what it finds as event detection treats an event's (#13 item 2, #14, #20 item 5, #22,
 * #15): exemption tags by who set them, severity graded by the group's exposure, a group whose exposure rose
 * with no event re-graded, backstops armed, and a burst posted as digests. Through the real handlers
 * against moto; each test in a region no other suite touches (a scan reads every group of its regions).
 */

const ACCOUNT = '123456789012';
const TAGS = 'eu-north-1';
const EXPOSED = 'eu-west-2';
const REGRADE = 'sa-east-1';
const BACKSTOP = 'us-west-1';
const BURST = 'ap-northeast-1';
const EXEMPT = 'sg-warden:exempt';
const EVE = `arn:aws:sts::${ACCOUNT}:assumed-role/developer/eve@example.com`;
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/network-admins/ana@example.com`;
const SCHEDULE_GROUP = `sg-warden-scan-backstop-${Date.now().toString(36)}`;
const STAGE = 'st';

type HttpHandler = (event: ReturnType<typeof signedEvent>, context: Context) => Promise<unknown>;

let env: HandlerEnv;
let scan: (event?: unknown, context?: Context) => Promise<ScanOutcome>;
let detect: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
let slackHttp: HttpHandler;
let wiring: Wiring;

function config(region: string, extra = ''): string {
  return baseConfig(
    [
      'policy:',
      '  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }',
      '  exceptions:',
      `    tags: [{ key: "${EXEMPT}" }]`,
      `    trustedTaggers: ["arn:aws:iam::${ACCOUNT}:role/network-admins"]`,
      extra,
      'decisions:',
      `  approvers: { users: [${APPROVER.id}] }`,
      'scan:',
      `  regions: [${region}]`,
      '',
    ].join('\n'),
  );
}

/** Loads the handlers afresh with this config (the wiring reads it, and the environment, once per load). */
async function loadHandlers(yaml: string): Promise<void> {
  env.writeConfig(yaml);
  jest.resetModules();
  ({ handler: scan } = await import('../../../handlers/scan'));
  ({ handler: detect } = await import('../../../handlers/cloudtrail-event'));
  ({ handler: slackHttp } = (await import('../../../handlers/slack-http')) as unknown as {
    handler: HttpHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
}

const runScan = () =>
  scan(undefined, {
    awsRequestId: uniqueName('req'),
    getRemainingTimeInMillis: () => 600_000,
  } as unknown as Context);

async function violationsOf(ruleId: string): Promise<ViolationItem[]> {
  return [...(await tableState(env.tableName)).values()].filter(
    (i) => i.type === 'violation' && (i.rule as { ruleId?: string }).ruleId === ruleId,
  ) as unknown as ViolationItem[];
}

const alertNow = (id: string) => getItem<AlertItem>(env.tableName, `ALERT#${id}`, 'ALERT');
const violationNow = (id: string) => getItem<ViolationItem>(env.tableName, `VIOLATION#${id}`, 'VIOLATION');

async function sshToWorld(region: string, groupId: string): Promise<string> {
  const [ruleId] = await authorize(region, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  return ruleId!;
}

/** Tags the group exempt in EC2 and tells detection who did it (CreateTags, as CloudTrail records it). */
async function tagExempt(groupId: string, by: string): Promise<void> {
  await ec2Client(TAGS).send(
    new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: EXEMPT, Value: 'load test' }] }),
  );
  const record = tagsRecord({
    eventName: 'CreateTags',
    region: TAGS,
    resourceIds: [groupId],
    tags: [{ key: EXEMPT, value: 'load test' }],
    principalArn: by,
  });
  await detect(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
}

/** Keeps a violation for a day through the Slack door (button, dialog, submit), as an approver does. */
async function keep(violationId: string, ts: string): Promise<void> {
  const triggerId = `${Date.now()}.keep`;
  await slackHttp(
    signedEvent(
      blockActionBody({
        actionId: 'violation_keep',
        value: violationId,
        user: APPROVER,
        messageTs: ts,
        channel: ALERT_CHANNEL,
        responseUrl: env.slack.responseUrl(),
        triggerId,
      }),
    ),
    {} as Context,
  );
  const open = env.slack.callsTo('views.open').find((c) => c.args.trigger_id === triggerId)!;
  const metadata = (open.args.view as { private_metadata: string }).private_metadata;
  await wiring.drainJobs!();
  await slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'keep_modal',
        privateMetadata: metadata,
        user: APPROVER,
        values: {
          keep_justification: {
            justification_input: { type: 'plain_text_input', value: 'internal only, behind the VPN' },
          },
          keep_duration: {
            duration_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: '1 day' }, value: '86400' },
            },
          },
        },
      }),
    ),
    {} as Context,
  );
  await wiring.drainJobs!();
  expect((await violationNow(violationId))!.status).toBe('KEPT');
}

/** Gives an instance an Elastic IP straight in the emulator: no event tells sg-warden. */
async function associateElasticIp(region: string, instanceId: string): Promise<string> {
  const ec2 = ec2Client(region);
  const address = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  await ec2.send(
    new AssociateAddressCommand({ AllocationId: address.AllocationId!, InstanceId: instanceId }),
  );
  return address.PublicIp!;
}

beforeAll(async () => {
  env = await startHandlerEnv();
});

afterAll(async () => {
  await env.stop();
});

beforeEach(() => env.slack.reset());

describe('scan: exemption tags count only when a trusted tagger set them (#13 item 2)', () => {
  it('raises a group tagged exempt by an untrusted tagger, and not one tagged by a trusted tagger', async () => {
    await loadHandlers(config(TAGS, '  exposure: { unattached: keep }'));
    const { groupId: byEve } = await createGroup(TAGS);
    const { groupId: byAdmin } = await createGroup(TAGS);
    const eveRule = await sshToWorld(TAGS, byEve);
    const adminRule = await sshToWorld(TAGS, byAdmin);
    await tagExempt(byEve, EVE);
    await tagExempt(byAdmin, ADMIN);
    // Detection raises nothing for a tag; what the rules' own events would have raised is left to the scan.
    expect(await violationsOf(eveRule)).toEqual([]);

    const outcome = await runScan();

    expect(outcome).toMatchObject({ state: 'done', totals: expect.objectContaining({ errors: 0 }) });
    const [raised, ...more] = await violationsOf(eveRule);
    expect(more).toEqual([]);
    expect(raised).toMatchObject({ foundBy: 'scan', status: 'PENDING', groupId: byEve });
    expect(raised!.reasons).toContainEqual(
      `group tag ${EXEMPT}=load test is ignored: it was set by ${EVE}, which is not a trusted tagger (policy.exceptions.trustedTaggers), so it exempts nothing`,
    );
    expect(await violationsOf(adminRule)).toEqual([]);
  });
});

describe('scan: graded by exposure (#14)', () => {
  it('raises an internet-facing group’s rule a step higher, with the exposure stored and shown, as detection does', async () => {
    await loadHandlers(config(EXPOSED));
    const world = await buildNetworkWorld(EXPOSED);
    const webGroup = await createWorldGroup(world, 'scan-web');
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [webGroup],
      name: 'web-scan',
      publicIp: true,
    });
    const webRule = await sshToWorld(EXPOSED, webGroup);
    // An internet-facing load balancer's group: its scheme is read from ELBv2.
    const albGroup = await createWorldGroup(world, 'scan-alb');
    await createAlbInWorld(world, {
      name: uniqueName('alb'),
      scheme: 'internet-facing',
      groupIds: [albGroup],
    });
    const albRule = await sshToWorld(EXPOSED, albGroup);
    // A group nothing uses: lowered a step (policy.exposure.unattached: lower, the default).
    const { groupId: idle } = await createGroup(EXPOSED);
    const idleRule = await sshToWorld(EXPOSED, idle);

    await runScan();

    const [v] = await violationsOf(webRule);
    expect(v).toMatchObject({
      foundBy: 'scan',
      severity: 'critical',
      exposure: {
        exposure: 'internet',
        from: 'high',
        reason: `reachable from the internet through ${web.instanceId} (web-scan, ${web.publicIp})`,
        attachments: [expect.objectContaining({ id: web.instanceId, name: 'web-scan' })],
      },
    });
    // Critical: the policy's 5 minutes, not high's 15.
    expect(Date.parse(v!.deadline!) - Date.parse(v!.createdAt)).toBe(5 * 60_000);
    expect(v!.reasons.join(' ')).toContain('reachable from the internet');
    expect((await violationsOf(albRule))[0]).toMatchObject({
      severity: 'critical',
      exposure: { exposure: 'internet' },
    });
    expect((await violationsOf(idleRule))[0]).toMatchObject({
      severity: 'medium',
      exposure: { exposure: 'unattached', from: 'high' },
    });
    // The audit entry says what exposure made of the severity, as detection's does.
    const audit = await auditOf(env.tableName, v!.violationId);
    expect(audit.find((a) => a.action === 'detect')?.details).toMatchObject({
      foundBy: 'scan',
      severity: 'critical',
      exposure: 'internet',
      severityBeforeExposure: 'high',
    });
    // The alert shows it.
    const post = env.slack
      .callsTo('chat.postMessage')
      .find((c) => JSON.stringify(c.args.blocks).includes(webRule));
    expect(JSON.stringify(post!.args.blocks)).toContain(web.instanceId);
  });
});

describe('scan: a group whose exposure rose with no event is re-graded (#20 item 5)', () => {
  it('ends an exception granted while internal and asks again in its thread; raises a pending one', async () => {
    await loadHandlers(config(REGRADE));
    const world = await buildNetworkWorld(REGRADE);
    // In a public subnet with no public address: internal.
    const keptGroup = await createWorldGroup(world, 'scan-kept');
    const keptHost = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [keptGroup],
      name: 'kept-1',
      publicIp: false,
    });
    const keptRule = await sshToWorld(REGRADE, keptGroup);
    const pendingGroup = await createWorldGroup(world, 'scan-pending');
    const pendingHost = await launchInWorld(world, {
      subnetId: world.publicSubnets[1],
      groupIds: [pendingGroup],
      name: 'pending-1',
      publicIp: false,
    });
    const pendingRule = await sshToWorld(REGRADE, pendingGroup);

    await runScan();
    const [kept] = await violationsOf(keptRule);
    expect(kept).toMatchObject({ severity: 'high', exposure: { exposure: 'internal' } });
    const keptAlert = (await alertNow(kept!.alertId))!;
    await keep(kept!.violationId, keptAlert.ts!);
    const fingerprint = ruleFingerprint(ACCOUNT, REGRADE, kept!.rule);
    const exceptionNow = () => getItem<ExceptionItem>(env.tableName, `EXCEPTION#${fingerprint}`, 'EXCEPTION');
    expect(await exceptionNow()).toMatchObject({ status: 'ACTIVE', grantedAt: { exposure: 'internal' } });
    const [pending] = await violationsOf(pendingRule);
    expect(pending).toMatchObject({
      status: 'PENDING',
      severity: 'high',
      exposure: { exposure: 'internal' },
    });

    // Both hosts get an Elastic IP straight in the emulator: no event reaches sg-warden.
    const keptIp = await associateElasticIp(REGRADE, keptHost.instanceId);
    const pendingIp = await associateElasticIp(REGRADE, pendingHost.instanceId);
    env.slack.reset();

    const outcome = await runScan();
    expect(outcome.totals).toMatchObject({ violationsRaised: 0, errors: 0 });

    const ex = (await exceptionNow())!;
    expect(ex).toMatchObject({ status: 'EXPIRED', endedEarly: { cause: outcome.runId } });
    const reask = (await alertNow(`regrade-${kept!.violationId}-${ex.version - 1}`))!;
    expect(reask).toMatchObject({
      status: 'POSTED',
      eventName: 'Scan',
      reopenedFrom: kept!.violationId,
      thread: { channel: ALERT_CHANNEL, ts: keptAlert.ts },
    });
    const asked = (await violationNow(reask.violationIds[0]!))!;
    expect(asked).toMatchObject({
      status: 'PENDING',
      severity: 'critical',
      exposure: { exposure: 'internet' },
      previousKeep: { byName: APPROVER.name, grantedAt: 'internal' },
      exposureChange: {
        direction: 'rose',
        from: 'internal',
        to: 'internet',
        by: 'sg-warden’s scan',
        reason: `reachable from the internet through ${keptHost.instanceId} (kept-1, ${keptIp})`,
        eventId: outcome.runId,
      },
    });
    const [question] = env.slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === keptAlert.ts);
    expect(JSON.stringify(question!.args.blocks)).toContain(
      '— sg-warden’s scan found it (no CloudTrail event told of the change)',
    );

    // The pending one is raised in place: critical, its deadline earlier, its message saying why.
    expect((await violationNow(pending!.violationId))!).toMatchObject({
      status: 'PENDING',
      severity: 'critical',
      exposure: { exposure: 'internet' },
      exposureChange: { direction: 'rose', from: 'internal', to: 'internet', by: 'sg-warden’s scan' },
    });
    expect(
      env.slack
        .callsTo('chat.update')
        .some((c) =>
          JSON.stringify(c.args.blocks).includes(`${pendingHost.instanceId} (pending-1, ${pendingIp})`),
        ),
    ).toBe(true);

    // A scan after that finds nothing new to re-grade.
    env.slack.reset();
    await runScan();
    expect((await exceptionNow())!.version).toBe(ex.version);
    expect(env.slack.callsTo('chat.postMessage')).toEqual([]);
  }, 60_000);
});

describe('scan: backstops (#22)', () => {
  const HERE = { account: ACCOUNT, region: BACKSTOP };

  beforeAll(async () => {
    await createScheduleGroup(HERE, SCHEDULE_GROUP);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    delete process.env.SG_WARDEN_BACKSTOP_GROUP;
    delete process.env.SG_WARDEN_BACKSTOP_ROLE_ARN;
    delete process.env.SG_WARDEN_STAGE;
  });

  async function loadWithBackstop(): Promise<void> {
    Object.assign(process.env, {
      SG_WARDEN_BACKSTOP_GROUP: SCHEDULE_GROUP,
      SG_WARDEN_BACKSTOP_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/sg-warden-st-backstop`,
      SG_WARDEN_STAGE: STAGE,
    });
    await loadHandlers(config(BACKSTOP, '  exposure: { unattached: keep }\nbackstop:\n  grace: 2m'));
  }

  it('gives a violation the scan raised its schedule, at its deadline plus the grace', async () => {
    await loadWithBackstop();
    const { groupId } = await createGroup(BACKSTOP);
    const ruleId = await sshToWorld(BACKSTOP, groupId);

    await runScan();

    const [v] = await violationsOf(ruleId);
    expect(v).toMatchObject({ foundBy: 'scan', status: 'PENDING' });
    const schedule = (await schedulesIn(HERE, SCHEDULE_GROUP)).find(
      (s) => s.Name === scheduleName(STAGE, v!.violationId),
    );
    const at = new Date(Math.ceil((Date.parse(v!.deadline!) + 2 * 60_000) / 1000) * 1000)
      .toISOString()
      .slice(0, 19);
    expect(schedule).toMatchObject({ ScheduleExpression: `at(${at})` });
    expect(JSON.parse(schedule!.Target!.Input!)).toMatchObject({
      GroupId: groupId,
      SecurityGroupRuleIds: [ruleId],
    });
  });

  it('tells a schedule that cannot be created in the alert’s thread, and audits it', async () => {
    await loadWithBackstop();
    jest.spyOn(wiring.backstop!.schedules, 'put').mockRejectedValueOnce(
      new AwsCallError('CreateSchedule failed: ResourceNotFoundException: Schedule group missing', {
        awsCode: 'ResourceNotFoundException',
      }),
    );
    const { groupId } = await createGroup(BACKSTOP);
    const ruleId = await sshToWorld(BACKSTOP, groupId);

    await runScan();

    const [v] = await violationsOf(ruleId);
    expect((await auditOf(env.tableName, v!.violationId)).map((a) => a.action)).toContain('backstop-unarmed');
    const alert = (await alertNow(v!.alertId))!;
    expect(alert.status).toBe('POSTED');
    const note = env.slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === alert.ts);
    expect(note).toHaveLength(1);
    expect(String(note[0]!.args.text)).toContain(`No backstop for violation ${v!.violationId}`);
  });
});

describe('scan: a burst is posted as digests (#15)', () => {
  it('posts a first scan’s dozen groups as digest messages, not a dozen messages', async () => {
    await loadHandlers(config(BURST, '  exposure: { unattached: keep }'));
    const ruleIds: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { groupId } = await createGroup(BURST);
      ruleIds.push(await sshToWorld(BURST, groupId));
    }

    const outcome = await runScan();
    expect(outcome.totals.violationsRaised).toBe(12);

    const alerts = await Promise.all(
      ruleIds.map(async (ruleId) => (await alertNow((await violationsOf(ruleId))[0]!.alertId))!),
    );
    for (const alert of alerts)
      expect(alert).toMatchObject({ status: 'POSTED', digestId: expect.any(String) });
    const digests = [...env.slack.messages.values()].filter(
      (m) =>
        m.channel === ALERT_CHANNEL &&
        (m.metadata as { event_type?: string } | undefined)?.event_type === 'sg_warden_digest',
    );
    expect(digests.length).toBeGreaterThanOrEqual(1);
    expect(digests.length).toBeLessThan(12);
    // No alert of the scan went out as its own message.
    const singles = [...env.slack.messages.values()].filter(
      (m) => m.channel === ALERT_CHANNEL && ruleIds.some((r) => JSON.stringify(m.blocks).includes(r)),
    );
    expect(singles.every((m) => digests.includes(m))).toBe(true);
  }, 60_000);
});

describe('scan: routed as detection routes an event’s alert (#21)', () => {
  it('sends a rule on a team’s group to the team’s channel, with the route stored for who may decide', async () => {
    const ROUTED = 'ca-central-1';
    await loadHandlers(
      baseConfig(
        [
          '  routes:',
          '    - name: payments',
          '      tags: { team: "pay*" }',
          '      channel: C0PAYMENTS',
          'policy:',
          '  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }',
          '  exposure: { unattached: keep }',
          'scan:',
          `  regions: [${ROUTED}]`,
          '',
        ].join('\n'),
      ),
    );
    const { groupId: team } = await createGroup(ROUTED);
    const { groupId: other } = await createGroup(ROUTED);
    await ec2Client(ROUTED).send(
      new CreateTagsCommand({ Resources: [team], Tags: [{ Key: 'team', Value: 'payments' }] }),
    );
    const teamRule = await sshToWorld(ROUTED, team);
    const otherRule = await sshToWorld(ROUTED, other);

    expect(await runScan()).toMatchObject({ state: 'done' });

    const [routed] = await violationsOf(teamRule);
    const [unrouted] = await violationsOf(otherRule);
    expect(routed).toMatchObject({ foundBy: 'scan', route: 'payments' });
    expect(unrouted).toMatchObject({ foundBy: 'scan', route: null });
    expect(await alertNow(routed!.alertId)).toMatchObject({ route: 'payments', channel: 'C0PAYMENTS' });
    expect(await alertNow(unrouted!.alertId)).toMatchObject({ route: null, channel: ALERT_CHANNEL });
    const postedTo = (alertId: string) =>
      env.slack
        .callsTo('chat.postMessage')
        .filter((c) =>
          JSON.stringify(c.args.blocks ?? '').includes(alertId === routed!.alertId ? teamRule : otherRule),
        )
        .map((c) => c.args.channel);
    expect(postedTo(routed!.alertId)).toContain('C0PAYMENTS');
    expect(postedTo(unrouted!.alertId)).toContain(ALERT_CHANNEL);
  });
});
