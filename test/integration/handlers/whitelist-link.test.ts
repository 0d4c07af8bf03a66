import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import type { GrantItem, LinkItem } from '../../../services/grants/items';
import { tokenHash } from '../../../services/grants/links';
import { createGroup, documentClient } from '../../support/aws';
import { auditOf, getItem, rulesFrom, rulesOf } from '../../support/grants';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { APPROVER, ENGINEER, OUTSIDER } from '../../support/slack-requests';
import { type HttpHandler, press, slash } from '../../support/slash';

type IpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const REGION = 'us-east-1';
const PUBLIC_URL = 'https://sg-warden.example.test';
const ASKED_FROM = 'C0ENGCHAT';

let env: HandlerEnv;
let slackHttp: HttpHandler;
let ipCapture: IpHandler;
let wiring: Wiring;
let bastion: string;
let hostCounter = 100;

function nextHost(): string {
  hostCounter += 1;
  return `203.0.113.${hostCounter}`;
}

beforeAll(async () => {
  bastion = (await createGroup(REGION)).groupId;
  env = await startHandlerEnv({
    config: baseConfig(`whitelist:
  targets:
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22]
      defaultDuration: 1h
      maxDuration: 4h
      allowed: { users: [${ENGINEER.id}, ${APPROVER.id}] }
`),
  });
  process.env.SG_WARDEN_PUBLIC_URL = PUBLIC_URL;
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: ipCapture } = await import('../../../handlers/ip-capture'));
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  delete process.env.SG_WARDEN_PUBLIC_URL;
  await env.stop();
});

beforeEach(() => env.slack.reset());

/**
 * A request to the link endpoint as API Gateway's HTTP API hands it to Lambda. A POST's form carries the
 * token and, as the page's form does, the address the page showed (the source address unless `address`
 * says otherwise; null leaves it out).
 */
