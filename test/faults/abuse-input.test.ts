import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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
  REGION,
  raise,
  startFaultSuite,
  submitKeep,
  sweepAt,
  tableState,
} from '../support/fault-harness';
import { rulesOf } from '../support/grants';
import { ALERT_CHANNEL, baseConfig } from '../support/handler-env';
import { launchInstances } from '../support/instances';
import { APPROVER, ENGINEER } from '../support/slack-requests';

// Hostile text in everything sg-warden echoes (security-group names and rule descriptions from EC2,
// principals and user agents from CloudTrail, justifications, slash-command input, command output),
// shell metacharacters in /sg-run values, and addresses /sg-whitelist must never grant.

/** Mentions, links and formatting someone might smuggle into a message. */
const HOSTILE =
  '<!channel> <!here|here> <https://evil.example/login|click here> <@U0HOSTILE> <#C0HOSTILE> *bold* _it_ `x` &amp;';

/**
 * A live Slack token from the hostile text: a special mention, a user or channel link, a URL link
 * (sg-warden's own tokens, such as dates and mentions of the people who acted, are fine).
 */
const LIVE = /<(?:!(?!date\^)[^>]*|@U0HOSTILE[^>]*|#C0HOSTILE[^>]*|https?:\/\/evil[^>]*)>/;

/**
 * The parts of Slack payloads that Slack reads as mrkdwn: top-level `text` (also the notification
 * fallback) and every mrkdwn text object. plain_text objects are shown literally and are left out.
 */
function mrkdwnOf(value: unknown, top = true): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => mrkdwnOf(v, false));
  if (!value || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  if (record.type === 'plain_text') return [];
  const own = (top || record.type === 'mrkdwn') && typeof record.text === 'string' ? [record.text] : [];
  const rest = Object.entries(record).filter(([key, v]) => !(key === 'text' && typeof v === 'string'));
  return [...own, ...rest.flatMap(([, v]) => mrkdwnOf(v, false))];
}

let suite: FaultSuite;
let ssm: SsmEmulator;
let bastion: string;
let web: string;

beforeAll(async () => {
  ({ groupId: bastion } = await createGroup(REGION));
  const role = `inject-${Date.now()}`;
  [web] = (await launchInstances(REGION, { Role: role, Name: 'web-1' })) as [string];
  suite = await startFaultSuite({
    config: baseConfig(`decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { users: [${APPROVER.id}] }
  keepDurations: [1h, 1d]
whitelist:
  targets:
    bastion: { groupId: ${bastion}, region: ${REGION}, ports: [22], allowed: { users: [${ENGINEER.id}] } }
runbooks:
  targets:
    web: { region: ${REGION}, tags: { Role: ${role} } }
  items:
    restart-service:
      region: ${REGION}
      targets: [web]
      allowed: { users: [${ENGINEER.id}] }
      commands: ['printf "restarting %s\\n" {{ service }}']
      parameters:
        - { name: service, pattern: '^[a-z][a-z0-9@._-]{0,63}$' }
    grep-logs:
      region: ${REGION}
      targets: [web]
      allowed: { users: [${ENGINEER.id}] }
      commands: ['printf "searching for [%s]\\n" {{ phrase }}']
      parameters:
        - { name: phrase, pattern: '^.{1,200}$', allowShellMetacharacters: true }
`),
  });
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  ssm.setInstance(web, 'online');
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SSM;
  await ssm.stop();
  await suite.stop();
});

/** The mrkdwn of every message, dialog and reply sg-warden sent to Slack since `from` (calls index). */
function sentSince(from: number): string {
  return suite.env.slack.calls
    .slice(from)
    .flatMap((c) => [...mrkdwnOf(c.args), ...mrkdwnOf(c.args.view ?? null, false)])
    .join('\n');
}

/** The mrkdwn of a door exchange: its ack and what was posted to its response_url. */
function saidOf(exchange: DoorExchange): string {
  const body = exchange.result.body ?? '';
  const ack = body.startsWith('{') ? (JSON.parse(body) as unknown) : {};
  return [...mrkdwnOf(ack), ...exchange.replies().flatMap((r) => mrkdwnOf(r))].join('\n');
}

function expectInert(text: string): void {
  expect(text).not.toMatch(LIVE);
}

