import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import type { RecordedCall } from '../../../local/shared/slack-emulator-types';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import type { GrantItem } from '../../../services/grants/items';
import type { HomeItem } from '../../../services/home/items';
import { keys } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import type { RunItem } from '../../../services/runs/items';
import { shownCommandHash } from '../../../services/runs/plan';
import type { AlertItem, ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, uniqueName } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { launchInstances } from '../../support/instances';
import {
  APPROVER,
  appHomeOpenedBody,
  ENGINEER,
  homeActionBody,
  OUTSIDER,
  type SlackUser,
  signedEvent,
  viewSubmissionBody,
} from '../../support/slack-requests';
import { slash } from '../../support/slash';

type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';
const PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/erin@example.com';
const OTHER_PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/sam@example.com';
const context = {} as Context;
/** The Role tag of the instance the runbook runs on. */
const role = uniqueName('web');

let env: HandlerEnv;
let ssm: SsmEmulator;
let web: string;
let wiring: Wiring;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let bastion: string;

beforeAll(async () => {
  bastion = (await createGroup(REGION)).groupId;
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  [web] = (await launchInstances(REGION, { Role: role, Name: 'web-1' })) as [string];
  ssm.setInstance(web, 'online');
  env = await startHandlerEnv({
    config: baseConfig(`  teamId: T0SGWARDEN
policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { userGroups: [S0APPROVERS] }
  principalToSlack:
    "${PRINCIPAL}": ${ENGINEER.id}
whitelist:
  targets:
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22]
      defaultDuration: 1h
      maxDuration: 8h
      allowed: { users: [${ENGINEER.id}] }
runbooks:
  targets:
    web: { region: ${REGION}, tags: { Role: ${role} } }
  items:
    restart-prod:
      description: Restart a service in production
      region: ${REGION}
      targets: [web]
      commands: ['printf "restart %s\\n" {{ service }}']
      parameters:
        - { name: service, enum: [nginx, php-fpm] }
      approval: { required: true, approvers: { users: [${APPROVER.id}] } }
      approvalExpiry: 30m
`),
    slack: { userGroups: { S0APPROVERS: [APPROVER.id] } },
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SSM;
  await ssm.stop();
  await env.stop();
});

const drain = () => wiring.drainJobs!();

/** A rule on port 22 open to the world, made by `principal`: one alert with one pending violation. */
async function raise(principal: string): Promise<{ violationId: string; alertId: string; ts: string }> {
  const { groupId } = await createGroup(REGION);
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  const record = authorizeIngressRecord({
    groupId,
    principalArn: principal,
    rules: [{ ruleId: ruleId!, fromPort: 22, toPort: 22, cidr: '0.0.0.0/0' }],
  });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = (await wiring.store.get<AlertItem>(keys.alert(String(record.eventID))))!;
  return { violationId: alert.violationIds[0]!, alertId: alert.alertId, ts: alert.ts! };
}

/** The person opens the app's Home tab: the signed event through the door, the worker publishes. */
async function openHome(user: SlackUser, teamId?: string): Promise<APIGatewayProxyStructuredResultV2> {
  const answer = await slackHttp(
    signedEvent(appHomeOpenedBody({ user, ...(teamId ? { teamId } : {}) }), {
      contentType: 'application/json',
    }),
    context,
  );
  await drain();
  return answer;
}

function publishesTo(user: SlackUser): RecordedCall[] {
  return env.slack.callsTo('views.publish').filter((c) => c.args.user_id === user.id);
}

/** The Home tab the person sees now (the emulator keeps one per person). */
function homeOf(user: SlackUser): {
  id: string;
  text: string;
  actions: { action_id: string; value: string }[];
} {
  const id = env.slack.homeViewOf(user.id);
  if (!id) throw new Error(`no Home tab published to ${user.id}`);
  const view = env.slack.views.get(id) as { blocks: { type: string; elements?: unknown[] }[] };
  const actions = view.blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements as { action_id: string; value: string }[]);
  return { id, text: JSON.stringify(view.blocks), actions };
}

async function pressOnHome(user: SlackUser, actionId: string, value: string, viewId = homeOf(user).id) {
  const answer = await slackHttp(signedEvent(homeActionBody({ actionId, value, user, viewId })), context);
  await drain();
  return answer;
}

/** `/sg-run` as the engineer for a runbook that needs approval: the run as stored, AWAITING_APPROVAL. */
async function requestRun(service: 'nginx' | 'php-fpm'): Promise<RunItem> {
  const answer = await slash(
    env,
    slackHttp,
    drain,
    '/sg-run',
    `restart-prod web service=${service}`,
    ENGINEER,
  );
  const runId = /r-[0-9a-z]{10}/.exec(answer.said)?.[0];
  if (!runId) throw new Error(`no run in: ${answer.said}`);
  const run = (await wiring.store.get<RunItem>(keys.run(runId)))!;
  expect(run.status).toBe('AWAITING_APPROVAL');
  return run;
}

/** The block_id of a run's buttons on a Home tab (slack/blocks/home.ts). */
const runBlock = (run: RunItem) => `home_run:${run.runId}`;

/** A grant's line on a Home tab with the time left it shows (`left`: a regex alternative). */
const grantLeft = (grant: GrantItem, left: string) =>
  new RegExp(`\`${grant.grantId}\` TCP 22 [^"]*\\(in (${left})\\)`);

/** Messages from the app to a person (how answers to Home presses arrive). */
function appMessagesTo(user: SlackUser): string[] {
  return env.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === user.id)
    .map((c) => String(c.args.text));
}

