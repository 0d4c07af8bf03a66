import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context, EventBridgeEvent } from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../handlers/wiring';
import type { SlackEmulatorOptions } from '../../local/shared/slack-emulator-types';
import type { StoredAuditEntry } from '../../services/kernel/audit';
import { keys } from '../../services/kernel/state';
import { type SweepSummary, sweep } from '../../services/kernel/sweep';
import type { AlertItem, ViolationItem } from '../../services/violations/items';
import { authorize, createGroup, documentClient } from './aws';
import { type AwsFaults, startFaultyAws } from './aws-faults';
import { authorizeIngressRecord, eventBridgeEvent, type RuleSpec } from './cloudtrail-factory';
import { ALERT_CHANNEL, type HandlerEnv, startHandlerEnv } from './handler-env';
import {
  blockActionBody,
  ENGINEER,
  type SignOptions,
  type SlackUser,
  signedEvent,
  slashCommandBody,
  viewSubmissionBody,
} from './slack-requests';
import type { HttpHandler } from './slash';
import type { SlowProxy } from './slow-proxy';

export const REGION = 'us-east-1';
const context = {} as Context;

type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

/** The real handlers of one test file, wired to moto (optionally through a fault proxy) and the Slack emulator. */
export interface FaultSuite {
  env: HandlerEnv;
  slackHttp: HttpHandler;
  cloudtrail: CloudTrailHandler;
  wiring: Wiring;
  /** Set when started with `faultyAws`: the proxy every AWS call goes through, and its fault plan. */
  proxy?: SlowProxy;
  faults?: AwsFaults;
  stop(): Promise<void>;
}

/**
 * Starts the handler environment; with `faultyAws` every AWS call of the handlers goes through a
 * SlowProxy with a fault plan (test/support/aws-faults.ts). Imports the handlers afterwards, so their
 * wiring (built once per test file) uses this environment.
 */
export async function startFaultSuite(
  options: { config?: string; slack?: SlackEmulatorOptions; faultyAws?: boolean } = {},
): Promise<FaultSuite> {
  const env = await startHandlerEnv({
    ...(options.config ? { config: options.config } : {}),
    ...(options.slack ? { slack: options.slack } : {}),
  });
  let aws: Awaited<ReturnType<typeof startFaultyAws>> | undefined;
  if (options.faultyAws) {
    aws = await startFaultyAws();
    process.env.AWS_ENDPOINT_URL = aws.proxy.url;
  }
  const { handler: slackHttp } = await import('../../handlers/slack-http');
  const { handler: cloudtrail } = (await import('../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  };
  const wiring = (await import('../../handlers/wiring')).getWiring();
  return {
    env,
    slackHttp,
    cloudtrail,
    wiring,
    ...(aws ? { proxy: aws.proxy, faults: aws.faults } : {}),
    stop: async () => {
      await env.stop();
      await aws?.proxy.stop();
    },
  };
}

export interface Raised {
  groupId: string;
  ruleIds: string[];
  alertId: string;
  violationIds: string[];
  record: Record<string, unknown>;
}

/**
 * Opens `ports` to the world on a fresh group (rules that really exist in EC2) and delivers the
 * CloudTrail event to the detection handler. `deliver: false` returns the record without delivering it.
 */
export async function raise(
  suite: FaultSuite,
  options: {
    ports?: number[];
    description?: string;
    groupName?: string;
    deliver?: boolean;
    /** Who made the change (CloudTrail's userIdentity.arn); an SSO admin session unless told. */
    principalArn?: string;
  } = {},
): Promise<Raised> {
  const { groupId } = await createGroup(REGION, options.groupName);
  const rules: RuleSpec[] = [];
  for (const port of options.ports ?? [22]) {
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: port,
      ToPort: port,
      IpRanges: [
        { CidrIp: '0.0.0.0/0', ...(options.description ? { Description: options.description } : {}) },
      ],
    });
    rules.push({
      ruleId: ruleId!,
      fromPort: port,
      cidr: '0.0.0.0/0',
      ...(options.description ? { description: options.description } : {}),
    });
  }
  const record = authorizeIngressRecord({
    groupId,
    rules,
    ...(options.principalArn ? { principalArn: options.principalArn } : {}),
  });
  const alertId = String(record.eventID);
  if (options.deliver !== false) await deliver(suite, record);
  const alert = await suite.wiring.store.get<AlertItem>(keys.alert(alertId));
  return {
    groupId,
    ruleIds: rules.map((r) => r.ruleId!),
    alertId,
    violationIds: alert?.violationIds ?? [],
    record,
  };
}