describe('mrkdwn injection in what AWS says', () => {
  it('a group name, a rule description, a principal and a user agent are shown escaped everywhere', async () => {
    const from = suite.env.slack.calls.length;
    const r = await raise(suite, {
      ports: [22],
      groupName: `web ${HOSTILE}`.slice(0, 200),
      description: HOSTILE,
      deliver: false,
    });
    const identity = r.record.userIdentity as Record<string, unknown>;
    identity.arn = 'arn:aws:sts::123456789012:assumed-role/Admin/<!here>';
    r.record.userAgent = `curl <!everyone> ${HOSTILE}`;
    await suite.cloudtrail({
      version: '0',
      id: 'x',
      'detail-type': 'AWS API Call via CloudTrail',
      source: 'aws.ec2',
      account: '123456789012',
      time: new Date().toISOString(),
      region: REGION,
      resources: [],
      detail: r.record,
    });
    const alert = await alertOf(suite, r.alertId);
    expect(alert).toMatchObject({ status: 'POSTED' });
    const post = suite.env.slack
      .callsTo('chat.postMessage')
      .find((c) => c.args.ts === undefined && JSON.stringify(c.args).includes(r.groupId))!;
    const posted = JSON.stringify(post.args);
    expect(posted).toContain('&lt;!channel&gt;');
    expect(posted).toContain('&lt;https://evil.example/login|click here&gt;');
    expectInert(mrkdwnOf(post.args).join('\n'));
    expectInert(String(post.args.text));

    // The Keep dialog, /sg-status (overview and the group) and the revoked message show it inert too.
    await press(suite, 'violation_keep', alert!.violationIds[0]!, {
      user: APPROVER,
      messageTs: alert!.ts!,
      triggerId: `${Date.now()}.k`,
    });
    await command(suite, '/sg-status', '');
    await command(suite, '/sg-status', r.groupId);
    await drain(suite);
    await press(suite, 'violation_revoke', alert!.violationIds[0]!, { messageTs: alert!.ts! });
    await drain(suite);
    const everything = [
      sentSince(from),
      ...suite.env.slack.responseUrlPosts.flatMap((p) => mrkdwnOf(p.body)),
    ].join('\n');
    expect(everything).toContain('Revoked');
    expectInert(everything);
  });

  it('a justification is recorded as typed and shown escaped', async () => {
    const r = await raise(suite, { ports: [3389] });
    const alert = await alertOf(suite, r.alertId);
    const from = suite.env.slack.calls.length;
    const metadata = JSON.stringify({
      violationIds: [r.violationIds[0]],
      channel: ALERT_CHANNEL,
      ts: alert!.ts,
    });
    await submitKeep(suite, {
      metadata,
      justification: `vendor test ${HOSTILE}`,
      duration: '3600',
      user: APPROVER,
    });
    await drain(suite);
    const update = suite.env.slack
      .callsTo('chat.update')
      .filter((c) => c.args.ts === alert!.ts)
      .at(-1)!;
    expect(JSON.stringify(update.args.blocks)).toContain('&lt;!channel&gt;');
    expectInert(sentSince(from));
    const kept = (await suite.wiring.store.auditFor(r.violationIds[0]!)).at(-1)!;
    expect(kept.justification).toBe(`vendor test ${HOSTILE}`);
  });
});

describe('mrkdwn injection in what people type', () => {
  it.each([
    ['/sg-whitelist', `${'<!channel>'} 203.0.113.5`],
    ['/sg-whitelist', 'bastion <https://evil.example|203.0.113.5>'],
    ['/sg-whitelist', 'bastion 203.0.113.5 22 for <!here>'],
    ['/sg-whitelist', 'extend g-abcdefghij <!channel>'],
    ['/sg-whitelist', '<@U0HOSTILE> <#C0HOSTILE>'],
    ['/sg-status', '<!here>'],
    ['/sg-status', 'audit <!channel>'],
    ['/sg-run', '<!channel> web'],
    ['/sg-run', 'restart-service web service=<!channel>'],
    ['/sg-run', 'restart-service <https://evil.example|web> service=nginx'],
    ['/sg-run', 'status <!channel>'],
  ])('%s %s: answered, nothing live echoed', async (name, text) => {
    const from = suite.env.slack.calls.length;
    const exchange = await command(suite, name, text);
    await drain(suite);
    const said = saidOf(exchange);
    expect(said.trim().length).toBeGreaterThan(0);
    expectInert(said);
    expectInert(sentSince(from));
  });

  it('command output is shown escaped in the run’s thread', async () => {
    ssm.script(web, [{ status: 'Success', exitCode: 0, stdout: `all good ${HOSTILE}\n` }]);
    const exchange = await command(suite, '/sg-run', 'restart-service web service=nginx', {
      channel: 'C0OPS',
    });
    await drain(suite);
    expect(exchange.said()).toContain('was sent');
    const from = suite.env.slack.calls.length;
    for (let i = 1; i <= 3; i++) await sweepAt(suite, new Date(Date.now() + i * 60_000));
    const thread = sentSince(from);
    expect(thread).toContain('all good');
    expect(thread).toContain('&lt;!channel&gt;');
    expectInert(thread);
  });
});

/** Refusals must leave the table (audit aside), the target group's rules and SSM alone. */
async function unchanged(): Promise<string> {
  const items = [...(await tableState(suite.env.tableName)).values()]
    .filter((i) => i.type !== 'marker')
    .map((i) => `${i.pk} ${i.status ?? ''} v${i.version ?? ''}`)
    .sort();
  const rules = (await rulesOf(bastion)).map((r) => r.SecurityGroupRuleId).sort();
  return [...items, ...rules, `ssm ${ssm.sent.length}`].join('\n');
}

