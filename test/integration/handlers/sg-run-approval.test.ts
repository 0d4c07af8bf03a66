import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import { keys } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import type { RunItem } from '../../../services/runs/items';
import { shownCommandHash } from '../../../services/runs/plan';
import { ActionIds } from '../../../slack/ids';
import { ec2Client, uniqueName } from '../../support/aws';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { launchInstances } from '../../support/instances';
import {
  APPROVER,
  blockActionBody,
  ENGINEER,
  OUTSIDER,
  type SlackUser,
  signedEvent,
  slashCommandBody,
} from '../../support/slack-requests';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const REGION = 'us-east-1';
const CHANNEL = 'C0OPSTEAM';
/** Where the config says ad-hoc approval requests go (runbooks.adHoc.channel). */
const ADHOC_CHANNEL = 'C0ADHOCREVIEW';
const SECOND: SlackUser = { id: 'U0SECOND', name: 'sam.second' };
const context = {} as Context;
const role = uniqueName('web');

let env: HandlerEnv;
let ssm: SsmEmulator;
let handler: Handler;
let wiring: Wiring;
let web: string;

beforeAll(async () => {
  env = await startHandlerEnv();
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  [web] = (await launchInstances(REGION, { Role: role, Name: 'web-1' })) as [string];
  ssm.setInstance(web, 'online');
  env.writeConfig(
    baseConfig(`
runbooks:
  allowAdHoc: true
  adHoc:
    region: ${REGION}
    targets: [web]
    allowed: { users: [${ENGINEER.id}] }
    approvers: { users: [${APPROVER.id}, ${SECOND.id}] }
    channel: ${ADHOC_CHANNEL}
    approvalExpiry: 15m
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
      approval: { required: true, approvers: { users: [${APPROVER.id}, ${SECOND.id}] } }
      approvalExpiry: 30m
`),
  );
  ({ handler } = await import('../../../handlers/slack-http'));
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SSM;
  await ssm.stop();
  await env.stop();
});

beforeEach(() => {
  env.slack.reset();
  ssm.reset();
  ssm.setInstance(web, 'online');
});

function repliesTo(responseUrl: string): string {
  const id = responseUrl.split('/').pop();
  return env.slack.responseUrlPosts
    .filter((p) => p.id === id)
    .map((p) => String(p.body.text))
    .join('\n');
}

async function sgRun(text: string, user: SlackUser = ENGINEER): Promise<string> {
  const responseUrl = env.slack.responseUrl();
  const result = await handler(
    signedEvent(slashCommandBody({ command: '/sg-run', text, user, channel: CHANNEL, responseUrl })),
    context,
  );
  expect(result.statusCode).toBe(200);
  await wiring.drainJobs!();
  return repliesTo(responseUrl);
}

/** Presses Approve or Reject on the run's message as `user`; resolves with what only they were told. */
async function press(
  kind: 'approve' | 'reject',
  run: RunItem,
  user: SlackUser,
  drain = true,
): Promise<string> {
  const responseUrl = env.slack.responseUrl();
  const result = await handler(
    signedEvent(
      blockActionBody({
        actionId: kind === 'approve' ? ActionIds.runApprove : ActionIds.runReject,
        // What the run's buttons carry: Approve names the command it approves by its hash.
        value: kind === 'approve' ? `${run.runId} ${shownCommandHash(run)}` : run.runId,
        user,
        channel: run.channel!,
        messageTs: run.ts!,
        responseUrl,
      }),
    ),
    context,
  );
  expect(result.statusCode).toBe(200);
  if (drain) await wiring.drainJobs!();
  return repliesTo(responseUrl);
}

async function getRun(runId: string): Promise<RunItem> {
  return (await wiring.store.get<RunItem>(keys.run(runId)))!;
}

