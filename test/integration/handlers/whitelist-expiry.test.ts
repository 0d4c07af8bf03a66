import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import type { GrantItem } from '../../../services/grants/items';
import type { Transition } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import { AwsCallError } from '../../../services/shared/errors';
import { createGroup, ec2Client } from '../../support/aws';
import { auditOf, getGrant, grantIdIn, rulesFrom } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { ENGINEER, OUTSIDER } from '../../support/slack-requests';
import { type HttpHandler, press, slash } from '../../support/slash';

const REGION = 'us-east-1';
const MINUTE = 60_000;

let env: HandlerEnv;
let slackHttp: HttpHandler;
let wiring: Wiring;
let bastion: string;
let hostCounter = 10;

function nextHost(): string {
  hostCounter += 1;
  return `192.0.2.${hostCounter}`;
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
      allowed: { users: [${ENGINEER.id}] }
`),
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

afterEach(() => jest.restoreAllMocks());

function whitelist(text: string, user = ENGINEER) {
  return slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-whitelist', text, user);
}

async function grantFor(text: string): Promise<GrantItem> {
  const answer = await whitelist(text);
  return (await getGrant(env.tableName, grantIdIn(answer.said)))!;
}

/** One sweep as the scheduled Lambda runs it, `minutes` from now. */
function sweepAt(minutes: number) {
  return sweep(wiring, dueHandlers(wiring), new Date(Date.now() + minutes * MINUTE));
}

/** Direct messages to the engineer about one grant. */
function dmsAbout(grantId: string) {
  return env.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === ENGINEER.id && String(c.args.text).includes(grantId));
}

function refuseRevokes(times: number): jest.SpyInstance {
  const real = wiring.ec2.revokeRules.bind(wiring.ec2);
  let left = times;
  return jest.spyOn(wiring.ec2, 'revokeRules').mockImplementation(async (...args) => {
    if (left > 0) {
      left -= 1;
      throw new AwsCallError(
        'RevokeSecurityGroupIngress failed: RequestLimitExceeded: Request limit exceeded.',
        {
          awsCode: 'RequestLimitExceeded',
        },
      );
    }
    return real(...args);
  });
}

describe('grant expiry (the sweeper)', () => {
  it('warns ten minutes before the end with an Extend button, then revokes at expiry and says so', async () => {
    const grant = await grantFor(`bastion ${nextHost()} for 30m`);

    const early = await sweepAt(19);
    expect(dmsAbout(grant.grantId)).toHaveLength(0);
    expect(early.GRANT_WARN?.due ?? 0).toBe(0);

    await sweepAt(21);
    const [warning] = dmsAbout(grant.grantId);
    expect(warning).toBeDefined();
    const buttons = (
      warning!.args.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]
    )
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? []);
    expect(buttons).toEqual([expect.objectContaining({ action_id: 'grant_extend', value: grant.grantId })]);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({
      status: 'ACTIVE',
      dueKind: 'GRANT_EXPIRY',
      dueAt: grant.expiresAt,
      warnedAt: expect.any(String),
    });
    await sweepAt(22);
    expect(dmsAbout(grant.grantId)).toHaveLength(1);

    await sweepAt(31);

    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
    const ended = (await getGrant(env.tableName, grant.grantId))!;
    expect(ended).toMatchObject({ status: 'EXPIRED', endedBy: 'timeout' });
    expect(ended.dueKind).toBeUndefined();
    expect(String(dmsAbout(grant.grantId)[1]?.args.text)).toContain('expired');
    const audit = await auditOf(env.tableName, grant.grantId);
    expect(audit.at(-1)).toMatchObject({
      action: 'expire',
      toState: 'EXPIRED',
      actorType: 'timeout',
      result: 'ok',
    });
  });

  it('sends no late warning with Extend for a grant already over (a clock skip): only that it expired', async () => {
    const grant = await grantFor(`bastion ${nextHost()} for 30m`);

    await sweepAt(61);
    await sweepAt(61);

    const dms = dmsAbout(grant.grantId);
    expect(dms).toHaveLength(1);
    expect(String(dms[0]!.args.text)).toContain('expired');
    expect(JSON.stringify(dms[0]!.args.blocks ?? [])).not.toContain('grant_extend');
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({ status: 'EXPIRED' });
    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
  });

  it('extends from the Extend button for the owner only, and does not expire the grant then', async () => {
    const grant = await grantFor(`bastion ${nextHost()} for 30m`);
    await sweepAt(21);

    const stranger = await press(
      env,
      slackHttp,
      () => wiring.drainJobs!(),
      'grant_extend',
      grant.grantId,
      OUTSIDER,
    );
    expect(stranger.said).toContain('NOT_AUTHORISED');
    expect((await getGrant(env.tableName, grant.grantId))!.expiresAt).toBe(grant.expiresAt);

    const owner = await press(env, slackHttp, () => wiring.drainJobs!(), 'grant_extend', grant.grantId);
    expect(owner.said).toContain(`Extended ${grant.grantId}`);
    const extended = (await getGrant(env.tableName, grant.grantId))!;
    expect(new Date(extended.expiresAt).getTime() - new Date(grant.expiresAt).getTime()).toBe(60 * MINUTE);
    expect(extended).toMatchObject({ dueKind: 'GRANT_WARN' });
    expect(extended.warnedAt).toBeUndefined();

    await sweepAt(31);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({ status: 'ACTIVE' });
    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(1);
  });

  it('keeps a grant whose revoke fails visible as REVOKE_FAILED and retries with backoff until the rule is gone', async () => {
    const grant = await grantFor(`bastion ${nextHost()} for 30m`);
    refuseRevokes(2);

    await sweepAt(31);

    let failed = (await getGrant(env.tableName, grant.grantId))!;
    expect(failed).toMatchObject({
      status: 'REVOKE_FAILED',
      revokeAttempts: 1,
      dueKind: 'GRANT_EXPIRY',
      lastError: expect.stringContaining('RequestLimitExceeded'),
    });
    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(1);
    const notices = env.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel === ALERT_CHANNEL && String(c.args.text).includes(grant.grantId));
    expect(notices).toHaveLength(1);
    expect(String(notices[0]!.args.text)).toContain('REVOKE_FAILED');
    const listed = await whitelist('list');
    expect(listed.said).toContain(grant.grantId);
    expect(listed.said).toContain('REVOKE_FAILED');
    const status = await slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-status', '');
    expect(status.said).toContain(grant.grantId);
    expect(status.said).toContain('REVOKE_FAILED');

    // Not due again until the backoff (1 minute) has passed.
    const tooSoon = await sweepAt(31.5);
    expect(tooSoon.GRANT_EXPIRY?.due ?? 0).toBe(0);

    await sweepAt(33);
    failed = (await getGrant(env.tableName, grant.grantId))!;
    expect(failed).toMatchObject({ status: 'REVOKE_FAILED', revokeAttempts: 2 });
    expect(new Date(failed.dueAt!).getTime()).toBeGreaterThan(Date.now() + 34 * MINUTE);

    await sweepAt(40);

    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({ status: 'EXPIRED' });
    const audit = await auditOf(env.tableName, grant.grantId);
    expect(audit.filter((a) => a.action === 'expire').map((a) => [a.toState, a.result])).toEqual([
      ['REVOKE_FAILED', 'error'],
      ['REVOKE_FAILED', 'error'],
      ['EXPIRED', 'ok'],
    ]);
    expect(String(dmsAbout(grant.grantId).at(-1)?.args.text)).toContain('expired');
  });

  it('ends the grant as EXPIRED when its rule is already gone', async () => {
    const grant = await grantFor(`bastion ${nextHost()} for 30m`);
    await ec2Client(REGION).send(
      new RevokeSecurityGroupIngressCommand({ GroupId: bastion, SecurityGroupRuleIds: [grant.ruleId!] }),
    );

    await sweepAt(31);

    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({ status: 'EXPIRED' });
    const audit = await auditOf(env.tableName, grant.grantId);
    expect(audit.at(-1)).toMatchObject({
      action: 'expire',
      toState: 'EXPIRED',
      details: expect.objectContaining({ alreadyGone: true }),
    });
  });

  it('cleans up a request whose rule was added but never recorded', async () => {
    const realTransition = wiring.store.transition.bind(wiring.store);
    jest
      .spyOn(wiring.store, 'transition')
      .mockImplementation(async (t: Transition) =>
        t.to === 'ACTIVE' && t.from.includes('PENDING')
          ? Promise.reject(new Error('ProvisionedThroughputExceededException'))
          : realTransition(t),
      );
    refuseRevokes(1);
    const host = nextHost();

    const answer = await whitelist(`bastion ${host} for 30m`);

    expect(answer.said).toContain('could not be recorded');
    jest.restoreAllMocks();
    const grantId = grantIdIn(answer.said);
    expect(await getGrant(env.tableName, grantId)).toMatchObject({ status: 'PENDING' });
    expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(1);

    await sweepAt(4);
    expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(1);

    await sweepAt(6);

    expect(await rulesFrom(bastion, `${host}/32`)).toHaveLength(0);
    expect(await getGrant(env.tableName, grantId)).toMatchObject({
      status: 'FAILED',
      failureCode: 'ABANDONED',
    });
    expect(String(dmsAbout(grantId)[0]?.args.text)).toContain('did not finish');
  });

  it('handles a grant once when two sweeps run at the same time', async () => {
    const grant = await grantFor(`bastion ${nextHost()} for 30m`);
    const revokes = jest.spyOn(wiring.ec2, 'revokeRules');

    await Promise.all([sweepAt(31), sweepAt(31)]);

    expect(revokes.mock.calls.filter(([, , , ids]) => ids.includes(grant.ruleId!))).toHaveLength(1);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({ status: 'EXPIRED' });
    expect(dmsAbout(grant.grantId).filter((c) => String(c.args.text).includes('expired'))).toHaveLength(1);
  });
});
