import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import type { EventBridgeEvent } from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import type { EmulatedMessage } from '../../../local/shared/slack-emulator-types';
import { keys } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import type { AlertItem } from '../../../services/violations/items';
import { authorize, createGroup, ec2Client } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { APPROVER, ENGINEER } from '../../support/slack-requests';

/**
 * Reminders and escalation where alerts are routed (slack.routes), through the cloudtrail-event handler
 * and the sweeper with its clock moved ahead, against moto and the Slack emulator: a reminder mentions the
 * route's own approvers when the route names them; with only `decisions.escalation.userGroup` (no
 * escalation channel) the escalation is posted in the alert's own channel, once; and each channel gets its
 * own weekly line counting its own undecided rules.
 */

type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';
const PAYMENTS = 'C0PAYMENTS';
const DATA = 'C0DATA';
const PAY_LEAD = 'U0PAYLEAD';

let env: HandlerEnv;
let wiring: Wiring;
let cloudtrail: CloudTrailHandler;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`  routes:
    - name: payments
      tags: { team: payments }
      channel: ${PAYMENTS}
      approvers: { userGroups: [S0PAYAPPROVERS], users: [${PAY_LEAD}] }
    - name: data
      tags: { team: data }
      channel: ${DATA}
policy:
  timeouts: { critical: 5m, high: null, medium: 1h, low: null }
  # The emulator's groups have nothing attached: keep their severity (this is not about exposure).
  exposure: { unattached: keep }
decisions:
  revokers: { users: [${APPROVER.id}] }
  approvers: { userGroups: [S0APPROVERS], users: [${APPROVER.id}] }
  remindBefore: 4m
  # On call only: no escalation channel, so the escalation goes to the alert's own channel.
  escalation: { userGroup: S0ONCALL }
`),
    slack: {
      channelMembers: {
        [ALERT_CHANNEL]: [ENGINEER.id, APPROVER.id],
        [PAYMENTS]: [ENGINEER.id, APPROVER.id, PAY_LEAD],
        [DATA]: [ENGINEER.id, APPROVER.id],
      },
      userGroups: { S0APPROVERS: [APPROVER.id], S0PAYAPPROVERS: [PAY_LEAD], S0ONCALL: ['U0ONCALL'] },
    },
  });
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

interface Raised {
  alertId: string;
  violationId: string;
  channel: string;
  ts: string;
  at: number;
}

/** A rule open to the internet on a fresh group (tagged as given), its event delivered: one alert posted. */
async function raise(rule: { fromPort: number; toPort: number }, team?: string): Promise<Raised> {
  const { groupId } = await createGroup(REGION);
  if (team)
    await ec2Client(REGION).send(
      new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: 'team', Value: team }] }),
    );
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: rule.fromPort,
    ToPort: rule.toPort,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  const record = authorizeIngressRecord({
    groupId,
    rules: [{ ruleId: ruleId!, ...rule, cidr: '0.0.0.0/0' }],
  });
  const at = Date.now();
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = (await wiring.store.get<AlertItem>(keys.alert(String(record.eventID))))!;
  expect(alert.status).toBe('POSTED');
  return {
    alertId: alert.alertId,
    violationId: alert.violationIds[0]!,
    channel: alert.channel!,
    ts: alert.ts!,
    at,
  };
}

const critical = (team?: string) => raise({ fromPort: 0, toPort: 65535 }, team);
/** Port 22 to the world is high, which this config makes notify only. */
const notifyOnly = (team?: string) => raise({ fromPort: 22, toPort: 22 }, team);

const secondsAfter = (raised: Raised, seconds: number) => new Date(raised.at + seconds * 1000);
const runSweep = (now: Date) => sweep(wiring, dueHandlers(wiring), now);

function repliesTo(r: Raised): EmulatedMessage[] {
  return [...env.slack.messages.values()]
    .filter((m) => m.channel === r.channel && m.threadTs === r.ts)
    .sort((a, b) => Number(a.ts) - Number(b.ts));
}

/** Top-level messages in a channel, oldest first. */
function topLevel(channel: string): EmulatedMessage[] {
  return [...env.slack.messages.values()]
    .filter((m) => m.channel === channel && !m.threadTs)
    .sort((a, b) => Number(a.ts) - Number(b.ts));
}

const linkTo = (r: Raised) => `p${r.ts.replace('.', '')}`;
const textOf = (m: EmulatedMessage | undefined) => `${String(m?.text)} ${JSON.stringify(m?.blocks)}`;

/** Escalations of an alert anywhere in the workspace (top-level or not), by their link to it. */
function escalationsOf(r: Raised): EmulatedMessage[] {
  return [...env.slack.messages.values()].filter(
    (m) => m.text.includes('Critical alert still undecided') && JSON.stringify(m.blocks).includes(linkTo(r)),
  );
}