/** Asks for a run that needs approval; resolves with it as stored. */
async function requestApproval(text = `restart-prod web service=nginx`): Promise<RunItem> {
  const reply = await sgRun(text);
  const runId = /r-[0-9a-z]{10}/.exec(reply)?.[0];
  if (!runId) throw new Error(`no run in: ${reply}`);
  return getRun(runId);
}

function announcementOf(run: RunItem) {
  return env.slack.messages.get(`${run.channel}/${run.ts}`)!;
}

function buttonsOf(run: RunItem): string[] {
  return (announcementOf(run).blocks as { type: string; elements?: { action_id?: string }[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []).map((e) => e.action_id ?? ''));
}

function thread(run: RunItem): string[] {
  return [...env.slack.messages.values()]
    .filter((m) => m.channel === run.channel && m.threadTs === run.ts)
    .map((m) => `${m.text}\n${JSON.stringify(m.blocks)}`);
}

describe('/sg-run approvals', () => {
  it('asks for approval with Approve / Reject and the exact script, and sends nothing yet', async () => {
    const run = await requestApproval();

    expect(run).toMatchObject({
      status: 'AWAITING_APPROVAL',
      approvalRequired: true,
      dueKind: 'RUN_APPROVAL_EXPIRY',
    });
    expect(Date.parse(run.approvalExpiresAt!) - Date.parse(run.createdAt)).toBe(30 * 60_000);
    expect(buttonsOf(run)).toEqual([ActionIds.runApprove, ActionIds.runReject]);
    const shown = JSON.stringify(announcementOf(run).blocks);
    expect(shown).toContain("SGW_service='nginx'");
    expect(shown).toContain(`<@${APPROVER.id}>, <@${SECOND.id}>`);
    expect(ssm.callsTo('SendCommand')).toHaveLength(0);
  });

  it('refuses the requester’s own approval and someone who is not an approver', async () => {
    const run = await requestApproval();

    expect(await press('approve', run, ENGINEER)).toContain(
      'You cannot approve your own run; another approver must. (NOT_AUTHORISED)',
    );
    expect(await press('approve', run, OUTSIDER)).toContain(
      'You are not an approver of restart-prod. (NOT_AUTHORISED)',
    );
    expect(await press('reject', run, OUTSIDER)).toContain('You are not an approver of restart-prod.');

    expect((await getRun(run.runId)).status).toBe('AWAITING_APPROVAL');
    expect(ssm.callsTo('SendCommand')).toHaveLength(0);
    const audit = await wiring.store.auditFor(run.runId);
    expect(audit.filter((a) => a.result === 'refused').map((a) => [a.action, a.actorId])).toEqual([
      ['approve', ENGINEER.id],
      ['approve', OUTSIDER.id],
      ['reject', OUTSIDER.id],
    ]);
  });

  it('runs once another approver approves, and posts the output in the thread', async () => {
    ssm.script(web, [{ status: 'Success', execute: true }]);
    const run = await requestApproval('restart-prod web service=php-fpm');

    const reply = await press('approve', run, APPROVER);

    expect(reply).toContain(`You approved run \`${run.runId}\``);
    expect(ssm.sent).toHaveLength(1);
    expect(ssm.sent[0]!.input.Parameters!.commands).toEqual([
      "SGW_service='php-fpm'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${…}
      'printf "restart %s\\n" "${SGW_service}"',
    ]);
    let stored = await getRun(run.runId);
    expect(stored).toMatchObject({ status: 'RUNNING', decidedBy: APPROVER.id });
    expect(buttonsOf(stored)).toEqual([]);
    expect(JSON.stringify(announcementOf(stored).blocks)).toContain(`approved by <@${APPROVER.id}>`);

    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 60_000));
    stored = await getRun(run.runId);
    expect(stored.status).toBe('SUCCEEDED');
    expect(thread(stored).join('\n')).toContain('restart php-fpm');
    expect(JSON.stringify(announcementOf(stored).blocks)).toContain(
      `Succeeded on the instance (approved by <@${APPROVER.id}>)`,
    );

    const audit = await wiring.store.auditFor(run.runId);
    expect(audit.map((a) => [a.action, a.toState, a.actorId])).toEqual([
      ['request', 'AWAITING_APPROVAL', ENGINEER.id],
      ['approve', 'SENDING', APPROVER.id],
      ['send', 'RUNNING', 'sg-warden'],
      ['result', 'Success', 'ssm'],
      ['output-posted', 'POLLING', 'sg-warden'],
      ['finish', 'SUCCEEDED', 'sg-warden'],
    ]);
    expect(await press('approve', stored, SECOND)).toContain(
      'was approved by alex.approver and finished (SUCCEEDED). (STATE_CONFLICT)',
    );
  });

  it('checks the targets again on approval and sends nothing to an instance that went offline', async () => {
    const run = await requestApproval();
    ssm.setInstance(web, 'connection-lost');

    const reply = await press('approve', run, APPROVER);

    expect(reply).toContain('was not sent');
    expect(ssm.sent).toHaveLength(0);
    const stored = await getRun(run.runId);
    expect(stored).toMatchObject({ status: 'SEND_FAILED', decidedBy: APPROVER.id });
    expect(stored.lastError).toContain('is offline (SSM: ConnectionLost)');
    expect(thread(stored).join('\n')).toContain('was not sent');
  });

  it('escapes what the thread note quotes when the run is not sent (an instance Name tag is anyone’s text)', async () => {
    const [hostile] = (await launchInstances(REGION, {
      Role: role,
      Name: '<!channel> <https://evil.example|click>',
    })) as [string];
    ssm.setInstance(hostile, 'online');
    try {
      const run = await requestApproval(`restart-prod ${hostile} service=nginx`);
      ssm.setInstance(hostile, 'connection-lost');

      await press('approve', run, APPROVER);

      const stored = await getRun(run.runId);
      expect(stored.status).toBe('SEND_FAILED');
      const note = thread(stored).join('\n');
      expect(note).toContain('was not sent');
      expect(note).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt;');
      expect(note).not.toContain('<!channel>');
      expect(note).not.toContain('<https://evil.example');
      expect(ssm.sent).toHaveLength(0);
    } finally {
      await ec2Client(REGION).send(new TerminateInstancesCommand({ InstanceIds: [hostile] }));
    }
  });

  it('rejects: nothing is sent, the message and thread say who, and a later approval is refused', async () => {
    const run = await requestApproval();

    expect(await press('reject', run, SECOND)).toContain(`You rejected run \`${run.runId}\``);

    const stored = await getRun(run.runId);
    expect(stored).toMatchObject({ status: 'REJECTED', decidedBy: SECOND.id });
    expect(stored.dueKind).toBeUndefined();
    expect(buttonsOf(stored)).toEqual([]);
    expect(JSON.stringify(announcementOf(stored).blocks)).toContain(`Rejected by <@${SECOND.id}>`);
    expect(thread(stored).join('\n')).toContain(`rejected by <@${SECOND.id}>`);
    expect(await press('approve', stored, APPROVER)).toContain(
      `was rejected by ${SECOND.name}. (STATE_CONFLICT)`,
    );
    expect(ssm.callsTo('SendCommand')).toHaveLength(0);
    const audit = await wiring.store.auditFor(run.runId);
    expect(audit.map((a) => [a.action, a.result, a.actorId])).toEqual([
      ['request', 'ok', ENGINEER.id],
      ['reject', 'ok', SECOND.id],
      ['approve', 'refused', APPROVER.id],
    ]);
  });

  it('lets the requester withdraw their own request with Reject', async () => {
    const run = await requestApproval();
    expect(await press('reject', run, ENGINEER)).toContain('You withdrew run');
    expect(await getRun(run.runId)).toMatchObject({ status: 'CANCELLED', decidedBy: ENGINEER.id });
  });

  it('expires a request nobody approved, and refuses approval after that', async () => {
    const run = await requestApproval();

    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 29 * 60_000));
    expect((await getRun(run.runId)).status).toBe('AWAITING_APPROVAL');
    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 31 * 60_000));

    const stored = await getRun(run.runId);
    expect(stored).toMatchObject({ status: 'EXPIRED', decidedBy: 'timeout' });
    expect(buttonsOf(stored)).toEqual([]);
    expect(thread(stored).join('\n')).toContain('expired: nobody approved it in time');
    expect(await press('approve', stored, APPROVER)).toContain('expired unapproved. (STATE_CONFLICT)');
    expect(ssm.callsTo('SendCommand')).toHaveLength(0);
    const audit = await wiring.store.auditFor(run.runId);
    // The expiry's entry carries the sweep's time (31 minutes on), so it sorts after the refusal.
    expect(audit.map((a) => [a.action, a.result])).toEqual([
      ['request', 'ok'],
      ['approve', 'refused'],
      ['expire', 'ok'],
    ]);
    expect(audit[2]).toMatchObject({
      fromState: 'AWAITING_APPROVAL',
      toState: 'EXPIRED',
      actorType: 'timeout',
    });
  });

  it('refuses an approval that comes after the expiry time even before the sweep has run', async () => {
    const run = await requestApproval();
    const realClock = wiring.clock;
    wiring.clock = () => new Date(Date.now() + 31 * 60_000);
    try {
      expect(await press('approve', run, APPROVER)).toContain('expired unapproved');
    } finally {
      wiring.clock = realClock;
    }
    expect((await getRun(run.runId)).status).toBe('EXPIRED');
    expect(ssm.callsTo('SendCommand')).toHaveLength(0);
  });

  it('lets exactly one of approve, reject and expiry win when they race', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 4; round++) {
      ssm.reset();
      ssm.setInstance(web, 'online');
      const run = await requestApproval();
      await Promise.all([
        press('approve', run, APPROVER, false),
        press('reject', run, SECOND, false),
        sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 31 * 60_000)),
      ]);
      await wiring.drainJobs!();

      const audit = await wiring.store.auditFor(run.runId);
      const decisions = audit.filter(
        (a) => a.fromState === 'AWAITING_APPROVAL' && a.result === 'ok' && a.action !== 'request',
      );
      expect(decisions).toHaveLength(1);
      const stored = await getRun(run.runId);
      const expected = { approve: 'RUNNING', reject: 'REJECTED', expire: 'EXPIRED' }[decisions[0]!.action];
      expect(stored.status).toBe(expected);
      expect(ssm.callsTo('SendCommand')).toHaveLength(decisions[0]!.action === 'approve' ? 1 : 0);
      outcomes.push(decisions[0]!.action);
    }
    expect(outcomes).toHaveLength(4);
  });

  describe('ad-hoc commands', () => {
    it('always need a second person, show the command line, and run it once approved', async () => {
      const run = await requestApproval('adhoc web uptime &amp;&amp; df -h | tail -n 3');

      expect(run).toMatchObject({ status: 'AWAITING_APPROVAL', adHoc: true, runbook: 'adhoc' });
      expect(Date.parse(run.approvalExpiresAt!) - Date.parse(run.createdAt)).toBe(15 * 60_000);
      expect(JSON.stringify(announcementOf(run).blocks)).toContain('uptime &amp;&amp; df -h | tail -n 3');
      expect(await press('approve', run, ENGINEER)).toContain('You cannot approve your own run');

      await press('approve', run, SECOND);

      expect(ssm.sent[0]!.input.Parameters).toEqual({
        commands: ['uptime && df -h | tail -n 3'],
        executionTimeout: ['600'],
      });
    });

    it('are refused to people the config does not allow', async () => {
      expect(await sgRun('adhoc web uptime', APPROVER)).toContain(
        'You may not run ad-hoc commands. (NOT_AUTHORISED)',
      );
    });
  });
});
