import type { EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import { authorize, createGroup } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { grantIdIn } from '../../support/grants';
import {
  ALERT_CHANNEL,
  BOT_TOKEN,
  baseConfig,
  type HandlerEnv,
  startHandlerEnv,
} from '../../support/handler-env';
import { APPROVER, ENGINEER, OUTSIDER, type SlackUser } from '../../support/slack-requests';
import { type HttpHandler, type SlackExchange, slash } from '../../support/slash';

// #12.5 and #19 case 6, "who may read": /sg-status shows rules, grants (owner and address) and runs only
// to status.readers (by default the alert channel's members, read through conversations.members, plus
// revokers and approvers); the audit trail only to revokers and approvers, and one item's history also
// to the people named in it. Everyone else gets one sentence saying who may.
type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';

let env: HandlerEnv;
let slackHttp: HttpHandler;
let wiring: Wiring;
let web: string;
let violationId: string;
let grantId: string;
let outsiderGrantId: string;

function status(text: string, user: SlackUser): Promise<SlackExchange> {
  return slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-status', text, user);
}

/** The refused reads the audit trail holds for a person. */
async function refusedReads(user: SlackUser): Promise<StoredAuditEntry[]> {
  return (await wiring.store.auditFor(user.id)).filter(
    (e) => e.action === 'status-read' && e.result === 'refused',
  );
}

const STATUS_SENTENCE =
  "Only members of the alert channel and sg-warden's revokers and approvers may see sg-warden's status, so nothing is shown. (NOT_A_STATUS_READER)";
const AUDIT_SENTENCE =
  "Only sg-warden's revokers and approvers may read the audit trail; one item's history also its owner, requester and decider. (NOT_AN_AUDIT_READER)";

beforeAll(async () => {
  ({ groupId: web } = await createGroup(REGION));
  env = await startHandlerEnv({
    config: baseConfig(`decisions:
  revokers: { users: [${APPROVER.id}] }
  approvers: { users: [${APPROVER.id}] }
whitelist:
  targets:
    web:
      groupId: ${web}
      region: ${REGION}
      ports: [22]
      allowed: { users: [${ENGINEER.id}, ${OUTSIDER.id}] }
`),
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  const { handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  };
  wiring = (await import('../../../handlers/wiring')).getWiring();

  const [sshRule] = await authorize(REGION, web, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  await cloudtrail(
    eventBridgeEvent(
      authorizeIngressRecord({
        groupId: web,
        rules: [{ ruleId: sshRule!, fromPort: 22, cidr: '0.0.0.0/0' }],
      }),
    ) as unknown as EventBridgeEvent<string, unknown>,
  );
  violationId = /v-[0-9a-f]{12}/.exec(
    JSON.stringify(env.slack.callsTo('chat.postMessage')[0]!.args.blocks),
  )![0];
  const whitelist = (text: string, user: SlackUser) =>
    slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-whitelist', text, user);
  grantId = grantIdIn((await whitelist('web 192.0.2.44 for 2h', ENGINEER)).said);
  outsiderGrantId = grantIdIn((await whitelist('web 192.0.2.45 for 2h', OUTSIDER)).said);
});

afterAll(() => env.stop());

describe('/sg-status: who may read', () => {
  it.each([
    ['the overview', ''],
    ['a group by target', 'web'],
    ['a group by ID', '<group>'],
    ['a group by ID and region', `<group> ${REGION}`],
    ['the latest decisions', 'audit'],
    ['a violation’s history', 'audit <violation>'],
    ['a grant’s history', 'audit <grant>'],
  ])(
    'case 6: someone outside the alert channel asking for %s gets one sentence saying who may, and nothing else',
    async (_form, form) => {
      const before = (await refusedReads(OUTSIDER)).length;
      const text = form
        .replace('<group>', web)
        .replace('<violation>', violationId)
        .replace('<grant>', grantId);

      const answer = await status(text, OUTSIDER);

      expect(answer.ack).toBeNull();
      expect(answer.replies).toHaveLength(1);
      expect(answer.replies[0]).toMatchObject({ response_type: 'ephemeral' });
      expect(answer.replies[0]!.text).toBe(
        `:no_entry_sign: ${form.startsWith('audit') ? AUDIT_SENTENCE : STATUS_SENTENCE}`,
      );
      for (const secret of [violationId, grantId, outsiderGrantId, '192.0.2.44', web]) {
        expect(answer.said).not.toContain(secret);
      }
      expect(await refusedReads(OUTSIDER)).toHaveLength(before + 1);
    },
  );

  it('case 6: a member of the alert channel sees the overview: rules, grants with owner and address', async () => {
    const answer = await status('', ENGINEER);

    expect(answer.said).toContain('Open violations (1)');
    expect(answer.said).toContain(violationId);
    expect(answer.said).toContain(grantId);
    expect(answer.said).toContain('192.0.2.44/32');
    expect(answer.said).toContain(`<@${ENGINEER.id}>`);
    expect(answer.said).not.toContain('NOT_A_STATUS_READER');
  });

  it('case 6: a member of the alert channel sees a group’s live rules', async () => {
    const answer = await status('web', ENGINEER);

    expect(answer.said).toMatch(/4 rules: 1 violation, 2 granted/);
  });

  it('#12.5: a channel member who is neither revoker nor approver is refused `audit`', async () => {
    const answer = await status('audit', ENGINEER);

    expect(answer.replies).toHaveLength(1);
    expect(answer.replies[0]!.text).toBe(`:no_entry_sign: ${AUDIT_SENTENCE}`);
    expect(answer.said).not.toContain(violationId);
    expect(answer.said).not.toContain(grantId);
  });

  it('#12.5: the grant’s owner sees `audit <grantId>`, and not another item’s history', async () => {
    const own = await status(`audit ${grantId}`, ENGINEER);
    expect(own.said).toContain(`History of ${grantId}`);
    expect(own.said).toContain('*request*');

    const other = await status(`audit ${violationId}`, ENGINEER);
    expect(other.replies[0]!.text).toBe(`:no_entry_sign: ${AUDIT_SENTENCE}`);
  });

  it('#12.5: someone outside the channel reads their own grant’s history, and nothing else', async () => {
    const own = await status(`audit ${outsiderGrantId}`, OUTSIDER);
    expect(own.said).toContain(`History of ${outsiderGrantId}`);

    const overview = await status('', OUTSIDER);
    expect(overview.replies[0]!.text).toBe(`:no_entry_sign: ${STATUS_SENTENCE}`);
  });

  it('#12.5: an approver reads the latest decisions (refused reads are not decisions) and any item’s history', async () => {
    const latest = await status('audit', APPROVER);
    expect(latest.said).toContain('Latest decisions');
    expect(latest.said).toContain(violationId);

    const history = await status(`audit ${violationId}`, APPROVER);
    expect(history.said).toContain(`History of ${violationId}`);
  });

  it('case 6: the alert channel’s members are read from Slack with the bot token, once for many reads', async () => {
    await status('', ENGINEER);
    await status('', OUTSIDER);

    const calls = env.slack.callsTo('conversations.members');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args.channel).toBe(ALERT_CHANNEL);
    expect(calls[0]!.token).toBe(BOT_TOKEN);
  });
});
