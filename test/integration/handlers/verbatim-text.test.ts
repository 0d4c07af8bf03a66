import type { RecordedCall } from '../../../local/shared/slack-emulator-types';
import {
  alertOf,
  command,
  deliver,
  drain,
  type FaultSuite,
  raise,
  startFaultSuite,
  submitKeep,
} from '../../support/fault-harness';
import { ALERT_CHANNEL, baseConfig } from '../../support/handler-env';
import { APPROVER, ENGINEER } from '../../support/slack-requests';

// #19 case 9, "text from AWS stays text", through the real handlers and the Slack emulator: a bare URL
// in a rule description, a group name or a source "IP" (an AWS service's name) is not made a link, and a
// newline in a user agent, a principal or a justification is shown as `\n` instead of breaking out.

const URL = 'https://evil.example/login';
const DOMAIN = 'evil.example';

let suite: FaultSuite;

interface TextObject {
  type: string;
  text: string;
  verbatim?: boolean;
}

function textObjects(value: unknown): TextObject[] {
  if (Array.isArray(value)) return value.flatMap(textObjects);
  if (!value || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  const own =
    (record.type === 'mrkdwn' || record.type === 'plain_text') && typeof record.text === 'string'
      ? [record as unknown as TextObject]
      : [];
  return [...own, ...Object.values(record).flatMap(textObjects)];
}

/** Every mrkdwn text object of a call is verbatim, and there are some. */
function expectVerbatim(call: RecordedCall): void {
  const mrkdwn = textObjects(call.args.blocks).filter((t) => t.type === 'mrkdwn');
  expect(mrkdwn.length).toBeGreaterThan(0);
  for (const t of mrkdwn)
    expect({ text: t.text, verbatim: t.verbatim }).toEqual({ text: t.text, verbatim: true });
}

function textOf(call: RecordedCall): string {
  return textObjects(call.args.blocks)
    .map((t) => t.text)
    .join('\n');
}

beforeAll(async () => {
  suite = await startFaultSuite({
    config: baseConfig(`decisions:
  approvers: { users: [${APPROVER.id}] }
  keepDurations: [1h]
`),
  });
});

afterAll(() => suite.stop());

describe('case 9: text from AWS stays text', () => {
  let alertCall: RecordedCall;
  let r: Awaited<ReturnType<typeof raise>>;

  beforeAll(async () => {
    r = await raise(suite, {
      ports: [22],
      groupName: `web ${DOMAIN} ${URL}`,
      description: `see ${URL} now`,
      deliver: false,
    });
    const identity = r.record.userIdentity as Record<string, unknown>;
    identity.arn = 'arn:aws:sts::123456789012:assumed-role/Admin/erin\n*Who* root';
    r.record.userAgent = 'aws-cli/2.15\n*Who* root\tsigned';
    r.record.sourceIPAddress = 'ec2.amazonaws.com';
    await deliver(suite, r.record);
    alertCall = suite.env.slack
      .callsTo('chat.postMessage')
      .find((c) => c.args.channel === ALERT_CHANNEL && JSON.stringify(c.args).includes(r.groupId))!;
  });

  it('the alert sends every mrkdwn text object verbatim, so Slack makes no link of a bare URL', () => {
    expect(alertCall).toBeDefined();
    expectVerbatim(alertCall);
    expect(textOf(alertCall)).not.toContain(`<${URL}`);
  });

  it('the rule description and the group name are shown as they are', () => {
    const text = textOf(alertCall);
    expect(text).toContain(`_Description:_ see ${URL} now`);
    expect(text).toContain(`web ${DOMAIN} ${URL}`);
  });

  it('a newline in the user agent and the principal stays inside their code spans, shown as \\n', () => {
    const text = textOf(alertCall);
    expect(text).toContain('user agent `aws-cli/2.15\\n*Who* root\\tsigned`');
    expect(text).toContain('`arn:aws:sts::123456789012:assumed-role/Admin/erin\\n*Who* root`');
    expect(text).not.toContain('\n*Who* root');
  });

  it('the source IP text (an AWS service) is shown verbatim', () => {
    expect(textOf(alertCall)).toContain('*Source IP*\nec2.amazonaws.com');
  });

  it('the header and the fallback text (no verbatim there) leave no address in a linkable shape', () => {
    const header = textObjects(alertCall.args.blocks).find((t) => t.type === 'plain_text')!.text;
    expect(header).not.toContain('://');
    expect(header).not.toContain(DOMAIN);
    expect(String(alertCall.args.text)).not.toContain('://');
    expect(String(alertCall.args.text)).not.toMatch(/[\n\t]/);
  });

  it('a justification is quoted line by line in the updated alert, its URL as text', async () => {
    const alert = await alertOf(suite, r.alertId);
    await submitKeep(suite, {
      metadata: JSON.stringify({
        violationIds: [alert!.violationIds[0]],
        channel: ALERT_CHANNEL,
        ts: alert!.ts,
      }),
      justification: `vendor ${URL}\n*Who* root\u0007`,
      duration: '3600',
      user: APPROVER,
    });
    await drain(suite);
    const update = suite.env.slack
      .callsTo('chat.update')
      .filter((c) => c.args.ts === alert!.ts)
      .at(-1)!;
    expectVerbatim(update);
    expect(textOf(update)).toContain(`\n>vendor ${URL}\n>*Who* root\`\\x07\``);
  });

  it('/sg-status for the group shows its name and the rule’s description verbatim', async () => {
    const from = suite.env.slack.responseUrlPosts.length;
    await command(suite, '/sg-status', r.groupId, { user: ENGINEER });
    await drain(suite);
    const reply = suite.env.slack.responseUrlPosts.slice(from).at(-1)!.body;
    const mrkdwn = textObjects(reply.blocks).filter((t) => t.type === 'mrkdwn');
    expect(mrkdwn.length).toBeGreaterThan(0);
    for (const t of mrkdwn) expect(t.verbatim).toBe(true);
    expect(JSON.stringify(reply.blocks)).toContain(`see ${URL} now`);
  });
});