describe('the Home tab', () => {
  it('shows the actor the pending alerts of their own changes, with the alert’s buttons', async () => {
    const mine = await raise(PRINCIPAL);
    const answer = await openHome(ENGINEER);
    expect(answer.statusCode).toBe(200);
    expect(publishesTo(ENGINEER).length).toBeGreaterThanOrEqual(1);
    const home = homeOf(ENGINEER);
    expect(home.text).toContain('Alerts from your changes');
    expect(home.text).toContain(`rule:${mine.violationId}`);
    expect(home.actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action_id: 'violation_revoke', value: mine.violationId }),
        expect.objectContaining({ action_id: 'violation_keep', value: mine.violationId }),
      ]),
    );
    const stored = await wiring.store.get<HomeItem>(keys.home(ENGINEER.id));
    expect(stored).toMatchObject({
      viewId: home.id,
      shownViolationIds: expect.arrayContaining([mine.violationId]),
    });
  });

  it('shows an approver the alerts they may decide, and not to someone who may decide nothing', async () => {
    const other = await raise(OTHER_PRINCIPAL);
    await openHome(APPROVER);
    const home = homeOf(APPROVER);
    expect(home.text).toContain('Alerts you may decide');
    expect(home.actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action_id: 'violation_keep', value: other.violationId }),
      ]),
    );
    await openHome(OUTSIDER);
    expect(homeOf(OUTSIDER).text).not.toContain(other.violationId);
    expect(homeOf(OUTSIDER).actions).toEqual([]);
  });

  it('shows a grant owner their grant with the time left, Extend and Revoke', async () => {
    await slash(env, slackHttp, drain, '/sg-whitelist', 'bastion 198.51.100.77 for 2h', ENGINEER);
    const grant = (await wiring.store.queryByStatus<GrantItem>('grant', 'ACTIVE', 50)).find(
      (g) => g.cidr === '198.51.100.77/32',
    )!;
    await openHome(ENGINEER);
    const home = homeOf(ENGINEER);
    expect(home.text).toContain('Your grants');
    expect(home.text).toContain(grant.grantId);
    expect(home.text).toMatch(/in (1h 5\dm|2h)/);
    expect(home.actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action_id: 'grant_extend', value: grant.grantId }),
        expect.objectContaining({ action_id: 'grant_revoke', value: grant.grantId }),
      ]),
    );
    expect(home.text).toContain('Your recent actions');
  });

  it('revokes from the Home tab with the channel’s checks, and rebuilds the Homes it concerns', async () => {
    const r = await raise(PRINCIPAL);
    await openHome(ENGINEER);
    await openHome(APPROVER);
    const engineerBefore = publishesTo(ENGINEER).length;
    const approverBefore = publishesTo(APPROVER).length;

    const answer = await pressOnHome(APPROVER, 'violation_revoke', r.violationId);
    expect(answer.statusCode).toBe(200);
    const v = await wiring.store.get<ViolationItem>(keys.violation(r.violationId));
    expect(v).toMatchObject({ status: 'REVOKED', decidedBy: APPROVER.id });
    // The channel's alert is updated as for a press there; both Homes are built again without its buttons.
    expect(env.slack.callsTo('chat.update').some((c) => c.args.ts === r.ts)).toBe(true);
    expect(publishesTo(APPROVER).length).toBeGreaterThan(approverBefore);
    expect(publishesTo(ENGINEER).length).toBeGreaterThan(engineerBefore);
    expect(homeOf(APPROVER).actions.map((a) => a.value)).not.toContain(r.violationId);
    expect(homeOf(ENGINEER).actions.map((a) => a.value)).not.toContain(r.violationId);
  });

  it('shows a new alert on an open Home at the next sweep (a change made outside a Slack request)', async () => {
    await openHome(APPROVER);
    const before = publishesTo(APPROVER).length;
    const r = await raise(OTHER_PRINCIPAL);
    // Detection cannot build a Home (it reads no audit index): it makes the Home due for the sweeper.
    expect((await wiring.store.get<HomeItem>(keys.home(APPROVER.id)))?.dueKind).toBe('HOME');
    expect(publishesTo(APPROVER).length).toBe(before);
    await sweep(wiring, dueHandlers(wiring), new Date());
    expect(publishesTo(APPROVER).length).toBe(before + 1);
    expect(homeOf(APPROVER).actions.map((a) => a.value)).toContain(r.violationId);
    expect((await wiring.store.get<HomeItem>(keys.home(APPROVER.id)))?.dueKind).toBeUndefined();
  });

  it('refuses a Keep of one’s own change from the Home tab, as in the channel', async () => {
    const r = await raise(PRINCIPAL);
    await openHome(ENGINEER);
    await slackHttp(
      signedEvent(
        homeActionBody({
          actionId: 'violation_keep',
          value: r.violationId,
          user: ENGINEER,
          viewId: homeOf(ENGINEER).id,
        }),
      ),
      context,
    );
    await drain();
    const dialog = [...env.slack.views.values()].at(-1) as { type: string; blocks: unknown[] };
    expect(dialog.type).toBe('modal');
    expect(JSON.stringify(dialog.blocks)).toMatch(/SELF_APPROVAL|NOT_AUTHORISED/);
    expect((await wiring.store.get<ViolationItem>(keys.violation(r.violationId)))?.status).toBe('PENDING');
  });

  it('refuses a press on a Home view that is not the person’s current one, changing nothing', async () => {
    const r = await raise(PRINCIPAL);
    await openHome(APPROVER);
    await pressOnHome(APPROVER, 'violation_revoke', r.violationId, 'V0STALE0001');
    expect((await wiring.store.get<ViolationItem>(keys.violation(r.violationId)))?.status).toBe('PENDING');
    expect(appMessagesTo(APPROVER).at(-1)).toContain('WRONG_MESSAGE');
    const audit = await wiring.store.auditFor(r.violationId);
    expect(audit.at(-1)).toMatchObject({ result: 'refused', actorId: APPROVER.id });
  });

  it('ends a grant from the Home tab and shows it gone', async () => {
    await slash(env, slackHttp, drain, '/sg-whitelist', 'bastion 198.51.100.78 for 1h', ENGINEER);
    const grant = (await wiring.store.queryByStatus<GrantItem>('grant', 'ACTIVE', 50)).find(
      (g) => g.cidr === '198.51.100.78/32',
    )!;
    await openHome(ENGINEER);
    await pressOnHome(ENGINEER, 'grant_revoke', grant.grantId);
    expect((await wiring.store.get<GrantItem>(keys.grant(grant.grantId)))?.status).toBe('REVOKED');
    expect(homeOf(ENGINEER).text).not.toContain(grant.grantId.concat(' '));
    expect(homeOf(ENGINEER).actions.map((a) => a.value)).not.toContain(grant.grantId);
  });

  it('takes app_home_opened only through the door’s checks: signed, and from the served workspace', async () => {
    const before = env.slack.callsTo('views.publish').length;
    const forged = await slackHttp(
      signedEvent(appHomeOpenedBody({ user: OUTSIDER }), {
        contentType: 'application/json',
        signature: 'v0=00',
      }),
      context,
    );
    expect(forged.statusCode).toBe(401);
    const foreign = await openHome(OUTSIDER, 'T0OTHERTEAM');
    expect(foreign.statusCode).toBe(200);
    expect(env.slack.callsTo('views.publish').length).toBe(before);
    const audit = await wiring.store.auditFor(OUTSIDER.id);
    expect(audit.at(-1)).toMatchObject({ subjectType: 'request', result: 'refused' });
  });

  it('shows an approver the runs waiting for their approval, with the exact command, Approve and Reject', async () => {
    const run = await requestRun('nginx');
    await openHome(APPROVER);
    const home = homeOf(APPROVER);
    expect(home.text).toContain('Runs waiting for your approval');
    expect(home.text).toContain(runBlock(run));
    expect(home.text).toContain('restart-prod');
    expect(home.text).toContain(`<@${ENGINEER.id}>`);
    expect(home.text).toContain("SGW_service='nginx'");
    expect(home.actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action_id: 'run_approve', value: `${run.runId} ${shownCommandHash(run)}` }),
        expect.objectContaining({ action_id: 'run_reject', value: run.runId }),
      ]),
    );
    // The requester may not approve their own run, and someone who is not an approver may not either:
    // neither Home lists it (the requester's history names it: that is what they did).
    await openHome(ENGINEER);
    expect(homeOf(ENGINEER).text).not.toContain(runBlock(run));
    expect(homeOf(ENGINEER).text).toContain('No run is waiting for you.');
    expect(homeOf(ENGINEER).actions.map((a) => a.action_id)).not.toContain('run_approve');
    await openHome(OUTSIDER);
    expect(homeOf(OUTSIDER).text).not.toContain(run.runId);
    expect(homeOf(OUTSIDER).actions.map((a) => a.value)).not.toContain(run.runId);
  });

  it('rejects a run from the Home tab, and the Home is built again without it', async () => {
    const run = await requestRun('php-fpm');
    await openHome(APPROVER);
    expect(homeOf(APPROVER).actions.map((a) => a.value)).toContain(run.runId);
    const before = publishesTo(APPROVER).length;
    const answer = await pressOnHome(APPROVER, 'run_reject', run.runId);
    expect(answer.statusCode).toBe(200);
    const stored = (await wiring.store.get<RunItem>(keys.run(run.runId)))!;
    expect(stored).toMatchObject({ status: 'REJECTED', decidedBy: APPROVER.id });
    expect(ssm.callsTo('SendCommand').filter((c) => JSON.stringify(c).includes('php-fpm'))).toHaveLength(0);
    // Not opened again: the press rebuilt it.
    expect(publishesTo(APPROVER).length).toBeGreaterThan(before);
    expect(homeOf(APPROVER).text).not.toContain(runBlock(run));
    expect(homeOf(APPROVER).actions.map((a) => a.value)).not.toContain(run.runId);
    // What the approver did is in their history instead.
    expect(homeOf(APPROVER).text).toContain(`reject run \`${run.runId}\` → REJECTED`);
  });

  it('extends a grant from the Home tab for its owner, by the target’s default, and the Home shows the new time left', async () => {
    await slash(env, slackHttp, drain, '/sg-whitelist', 'bastion 198.51.100.79 for 1h', ENGINEER);
    const grant = (await wiring.store.queryByStatus<GrantItem>('grant', 'ACTIVE', 50)).find(
      (g) => g.cidr === '198.51.100.79/32',
    )!;
    await openHome(ENGINEER);
    expect(homeOf(ENGINEER).text).toMatch(grantLeft(grant, '5\\dm|1h'));
    const before = publishesTo(ENGINEER).length;
    const answer = await pressOnHome(ENGINEER, 'grant_extend', grant.grantId);
    expect(answer.statusCode).toBe(200);
    const extended = (await wiring.store.get<GrantItem>(keys.grant(grant.grantId)))!;
    expect(extended.status).toBe('ACTIVE');
    // defaultDuration (1h) more, well within maxDuration (8h) from now.
    expect(Date.parse(extended.expiresAt) - Date.parse(grant.expiresAt)).toBe(3600_000);
    expect(appMessagesTo(ENGINEER).at(-1)).toContain(`Extended ${grant.grantId}`);
    const audit = await wiring.store.auditFor(grant.grantId);
    expect(audit.at(-1)).toMatchObject({ action: 'extend', result: 'ok', actorId: ENGINEER.id });
    // Not opened again: the press rebuilt it.
    expect(publishesTo(ENGINEER).length).toBeGreaterThan(before);
    expect(homeOf(ENGINEER).text).toMatch(grantLeft(grant, '1h 5\\dm|2h'));
  });

  it('refuses Extend from the Home tab to someone who does not own the grant, changing nothing', async () => {
    await slash(env, slackHttp, drain, '/sg-whitelist', 'bastion 198.51.100.80 for 1h', ENGINEER);
    const grant = (await wiring.store.queryByStatus<GrantItem>('grant', 'ACTIVE', 50)).find(
      (g) => g.cidr === '198.51.100.80/32',
    )!;
    await openHome(APPROVER);
    // A forged press on the approver's own Home naming the engineer's grant.
    await pressOnHome(APPROVER, 'grant_extend', grant.grantId);
    expect((await wiring.store.get<GrantItem>(keys.grant(grant.grantId)))?.expiresAt).toBe(grant.expiresAt);
    expect(appMessagesTo(APPROVER).at(-1)).toContain('NOT_AUTHORISED');
    expect((await wiring.store.auditFor(grant.grantId)).at(-1)).toMatchObject({
      action: 'extend',
      result: 'refused',
      actorId: APPROVER.id,
    });
  });

  it('approves a run from the Home tab: the command shown there is the one sent', async () => {
    const run = await requestRun('nginx');
    await openHome(APPROVER);
    const approve = homeOf(APPROVER).actions.find(
      (a) => a.action_id === 'run_approve' && a.value.startsWith(run.runId),
    )!;
    ssm.script(web, [{ status: 'Success', execute: true }]);
    await pressOnHome(APPROVER, 'run_approve', approve.value);
    expect(await wiring.store.get<RunItem>(keys.run(run.runId))).toMatchObject({
      status: 'RUNNING',
      decidedBy: APPROVER.id,
    });
    expect(ssm.sent.at(-1)?.input.Parameters?.commands).toEqual([
      "SGW_service='nginx'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${…}
      'printf "restart %s\\n" "${SGW_service}"',
    ]);
    expect(homeOf(APPROVER).text).not.toContain(runBlock(run));
  });

  it('keeps someone else’s rule from the Home tab through the Keep dialog, and the Home is built again without it', async () => {
    const r = await raise(OTHER_PRINCIPAL);
    await openHome(APPROVER);
    await pressOnHome(APPROVER, 'violation_keep', r.violationId);
    const dialog = [...env.slack.views.values()].at(-1) as {
      type: string;
      callback_id: string;
      private_metadata: string;
    };
    expect(dialog).toMatchObject({ type: 'modal', callback_id: 'keep_modal' });
    const before = publishesTo(APPROVER).length;
    const answer = await slackHttp(
      signedEvent(
        viewSubmissionBody({
          callbackId: 'keep_modal',
          privateMetadata: dialog.private_metadata,
          user: APPROVER,
          values: {
            keep_justification: { justification_input: { type: 'plain_text_input', value: 'load test' } },
            keep_duration: {
              duration_select: {
                type: 'static_select',
                selected_option: { text: { type: 'plain_text', text: '1 hour' }, value: '3600' },
              },
            },
          },
        }),
      ),
      context,
    );
    expect(answer.statusCode).toBe(200);
    await drain();
    expect(await wiring.store.get<ViolationItem>(keys.violation(r.violationId))).toMatchObject({
      status: 'KEPT',
      decidedBy: APPROVER.id,
    });
    // The channel's alert is updated as for a Keep there; the Home loses the rule's buttons.
    expect(env.slack.callsTo('chat.update').some((c) => c.args.ts === r.ts)).toBe(true);
    expect(publishesTo(APPROVER).length).toBeGreaterThan(before);
    expect(homeOf(APPROVER).actions.map((a) => a.value)).not.toContain(r.violationId);
  });
});