// First in the file: the lines count every undecided rule of their channel, so no other test's rules
// may be in these channels yet.
describe('the weekly undecided line with two routed channels', () => {
  it('gives each channel its own line, counting and linking only its own undecided rules', async () => {
    const pay1 = await notifyOnly('payments');
    const pay2 = await notifyOnly('payments');
    const data = await notifyOnly('data');
    expect([pay1.channel, pay2.channel, data.channel]).toEqual([PAYMENTS, PAYMENTS, DATA]);
    const weekly = (channel: string) =>
      topLevel(channel).filter((m) => m.text.includes('still undecided in this channel'));

    // Overlapping sweeps in the same week, then one a day later: one line per channel.
    const week = secondsAfter(data, 7 * 86400 + 5);
    await Promise.all([runSweep(week), runSweep(week)]);
    await runSweep(secondsAfter(data, 8 * 86400));

    expect(weekly(PAYMENTS)).toHaveLength(1);
    const payLine = textOf(weekly(PAYMENTS)[0]);
    expect(weekly(PAYMENTS)[0]!.text).toBe('2 rules still undecided in this channel');
    expect(payLine).toContain(linkTo(pay1));
    expect(payLine.indexOf(linkTo(pay2))).toBeGreaterThan(payLine.indexOf(linkTo(pay1)));
    expect(payLine).not.toContain(linkTo(data));

    expect(weekly(DATA)).toHaveLength(1);
    const dataLine = textOf(weekly(DATA)[0]);
    expect(weekly(DATA)[0]!.text).toBe('1 rule still undecided in this channel');
    expect(dataLine).toContain(linkTo(data));
    expect(dataLine).not.toContain(linkTo(pay1));
    expect(dataLine).not.toContain(linkTo(pay2));

    // Nothing undecided in the alert channel: no line there.
    expect(weekly(ALERT_CHANNEL)).toHaveLength(0);
  });
});

describe('reminders on a route with its own approvers', () => {
  it('mentions the route’s approvers, not decisions.approvers, in the routed alert’s thread', async () => {
    const r = await critical('payments');
    expect(r.channel).toBe(PAYMENTS);
    await runSweep(secondsAfter(r, 62));
    const replies = repliesTo(r);
    expect(replies).toHaveLength(1);
    const text = textOf(replies[0]);
    expect(text).toContain('auto-revoke in 4 minutes unless someone keeps it');
    expect(text).toContain('<!subteam^S0PAYAPPROVERS>');
    expect(text).toContain(`<@${PAY_LEAD}>`);
    expect(text).not.toContain('<!subteam^S0APPROVERS>');
    expect(text).not.toContain(`<@${APPROVER.id}>`);
    const audit = (await wiring.store.auditFor(r.violationId)).filter((e) => e.action === 'remind');
    expect(audit).toEqual([
      expect.objectContaining({
        result: 'ok',
        details: expect.objectContaining({
          channel: PAYMENTS,
          threadTs: r.ts,
          mentioned: { users: [PAY_LEAD], userGroups: ['S0PAYAPPROVERS'] },
        }),
      }),
    ]);
  });

  it('mentions decisions.approvers on a route that names none', async () => {
    const r = await critical('data');
    expect(r.channel).toBe(DATA);
    await runSweep(secondsAfter(r, 62));
    const replies = repliesTo(r);
    expect(replies).toHaveLength(1);
    const text = textOf(replies[0]);
    expect(text).toContain('<!subteam^S0APPROVERS>');
    expect(text).toContain(`<@${APPROVER.id}>`);
    expect(text).not.toContain('S0PAYAPPROVERS');
  });
});

describe('escalation with only decisions.escalation.userGroup', () => {
  it('mentions on call in the alert’s own channel, linked to the alert, exactly once under overlapping sweeps', async () => {
    const r = await critical();
    expect(r.channel).toBe(ALERT_CHANNEL);
    const now = secondsAfter(r, 62);
    await Promise.all([runSweep(now), runSweep(now), runSweep(now), runSweep(now)]);
    await Promise.all([runSweep(secondsAfter(r, 63)), runSweep(secondsAfter(r, 63))]);
    await runSweep(secondsAfter(r, 200));

    const escalations = escalationsOf(r);
    expect(escalations).toHaveLength(1);
    // A top-level post in the alert's channel (not in its thread, not anywhere else).
    expect(escalations[0]).toMatchObject({ channel: ALERT_CHANNEL });
    expect(escalations[0]!.threadTs).toBeUndefined();
    const text = textOf(escalations[0]);
    expect(text).toContain('<!subteam^S0ONCALL>');
    expect(text).toContain(`https://emulated.slack/archives/${ALERT_CHANNEL}/${linkTo(r)}`);
    expect(repliesTo(r)).toHaveLength(1);

    const audit = await wiring.store.auditFor(r.violationId);
    expect(audit.filter((e) => e.action === 'remind')).toHaveLength(1);
    expect(audit.filter((e) => e.action === 'escalate')).toEqual([
      expect.objectContaining({
        result: 'ok',
        details: expect.objectContaining({
          channel: ALERT_CHANNEL,
          alertChannel: ALERT_CHANNEL,
          alertTs: r.ts,
          userGroup: 'S0ONCALL',
          link: expect.stringContaining(linkTo(r)),
        }),
      }),
    ]);
  });

  it('escalates a routed critical alert in the route’s channel, where its alert is', async () => {
    const r = await critical('payments');
    await Promise.all([runSweep(secondsAfter(r, 62)), runSweep(secondsAfter(r, 62))]);
    const escalations = escalationsOf(r);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ channel: PAYMENTS });
    expect(escalations[0]!.threadTs).toBeUndefined();
    expect(textOf(escalations[0])).toContain('<!subteam^S0ONCALL>');
  });
});
