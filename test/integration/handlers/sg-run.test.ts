import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import { keys } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import type { RunItem } from '../../../services/runs/items';
import { uniqueName } from '../../support/aws';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { launchInstances } from '../../support/instances';
import {
  APPROVER,
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
const OPS_CHANNEL = 'C0OPSTEAM';
const OPS_GROUP = 'S0OPS';
const context = {} as Context;
const role = uniqueName('web');
const mixedRole = uniqueName('mixed');

let env: HandlerEnv;
let ssm: SsmEmulator;
let handler: Handler;
let wiring: Wiring;
let web: string[];
let mixedOnline: string;
let mixedOffline: string;
let unmanaged: string;
let elsewhere: string;

function config(): string {
  return baseConfig(`
runbooks:
  targets:
    web: { region: ${REGION}, tags: { Role: ${role}, Env: prod } }
    mixed: { region: ${REGION}, tags: { Role: ${mixedRole} } }
  items:
    restart-service:
      description: Restart a systemd unit
      region: ${REGION}
      targets: [web, mixed, ${unmanaged}]
      allowed: { userGroups: [${OPS_GROUP}] }
      commands:
        - 'printf "restarting %s\\n" {{ service }}'
        - 'printf "lines=%s\\n" {{ lines }}'
      parameters:
        - { name: service, pattern: '.+' }
        - { name: lines, type: integer, min: 1, max: 500, default: 20 }
    grep-logs:
      description: Search the logs for a phrase
      region: ${REGION}
      targets: [web]
      commands: ['printf "searching for [%s]\\n" {{ phrase }}']
      parameters:
        - { name: phrase, pattern: '.{1,200}', allowShellMetacharacters: true }
    dump:
      region: ${REGION}
      targets: [web]
      maxOutputChars: 500
      timeout: 2m
      outputS3Bucket: sg-warden-run-output
      outputLogGroup: /sg-warden/runs
      commands: [cat /var/log/messages]
    dump-all:
      region: ${REGION}
      targets: [web]
      maxOutputChars: 40000
      commands: [cat /var/log/messages]
    approver-only:
      region: ${REGION}
      targets: [web]
      allowed: { users: [${APPROVER.id}] }
      commands: [uptime]
`);
}

beforeAll(async () => {
  env = await startHandlerEnv({ slack: { userGroups: { [OPS_GROUP]: [ENGINEER.id, APPROVER.id] } } });
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  web = await launchInstances(REGION, { Role: role, Env: 'prod', Name: 'web' }, 2);
  [mixedOnline, mixedOffline] = (await launchInstances(REGION, { Role: mixedRole }, 2)) as [string, string];
  [unmanaged] = (await launchInstances(REGION, { Name: 'legacy' })) as [string];
  [elsewhere] = (await launchInstances(REGION, { Role: 'not-a-target' })) as [string];
  for (const id of [...web, mixedOnline, elsewhere]) ssm.setInstance(id, 'online');
  ssm.setInstance(mixedOffline, 'connection-lost');
  env.writeConfig(config());
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
});

/** Sends `/sg-run <text>` as a signed slash command and waits for its job. */
async function sgRun(text: string, user: SlackUser = ENGINEER, channel = OPS_CHANNEL) {
  const responseUrl = env.slack.responseUrl();
  const id = responseUrl.split('/').pop();
  const result = await handler(
    signedEvent(slashCommandBody({ command: '/sg-run', text, user, channel, responseUrl })),
    context,
  );
  await wiring.drainJobs!();
  const replies = env.slack.responseUrlPosts.filter((p) => p.id === id).map((p) => String(p.body.text));
  return { result, replies, reply: replies.join('\n') };
}

function runIdIn(text: string): string {
  const match = /r-[0-9a-z]{10}/.exec(text);
  if (!match) throw new Error(`no run ID in: ${text}`);
  return match[0];
}

async function getRun(runId: string): Promise<RunItem> {
  return (await wiring.store.get<RunItem>(keys.run(runId)))!;
}

/** Sweeps at `minutes` from now (the sweep's clock; nothing waits). */
function sweepAt(minutes: number) {
  return sweep(wiring, dueHandlers(wiring), new Date(Date.now() + minutes * 60_000));
}

/** Sweeps until the run is final (at most `times` sweeps, a minute apart). */
async function sweepUntilDone(runId: string, times = 5): Promise<RunItem> {
  for (let i = 1; i <= times; i++) {
    await sweepAt(i);
    const run = await getRun(runId);
    if (['SUCCEEDED', 'FAILED'].includes(run.status)) return run;
  }
  return getRun(runId);
}

function threadOf(run: RunItem) {
  return [...env.slack.messages.values()].filter((m) => m.channel === run.channel && m.threadTs === run.ts);
}

/** Text of a message: its fallback and every block's text. */
function textOf(message: { text: string; blocks: unknown[] }): string {
  return [message.text, JSON.stringify(message.blocks)].join('\n');
}

async function refusalsSince(since: string): Promise<StoredAuditEntry[]> {
  const out: StoredAuditEntry[] = [];
  for await (const entry of wiring.store.auditSince(since)) {
    if (entry.subjectType === 'run' && entry.action === 'request' && entry.result === 'refused')
      out.push(entry);
  }
  return out;
}

describe('/sg-run', () => {
  describe('help and list', () => {
    it('answers help at once, without a job', async () => {
      const { result } = await sgRun('help');
      expect(result.statusCode).toBe(200);
      expect(JSON.parse(result.body ?? '{}')).toMatchObject({
        response_type: 'ephemeral',
        text: expect.stringContaining('/sg-run <runbook> <target> [name=value …]'),
      });
    });

    it('lists only the runbooks the person may run', async () => {
      const engineer = await sgRun('list');
      expect(engineer.reply).toContain('*restart-service*: Restart a systemd unit');
      expect(engineer.reply).toContain('`lines` (a whole number ≥ 1 ≤ 500, default 20)');
      expect(engineer.reply).not.toContain('approver-only');

      const outsider = await sgRun('list', OUTSIDER);
      expect(outsider.reply).not.toContain('restart-service');
      expect(outsider.reply).toContain('grep-logs');
    });
  });

  describe('a runbook run end to end', () => {
    it('announces the run where it was asked, sends it, and posts the output in that thread', async () => {
      for (const id of web) ssm.script(id, [{ status: 'InProgress' }, { status: 'Success', execute: true }]);

      const { reply } = await sgRun('restart-service web service=nginx lines=50');

      const runId = runIdIn(reply);
      expect(reply).toContain('was sent to 2 instances');
      const sent = ssm.sent[0]!;
      expect(ssm.sent).toHaveLength(1);
      expect(sent.input).toMatchObject({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: expect.arrayContaining(web),
        Comment: `sg-warden ${runId} by ${ENGINEER.name} (${ENGINEER.id})`,
        TimeoutSeconds: 600,
        Parameters: {
          commands: [
            "SGW_service='nginx'",
            "SGW_lines='50'",
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${…}
            'printf "restarting %s\\n" "${SGW_service}"',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${…}
            'printf "lines=%s\\n" "${SGW_lines}"',
          ],
          executionTimeout: ['600'],
        },
      });
      let run = await getRun(runId);
      expect(run).toMatchObject({ status: 'RUNNING', commandId: sent.commandId, channel: OPS_CHANNEL });
      const announcement = env.slack.messages.get(`${OPS_CHANNEL}/${run.ts}`)!;
      expect(textOf(announcement)).toContain('restart-service');

      await sweepAt(1);
      run = await getRun(runId);
      expect(run.status).toBe('RUNNING');
      expect(Object.values(run.invocations).map((i) => i.status)).toEqual(['InProgress', 'InProgress']);
      expect(threadOf(run)).toHaveLength(0);

      await sweepAt(2);
      run = await getRun(runId);
      expect(run.status).toBe('SUCCEEDED');
      const thread = threadOf(run);
      expect(thread).toHaveLength(2);
      for (const message of thread) {
        expect(textOf(message)).toContain('*Success*');
        expect(textOf(message)).toContain('exit code 0');
        expect(textOf(message)).toContain('restarting nginx\\nlines=50');
      }
      expect(env.slack.callsTo('chat.postMessage').some((c) => c.args.channel === ALERT_CHANNEL)).toBe(false);
      expect(textOf(env.slack.messages.get(`${OPS_CHANNEL}/${run.ts}`)!)).toContain(
        'Succeeded on all 2 instances',
      );

      const audit = await wiring.store.auditFor(runId);
      expect(audit.map((a) => [a.action, a.fromState, a.toState])).toEqual([
        ['request', null, 'SENDING'],
        ['send', 'SENDING', 'RUNNING'],
        ['status', 'Pending', 'InProgress'],
        ['status', 'Pending', 'InProgress'],
        ['result', 'InProgress', 'Success'],
        ['output-posted', 'POLLING', 'POLLING'],
        ['result', 'InProgress', 'Success'],
        ['output-posted', 'POLLING', 'POLLING'],
        ['finish', 'RUNNING', 'SUCCEEDED'],
      ]);
      expect(audit[0]).toMatchObject({ actorType: 'slack-user', actorId: ENGINEER.id, result: 'ok' });
      expect(audit[1]!.details).toMatchObject({
        commandId: sent.commandId,
        document: 'AWS-RunShellScript',
        parameters: sent.input.Parameters,
        instanceIds: expect.arrayContaining(web),
        comment: sent.input.Comment,
      });
      const output = 'restarting nginx\nlines=50\n';
      const { createHash } = await import('node:crypto');
      expect(audit[4]!.details).toMatchObject({
        exitCode: 0,
        stdoutChars: output.length,
        stdoutSha256: createHash('sha256').update(output).digest('hex'),
      });
    });

    it('runs on one instance named by ID when it carries an allowed alias’s tags', async () => {
      const { reply } = await sgRun(`restart-service ${web[0]} service=php-fpm`);
      expect(reply).toContain('was sent to 1 instance');
      expect(ssm.sent[0]!.input.InstanceIds).toEqual([web[0]]);
    });

    it('uses the runbook’s only target when none is named, and asks for one when there are several', async () => {
      const { reply } = await sgRun('grep-logs phrase=timeout');
      expect(reply).toContain('was sent to 2 instances');
      expect(await getRun(runIdIn(reply))).toMatchObject({ target: 'web' });

      const several = await sgRun('restart-service service=nginx');
      expect(several.reply).toContain(
        `Say which target: restart-service may run on web, mixed, ${unmanaged}. (BAD_INPUT)`,
      );
    });

    it('waits for SSM to know the invocation, then reports it', async () => {
      ssm.script(web[0]!, [
        { status: 'Pending', notYet: true },
        { status: 'Success', exitCode: 0, stdout: 'ok' },
      ]);
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);
      expect((await sweepUntilDone(runId)).status).toBe('SUCCEEDED');
    });
  });

  describe('parameter safety', () => {
    it.each([
      ['; rm -rf /', 'service="nginx; rm -rf /"'],
      ['$(…)', 'service=$(curl)'],
      ['backticks', 'service=`id`'],
      ['a newline, as words', 'service=nginx\nrm -rf /'],
      ['a newline inside quotes', 'service="nginx\nreboot"'],
      ['quotes', `service=nginx'x`],
      ['&& (as Slack escapes it)', 'service=nginx&amp;&amp;reboot'],
      ['a pipe', 'service=nginx|sh'],
      ['an SSM parameter reference', 'service={{ssm:/sg-warden/slack-bot-token}}'],
      ['an option', 'service=--help'],
      ['an integer that is not', 'service=nginx lines=20;ls'],
      ['an unknown parameter', 'service=nginx colour=red'],
    ])('refuses %s before any AWS call, and audits the attempt', async (_name, args) => {
      const since = new Date().toISOString();
      const { reply } = await sgRun(`restart-service web ${args}`);

      expect(reply).toMatch(
        /:warning: .*(Refused, nothing was sent|is not a name=value parameter; nothing was sent)/s,
      );
      expect(reply).toMatch(/\((BAD_INPUT)\)$/);
      expect(ssm.calls).toHaveLength(0);
      expect(ssm.sent).toHaveLength(0);
      expect(env.slack.callsTo('chat.postMessage')).toHaveLength(0);
      const refusals = await refusalsSince(since);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatchObject({ actorId: ENGINEER.id, result: 'refused', toState: null });
    });

    it('passes a metacharacter value only as quoted data: the instance prints it and runs nothing', async () => {
      ssm.script(web[0]!, [{ status: 'Success', execute: true }]);
      const phrase = `x'; touch PWNED; echo "$(touch PWNED2)" \`touch PWNED3\` | sh && reboot`;

      // Slack's curly quotes delimit the value, so the straight quotes inside it are part of it.
      const { reply } = await sgRun(`grep-logs ${web[0]} phrase=“${phrase}”`);

      const run = await sweepUntilDone(runIdIn(reply));
      expect(run.status).toBe('SUCCEEDED');
      const [result] = threadOf(run);
      expect(result!.blocks).toContainEqual({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `\`\`\`searching for [${phrase.replace(/&/g, '&amp;')}]\n\`\`\``,
          verbatim: true,
        },
      });
      const { readdirSync } = await import('node:fs');
      expect(readdirSync(ssm.sent[0]!.workDir!)).toEqual([]);
    });
  });

  describe('targets', () => {
    it('refuses an offline instance and names it', async () => {
      const { reply } = await sgRun('restart-service mixed service=nginx');
      expect(reply).toContain(`${mixedOffline} is offline (SSM: ConnectionLost)`);
      expect(reply).toContain('(TARGET_NOT_READY)');
      expect(ssm.sent).toHaveLength(0);
      expect(ssm.callsTo('DescribeInstanceInformation')).toHaveLength(1);
    });

    it('refuses an instance SSM does not manage', async () => {
      const since = new Date().toISOString();
      const { reply } = await sgRun(`restart-service ${unmanaged} service=nginx`);
      expect(reply).toContain(`${unmanaged} (legacy) is not managed by SSM`);
      expect(ssm.sent).toHaveLength(0);
      const [refusal] = await refusalsSince(since);
      expect(refusal).toMatchObject({ details: { runbook: 'restart-service', target: unmanaged } });
      expect(refusal!.error).toContain('not managed by SSM');
    });

    it('refuses an instance that is not a target of the runbook', async () => {
      const { reply } = await sgRun(`restart-service ${elsewhere} service=nginx`);
      expect(reply).toContain(`${elsewhere} is not a target of restart-service`);
      expect(reply).toContain('(NOT_AUTHORISED)');
      expect(ssm.calls).toHaveLength(0);
    });

    it('refuses an alias the runbook does not list, and an unknown one', async () => {
      expect((await sgRun('grep-logs mixed phrase=x')).reply).toContain('grep-logs may not run on mixed');
      expect((await sgRun('grep-logs db-prod phrase=x')).reply).toContain(
        '"db-prod" is neither an instance ID (i-…) nor a target alias',
      );
    });
  });

  describe('who may run what', () => {
    it('refuses someone outside the runbook’s allowed people', async () => {
      const { reply } = await sgRun('approver-only web');
      expect(reply).toContain('You may not run approver-only. (NOT_AUTHORISED)');
      expect(ssm.calls).toHaveLength(0);
    });

    it('refuses ad-hoc commands, which are off by default', async () => {
      const { reply } = await sgRun(`adhoc ${web[0]} uptime`);
      expect(reply).toContain('Ad-hoc commands are turned off (runbooks.allowAdHoc)');
      expect(ssm.calls).toHaveLength(0);
    });

    it('refuses an unknown runbook', async () => {
      expect((await sgRun('reboot-everything web')).reply).toContain(
        'There is no runbook "reboot-everything"',
      );
    });
  });

  describe('results', () => {
    it('reports a failed command with its exit code and error output', async () => {
      ssm.script(web[0]!, [
        { status: 'Failed', exitCode: 3, stdout: 'starting\n', stderr: 'unit nginx not found\n' },
      ]);
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);

      const run = await sweepUntilDone(runId);

      expect(run.status).toBe('FAILED');
      expect(run.invocations[web[0]!]).toMatchObject({
        status: 'Failed',
        exitCode: 3,
        final: true,
        posted: true,
      });
      const [message] = threadOf(run);
      expect(textOf(message!)).toContain(':x:');
      expect(textOf(message!)).toContain('*Failed*, exit code 3');
      expect(textOf(message!)).toContain('starting\\n--- stderr ---\\nunit nginx not found');
      expect(textOf(env.slack.messages.get(`${OPS_CHANNEL}/${run.ts}`)!)).toContain(
        'Did not succeed on 1 of 1 instance',
      );
      const audit = await wiring.store.auditFor(runId);
      expect(audit.find((a) => a.action === 'result')).toMatchObject({
        toState: 'Failed',
        details: { exitCode: 3 },
      });
      expect(audit.at(-1)).toMatchObject({ action: 'finish', toState: 'FAILED' });
    });

    it('reports a timed-out command as such', async () => {
      ssm.script(web[0]!, [
        { status: 'InProgress' },
        { status: 'TimedOut', exitCode: -1, stdout: 'still working…', statusDetails: 'ExecutionTimedOut' },
      ]);
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);

      const run = await sweepUntilDone(runId);

      expect(run.status).toBe('FAILED');
      const [message] = threadOf(run);
      expect(textOf(message!)).toContain(':alarm_clock:');
      expect(textOf(message!)).toContain('*TimedOut* (ExecutionTimedOut), no exit code');
      const audit = await wiring.store.auditFor(runId);
      expect(
        audit.filter((a) => a.action === 'status' || a.action === 'result').map((a) => a.toState),
      ).toEqual(['InProgress', 'TimedOut']);
    });

    it('cuts long output to the runbook’s limit, says how much, and where the whole output is', async () => {
      const lines = Array.from({ length: 700 }, (_, i) => `line ${String(i).padStart(5, '0')} <ok> & fine`);
      const stdout = `${lines.join('\n')}\n`;
      ssm.script(web[0]!, [{ status: 'Success', exitCode: 0, stdout }]);
      const runId = runIdIn((await sgRun(`dump ${web[0]}`)).reply);

      const run = await sweepUntilDone(runId);

      expect(ssm.sent[0]!.input).toMatchObject({
        OutputS3BucketName: 'sg-warden-run-output',
        OutputS3KeyPrefix: `sg-warden/${runId}`,
        CloudWatchOutputConfig: { CloudWatchLogGroupName: '/sg-warden/runs', CloudWatchOutputEnabled: true },
        TimeoutSeconds: 120,
        Parameters: { commands: ['cat /var/log/messages'], executionTimeout: ['120'] },
      });
      const [message] = threadOf(run);
      const text = textOf(message!);
      expect(text).toContain('line 00000 &lt;ok&gt; &amp; fine');
      expect(text).toContain('line 00699 &lt;ok&gt; &amp; fine');
      expect(text).not.toContain('line 00350');
      const cut = stdout.length - 500;
      expect(text).toContain(
        `Output: ${stdout.length.toLocaleString('en-US')} characters; 500 shown, ${cut.toLocaleString('en-US')} cut from the middle.`,
      );
      expect(text).toContain(`… ${cut.toLocaleString('en-US')} characters cut …`);
      expect(text).not.toContain('SSM returns at most');
      expect(text).toContain(
        `sg-warden-run-output/sg-warden/${runId}/${run.commandId}/${web[0]}/awsrunShellScript`,
      );
      expect(text).toContain('CloudWatch Logs group `/sg-warden/runs`');
      for (const block of message!.blocks as { text?: { text: string } }[])
        expect((block.text?.text ?? '').length).toBeLessThanOrEqual(3000);
      const posted = (await wiring.store.auditFor(runId)).find((a) => a.action === 'output-posted');
      expect(posted!.details).toMatchObject({ shownChars: 500, cutChars: cut, channel: OPS_CHANNEL });
    });

    it('says when SSM itself cut the output, and shows the most a runbook allows within Slack’s limits', async () => {
      ssm.script(web[0]!, [{ status: 'Success', exitCode: 0, stdout: 'x'.repeat(30000) }]);
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);

      const run = await sweepUntilDone(runId);

      const text = textOf(threadOf(run)[0]!);
      expect(text).toContain('Output: 24,000 characters; 2,500 shown, 21,500 cut from the middle.');
      expect(text).toContain('SSM returns at most 24,000 characters of standard output');
      expect(text).toContain('The whole output is not kept anywhere: set outputS3Bucket or outputLogGroup');
    });

    it('keeps a result within Slack’s 50 blocks when escaping multiplies the output', async () => {
      ssm.script(web[0]!, [
        { status: 'Success', exitCode: 0, stdout: '&'.repeat(24000), stderr: '<'.repeat(8000) },
      ]);
      const runId = runIdIn((await sgRun(`dump-all ${web[0]}`)).reply);

      const run = await sweepUntilDone(runId);

      const [message] = threadOf(run);
      expect(message).toBeDefined();
      expect((message!.blocks as unknown[]).length).toBeLessThanOrEqual(50);
      expect(textOf(message!)).toMatch(
        /Output: 32,016 characters; [\d,]+ shown, [\d,]+ cut from the middle\./,
      );
      const posts = (await wiring.store.auditFor(runId)).filter((a) => a.action === 'output-posted');
      expect(posts.map((p) => p.result)).toEqual(['ok']);
    });

    it('retries posting a result Slack refused, without asking SSM to run anything again', async () => {
      ssm.script(web[0]!, [{ status: 'Success', exitCode: 0, stdout: 'done' }]);
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);
      env.slack.failNext('chat.postMessage', { kind: 'error', error: 'internal_error' });

      await sweepAt(1);
      expect((await getRun(runId)).status).toBe('RUNNING');
      const run = await sweepUntilDone(runId);

      expect(run.status).toBe('SUCCEEDED');
      expect(threadOf(run)).toHaveLength(1);
      expect(ssm.sent).toHaveLength(1);
      const posts = (await wiring.store.auditFor(runId)).filter((a) => a.action === 'output-posted');
      expect(posts.map((p) => p.result)).toEqual(['error', 'ok']);
    });
  });

  describe('leases and races', () => {
    it('posts each result once when two sweeps poll the same run at the same time', async () => {
      for (const id of web) ssm.script(id, [{ status: 'Success', exitCode: 0, stdout: `hello from ${id}` }]);
      const runId = runIdIn((await sgRun('restart-service web service=nginx')).reply);

      const now = new Date(Date.now() + 60_000);
      await Promise.all([
        sweep(wiring, dueHandlers(wiring), now),
        sweep(wiring, dueHandlers(wiring), now),
        sweep(wiring, dueHandlers(wiring), now),
      ]);
      const run = await sweepUntilDone(runId);

      expect(run.status).toBe('SUCCEEDED');
      expect(threadOf(run)).toHaveLength(2);
      const audit = await wiring.store.auditFor(runId);
      expect(audit.filter((a) => a.action === 'result')).toHaveLength(2);
      expect(audit.filter((a) => a.action === 'output-posted')).toHaveLength(2);
      expect(audit.filter((a) => a.action === 'finish')).toHaveLength(1);
    });

    it('takes over a run whose poller died mid-poll once its lease runs out', async () => {
      ssm.script(web[0]!, [{ status: 'Success', exitCode: 0, stdout: 'fine' }]);
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);
      const before = await getRun(runId);
      // A poller claims the run and dies: POLLING with a two-minute lease.
      await wiring.store.transition({
        key: keys.run(runId),
        from: ['RUNNING'],
        expectVersion: before.version,
        to: 'POLLING',
        due: { kind: 'RUN_POLL', at: new Date(Date.now() + 120_000).toISOString() },
        audit: null,
      });

      await sweepAt(1);
      expect((await getRun(runId)).status).toBe('POLLING');
      await sweepAt(3);

      expect((await getRun(runId)).status).toBe('SUCCEEDED');
    });

    it('marks a run whose sender died mid-send SEND_UNKNOWN, naming the comment to look for', async () => {
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);
      const sent = await getRun(runId);
      // As if the worker had claimed a fresh send and died before recording SSM's answer.
      await wiring.store.transition({
        key: keys.run(runId),
        from: ['RUNNING'],
        to: 'SENDING',
        due: { kind: 'RUN_POLL', at: new Date(Date.now() + 300_000).toISOString() },
        audit: null,
      });

      await sweepAt(6);

      const run = await getRun(runId);
      expect(run.status).toBe('SEND_UNKNOWN');
      expect(threadOf(run).map(textOf).join('\n')).toContain(sent.comment);
      expect((await wiring.store.auditFor(runId)).at(-1)).toMatchObject({
        action: 'send',
        toState: 'SEND_UNKNOWN',
        result: 'error',
      });
    });
  });

  describe('when things go wrong', () => {
    it('records SSM refusing the command as SEND_FAILED and says so', async () => {
      ssm.failNext('SendCommand', {
        type: 'AccessDeniedException',
        message: 'not authorized to perform: ssm:SendCommand on resource',
      });
      const { reply } = await sgRun(`restart-service ${web[0]} service=nginx`);
      const run = await getRun(runIdIn(reply));
      expect(run).toMatchObject({ status: 'SEND_FAILED' });
      expect(reply).toContain(
        'was not sent: SendCommand failed: AccessDeniedException: not authorized to perform: ssm:SendCommand',
      );
      const audit = await wiring.store.auditFor(run.runId);
      expect(audit.at(-1)).toMatchObject({ action: 'send', toState: 'SEND_FAILED', result: 'error' });
    });

    it('cancels a run whose message cannot be posted in the channel, before sending', async () => {
      env.slack.failNext('chat.postMessage', { kind: 'error', error: 'not_in_channel' });
      const { reply } = await sgRun(`restart-service ${web[0]} service=nginx`);
      expect(reply).toContain('could not post in this channel');
      expect(reply).toContain('(CHANNEL_UNAVAILABLE)');
      expect(ssm.sent).toHaveLength(0);
      expect((await getRun(runIdIn(reply))).status).toBe('CANCELLED');
    });

    it('shows a run’s status to its requester and refuses strangers', async () => {
      ssm.script(web[0]!, [{ status: 'Failed', exitCode: 1 }]);
      const runId = runIdIn((await sgRun(`restart-service ${web[0]} service=nginx`)).reply);
      await sweepUntilDone(runId);

      const mine = await sgRun(`status ${runId}`);
      expect(mine.reply).toContain(`*Run \`${runId}\`*`);
      expect(mine.reply).toContain(`\`${web[0]}\` web: Failed, exit code 1`);
      expect((await sgRun(`status ${runId}`, OUTSIDER)).reply).toContain('You may not see run');
      expect((await sgRun('status r-zzzzzzzzzz')).reply).toContain(
        'There is no run r-zzzzzzzzzz. (NOT_FOUND)',
      );
    });
  });
});
