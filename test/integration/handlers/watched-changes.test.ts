import {
  CreateManagedPrefixListCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  ModifyManagedPrefixListCommand,
  UpdateSecurityGroupRuleDescriptionsIngressCommand,
} from '@aws-sdk/client-ec2';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { grantDescription, grantTags } from '../../../services/grants/plan';
import { authorize, createGroup, documentClient, ec2Client, uniqueName } from '../../support/aws';
import {
  authorizeIngressRecord,
  createGroupRecord,
  eventBridgeEvent,
  modifyPrefixListRecord,
  ruleDescriptionsRecord,
  tagsRecord,
} from '../../support/cloudtrail-factory';
import { auditOf, rulesOf } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';

// What can silence sg-warden without adding a rule (README "Watched changes"), through the real detection
// handler against moto and the Slack emulator: exemption tags and who set them, tags removed, prefix
// lists that gain the internet, new groups' default egress, and descriptions copied from grants.

type Handler = (
  event: EventBridgeEvent<string, unknown>,
) => Promise<{ processed: number; violations: number }>;
type Item = Record<string, unknown>;

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const EXEMPT = 'sg-warden:exempt';
/** A developer: not a trusted tagger. */
const EVE = `arn:aws:sts::${ACCOUNT}:assumed-role/developer/eve@example.com`;
/** A session of the trusted role (policy.exceptions.trustedTaggers names the role). */
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/network-admins/ana@example.com`;

let env: HandlerEnv;
let handler: Handler;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(
      [
        'policy:',
        '  evaluateEgress: true',
        '  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }',
        // The emulator's groups have nothing attached: keep their severity (this is not about exposure).
        '  exposure: { unattached: keep }',
        '  exceptions:',
        `    tags: [{ key: "${EXEMPT}" }]`,
        `    trustedTaggers: ["arn:aws:iam::${ACCOUNT}:role/network-admins"]`,
        '',
      ].join('\n'),
    ),
  });
  ({ handler } = await import('../../../handlers/cloudtrail-event'));
});

afterAll(async () => {
  await env.stop();
});

beforeEach(() => {
  env.slack.reset();
});

function deliver(record: Item) {
  return handler(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
}

async function getItem(pk: string, sk: string): Promise<Item | undefined> {
  const out = await documentClient().send(new GetCommand({ TableName: env.tableName, Key: { pk, sk } }));
  return out.Item;
}

const alertOf = (alertId: string) => getItem(`ALERT#${alertId}`, 'ALERT');

async function violationsOf(alert: Item | undefined): Promise<Item[]> {
  const ids = (alert?.violationIds as string[] | undefined) ?? [];
  return (await Promise.all(ids.map((id) => getItem(`VIOLATION#${id}`, 'VIOLATION')))).filter(
    (v): v is Item => v !== undefined,
  );
}

/** Every message posted to the alert channel, as one string each (blocks and text). */
function posts(): string[] {
  return env.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === ALERT_CHANNEL)
    .map((c) => `${String(c.args.text)} ${JSON.stringify(c.args.blocks)}`);
}

async function worldOpen(groupId: string, port: number): Promise<string> {
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: port,
    ToPort: port,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  return ruleId!;
}

async function tagGroup(groupId: string, by: string, value = 'load test') {
  await ec2Client(REGION).send(
    new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: EXEMPT, Value: value }] }),
  );
  return tagsRecord({
    eventName: 'CreateTags',
    resourceIds: [groupId, 'i-0123456789abcdef0'],
    tags: [{ key: EXEMPT, value }],
    principalArn: by,
    sourceIp: '203.0.113.77',
  });
}

