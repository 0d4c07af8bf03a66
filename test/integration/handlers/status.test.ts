import type { EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import type { RunItem } from '../../../services/runs/items';
import { ruleFingerprint } from '../../../services/shared/ids';
import type { RuleFacts } from '../../../services/shared/model';
import type { ExceptionItem } from '../../../services/violations/items';
import { authorize, createGroup } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { grantIdIn } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { APPROVER, ENGINEER } from '../../support/slack-requests';
import { type HttpHandler, type SlackExchange, slash } from '../../support/slash';

type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

let env: HandlerEnv;
let slackHttp: HttpHandler;
let wiring: Wiring;
let web: string;
let other: string;
let sshRule: string;
let httpsRule: string;
let rdpRule: string;
let grantId: string;
let violationId: string;

function status(text: string): Promise<SlackExchange> {
  return slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-status', text);
}

function worldRule(groupId: string, ruleId: string, port: number): RuleFacts {
  return {
    groupId,
    ruleId,
    direction: 'ingress',
    protocol: 'tcp',
    fromPort: port,
    toPort: port,
    source: '0.0.0.0/0',
    sourceKind: 'ipv4',
    description: null,
  };
}

function exceptionItem(rule: RuleFacts, n: number, expiresInHours: number | null): ExceptionItem {
  const fingerprint = ruleFingerprint(ACCOUNT, REGION, rule);
  const now = new Date();
  return {
    pk: `EXCEPTION#${fingerprint}`,
    sk: 'EXCEPTION',
    type: 'exception',
    status: 'ACTIVE',
    version: 1,
    fingerprint,
    violationId: `v-kept${String(n).padStart(6, '0')}`,
    rule,
    region: REGION,
    account: ACCOUNT,
    severity: 'high',
    justification: 'vendor support session',
    approvedBy: APPROVER.id,
    approvedByName: APPROVER.name,
    createdAt: new Date(now.getTime() - n * 1000).toISOString(),
    expiresAt:
      expiresInHours === null ? null : new Date(now.getTime() + expiresInHours * 3600_000).toISOString(),
  };
}

function blocksOf(exchange: SlackExchange): { type: string; text?: { text: string } }[] {
  const reply = exchange.replies.at(-1) ?? exchange.ack;
  return (reply?.blocks ?? []) as { type: string; text?: { text: string } }[];
}

beforeAll(async () => {
  [web, other] = await Promise.all([
    createGroup(REGION).then((g) => g.groupId),
    createGroup(REGION).then((g) => g.groupId),
  ]);
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  # A group nothing uses keeps its severity here: these tests are about other things (exposure has its own).
  exposure: { unattached: keep }
whitelist:
  targets:
    web:
      groupId: ${web}
      region: ${REGION}
      ports: [22]
      allowed: { users: [${ENGINEER.id}] }
`),
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  const { handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  };
  wiring = (await import('../../../handlers/wiring')).getWiring();

  // A pending violation with its alert message: world-open SSH, through the real detection path.
  sshRule = (
    await authorize(REGION, web, {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    })
  )[0]!;
  await cloudtrail(
    eventBridgeEvent(
      authorizeIngressRecord({
        groupId: web,
        rules: [{ ruleId: sshRule!, fromPort: 22, cidr: '0.0.0.0/0' }],
      }),
    ) as unknown as EventBridgeEvent<string, unknown>,
  );
  const [alert] = env.slack.callsTo('chat.postMessage');
  violationId = /v-[0-9a-f]{12}/.exec(JSON.stringify(alert!.args.blocks))![0];
  // An allowed rule (HTTPS from anywhere) and a kept one (RDP, kept by an approver).
  httpsRule = (
    await authorize(REGION, web, {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    })
  )[0]!;
  rdpRule = (
    await authorize(REGION, web, {
      IpProtocol: 'tcp',
      FromPort: 3389,
      ToPort: 3389,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    })
  )[0]!;
  await wiring.store.createAll([exceptionItem(worldRule(web, rdpRule!, 3389), 0, 24) as never], []);
  // A grant, through /sg-whitelist.
  const granted = await slash(
    env,
    slackHttp,
    () => wiring.drainJobs!(),
    '/sg-whitelist',
    'web 192.0.2.44 for 2h',
  );
  grantId = grantIdIn(granted.said);
  // An SSM run in flight.
  const run: Partial<RunItem> = {
    pk: 'RUN#r-status0001',
    sk: 'RUN',
    type: 'run',
    status: 'RUNNING',
    version: 1,
    runId: 'r-status0001',
    runbook: 'restart-web',
    target: 'web-fleet',
    region: REGION,
    instanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'],
    requestedBy: ENGINEER.id,
    requestedByName: ENGINEER.name,
    createdAt: new Date().toISOString(),
    sentAt: new Date().toISOString(),
  };
  await wiring.store.createAll([run as never], []);
});

afterAll(() => env.stop());

describe('/sg-status', () => {
  it('shows open violations with time left and a link to their message, kept rules, grants and runs in flight', async () => {
    const answer = await status('');

    expect(answer.ack).toBeNull();
    expect(answer.replies).toHaveLength(1);
    expect(answer.replies[0]).toMatchObject({ response_type: 'ephemeral' });
    const text = answer.said;
    expect(text).toContain('Open violations (1)');
    expect(text).toContain(violationId);
    expect(text).toMatch(/auto-revoke <!date\^\d+\^[^>]+> \((1[45]m|14m) left\)/);
    expect(text).toMatch(new RegExp(`<https://emulated\\.slack/archives/${ALERT_CHANNEL}/p\\d+\\|message>`));
    expect(text).toContain('Kept rules (1)');
    expect(text).toContain('ingress TCP 3389 (RDP) from 0.0.0.0/0');
    expect(text).toContain(`kept by <@${APPROVER.id}> until`);
    expect(text).toContain('Temporary access (1)');
    expect(text).toContain(grantId);
    expect(text).toContain(`<@${ENGINEER.id}>`);
    expect(text).toContain('192.0.2.44/32');
    expect(text).toContain('SSM runs in flight (1)');
    expect(text).toContain('r-status0001');
    expect(env.slack.callsTo('chat.getPermalink')).toHaveLength(1);
  });

  it("marks each of a group's live rules ok, violation, kept or granted", async () => {
    const byAlias = await status('web');
    const byId = await status(web);

    for (const answer of [byAlias, byId]) {
      const text = answer.said;
      expect(text).toContain(`${web} (`);
      expect(text).toMatch(/5 rules: 1 violation, 1 granted, 1 kept, 2 ok/);
      const lines = blocksOf(answer)
        .map((b) => b.text?.text ?? '')
        .find((t) => t.startsWith('*Rules'))!
        .split('\n');
      const markOf = (ruleId: string) => lines[lines.findIndex((l) => l.includes(ruleId)) + 1] ?? '';
      expect(markOf(sshRule)).toMatch(/violation \(high\).*open: `v-/);
      expect(markOf(httpsRule)).toContain(':white_check_mark: ok');
      expect(markOf(rdpRule)).toContain(':shield: kept until');
      expect(text).toMatch(new RegExp(`:key: granted to <@${ENGINEER.id}> until .*${grantId}`));
    }
  });

  it('looks up a group no target names in the region given, and says when it does not exist', async () => {
    const found = await status(`${other} ${REGION}`);
    expect(found.said).toContain(`${other} (`);
    expect(found.said).toMatch(/1 rule: 0 violations, 0 granted, 0 kept, 1 ok/);

    const missing = await status('sg-0123456789abcdef9');
    expect(missing.said).toContain('does not exist in us-east-1');
  });

  it('shows the latest decisions, and one item’s full history', async () => {
    const latest = await status('audit');
    expect(latest.said).toContain('Latest decisions');
    expect(latest.said).toContain(grantId);
    expect(latest.said).toContain(violationId);

    const history = await status(`audit ${grantId}`);
    expect(history.said).toContain(`History of ${grantId}`);
    const text = history.said;
    expect(text.indexOf('*request*')).toBeGreaterThan(-1);
    expect(text.indexOf('*request*')).toBeLessThan(text.indexOf('*grant*'));

    const nothing = await status('audit v-000000000000');
    expect(nothing.said).toContain('No audit entries for v-000000000000');
  });

  it('answers anything it does not understand with the help text, at once', async () => {
    for (const text of ['help', 'frobnicate', 'audit one two', `${web} not-a-region`]) {
      const answer = await status(text);
      expect(answer.ack?.text).toContain('/sg-status audit');
      expect(answer.replies).toHaveLength(0);
    }
  });

  it("stays within Slack's limits and says how many more there are", async () => {
    const many = Array.from({ length: 45 }, (_, i) =>
      exceptionItem(worldRule(other, `sgr-0000000000000${String(i).padStart(4, '0')}`, 10000 + i), i + 1, 48),
    );
    for (let i = 0; i < many.length; i += 20)
      await wiring.store.createAll(many.slice(i, i + 20) as never[], []);

    const answer = await status('');

    const blocks = blocksOf(answer);
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const b of blocks) expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    expect(answer.said).toContain('Kept rules (46)');
    expect(answer.said).toMatch(/…and 3\d more\. `\/sg-status <sg-id>` shows one group\./);
  });
});