async function refused(
  act: () => Promise<DoorExchange>,
): Promise<{ said: string; audit: StoredAuditEntry[] }> {
  const before = await unchanged();
  const auditBefore = await allAudit(suite.env.tableName);
  const exchange = await act();
  await drain(suite);
  expect(await unchanged()).toBe(before);
  const audit = addedAudit(auditBefore, await allAudit(suite.env.tableName));
  expect(exchange.result.statusCode).toBe(200);
  return { said: saidOf(exchange), audit };
}

describe('shell metacharacters in /sg-run values', () => {
  it.each([
    'nginx;id',
    'nginx && id',
    'nginx|sh',
    '$(id)',
    '`id`',
    'nginx>/etc/passwd',
    "nginx' ; id ; '",
    'nginx\nid',
    '../../bin/sh',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${IFS}, on purpose
    'nginx${IFS}id',
  ])('service=%j is refused before anything is sent, and audited', async (value) => {
    const quoted = value.includes(' ') || value.includes('\n') ? `"${value.replaceAll('"', '\\"')}"` : value;
    const { said, audit } = await refused(() =>
      command(suite, '/sg-run', `restart-service web service=${quoted}`),
    );
    expect(said).toMatch(/refused|not|cannot|invalid|did not understand/i);
    expectInert(said);
    const entries = audit.filter((a) => a.result === 'refused' && a.actorId === ENGINEER.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.subjectType).toBe('run');
  });

  it('a value allowed to hold metacharacters stays one quoted argument when the shell runs it', async () => {
    ssm.script(web, [{ status: 'Success', execute: true }]);
    const phrase = "x'; touch pwned; echo '$(touch pwned2)`touch pwned3`";
    const exchange = await command(suite, '/sg-run', `grep-logs web phrase="${phrase}"`);
    await drain(suite);
    expect(exchange.said()).toContain('was sent');
    const sent = ssm.sent.at(-1)!;
    for (let i = 1; i <= 3; i++) await sweepAt(suite, new Date(Date.now() + i * 60_000));
    expect(sent.workDir).toBeDefined();
    expect(existsSync(sent.workDir!)).toBe(true);
    expect(readdirSync(sent.workDir!)).toEqual([]);
    for (const file of ['pwned', 'pwned2', 'pwned3'])
      expect(existsSync(join(sent.workDir!, file))).toBe(false);
    const thread = JSON.stringify(
      suite.env.slack
        .callsTo('chat.postMessage')
        .slice(-3)
        .map((c) => c.args),
    );
    expect(thread).toContain('searching for [x');
  });
});

describe('/sg-whitelist refuses wide ranges and special addresses', () => {
  it.each([
    ['the whole internet', '0.0.0.0/0'],
    ['a private /8', '10.0.0.0/8'],
    ['a /24', '203.0.113.0/24'],
    ['two hosts', '203.0.113.4/31'],
    ['all of IPv6', '::/0'],
    ['a /64', '2001:db8:1::/64'],
    ['the unspecified address', '0.0.0.0'],
    ['loopback', '127.0.0.1'],
    ['IPv6 loopback', '::1'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['the metadata service', '169.254.169.254'],
    ['link-local IPv6 with a zone', 'fe80::1%eth0'],
    ['multicast', '224.0.0.251'],
    ['broadcast', '255.255.255.255'],
    ['reserved', '240.0.0.1'],
    ['a short form', '127.1'],
    ['octal-looking', '010.0.0.1'],
    ['hex', '0x7f.0.0.1'],
    ['a host name', 'bastion.example.com'],
    ['an address with a command', '203.0.113.5;id'],
  ])('%s (%s): refused with the reason, no rule added, audited', async (_name, address) => {
    const { said, audit } = await refused(() => command(suite, '/sg-whitelist', `bastion ${address}`));
    expect(said).toMatch(
      /not an IPv4 or IPv6 address|one address at a time|not a host|never reaches AWS|no real client|only exists on one|link-local|whole internet|Give the public address/,
    );
    expectInert(said);
    const entries = audit.filter((a) => a.result === 'refused' && a.actorId === ENGINEER.id);
    expect(entries).toHaveLength(1);
  });

  it('a single public address is granted (the same path, for contrast)', async () => {
    const before = (await rulesOf(bastion)).length;
    const exchange = await command(suite, '/sg-whitelist', 'bastion 203.0.113.77');
    await drain(suite);
    expect(exchange.said()).toMatch(/g-[a-z0-9]{10}/);
    const rules = await rulesOf(bastion);
    expect(rules).toHaveLength(before + 1);
    expect(rules.some((r) => r.CidrIpv4 === '203.0.113.77/32')).toBe(true);
  });
});