describe('watched changes', () => {
  describe('an exemption tag added by someone who is not a trusted tagger', () => {
    it('is recorded with who set it, told in the alert channel as ignored, and exempts nothing', async () => {
      const { groupId } = await createGroup(REGION);
      const record = await tagGroup(groupId, EVE);

      const result = await deliver(record);

      expect(result).toEqual({ processed: 1, violations: 0 });
      const alert = await alertOf(`${record.eventID}:${groupId}`);
      expect(alert).toMatchObject({ status: 'POSTED', groupId, eventName: 'CreateTags', violationIds: [] });
      expect(alert!.notices).toEqual([
        `Tag ${EXEMPT}=load test added by ${EVE} (from 203.0.113.77), who is not a trusted tagger (policy.exceptions.trustedTaggers): the tag is ignored and exempts nothing; this group's rules are still evaluated and raised.`,
      ]);
      expect(await getItem(`TAGSET#${ACCOUNT}#${REGION}#${groupId}#${EXEMPT}`, 'TAGSET')).toMatchObject({
        status: 'SET',
        value: 'load test',
        actor: expect.objectContaining({ arn: EVE, sourceIp: '203.0.113.77' }),
        eventId: record.eventID,
      });
      const [post] = posts();
      expect(posts()).toHaveLength(1);
      expect(post).toContain('Watched change on');
      expect(post).toContain('not a trusted tagger');
      expect(post).toContain('203.0.113.77');
      expect((await auditOf(env.tableName, `${record.eventID}:${groupId}`)).map((e) => e.action)).toEqual(
        expect.arrayContaining(['tag-set', 'detect']),
      );

      // The group's rules keep being evaluated: a world-open rule added now is raised, and says why the tag did not count.
      const ruleId = await worldOpen(groupId, 22);
      const opened = authorizeIngressRecord({
        groupId,
        rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
      });
      expect(await deliver(opened)).toEqual({ processed: 1, violations: 1 });
      const [violation] = await violationsOf(await alertOf(String(opened.eventID)));
      expect(violation).toMatchObject({ status: 'PENDING', severity: 'high' });
      expect(violation!.reasons).toContain(
        `group tag ${EXEMPT}=load test is ignored: it was set by ${EVE}, which is not a trusted tagger (policy.exceptions.trustedTaggers), so it exempts nothing`,
      );
      expect(posts().at(-1)).toContain('is ignored: it was set by');
    });

    it('is not recorded when EC2 does not have the tag the event claims', async () => {
      const { groupId } = await createGroup(REGION);
      const record = tagsRecord({
        eventName: 'CreateTags',
        resourceIds: [groupId],
        tags: [{ key: EXEMPT, value: 'forged' }],
        principalArn: ADMIN,
      });

      await deliver(record);

      expect(await getItem(`TAGSET#${ACCOUNT}#${REGION}#${groupId}#${EXEMPT}`, 'TAGSET')).toBeUndefined();
      const alert = await alertOf(`${record.eventID}:${groupId}`);
      expect(alert!.notices).toEqual([
        expect.stringContaining('but EC2 does not have that tag on the group now'),
      ]);
    });
  });

  describe('an exemption tag added by a trusted tagger', () => {
    it('exempts the group: a world-open rule added afterwards raises nothing', async () => {
      const { groupId } = await createGroup(REGION);
      const record = await tagGroup(groupId, ADMIN);

      await deliver(record);

      const alert = await alertOf(`${record.eventID}:${groupId}`);
      expect(alert!.notices).toEqual([
        expect.stringContaining(`added by ${ADMIN} (from 203.0.113.77), a trusted tagger`),
      ]);
      const ruleId = await worldOpen(groupId, 3389);
      env.slack.reset();
      const opened = authorizeIngressRecord({
        groupId,
        rules: [{ ruleId, fromPort: 3389, cidr: '0.0.0.0/0' }],
      });
      expect(await deliver(opened)).toEqual({ processed: 1, violations: 0 });
      expect(await alertOf(String(opened.eventID))).toBeUndefined();
      expect(posts()).toEqual([]);
    });

    it('stops exempting the moment the tag is removed: the group’s rules are judged again at once, once', async () => {
      const { groupId } = await createGroup(REGION);
      await deliver(await tagGroup(groupId, ADMIN));
      // Opened while exempt: no alert then.
      const ruleId = await worldOpen(groupId, 22);
      const quiet = authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }] });
      expect(await deliver(quiet)).toEqual({ processed: 1, violations: 0 });
      env.slack.reset();
      await ec2Client(REGION).send(new DeleteTagsCommand({ Resources: [groupId], Tags: [{ Key: EXEMPT }] }));
      const removed = tagsRecord({
        eventName: 'DeleteTags',
        resourceIds: [groupId],
        tags: [{ key: EXEMPT }],
        principalArn: EVE,
      });

      // Every rule of the group: the SSH rule opened while exempt, and (egress is evaluated here) its default egress.
      expect(await deliver(removed)).toEqual({ processed: 1, violations: 2 });

      const alert = await alertOf(`${removed.eventID}:${groupId}`);
      const violations = await violationsOf(alert);
      expect(violations).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            status: 'PENDING',
            severity: 'high',
            rule: expect.objectContaining({ ruleId }),
          }),
          expect.objectContaining({
            status: 'PENDING',
            severity: 'critical',
            rule: expect.objectContaining({ direction: 'egress', source: '0.0.0.0/0' }),
          }),
        ]),
      );
      expect(violations).toHaveLength(2);
      expect(alert!.notices).toEqual([
        `Tag ${EXEMPT} removed by ${EVE} (from 198.51.100.23): the group's rules were evaluated again at once.`,
        expect.stringMatching(/^2 of its 2 rules break the policy/),
      ]);
      expect(await getItem(`TAGSET#${ACCOUNT}#${REGION}#${groupId}#${EXEMPT}`, 'TAGSET')).toMatchObject({
        status: 'REMOVED',
        value: null,
      });
      expect(posts()).toHaveLength(1);

      // Redelivered, and a second removal event for the same group: nothing raised or posted twice.
      expect(await deliver(removed)).toEqual({ processed: 1, violations: 0 });
      const again = tagsRecord({
        eventName: 'DeleteTags',
        resourceIds: [groupId],
        tags: [{ key: EXEMPT }],
        principalArn: EVE,
      });
      await deliver(again);
      expect(await violationsOf(await alertOf(`${again.eventID}:${groupId}`))).toEqual([]);
      expect(posts()).toHaveLength(2);
      expect(posts()[1]).toContain('None of its');
    });
  });

  describe('a managed prefix list that gains 0.0.0.0/0', () => {
    it('raises every rule that names it, one alert per group, and nothing twice', async () => {
      const ec2 = ec2Client(REGION);
      const list = await ec2.send(
        new CreateManagedPrefixListCommand({
          PrefixListName: uniqueName('office'),
          AddressFamily: 'IPv4',
          MaxEntries: 5,
          Entries: [{ Cidr: '10.0.0.0/8' }],
        }),
      );
      const prefixListId = list.PrefixList!.PrefixListId!;
      const a = await createGroup(REGION);
      const b = await createGroup(REGION);
      const unrelated = await createGroup(REGION);
      const [ruleA] = await authorize(REGION, a.groupId, {
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        PrefixListIds: [{ PrefixListId: prefixListId }],
      });
      const [ruleB] = await authorize(REGION, b.groupId, {
        IpProtocol: '-1',
        PrefixListIds: [{ PrefixListId: prefixListId }],
      });
      await worldOpen(unrelated.groupId, 443);
      await ec2.send(
        new ModifyManagedPrefixListCommand({
          PrefixListId: prefixListId,
          CurrentVersion: 1,
          AddEntries: [{ Cidr: '0.0.0.0/0' }],
        }),
      );
      const record = modifyPrefixListRecord({ prefixListId, addCidrs: ['0.0.0.0/0'], principalArn: EVE });

      expect(await deliver(record)).toEqual({ processed: 1, violations: 2 });

      const va = await violationsOf(await alertOf(`${record.eventID}:${a.groupId}`));
      const vb = await violationsOf(await alertOf(`${record.eventID}:${b.groupId}`));
      expect(va).toEqual([
        expect.objectContaining({
          status: 'PENDING',
          severity: 'high',
          rule: expect.objectContaining({ ruleId: ruleA }),
        }),
      ]);
      expect(vb).toEqual([
        expect.objectContaining({
          status: 'PENDING',
          severity: 'critical',
          rule: expect.objectContaining({ ruleId: ruleB }),
        }),
      ]);
      expect(va[0]!.reasons).toContain(
        `prefix list ${prefixListId} holds 0.0.0.0/0: admin or data port 22 (SSH) open: 0.0.0.0/0 is the whole internet`,
      );
      expect(await alertOf(`${record.eventID}:${unrelated.groupId}`)).toBeUndefined();
      expect(posts()).toHaveLength(2);
      expect(posts()[0]).toContain(`Prefix list ${prefixListId} now holds 0.0.0.0/0`);

      expect(await deliver(record)).toEqual({ processed: 1, violations: 0 });
      expect(posts()).toHaveLength(2);
    });

    it('raises nothing when what the list holds is private', async () => {
      const ec2 = ec2Client(REGION);
      const list = await ec2.send(
        new CreateManagedPrefixListCommand({
          PrefixListName: uniqueName('vpcs'),
          AddressFamily: 'IPv4',
          MaxEntries: 5,
          Entries: [{ Cidr: '10.0.0.0/8' }],
        }),
      );
      const prefixListId = list.PrefixList!.PrefixListId!;
      const a = await createGroup(REGION);
      await authorize(REGION, a.groupId, {
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        PrefixListIds: [{ PrefixListId: prefixListId }],
      });
      await ec2.send(
        new ModifyManagedPrefixListCommand({
          PrefixListId: prefixListId,
          CurrentVersion: 1,
          AddEntries: [{ Cidr: '172.16.0.0/12' }],
        }),
      );

      expect(await deliver(modifyPrefixListRecord({ prefixListId, addCidrs: ['172.16.0.0/12'] }))).toEqual({
        processed: 1,
        violations: 0,
      });
      expect(posts()).toEqual([]);
    });
  });

  describe('CreateSecurityGroup', () => {
    it('raises the new group’s default egress rule when egress is evaluated, once', async () => {
      const { groupId, groupName } = await createGroup(REGION);
      const record = createGroupRecord({ groupId, groupName, principalArn: EVE });

      expect(await deliver(record)).toEqual({ processed: 1, violations: 1 });

      const [violation] = await violationsOf(await alertOf(String(record.eventID)));
      expect(violation).toMatchObject({
        status: 'PENDING',
        severity: 'critical',
        rule: expect.objectContaining({ direction: 'egress', protocol: 'all', source: '0.0.0.0/0' }),
      });
      expect(await deliver(record)).toEqual({ processed: 1, violations: 1 });
      expect(posts()).toHaveLength(1);
    });
  });

  describe('a description copied from a grant', () => {
    it('is not a grant: the rule is judged by what it lets through and raised, once', async () => {
      const { groupId } = await createGroup(REGION);
      const ruleId = await worldOpen(groupId, 22);
      const copied = grantDescription(
        'g-4f2a9c0d1e',
        'alice',
        new Date(Date.now() + 3_600_000).toISOString(),
      );
      const ec2 = ec2Client(REGION);
      await ec2.send(
        new UpdateSecurityGroupRuleDescriptionsIngressCommand({
          GroupId: groupId,
          SecurityGroupRuleDescriptions: [{ SecurityGroupRuleId: ruleId, Description: copied }],
        }),
      );
      const tags = grantTags({
        grantId: 'g-4f2a9c0d1e',
        expiresAt: new Date().toISOString(),
        userId: 'U0ALICE',
      });
      await ec2.send(
        new CreateTagsCommand({
          Resources: [ruleId],
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      const record = ruleDescriptionsRecord({
        groupId,
        descriptions: [{ ruleId, description: copied }],
        principalArn: EVE,
      });

      expect(await deliver(record)).toEqual({ processed: 1, violations: 1 });

      const [violation] = await violationsOf(await alertOf(String(record.eventID)));
      expect(violation).toMatchObject({
        status: 'PENDING',
        severity: 'high',
        rule: expect.objectContaining({ ruleId }),
      });
      expect(await deliver(record)).toEqual({ processed: 1, violations: 1 });
      // Another description change while the violation is open raises nothing new.
      const later = ruleDescriptionsRecord({
        groupId,
        descriptions: [{ ruleId, description: 'again' }],
        principalArn: EVE,
      });
      expect(await deliver(later)).toEqual({ processed: 1, violations: 0 });
      expect(posts()).toHaveLength(1);
    });
  });

  describe('a pending violation whose group is tagged exempt afterwards', () => {
    async function pendingThenTagged(
      by: string,
    ): Promise<{ violationId: string; ruleId: string; groupId: string }> {
      const { groupId } = await createGroup(REGION);
      const ruleId = await worldOpen(groupId, 22);
      const opened = authorizeIngressRecord({
        groupId,
        rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
      });
      await deliver(opened);
      const [violation] = await violationsOf(await alertOf(String(opened.eventID)));
      await deliver(await tagGroup(groupId, by));
      return { violationId: String(violation!.violationId), ruleId, groupId };
    }

    async function sweepPastDeadlines(): Promise<void> {
      const { sweep } = await import('../../../services/kernel/sweep');
      const { dueHandlers, getWiring } = await import('../../../handlers/wiring');
      const wiring = getWiring();
      await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 16 * 60_000));
    }

    it('is still revoked at its deadline when the tagger is not trusted, and resolved when they are', async () => {
      const untrusted = await pendingThenTagged(EVE);
      const trusted = await pendingThenTagged(ADMIN);

      await sweepPastDeadlines();

      expect(await getItem(`VIOLATION#${untrusted.violationId}`, 'VIOLATION')).toMatchObject({
        status: 'AUTO_REVOKED',
      });
      expect((await rulesOf(untrusted.groupId)).map((r) => r.SecurityGroupRuleId)).not.toContain(
        untrusted.ruleId,
      );
      expect(await getItem(`VIOLATION#${trusted.violationId}`, 'VIOLATION')).toMatchObject({
        status: 'RESOLVED',
      });
      expect((await rulesOf(trusted.groupId)).map((r) => r.SecurityGroupRuleId)).toContain(trusted.ruleId);
    });
  });

  describe('failed calls', () => {
    it('ignores a CreateTags that failed: nothing recorded, nothing posted', async () => {
      const { groupId } = await createGroup(REGION);
      const record = tagsRecord({
        eventName: 'CreateTags',
        resourceIds: [groupId],
        tags: [{ key: EXEMPT, value: 'yes' }],
        principalArn: ADMIN,
        errorCode: 'Client.UnauthorizedOperation',
      });

      expect(await deliver(record)).toEqual({ processed: 0, violations: 0 });
      expect(await getItem(`TAGSET#${ACCOUNT}#${REGION}#${groupId}#${EXEMPT}`, 'TAGSET')).toBeUndefined();
      expect(posts()).toEqual([]);
    });
  });
});