function ipEvent(
  method: string,
  token: string,
  sourceIp: string,
  body?: { token?: string; address?: string | null; base64?: boolean },
): APIGatewayProxyEventV2 {
  const address = body?.address === undefined ? sourceIp : body.address;
  const form =
    body?.token === undefined
      ? ''
      : new URLSearchParams({ token: body.token, ...(address === null ? {} : { address }) }).toString();
  return {
    version: '2.0',
    routeKey: `${method} /ip/{token}`,
    rawPath: `/ip/${token}`,
    rawQueryString: '',
    headers: {
      'user-agent': 'Mozilla/5.0',
      ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    pathParameters: { token },
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'sg-warden.example.test',
      domainPrefix: 'sg-warden',
      http: { method, path: `/ip/${token}`, protocol: 'HTTP/1.1', sourceIp, userAgent: 'Mozilla/5.0' },
      requestId: randomUUID(),
      routeKey: `${method} /ip/{token}`,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    ...(method === 'POST'
      ? { body: body?.base64 ? Buffer.from(form).toString('base64') : form, isBase64Encoded: !!body?.base64 }
      : { isBase64Encoded: false }),
  };
}

async function askForLink(user = ENGINEER, text = 'bastion me for 30m'): Promise<string> {
  const answer = await slash(
    env,
    slackHttp,
    () => wiring.drainJobs!(),
    '/sg-whitelist',
    text,
    user,
    ASKED_FROM,
  );
  const match = new RegExp(`${PUBLIC_URL}/ip/([A-Za-z0-9_-]{43})`).exec(answer.said);
  if (!match) throw new Error(`no link in: ${answer.said}`);
  return match[1]!;
}

async function items<T>(type: string): Promise<T[]> {
  const out = await documentClient().send(
    new ScanCommand({
      TableName: env.tableName,
      FilterExpression: '#t = :t',
      ExpressionAttributeNames: { '#t': 'type' },
      ExpressionAttributeValues: { ':t': type },
    }),
  );
  return (out.Items ?? []) as T[];
}

async function grantsFrom(cidr: string): Promise<GrantItem[]> {
  return (await items<GrantItem>('grant')).filter((g) => g.cidr === cidr);
}

describe('/sg-whitelist … me: the one-time link', () => {
  it('answers ephemerally with a link to the bot and stores only the hash of its token', async () => {
    const token = await askForLink();
    const links = await items<LinkItem>('iplink');
    const link = links.find((l) => l.userId === ENGINEER.id && l.status === 'OPEN');
    expect(link).toBeDefined();
    expect(JSON.stringify(links)).not.toContain(token);
    expect(link!.pk).toMatch(/^IPLINK#[0-9a-f]{64}$/);
    const lifetime = new Date(link!.expiresAt).getTime() - new Date(link!.createdAt).getTime();
    expect(lifetime).toBe(5 * 60_000);
    expect(link!.expiresAtEpoch).toBeGreaterThan(Math.floor(Date.now() / 1000));
  });

  it('shows the address API Gateway sees on GET, and changes nothing', async () => {
    const token = await askForLink();
    const host = nextHost();
    const rulesBefore = await rulesOf(bastion);

    const page = await ipCapture(ipEvent('GET', token, host));
    const again = await ipCapture(ipEvent('GET', token, host));

    expect(page.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(page.body).toContain(host);
    expect(page.body).toContain('<form method="post">');
    expect(page.body).toContain(`name="token" value="${token}"`);
    expect(page.body).not.toMatch(/<script|src=|href=/i);
    expect(page.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
    expect(page.headers!['content-security-policy']).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'/,
    );
    expect(await rulesOf(bastion)).toEqual(rulesBefore);
    expect(await grantsFrom(`${host}/32`)).toEqual([]);
    const link = await getItem<LinkItem>(env.tableName, `IPLINK#${tokenHash(token)}`, 'IPLINK');
    expect(link).toMatchObject({ status: 'OPEN', version: 1 });
    expect(link!.sourceIp).toBeUndefined();
  });

  it('grants the address on POST for the user who asked, and tells them in the channel they asked from', async () => {
    const token = await askForLink();
    const host = nextHost();

    const page = await ipCapture(ipEvent('POST', token, host, { token }));

    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Access granted');
    const [grant] = await grantsFrom(`${host}/32`);
    expect(grant).toMatchObject({
      status: 'ACTIVE',
      userId: ENGINEER.id,
      via: 'link',
      channel: ASKED_FROM,
      ruleId: expect.stringMatching(/^sgr-/),
    });
    expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(1);
    const told = env.slack.callsTo('chat.postEphemeral');
    expect(told).toHaveLength(1);
    expect(told[0]!.args).toMatchObject({ channel: ASKED_FROM, user: ENGINEER.id });
    expect(String(told[0]!.args.text)).toContain(grant!.grantId);
    const audit = await auditOf(env.tableName, grant!.grantId);
    expect(audit.map((a) => a.action)).toEqual(['link-issued', 'link-used', 'request', 'grant']);
    expect(audit[1]!.details).toEqual({ sourceIp: host });
  });

  it('works once: a second POST (or GET) is refused and nothing more is added', async () => {
    const token = await askForLink();
    const host = nextHost();
    await ipCapture(ipEvent('POST', token, host, { token }));

    const second = await ipCapture(ipEvent('POST', token, nextHost(), { token }));
    const look = await ipCapture(ipEvent('GET', token, host));

    expect(second.statusCode).toBe(410);
    expect(second.body).toContain('already been used');
    expect(second.body).toContain(
      '<p>Each link works once. Ask for a new one in Slack with /sg-whitelist &lt;target&gt; me. (LINK_USED)</p>',
    );
    expect(look.statusCode).toBe(410);
    expect(await grantsFrom(`${host}/32`)).toHaveLength(1);
  });

  it('lets exactly one of two simultaneous confirmations win', async () => {
    const token = await askForLink();
    const [a, b] = [nextHost(), nextHost()];
    const pages = await Promise.all([
      ipCapture(ipEvent('POST', token, a, { token })),
      ipCapture(ipEvent('POST', token, b, { token, base64: true })),
    ]);
    expect(pages.map((p) => p.statusCode).sort()).toEqual([200, 410]);
    const granted = [...(await grantsFrom(`${a}/32`)), ...(await grantsFrom(`${b}/32`))];
    expect(granted).toHaveLength(1);
  });

  it('refuses an expired link with a clear page and grants nothing', async () => {
    const token = await askForLink();
    const host = nextHost();
    const realClock = wiring.clock;
    wiring.clock = () => new Date(Date.now() + 5 * 60_000 + 1000);
    try {
      const look = await ipCapture(ipEvent('GET', token, host));
      const confirm = await ipCapture(ipEvent('POST', token, host, { token }));
      expect(look.statusCode).toBe(410);
      expect(confirm.statusCode).toBe(410);
      expect(confirm.body).toContain('This link has expired');
    } finally {
      wiring.clock = realClock;
    }
    expect(await grantsFrom(`${host}/32`)).toEqual([]);
  });

  it('answers 404 for unknown or malformed tokens', async () => {
    const unknown = 'A'.repeat(43);
    for (const token of [unknown, 'short', '../../etc/passwd']) {
      const page = await ipCapture(ipEvent('GET', token, nextHost()));
      expect(page.statusCode).toBe(404);
      expect(page.body).toContain('This link is not valid');
    }
    expect((await ipCapture(ipEvent('POST', unknown, nextHost(), { token: unknown }))).statusCode).toBe(404);
  });

  it('refuses a POST whose form does not carry the token, and keeps the link usable', async () => {
    const token = await askForLink();
    const host = nextHost();
    expect((await ipCapture(ipEvent('POST', token, host))).statusCode).toBe(400);
    expect((await ipCapture(ipEvent('POST', token, host, { token: 'B'.repeat(43) }))).statusCode).toBe(400);
    expect(await grantsFrom(`${host}/32`)).toEqual([]);
    expect((await ipCapture(ipEvent('POST', token, host, { token }))).statusCode).toBe(200);
  });

  it('does not offer to grant an address that cannot be granted', async () => {
    const token = await askForLink();
    const page = await ipCapture(ipEvent('GET', token, '127.0.0.1'));
    expect(page.statusCode).toBe(422);
    expect(page.body).toContain('loopback');
    expect(page.body).not.toContain('<form');
    expect((await ipCapture(ipEvent('POST', token, '127.0.0.1', { token }))).statusCode).toBe(422);
  });

  it('escapes what it shows', async () => {
    const token = await askForLink({ id: ENGINEER.id, name: '<b onmouseover="x">erin</b>' });
    const page = await ipCapture(ipEvent('GET', token, nextHost()));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('&lt;b onmouseover=&quot;x&quot;&gt;erin&lt;/b&gt;');
    expect(page.body).not.toContain('<b ');
  });

  it('answers 405 to other methods', async () => {
    const token = await askForLink();
    const page = await ipCapture(ipEvent('PUT', token, nextHost()));
    expect(page.statusCode).toBe(405);
    expect(page.headers).toMatchObject({ allow: 'GET, POST' });
  });

  describe('bound to the person who asked', () => {
    it('grants to the asker whoever presses Confirm, and tells only the asker', async () => {
      const token = await askForLink(APPROVER);
      const host = nextHost();
      await ipCapture(ipEvent('POST', token, host, { token }));
      const [grant] = await grantsFrom(`${host}/32`);
      expect(grant).toMatchObject({ userId: APPROVER.id, userName: APPROVER.name });
      expect(env.slack.callsTo('chat.postEphemeral').map((c) => c.args.user)).toEqual([APPROVER.id]);
    });

    it('gives no link to someone the target does not allow', async () => {
      const answer = await slash(
        env,
        slackHttp,
        () => wiring.drainJobs!(),
        '/sg-whitelist',
        'bastion me',
        OUTSIDER,
        ASKED_FROM,
      );
      expect(answer.said).toContain('not on the list of people who may use the "bastion" target');
      expect(answer.said).not.toContain(PUBLIC_URL);
    });

    it('checks the permission again on Confirm', async () => {
      const token = await askForLink();
      const host = nextHost();
      const allowed = wiring.config.whitelist.targets.bastion!.allowed;
      const before = allowed.users;
      allowed.users = [APPROVER.id];
      try {
        const page = await ipCapture(ipEvent('POST', token, host, { token }));
        expect(page.statusCode).toBe(403);
        expect(page.body).toContain('Nothing was granted');
        expect(page.body).toMatch(/ \(NOT_AUTHORISED\)<\/p><\/body>/);
      } finally {
        allowed.users = before;
      }
      expect(await grantsFrom(`${host}/32`)).toEqual([]);
      expect(String(env.slack.callsTo('chat.postEphemeral')[0]?.args.text)).toContain('NOT_AUTHORISED');
    });

    it('falls back to a direct message when the ephemeral cannot be posted', async () => {
      const token = await askForLink();
      env.slack.failNext('chat.postEphemeral', { kind: 'error', error: 'channel_not_found' });
      await ipCapture(ipEvent('POST', token, nextHost(), { token }));
      const dms = env.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === ENGINEER.id);
      expect(dms).toHaveLength(1);
      expect(String(dms[0]!.args.text)).toContain('Granted');
    });
  });

  describe('case 8: a me link that names its address', () => {
    it('case 8: the page shows the address it will grant, carries it in the form, and says how long the link lives', async () => {
      const token = await askForLink();
      const host = nextHost();
      const page = await ipCapture(ipEvent('GET', token, host));
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain(`<p class="ip">${host}</p>`);
      expect(page.body).toContain(`<input type="hidden" name="address" value="${host}">`);
      expect(page.body).toContain(`Confirm: allow ${host}`);
      expect(page.body).toContain('The link works once, for 5 minutes: until ');
      expect(page.body).toContain(`only ${host} can confirm`);
    });

    it('case 8: the link lives minutes, not hours, and the answer in Slack says so', async () => {
      const answer = await slash(
        env,
        slackHttp,
        () => wiring.drainJobs!(),
        '/sg-whitelist',
        'bastion me',
        ENGINEER,
        ASKED_FROM,
      );
      expect(answer.said).toContain('within 5 minutes');
      expect(answer.said).toContain('(in 5 minutes)');
      const link = (await items<LinkItem>('iplink')).sort((a, b) =>
        b.createdAt.localeCompare(a.createdAt),
      )[0]!;
      expect(new Date(link.expiresAt).getTime() - new Date(link.createdAt).getTime()).toBeLessThanOrEqual(
        10 * 60_000,
      );
    });

    it('case 8: a confirmation from another address than the page showed is refused, audited, and the link still works', async () => {
      const token = await askForLink();
      const [shown, other] = [nextHost(), nextHost()];

      const elsewhere = await ipCapture(ipEvent('POST', token, other, { token, address: shown }));
      const noAddress = await ipCapture(ipEvent('POST', token, shown, { token, address: null }));

      expect(elsewhere.statusCode).toBe(409);
      expect(elsewhere.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8' });
      expect(elsewhere.body).toContain(
        `<p>The page showed ${shown}, but the confirmation came from ${other}. Nothing was granted; open the link again from the machine that needs access (the link still works until it expires). (ADDRESS_CHANGED)</p>`,
      );
      expect(noAddress.statusCode).toBe(400);
      expect(await grantsFrom(`${shown}/32`)).toEqual([]);
      expect(await grantsFrom(`${other}/32`)).toEqual([]);
      const link = await getItem<LinkItem>(env.tableName, `IPLINK#${tokenHash(token)}`, 'IPLINK');
      expect(link).toMatchObject({ status: 'OPEN', version: 1 });
      const audit = await auditOf(env.tableName, link!.grantId);
      expect(audit).toContainEqual(
        expect.objectContaining({
          action: 'link-confirm',
          result: 'refused',
          details: expect.objectContaining({ code: 'ADDRESS_CHANGED', sourceIp: other, shown }),
        }),
      );
      expect(env.slack.callsTo('chat.postEphemeral')).toHaveLength(0);

      const confirmed = await ipCapture(ipEvent('POST', token, shown, { token, address: shown }));
      expect(confirmed.statusCode).toBe(200);
      expect(await grantsFrom(`${shown}/32`)).toHaveLength(1);
    });

    it('case 8: after use the owner is told which address was granted, with Not me — revoke', async () => {
      const token = await askForLink();
      const host = nextHost();
      await ipCapture(ipEvent('POST', token, host, { token }));
      const [grant] = await grantsFrom(`${host}/32`);
      const told = env.slack.callsTo('chat.postEphemeral');
      expect(told).toHaveLength(1);
      expect(told[0]!.args).toMatchObject({ channel: ASKED_FROM, user: ENGINEER.id });
      expect(String(told[0]!.args.text)).toContain(`confirmed from ${host}`);
      const blocks = JSON.stringify(told[0]!.args.blocks);
      expect(blocks).toContain('link was confirmed from');
      expect(blocks).toContain(host);
      expect(blocks).toContain('"action_id":"grant_not_me"');
      expect(blocks).toContain(`"value":"${grant!.grantId}"`);
      expect(blocks).toContain('Not me — revoke');
    });

    it('case 8: Not me — revoke ends the grant, is audited and tells the alert channel; only the owner may press it', async () => {
      const token = await askForLink();
      const host = nextHost();
      await ipCapture(ipEvent('POST', token, host, { token }));
      const [grant] = await grantsFrom(`${host}/32`);
      const drain = () => wiring.drainJobs!();

      const stranger = await press(
        env,
        slackHttp,
        drain,
        'grant_not_me',
        grant!.grantId,
        APPROVER,
        ASKED_FROM,
      );
      expect(stranger.said).toContain(
        `Only ${ENGINEER.name}, whose link made ${grant!.grantId}, can say it was not them`,
      );
      expect(stranger.said).toContain('NOT_AUTHORISED');
      expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(1);

      const owner = await press(env, slackHttp, drain, 'grant_not_me', grant!.grantId, ENGINEER, ASKED_FROM);
      expect(owner.said).toContain(`Revoked ${grant!.grantId}`);
      expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(0);
      expect((await grantsFrom(`${host}/32`))[0]).toMatchObject({ status: 'REVOKED', endedBy: ENGINEER.id });
      const notice = env.slack
        .callsTo('chat.postMessage')
        .find((c) => c.args.channel === wiring.config.slack.alertChannel);
      expect(String(notice?.args.text)).toContain(`grant ${grant!.grantId}`);
      expect(String(notice?.args.text)).toContain('was not theirs');
      expect(String(notice?.args.text)).toContain(host);

      const audit = await auditOf(env.tableName, grant!.grantId);
      expect(audit).toContainEqual(
        expect.objectContaining({ action: 'not-me', result: 'refused', actorId: APPROVER.id }),
      );
      expect(audit.at(-1)).toMatchObject({
        action: 'revoke',
        fromState: 'ACTIVE',
        toState: 'REVOKED',
        actorId: ENGINEER.id,
        details: expect.objectContaining({ reason: expect.stringContaining('not me') }),
      });

      const again = await press(env, slackHttp, drain, 'grant_not_me', grant!.grantId, ENGINEER, ASKED_FROM);
      expect(again.said).toContain('has already ended');
    });
  });

  describe('case 5: names typed by users never reach Object.prototype', () => {
    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
      'case 5: /sg-whitelist %s me answers "no such target", gives no link, and is audited',
      async (name) => {
        const alias = name.toLowerCase();
        const answer = await slash(
          env,
          slackHttp,
          () => wiring.drainJobs!(),
          '/sg-whitelist',
          `${name} me`,
          ENGINEER,
          ASKED_FROM,
        );
        expect(answer.said).toContain(`There is no whitelist target called "${alias}". Targets: bastion.`);
        expect(answer.said).toContain('UNKNOWN_TARGET');
        expect(answer.said).not.toContain('INTERNAL');
        expect(answer.said).not.toContain(PUBLIC_URL);
        expect(await auditOf(env.tableName, `target:${alias}`)).toContainEqual(
          expect.objectContaining({ action: 'request', result: 'refused', actorId: ENGINEER.id }),
        );
      },
    );
  });
});
