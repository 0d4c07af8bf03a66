import type { Context } from 'aws-lambda';
import type { ScanOutcome } from '../../../services/scan/scan';
import { authorize, createGroup, uniqueName } from '../../support/aws';
import { AwsFaults, Throttle } from '../../support/aws-faults';
import { allAudit, tableState } from '../../support/fault-harness';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { lambdaInvokeSink, SlowProxy } from '../../support/slow-proxy';

// The scan meeting AWS trouble: a region whose API refuses, a member account it cannot reach, and
// throttling. Faults are injected on the wire (a proxy in front of moto answers with EC2's own errors),
// so the SDK's retries and the scan's own backoff both take part. Regions no other suite uses.
const BROKEN = 'me-south-1';
const HEALTHY = 'af-south-1';
const THROTTLED = 'ap-east-1';
const MEMBER = '210987654321';
const CARRIED_ON = 'ap-south-2';
const SCAN_FUNCTION = 'sg-warden-test-scan';

let env: HandlerEnv;
let proxy: SlowProxy;
let faults: AwsFaults;
/** Lambda's asynchronous invokes the functions made (the proxy answers them as Lambda does). */
const invoked: { functionName: string; payload: unknown }[] = [];
let scan: (event?: unknown, context?: Context) => Promise<ScanOutcome>;

const context = () =>
  ({ awsRequestId: uniqueName('req'), getRemainingTimeInMillis: () => 600_000 }) as unknown as Context;

async function loadScan(yaml: string): Promise<void> {
  env.writeConfig(yaml);
  jest.resetModules();
  ({ handler: scan } = await import('../../../handlers/scan'));
}

async function openRdp(region: string): Promise<string> {
  const { groupId } = await createGroup(region);
  const [ruleId] = await authorize(region, groupId, {
    IpProtocol: 'tcp',
    FromPort: 3389,
    ToPort: 3389,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  return ruleId!;
}

async function violationsOf(ruleId: string): Promise<Record<string, unknown>[]> {
  return [...(await tableState(env.tableName)).values()].filter(
    (i) => i.type === 'violation' && (i.rule as { ruleId?: string }).ruleId === ruleId,
  );
}

beforeAll(async () => {
  env = await startHandlerEnv();
  faults = new AwsFaults();
  const lambda = lambdaInvokeSink(invoked)!;
  proxy = await new SlowProxy({
    target: process.env.MOTO_URL!,
    recordBodies: true,
    intercept: (call, body) => lambda(call, body) ?? faults.intercept(call, body),
  }).start();
  process.env.AWS_ENDPOINT_URL = proxy.url;
});

afterAll(async () => {
  process.env.AWS_ENDPOINT_URL = process.env.MOTO_URL;
  await proxy.stop();
  await env.stop();
});

afterEach(() => {
  delete process.env.SG_WARDEN_SCAN_FUNCTION;
  invoked.length = 0;
  faults.clear();
  env.slack.reset();
});

describe('scan under AWS trouble', () => {
  it('reports a region whose API fails and an account it cannot reach, once a day each, and scans the rest', async () => {
    await loadScan(
      baseConfig(`scan:\n  regions: [${BROKEN}, ${HEALTHY}]\naccounts:\n  watched: ["${MEMBER}"]\n`),
    );
    const ruleId = await openRdp(HEALTHY);
    faults.add({
      service: 'ec2',
      action: 'DescribeSecurityGroups',
      region: BROKEN,
      times: 100,
      error: { code: 'UnauthorizedOperation', status: 403, message: 'You are not authorized.' },
    });

    const outcome = await scan(undefined, context());

    expect(outcome.state).toBe('done');
    // The healthy region of the bot's own account was read and its rule raised.
    expect(await violationsOf(ruleId)).toEqual([
      expect.objectContaining({ status: 'PENDING', foundBy: 'scan' }),
    ]);
    expect(outcome.totals).toMatchObject({ violationsRaised: 1, errors: 3 });
    // Each unreadable target: an audit entry `scan` with result `error`, and one notice in the alert channel.
    const errors = (await allAudit(env.tableName)).filter(
      (e) => e.subjectId === outcome.runId && e.action === 'scan' && e.result === 'error',
    );
    expect(errors.map((e) => `${e.details?.account}/${e.details?.region}`).sort()).toEqual(
      [`123456789012/${BROKEN}`, `${MEMBER}/${BROKEN}`, `${MEMBER}/${HEALTHY}`].sort(),
    );
    expect(errors.find((e) => e.details?.region === BROKEN && e.details.account !== MEMBER)?.error).toContain(
      'UnauthorizedOperation',
    );
    const notices = () =>
      env.slack
        .callsTo('chat.postMessage')
        .filter((c) => c.args.channel === ALERT_CHANNEL && String(c.args.text).includes('could not read'));
    expect(notices()).toHaveLength(3);
    expect(
      notices()
        .map((n) => String(n.args.text))
        .join('\n'),
    ).toContain('accounts.roleName is not set');

    // The same day, the next scan audits the failures again but tells the channel nothing new.
    const again = await scan(undefined, context());
    expect(again.totals.errors).toBe(3);
    expect(notices()).toHaveLength(3);
  });

  it('backs off and tries again while EC2 throttles, and finishes with nothing lost', async () => {
    await loadScan(baseConfig(`scan:\n  regions: [${THROTTLED}]\n`));
    const ruleId = await openRdp(THROTTLED);
    // More throttling than the SDK's own three tries ride out: the scan's backoff takes over.
    faults.add({
      service: 'ec2',
      action: 'DescribeSecurityGroupRules',
      region: THROTTLED,
      times: 4,
      error: Throttle.ec2,
    });

    const outcome = await scan(undefined, context());

    expect(faults.injectedInto('DescribeSecurityGroupRules', 'RequestLimitExceeded')).toHaveLength(4);
    expect(outcome).toMatchObject({ state: 'done', totals: expect.objectContaining({ errors: 0 }) });
    expect(await violationsOf(ruleId)).toHaveLength(1);
  }, 60_000);

  it('carries a run out of time on in a fresh invocation of itself, which resumes it', async () => {
    process.env.SG_WARDEN_SCAN_FUNCTION = SCAN_FUNCTION;
    await loadScan(baseConfig(`scan:\n  regions: [${CARRIED_ON}]\n`));
    const ruleId = await openRdp(CARRIED_ON);

    const first = await scan(undefined, {
      awsRequestId: uniqueName('req'),
      getRemainingTimeInMillis: () => 5_000,
    } as unknown as Context);

    expect(first.state).toBe('paused');
    expect(invoked).toEqual([{ functionName: SCAN_FUNCTION, payload: { continue: true } }]);
    expect(await violationsOf(ruleId)).toEqual([]);
    // Lambda runs the invocation it was handed.
    const second = await scan({ continue: true }, context());
    expect(second).toMatchObject({ state: 'done', runId: first.runId });
    expect(await violationsOf(ruleId)).toHaveLength(1);
  });
});
