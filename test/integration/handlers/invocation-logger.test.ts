import type { APIGatewayProxyEventV2, Context, EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { authorize, createGroup } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { ENGINEER, signedEvent, slashCommandBody } from '../../support/slack-requests';

// #11.6: every line a handler's invocation logs — the handler's own, the services', the listeners' and
// the jobs' — carries the Lambda request ID of that invocation, from one child logger per invocation.
const REGION = 'us-east-1';

type Line = Record<string, unknown> & { msg?: string };

let env: HandlerEnv;
let wiring: Wiring;
let cloudtrail: (event: EventBridgeEvent<string, unknown>, context?: Context) => Promise<unknown>;
let sweeper: (event?: unknown, context?: Context) => Promise<unknown>;
let slackHttp: (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;
const lines: Line[] = [];

function context(awsRequestId: string): Context {
  return { awsRequestId } as Context;
}

/** The JSON log lines written while `act` ran. */
async function logged(act: () => Promise<unknown>): Promise<Line[]> {
  const from = lines.length;
  await act();
  return lines.slice(from);
}

const level = process.env.SG_WARDEN_LOG_LEVEL;

beforeAll(async () => {
  // pino writes through process.stdout.write when it has been replaced before the logger is built.
  const write = process.stdout.write.bind(process.stdout);
  jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (!text.startsWith('{"level"')) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    for (const line of text.split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
    return true;
  }) as typeof process.stdout.write);
  env = await startHandlerEnv();
  // Tests run silent (global-setup); this file's wiring logs at info, into `lines`.
  process.env.SG_WARDEN_LOG_LEVEL = 'info';
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: typeof cloudtrail;
  });
  ({ handler: sweeper } = (await import('../../../handlers/sweeper')) as unknown as {
    handler: typeof sweeper;
  });
  ({ handler: slackHttp } = (await import('../../../handlers/slack-http')) as unknown as {
    handler: typeof slackHttp;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
  process.env.SG_WARDEN_LOG_LEVEL = level;
});

afterAll(async () => {
  jest.restoreAllMocks();
  await env.stop();
});

describe('#11.6: the handler’s child logger with the Lambda request ID reaches every log line', () => {
  it('detection: the handler’s, the detection service’s and the audit lines all carry it', async () => {
    const { groupId } = await createGroup(REGION);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    const record = authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }] });

    const out = await logged(() =>
      cloudtrail(
        eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>,
        context('lambda-ct-1'),
      ),
    );

    expect(out.map((l) => l.msg)).toEqual(expect.arrayContaining(['audit', 'alert posted', 'event handled']));
    for (const line of out)
      expect(line).toMatchObject({ lambdaRequestId: 'lambda-ct-1', eventId: record.eventID });
  });

  it('the sweeper: every line of the sweep carries it', async () => {
    const out = await logged(() => sweeper({}, context('lambda-sweep-1')));

    expect(out.map((l) => l.msg)).toContain('sweep done');
    for (const line of out) expect(line).toMatchObject({ lambdaRequestId: 'lambda-sweep-1' });
  });

  it('the Slack door: the listener’s job and the grant service log with the door’s request ID', async () => {
    const out = await logged(async () => {
      await slackHttp(
        signedEvent(
          slashCommandBody({ command: '/sg-whitelist', text: 'nowhere 203.0.113.9', user: ENGINEER }),
        ),
        context('lambda-door-1'),
      );
      await wiring.drainJobs!();
    });

    expect(out.map((l) => l.msg)).toContain('audit');
    for (const line of out) expect(line).toMatchObject({ lambdaRequestId: 'lambda-door-1' });
    expect(out.some((l) => typeof l.slackRequestId === 'string')).toBe(true);
  });

  it('outside an invocation the container’s logger has no request ID', async () => {
    const out = await logged(async () => wiring.logger.info('between invocations'));
    expect(out).toHaveLength(1);
    expect(out[0]).not.toHaveProperty('lambdaRequestId');
  });
});
