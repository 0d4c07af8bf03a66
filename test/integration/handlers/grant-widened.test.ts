import { ModifySecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import type { EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { createGroup, ec2Client } from '../../support/aws';
import {
  authorizeIngressRecord,
  eventBridgeEvent,
  modifyRulesRecord,
} from '../../support/cloudtrail-factory';
import { auditOf, getGrant, getItem, grantIdIn } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { ENGINEER } from '../../support/slack-requests';
import { type HttpHandler, slash } from '../../support/slash';

/**
 * #19 case 1, through the real handlers (Slack door, worker, detection) with moto and the Slack
 * emulator: `/sg-whitelist bastion 198.51.100.44 for 1h`, then ModifySecurityGroupRules on that rule
 * ID to TCP 0–65535 from 0.0.0.0/0. The rule is sg-warden's own only while it is what the grant made.
 */

type CloudTrailHandler = (
  event: EventBridgeEvent<string, unknown>,
) => Promise<{ processed: number; violations: number }>;

const REGION = 'us-east-1';
const INTRUDER = 'arn:aws:sts::123456789012:assumed-role/Developer/mallory';
let env: HandlerEnv;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let wiring: Wiring;
let bastion: string;

beforeAll(async () => {
  bastion = (await createGroup(REGION)).groupId;
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  # A group nothing uses keeps its severity here: these tests are about other things (exposure has its own).
  exposure: { unattached: keep }
whitelist:
  targets:
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22]
      defaultDuration: 1h
      maxDuration: 8h
      allowed: { users: [${ENGINEER.id}] }
`),
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

function command(name: string, text: string) {
  return slash(env, slackHttp, () => wiring.drainJobs!(), name, text, ENGINEER);
}

describe('#19 case 1: a grant widened to the world', () => {
  it('case 1: a grant’s rule widened to TCP 0–65535 from 0.0.0.0/0 is alerted as changed, the grant ends and its owner is told', async () => {
    const granted = await command('/sg-whitelist', 'bastion 198.51.100.44 for 1h');
    const grantId = grantIdIn(granted.said);
    const grant = (await getGrant(env.tableName, grantId))!;
    expect(grant).toMatchObject({ status: 'ACTIVE', cidr: '198.51.100.44/32', port: 22 });
    expect((await command('/sg-status', 'bastion')).said).toContain(`granted to <@${ENGINEER.id}>`);

    // The grant's own event: still exactly what was made, so sg-warden's own.
    const own = authorizeIngressRecord({
      groupId: bastion,
      rules: [{ ruleId: grant.ruleId!, fromPort: 22, cidr: '198.51.100.44/32' }],
    });
    expect(await cloudtrail(eventBridgeEvent(own) as never)).toEqual({ processed: 1, violations: 0 });

    const widened = { IpProtocol: 'tcp', FromPort: 0, ToPort: 65535, CidrIpv4: '0.0.0.0/0' };
    await ec2Client(REGION).send(
      new ModifySecurityGroupRulesCommand({
        GroupId: bastion,
        SecurityGroupRules: [{ SecurityGroupRuleId: grant.ruleId!, SecurityGroupRule: widened }],
      }),
    );
    env.slack.reset();
    const record = modifyRulesRecord({
      groupId: bastion,
      ruleId: grant.ruleId!,
      rule: widened,
      principalArn: INTRUDER,
    });

    const result = await cloudtrail(eventBridgeEvent(record) as never);

    expect(result).toEqual({ processed: 1, violations: 1 });
    const alert = (await getItem<{ violationIds: string[] }>(
      env.tableName,
      `ALERT#${record.eventID}`,
      'ALERT',
    ))!;
    const violation = await getItem<Record<string, unknown>>(
      env.tableName,
      `VIOLATION#${alert.violationIds[0]}`,
      'VIOLATION',
    );
    expect(violation).toMatchObject({
      status: 'PENDING',
      severity: 'critical',
      action: 'alert',
      rule: expect.objectContaining({
        ruleId: grant.ruleId,
        fromPort: 0,
        toPort: 65535,
        source: '0.0.0.0/0',
      }),
    });
    expect((violation!.reasons as string[])[0]).toBe(
      `a rule sg-warden made for a grant was changed by ${INTRUDER}: grant ${grantId} (${ENGINEER.name}) gave TCP 22 from 198.51.100.44/32 in ${bastion}`,
    );
    const posts = env.slack.callsTo('chat.postMessage');
    const inChannel = posts.filter((p) => p.args.channel === ALERT_CHANNEL);
    expect(inChannel).toHaveLength(1);
    expect(JSON.stringify(inChannel[0]!.args.blocks)).toContain(
      'a rule sg-warden made for a grant was changed by',
    );

    // The grant has ended: recorded, audited as the principal who changed it, and its owner told.
    expect(await getGrant(env.tableName, grantId)).toMatchObject({ status: 'CHANGED', endedBy: INTRUDER });
    expect((await auditOf(env.tableName, grantId)).at(-1)).toMatchObject({
      action: 'rule-changed',
      fromState: 'ACTIVE',
      toState: 'CHANGED',
      actorId: INTRUDER,
    });
    const dm = posts.filter((p) => p.args.channel === ENGINEER.id);
    expect(dm).toHaveLength(1);
    expect(String(dm[0]!.args.text)).toContain(`Your grant ${grantId}`);
    expect(String(dm[0]!.args.text)).toContain('has ended: a rule sg-warden made for a grant was changed by');

    // /sg-status no longer shows it as granted, and the owner cannot extend it.
    const status = await command('/sg-status', 'bastion');
    expect(status.said).not.toContain('granted to');
    expect(status.said).toMatch(/violation \(critical\)/);
    const extend = await command('/sg-whitelist', `extend ${grantId} 1h`);
    expect(extend.said).toContain(`Grant ${grantId} is CHANGED, so it cannot be extended`);

    // Delivered again: nothing new is posted and the owner is not told twice.
    await cloudtrail(eventBridgeEvent(record) as never);
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(posts.length);
  });
});