/** Delivers a CloudTrail record to the detection handler as EventBridge does. */
export function deliver(suite: FaultSuite, record: Record<string, unknown>): Promise<unknown> {
  return suite.cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
}

export function violation(suite: FaultSuite, violationId: string): Promise<ViolationItem | null> {
  return suite.wiring.store.get<ViolationItem>(keys.violation(violationId));
}

export function alertOf(suite: FaultSuite, alertId: string): Promise<AlertItem | null> {
  return suite.wiring.store.get<AlertItem>(keys.alert(alertId));
}

export function auditOf(suite: FaultSuite, subjectId: string): Promise<StoredAuditEntry[]> {
  return suite.wiring.store.auditFor(subjectId);
}

/** One sweep at `now` (the sweeper's injected clock), as the scheduled handler runs it. */
export function sweepAt(suite: FaultSuite, now: Date): Promise<SweepSummary> {
  return sweep(suite.wiring, dueHandlers(suite.wiring), now, { concurrencyByKind: { NOTIFY: 1 } });
}

export function secondsFromNow(seconds: number): Date {
  return new Date(Date.now() + seconds * 1000);
}

export const drain = (suite: FaultSuite): Promise<void> => suite.wiring.drainJobs!();

/** Every item of the table except audit entries, keyed by pk/sk: to show a refusal changed nothing. */
export async function tableState(tableName: string): Promise<Map<string, Record<string, unknown>>> {
  const items = new Map<string, Record<string, unknown>>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await documentClient().send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    for (const item of out.Items ?? []) {
      if (item.type === 'audit') continue;
      items.set(`${item.pk}/${item.sk}`, item);
    }
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Audit entries of the table (all subjects), oldest first. */
export async function allAudit(tableName: string): Promise<StoredAuditEntry[]> {
  const out: StoredAuditEntry[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documentClient().send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    for (const item of page.Items ?? []) if (item.type === 'audit') out.push(item as StoredAuditEntry);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return out.sort((a, b) => a.entryId.localeCompare(b.entryId));
}

/** Audit entries in `after` that are not in `before` (by entry ID: sweeps on a future clock sort later). */
export function addedAudit(before: StoredAuditEntry[], after: StoredAuditEntry[]): StoredAuditEntry[] {
  const seen = new Set(before.map((e) => e.entryId));
  return after.filter((e) => !seen.has(e.entryId));
}

/** What a signed request to the Slack door came to: the HTTP answer and what was posted to its response_url. */
export interface DoorExchange {
  result: APIGatewayProxyStructuredResultV2;
  ms: number;
  responseUrl: string;
  replies(): Record<string, unknown>[];
  /** Every reply's text and blocks as one string. */
  said(): string;
}

function exchange(
  suite: FaultSuite,
  result: APIGatewayProxyStructuredResultV2,
  ms: number,
  responseUrl: string,
): DoorExchange {
  const id = responseUrl.slice(responseUrl.lastIndexOf('/') + 1);
  const replies = () => suite.env.slack.responseUrlPosts.filter((p) => p.id === id).map((p) => p.body);
  return {
    result,
    ms,
    responseUrl,
    replies,
    said: () =>
      [result.body ?? '', ...replies().map((r) => `${r.text ?? ''}\n${JSON.stringify(r.blocks ?? [])}`)].join(
        '\n',
      ),
  };
}

/** Sends a body to the Slack door, signed (or not) as `sign` says, and times the answer. */
export async function send(
  suite: FaultSuite,
  body: string,
  sign: SignOptions = {},
  responseUrl = '',
): Promise<DoorExchange> {
  const started = performance.now();
  const result = await suite.slackHttp(signedEvent(body, sign), context);
  return exchange(suite, result, performance.now() - started, responseUrl);
}

/** A signed slash command through the door (not drained). */
export function command(
  suite: FaultSuite,
  name: string,
  text: string,
  options: { user?: SlackUser; channel?: string; teamId?: string; sign?: SignOptions } = {},
): Promise<DoorExchange> {
  const responseUrl = suite.env.slack.responseUrl();
  let body = slashCommandBody({
    command: name,
    text,
    user: options.user ?? ENGINEER,
    channel: options.channel ?? 'C0ENGCHAT',
    responseUrl,
  });
  if (options.teamId) body = withTeam(body, options.teamId);
  return send(suite, body, options.sign, responseUrl);
}

/** A signed button press through the door (not drained). */
export function press(
  suite: FaultSuite,
  actionId: string,
  value: string,
  options: {
    user?: SlackUser;
    channel?: string;
    messageTs?: string;
    teamId?: string;
    triggerId?: string;
    sign?: SignOptions;
  } = {},
): Promise<DoorExchange> {
  const responseUrl = suite.env.slack.responseUrl();
  let body = blockActionBody({
    actionId,
    value,
    user: options.user ?? ENGINEER,
    channel: options.channel ?? ALERT_CHANNEL,
    responseUrl,
    ...(options.messageTs ? { messageTs: options.messageTs } : {}),
    ...(options.triggerId ? { triggerId: options.triggerId } : {}),
  });
  if (options.teamId) body = withTeam(body, options.teamId);
  return send(suite, body, options.sign, responseUrl);
}

/** The Keep dialog's submission through the door (not drained). */
export function submitKeep(
  suite: FaultSuite,
  options: {
    metadata: string;
    justification: string;
    duration: string;
    user?: SlackUser;
    teamId?: string;
    sign?: SignOptions;
  },
): Promise<DoorExchange> {
  let body = viewSubmissionBody({
    callbackId: 'keep_modal',
    privateMetadata: options.metadata,
    user: options.user ?? ENGINEER,
    values: {
      keep_justification: { justification_input: { type: 'plain_text_input', value: options.justification } },
      keep_duration: {
        duration_select: {
          type: 'static_select',
          selected_option: { text: { type: 'plain_text', text: 'x' }, value: options.duration },
        },
      },
    },
  });
  if (options.teamId) body = withTeam(body, options.teamId);
  return send(suite, body, options.sign);
}

/** Rewrites every team ID a form body names (slash command fields or an interaction payload). */
export function withTeam(body: string, teamId: string): string {
  const form = new URLSearchParams(body);
  const payload = form.get('payload');
  if (payload !== null) {
    form.set('payload', payload.replaceAll('T0SGWARDEN', teamId));
  } else {
    form.set('team_id', teamId);
  }
  return form.toString();
}

/** The alert messages in the channel (not thread replies) that show this violation. */
export function messagesShowing(suite: FaultSuite, violationId: string) {
  return [...suite.env.slack.messages.values()].filter(
    (m) => m.channel === ALERT_CHANNEL && !m.threadTs && JSON.stringify(m.blocks).includes(violationId),
  );
}

/** chat.postMessage calls (whatever Slack answered) that carried this violation. */
export function postsShowing(suite: FaultSuite, violationId: string) {
  return suite.env.slack
    .callsTo('chat.postMessage')
    .filter((c) => !c.args.thread_ts && JSON.stringify(c.args.blocks ?? []).includes(violationId));
}
