import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import type { EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { awsError } from '../../../services/aws/ec2-security-groups';
import type { GrantItem } from '../../../services/grants/items';
import { authorize, createGroup, ec2Client } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { auditOf, getGrant, getItem, grantIdIn, rulesFrom, rulesOf } from '../../support/grants';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { APPROVER, ENGINEER, OUTSIDER } from '../../support/slack-requests';
import { type HttpHandler, slash } from '../../support/slash';

type CloudTrailHandler = (
  event: EventBridgeEvent<string, unknown>,
) => Promise<{ processed: number; violations: number }>;

const REGION = 'us-east-1';
const MISSING_GROUP = 'sg-0123456789abcdef0';

let env: HandlerEnv;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let wiring: Wiring;
let bastion: string;
let db: string;
let full: string;
let hostCounter = 10;

/** A fresh documentation address per test, so tests never collide on the same rule. */
function nextHost(): string {
  hostCounter += 1;
  return `198.51.100.${hostCounter}`;
}

beforeAll(async () => {
  [bastion, db, full] = await Promise.all([
    createGroup(REGION).then((g) => g.groupId),
    createGroup(REGION).then((g) => g.groupId),
    createGroup(REGION).then((g) => g.groupId),
  ]);
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  onlyFrom:
    - name: private-db
      groups: { ids: [${db}] }
      allowedSources: [sg-0aaaaaaaaaaaaaaaa]
      severity: high
decisions:
  approvers: { users: [${APPROVER.id}] }
whitelist:
  targets:
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22, 443]
      defaultDuration: 1h
      maxDuration: 8h
      allowed: { users: [${ENGINEER.id}, ${APPROVER.id}] }
    db:
      groupId: ${db}
      region: ${REGION}
      ports: [5432]
      defaultDuration: 30m
      maxDuration: 2h
      allowed: { users: [${ENGINEER.id}] }
    full:
      groupId: ${full}
      region: ${REGION}
      ports: [22]
    ghost:
      groupId: ${MISSING_GROUP}
      region: ${REGION}
      ports: [22]
`),
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

afterEach(() => {
  jest.restoreAllMocks();
});

function whitelist(text: string, user = ENGINEER) {
  return slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-whitelist', text, user);
}

async function grantFor(text: string, user = ENGINEER): Promise<GrantItem> {
  const answer = await whitelist(text, user);
  const grant = await getGrant(env.tableName, grantIdIn(answer.said));
  if (!grant) throw new Error(`grant not stored: ${answer.said}`);
  return grant;
}

describe('/sg-whitelist', () => {
  describe('granting an address', () => {
    it('adds a described, tagged /32 rule and stores the grant ACTIVE with its rule ID before answering', async () => {
      const host = nextHost();
      const before = Date.now();

      const answer = await whitelist(`bastion ${host} for 2h`);

      expect(answer.status).toBe(200);
      expect(answer.replies).toHaveLength(1);
      expect(answer.replies[0]).toMatchObject({ response_type: 'ephemeral' });
      expect(answer.said).toContain('Granted');
      const grant = (await getGrant(env.tableName, grantIdIn(answer.said)))!;
      expect(grant).toMatchObject({
        status: 'ACTIVE',
        alias: 'bastion',
        groupId: bastion,
        region: REGION,
        protocol: 'tcp',
        port: 22,
        cidr: `${host}/32`,
        userId: ENGINEER.id,
        userName: ENGINEER.name,
        via: 'address',
        ruleId: expect.stringMatching(/^sgr-/),
        dueKind: 'GRANT_WARN',
      });
      const lasts = new Date(grant.expiresAt).getTime() - before;
      expect(lasts).toBeGreaterThanOrEqual(2 * 3600_000 - 1000);
      expect(lasts).toBeLessThanOrEqual(2 * 3600_000 + 60_000);
      expect(new Date(grant.dueAt!).getTime()).toBe(new Date(grant.expiresAt).getTime() - 600_000);

      const [rule, ...others] = await rulesFrom(bastion, `${host}/32`);
      expect(others).toHaveLength(0);
      expect(rule).toMatchObject({
        SecurityGroupRuleId: grant.ruleId,
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        Description: `sg-warden grant ${grant.grantId} for @erin.engineer until ${grant.expiresAt.slice(0, 16)}Z`,
      });
      expect(rule!.Description!.length).toBeLessThanOrEqual(255);
      expect(Object.fromEntries((rule!.Tags ?? []).map((t) => [t.Key, t.Value]))).toEqual({
        'sg-warden:grant-id': grant.grantId,
        'sg-warden:expires-at': grant.expiresAt,
        'sg-warden:slack-user': ENGINEER.id,
      });
      expect(await getItem(env.tableName, `OWNRULE#${REGION}#${grant.ruleId}`, 'OWNRULE')).toMatchObject({
        grantId: grant.grantId,
      });
      const audit = await auditOf(env.tableName, grant.grantId);
      expect(audit.map((a) => [a.action, a.toState, a.actorId])).toEqual([
        ['request', 'PENDING', ENGINEER.id],
        ['grant', 'ACTIVE', ENGINEER.id],
      ]);
    });

    it('grants an IPv6 address as /128, on the port asked for', async () => {
      const grant = await grantFor('bastion 2001:db8:0:0::42 443');
      expect(grant).toMatchObject({ status: 'ACTIVE', cidr: '2001:db8::42/128', port: 443 });
      const rules = (await rulesOf(bastion)).filter((r) => r.CidrIpv6 === '2001:db8::42/128');
      expect(rules).toEqual([expect.objectContaining({ FromPort: 443, ToPort: 443 })]);
    });

    it("uses the target's default port and duration when none is given", async () => {
      const before = Date.now();
      const grant = await grantFor(`db ${nextHost()}`);
      expect(grant.port).toBe(5432);
      expect(new Date(grant.expiresAt).getTime() - before).toBeLessThanOrEqual(30 * 60_000 + 60_000);
    });
  });

  describe('refusals', () => {
    it.each([
      ['203.0.113.0/24', /covers 256 addresses/],
      ['0.0.0.0/0', /whole internet/],
      ['0.0.0.0', /unspecified/],
      ['::', /unspecified/],
      ['127.0.0.1', /loopback/],
      ['169.254.169.254', /link-local/],
      ['fe80::1', /link-local/],
      ['224.0.0.1', /multicast/],
      ['255.255.255.255', /broadcast/],
      ['240.1.2.3', /reserved/],
      ['not-an-ip', /not an IPv4 or IPv6 address/],
    ])('refuses %s at once with a sentence, and adds nothing', async (address, why) => {
      const rulesBefore = (await rulesOf(bastion)).length;
      const answer = await whitelist(`bastion ${address}`);
      expect(answer.ack).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(why) });
      expect(String(answer.ack?.text)).toMatch(/ \(BAD_INPUT\)$/);
      expect(answer.replies).toHaveLength(0);
      expect(await rulesOf(bastion)).toHaveLength(rulesBefore);
    });

    it('refuses someone the target does not allow, and audits the refusal', async () => {
      const host = nextHost();
      const answer = await whitelist(`bastion ${host}`, OUTSIDER);
      expect(answer.said).toMatch(
        /not on the list of people who may use the "bastion" target.*NOT_AUTHORISED/s,
      );
      expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(0);
      const audit = await auditOf(env.tableName, 'target:bastion');
      expect(audit).toContainEqual(
        expect.objectContaining({ actorId: OUTSIDER.id, result: 'refused', action: 'request' }),
      );
    });

    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
      'case 5: /sg-whitelist %s <ip> answers "no such target" and audits it (not INTERNAL)',
      async (name) => {
        const alias = name.toLowerCase();
        const host = nextHost();
        const answer = await whitelist(`${name} ${host}`);
        expect(answer.said).toContain(
          `There is no whitelist target called "${alias}". Targets: bastion, db, full, ghost.`,
        );
        expect(answer.said).toContain('UNKNOWN_TARGET');
        expect(answer.said).not.toContain('INTERNAL');
        expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(0);
        const audit = await auditOf(env.tableName, `target:${alias}`);
        expect(audit).toContainEqual(
          expect.objectContaining({
            actorId: ENGINEER.id,
            result: 'refused',
            action: 'request',
            details: expect.objectContaining({ code: 'UNKNOWN_TARGET' }),
          }),
        );
      },
    );

    it.each([
      ['bastion {host} 3389', /Port 3389 is not offered by "bastion"; choose one of 22, 443/],
      ['bastion {host} for 9h', /"bastion" allows at most 8h/],
      ['nowhere {host}', /no whitelist target called "nowhere"/],
    ])('refuses %s with a sentence', async (text, why) => {
      const host = nextHost();
      const answer = await whitelist(text.replace('{host}', host));
      expect(answer.said).toMatch(why);
      expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(0);
    });

    it('answers help for nothing, help, and words it does not know', async () => {
      for (const text of ['', 'help', 'frobnicate']) {
        const answer = await whitelist(text);
        // The fallback text is mrkdwn too, so its placeholders are escaped.
        expect(answer.ack?.text).toContain('/sg-whitelist &lt;target&gt; &lt;ip|me&gt;');
        expect(JSON.stringify(answer.ack?.blocks)).toContain('bastion');
      }
    });
  });

  describe('what EC2 says', () => {
    it('extends your own grant instead when the same rule already exists', async () => {
      const host = nextHost();
      const first = await grantFor(`bastion ${host} for 1h`);

      const answer = await whitelist(`bastion ${host} for 3h`);

      expect(answer.said).toContain(`already exists as your grant`);
      expect(grantIdIn(answer.said)).toBe(first.grantId);
      const extended = (await getGrant(env.tableName, first.grantId))!;
      expect(extended.status).toBe('ACTIVE');
      expect(new Date(extended.expiresAt).getTime() - Date.now()).toBeGreaterThan(2.9 * 3600_000);
      expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(1);
      const audit = await auditOf(env.tableName, first.grantId);
      expect(audit.map((a) => a.action)).toEqual(['request', 'grant', 'extend']);
      const rule = (await rulesFrom(bastion, `${host}/32`))[0]!;
      expect(rule.Tags).toContainEqual({ Key: 'sg-warden:expires-at', Value: extended.expiresAt });
    });

    it("says whose rule it is when it is someone else's grant, and adds nothing", async () => {
      const host = nextHost();
      const theirs = await grantFor(`bastion ${host}`, APPROVER);
      const answer = await whitelist(`bastion ${host}`);
      expect(answer.said).toMatch(/already granted to alex\.approver.*ALREADY_GRANTED/s);
      expect((await getGrant(env.tableName, theirs.grantId))!.expiresAt).toBe(theirs.expiresAt);
      expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(1);
    });

    it('refuses when a hand-made rule already allows the address (it does not expire)', async () => {
      const host = nextHost();
      const [ruleId] = await authorize(REGION, bastion, {
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        IpRanges: [{ CidrIp: `${host}/32` }],
      });
      const answer = await whitelist(`bastion ${host}`);
      expect(answer.said).toContain(`already allowed by rule ${ruleId}, which sg-warden did not create`);
      expect(answer.said).toContain('RULE_EXISTS');
    });

    it('says the group is full, with the count and the limit, and leaves the grant FAILED', async () => {
      const existing = (await rulesOf(full)).filter((r) => !r.IsEgress).length;
      for (let i = existing; i < 60; i++) {
        await authorize(REGION, full, {
          IpProtocol: 'tcp',
          FromPort: 10000 + i,
          ToPort: 10000 + i,
          IpRanges: [{ CidrIp: '10.9.9.9/32' }],
        });
      }
      const host = nextHost();

      const answer = await whitelist(`full ${host}`);

      expect(answer.said).toContain('has 60 inbound rules and the limit is 60');
      expect(answer.said).toContain('RULE_LIMIT');
      expect(await rulesFrom(full, `${host}/32`)).toHaveLength(0);
      const grant = await getGrant(env.tableName, grantIdIn(answer.said));
      expect(grant).toMatchObject({ status: 'FAILED', failureCode: 'RULE_LIMIT' });
      expect(grant!.dueKind).toBeUndefined();
    });

    it('says the group does not exist', async () => {
      const answer = await whitelist(`ghost ${nextHost()}`);
      expect(answer.said).toContain(`Security group ${MISSING_GROUP} of target "ghost" does not exist`);
      expect(answer.said).toContain('GROUP_NOT_FOUND');
      expect(await getGrant(env.tableName, grantIdIn(answer.said))).toMatchObject({ status: 'FAILED' });
    });

    it('says sg-warden is not allowed when EC2 denies access', async () => {
      jest.spyOn(wiring.ec2, 'authorizeIngress').mockRejectedValueOnce(
        awsError('AuthorizeSecurityGroupIngress', {
          name: 'UnauthorizedOperation',
          message: 'You are not authorized to perform this operation.',
          $metadata: { httpStatusCode: 403 },
        }),
      );
      const host = nextHost();
      const answer = await whitelist(`bastion ${host}`);
      expect(answer.said).toContain('sg-warden is not allowed to add rules');
      expect(answer.said).toContain('(UnauthorizedOperation)');
      expect(await getGrant(env.tableName, grantIdIn(answer.said))).toMatchObject({
        status: 'FAILED',
        failureCode: 'AWS_ACCESS_DENIED',
      });
      expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(0);
    });

    it('adopts the rule when the call failed on the way but EC2 did add it (found by its tag)', async () => {
      const real = wiring.ec2.authorizeIngress.bind(wiring.ec2);
      jest.spyOn(wiring.ec2, 'authorizeIngress').mockImplementationOnce(async (target, grant) => {
        await real(target, grant);
        throw awsError('AuthorizeSecurityGroupIngress', { name: 'TimeoutError', message: 'socket hang up' });
      });
      const host = nextHost();
      const answer = await whitelist(`bastion ${host}`);
      const grant = await getGrant(env.tableName, grantIdIn(answer.said));
      const [rule] = await rulesFrom(bastion, `${host}/32`);
      expect(grant).toMatchObject({ status: 'ACTIVE', ruleId: rule!.SecurityGroupRuleId });
    });
  });

  describe('list, revoke, extend', () => {
    it("lists only the asker's grants", async () => {
      const mine = await grantFor(`bastion ${nextHost()}`);
      const theirs = await grantFor(`bastion ${nextHost()}`, APPROVER);
      const answer = await whitelist('list');
      expect(answer.said).toContain(mine.grantId);
      expect(answer.said).not.toContain(theirs.grantId);
    });

    it('revokes early for the owner: the rule is gone and the grant REVOKED', async () => {
      const grant = await grantFor(`bastion ${nextHost()}`);
      const answer = await whitelist(`revoke ${grant.grantId}`);
      expect(answer.said).toContain(`Revoked ${grant.grantId}`);
      expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
      expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({
        status: 'REVOKED',
        endedBy: ENGINEER.id,
      });
      expect((await whitelist('list')).said).not.toContain(grant.grantId);
    });

    it("refuses to revoke someone else's grant unless the asker is an approver", async () => {
      const grant = await grantFor(`bastion ${nextHost()}`);
      const refused = await whitelist(`revoke ${grant.grantId}`, OUTSIDER);
      expect(refused.said).toContain('NOT_AUTHORISED');
      expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(1);

      const byApprover = await whitelist(`revoke ${grant.grantId}`, APPROVER);
      expect(byApprover.said).toContain(`Revoked ${grant.grantId}`);
      expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
    });

    it('says so when the grant has already ended or does not exist', async () => {
      const grant = await grantFor(`bastion ${nextHost()}`);
      await whitelist(`revoke ${grant.grantId}`);
      expect((await whitelist(`revoke ${grant.grantId}`)).said).toContain('has already ended (REVOKED)');
      expect((await whitelist('revoke g-zzzzzzzzzz')).said).toContain('There is no grant g-zzzzzzzzzz');
      expect((await whitelist('revoke banana')).ack?.text).toContain('is not a grant ID');
    });

    it('extends within the longest duration and refuses beyond it', async () => {
      const grant = await grantFor(`bastion ${nextHost()} for 1h`);
      const answer = await whitelist(`extend ${grant.grantId} 2h`);
      expect(answer.said).toContain(`Extended ${grant.grantId}`);
      const extended = (await getGrant(env.tableName, grant.grantId))!;
      expect(new Date(extended.expiresAt).getTime() - new Date(grant.expiresAt).getTime()).toBe(2 * 3600_000);

      const tooLong = await whitelist(`extend ${grant.grantId} 6h`);
      expect(tooLong.said).toMatch(/grants last at most 8h from now/);
      expect((await getGrant(env.tableName, grant.grantId))!.expiresAt).toBe(extended.expiresAt);

      const notMine = await whitelist(`extend ${grant.grantId} 1h`, APPROVER);
      expect(notMine.said).toContain('can extend it');
    });
  });

  describe("the bot's own rules and CloudTrail", () => {
    it("raises no violation for the grant's own AuthorizeSecurityGroupIngress event", async () => {
      const grant = await grantFor(`db ${nextHost()}`);
      const [rule] = await rulesFrom(db, grant.cidr);
      const record = authorizeIngressRecord({
        groupId: db,
        principalArn: 'arn:aws:sts::123456789012:assumed-role/sg-warden-dev-slackWorker/sg-warden',
        rules: [{ ruleId: grant.ruleId!, fromPort: 5432, cidr: grant.cidr, description: rule!.Description! }],
      });
      const result = await cloudtrail(
        eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>,
      );
      expect(result).toEqual({ processed: 1, violations: 0 });
    });

    it("raises a violation for a hand-made rule that copies a grant's description", async () => {
      const grant = await grantFor(`db ${nextHost()}`);
      const [granted] = await rulesFrom(db, grant.cidr);
      const intruder = nextHost();
      const [ruleId] = await authorize(REGION, db, {
        IpProtocol: 'tcp',
        FromPort: 5432,
        ToPort: 5432,
        IpRanges: [{ CidrIp: `${intruder}/32`, Description: granted!.Description! }],
      });
      const record = authorizeIngressRecord({
        groupId: db,
        rules: [{ ruleId, fromPort: 5432, cidr: `${intruder}/32`, description: granted!.Description! }],
      });
      const result = await cloudtrail(
        eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>,
      );
      expect(result).toEqual({ processed: 1, violations: 1 });
    });
  });

  it('leaves no rule behind when a grant is revoked by hand in EC2 and then revoked in Slack', async () => {
    const grant = await grantFor(`bastion ${nextHost()}`);
    await ec2Client(REGION).send(
      new RevokeSecurityGroupIngressCommand({ GroupId: bastion, SecurityGroupRuleIds: [grant.ruleId!] }),
    );
    const answer = await whitelist(`revoke ${grant.grantId}`);
    expect(answer.said).toContain(`Revoked ${grant.grantId}`);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({ status: 'REVOKED' });
  });
});
