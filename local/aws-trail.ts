import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Config } from '../services/config/config';
import { policySchema } from '../services/config/policy-schema';
import { detectionEventPattern } from '../services/deploy/event-pattern';
import type { Logger } from '../services/shared/logger';
import { PERSONAS, type Persona, personaOf, signatureScope } from './aws-personas';
import type { ProxyAnswer, ProxyExchange, ProxyRequest } from './aws-recorder';
import {
  cloudTrailRecord,
  eventBridgeEvent,
  matchesPattern,
  SECURITY_GROUP_ACTIONS,
} from './cloudtrail-records';
import { child, childText, items, parseXml, type XmlElement } from './xml';

type Json = Record<string, unknown>;

/** What became of one call's CloudTrail event. */
export interface TrailDelivery {
  eventId: string;
  eventName: string;
  /** False when the deploy's EventBridge rule does not match it (as in AWS, detection never sees it). */
  matched: boolean;
  /** The detection Lambda's answer, when it was delivered. */
  result?: unknown;
  error?: string;
}

/**
 * The EventBridge pattern of the detection function's rule, as serverless.yml deploys it: spelled out, or
 * through the deploy bridge (`${file(infra/iam-from-config.js):eventPattern}`), which builds it from the
 * event names detection parses (services/deploy/event-pattern.ts) and the policy (default: the shipped one).
 */
export function readDetectionPattern(repoRoot: string, policy?: Pick<Config, 'policy'>): Json {
  const doc = parse(readFileSync(join(repoRoot, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as {
    functions?: Record<string, { events?: { eventBridge?: { pattern?: Json | string } }[] }>;
  };
  for (const fn of Object.values(doc.functions ?? {})) {
    for (const event of fn.events ?? []) {
      const pattern = event.eventBridge?.pattern;
      if (typeof pattern === 'string' && pattern.includes('iam-from-config.js):eventPattern'))
        return detectionEventPattern(policy ?? { policy: policySchema.parse({}) });
      if (pattern && typeof pattern === 'object' && matchesPattern(pattern.source, 'aws.ec2')) return pattern;
    }
  }
  throw new Error('serverless.yml has no EventBridge rule for CloudTrail security-group events');
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function toXml(element: XmlElement): string {
  const inner = element.children.length > 0 ? element.children.map(toXml).join('') : xmlEscape(element.text);
  return `<${element.name}>${inner}</${element.name}>`;
}

function form(request: ProxyRequest): URLSearchParams | null {
  if (!(request.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) return null;
  return new URLSearchParams(request.body.toString('utf8'));
}

function answerWith(status: number, contentType: string, body: string): ProxyAnswer {
  return { status, headers: { 'content-type': contentType }, body: Buffer.from(body) };
}

/** AWS's refusal of an unknown access key, in the protocol the caller speaks. */
function unknownKeyAnswer(request: ProxyRequest, sentence: string): ProxyAnswer {
  const requestId = randomUUID();
  if (request.headers['x-amz-target']) {
    return answerWith(
      400,
      'application/x-amz-json-1.1',
      JSON.stringify({ __type: 'UnrecognizedClientException', message: sentence }),
    );
  }
  const ec2 = signatureScope(request.headers, request.path)?.service === 'ec2';
  if (ec2) {
    return answerWith(
      401,
      'text/xml',
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>AuthFailure</Code><Message>${xmlEscape(sentence)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    );
  }
  return answerWith(
    403,
    'text/xml',
    `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>${xmlEscape(sentence)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  );
}

/** protocol|from|to|source for matching a requested rule to the rule EC2 made. */
function ruleKey(
  protocol: string,
  from: string | null | undefined,
  to: string | null | undefined,
  source: string,
) {
  const names: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' };
  const p = protocol.toLowerCase();
  const proto = names[p] ?? p;
  const ports = proto === '-1' ? '-1|-1' : `${from ?? '-1'}|${to ?? '-1'}`;
  return `${proto}|${ports}|${source}`;
}

/** Every rule an Authorize request asks for (one per source of each permission). */
function requestedRules(params: URLSearchParams): string[] {
  const keys: string[] = [];
  const byIndex = new Map<string, Map<string, string>>();
  for (const [key, value] of params) {
    const m = /^IpPermissions\.(\d+)\.(.+)$/.exec(key);
    if (!m) continue;
    const entry = byIndex.get(m[1]!) ?? new Map<string, string>();
    entry.set(m[2]!, value);
    byIndex.set(m[1]!, entry);
  }
  for (const p of byIndex.values()) {
    const protocol = p.get('IpProtocol') ?? '-1';
    for (const [field, value] of p) {
      if (
        /^(IpRanges\.\d+\.CidrIp|Ipv6Ranges\.\d+\.CidrIpv6|PrefixListIds\.\d+\.PrefixListId|Groups\.\d+\.GroupId)$/.test(
          field,
        )
      ) {
        keys.push(ruleKey(protocol, p.get('FromPort'), p.get('ToPort'), value));
      }
    }
  }
  return keys;
}

function describedRuleKey(item: XmlElement): string {
  const source =
    childText(item, 'cidrIpv4') ??
    childText(item, 'cidrIpv6') ??
    childText(item, 'prefixListId') ??
    childText(child(item, 'referencedGroupInfo'), 'groupId') ??
    '';
  return ruleKey(
    childText(item, 'ipProtocol') ?? '-1',
    childText(item, 'fromPort'),
    childText(item, 'toPort'),
    source,
  );
}

/**
 * The sandbox's CloudTrail and EventBridge. Every EC2 security-group call that reaches the sandbox's AWS
 * endpoint — from the bot, the page's panel, the AWS CLI, Terraform or any SDK — becomes the record
 * CloudTrail writes (the caller from the access key: local/aws-personas.ts), and, when the deploy's
 * EventBridge rule (serverless.yml) matches it, is delivered to the detection Lambda a moment later,
 * one at a time, as EventBridge would.
 *
 * Two hooks for the recording proxy: `gate` refuses unknown access keys as AWS does (and answers STS
 * GetCallerIdentity with the persona), `watch` writes the record after EC2 answered.
 */
export class SandboxTrail {
  private chain: Promise<unknown> = Promise.resolve();
  /** While `concurrently` runs: where its deliveries start, and the deliveries it queued. */
  private batch: { after: Promise<unknown>; deliveries: Promise<unknown>[] } | null = null;
  private readonly deliveries = new Map<string, Promise<TrailDelivery>>();
  /** Delivers an event to detection; null until the handlers are loaded (calls before that raise nothing). */
  deliver: ((event: Json) => Promise<unknown>) | null = null;

  constructor(
    private readonly options: {
      account: string;
      pattern: Json;
      logger: Logger;
      /** CloudTrail's delivery latency, shortened (it is minutes in AWS). */
      delayMs: number;
    },
  ) {}

  /** Answers requests the sandbox does not forward: unknown or missing access keys, GetCallerIdentity. */
  gate = (request: ProxyRequest): ProxyAnswer | null => {
    const scope = signatureScope(request.headers, request.path);
    const persona = personaOf(scope?.accessKeyId ?? null);
    if (!persona) {
      const keys = PERSONAS.map((p) => `${p.accessKeyId} (${p.name})`).join(', ');
      const sentence = scope
        ? `The security token included in the request is invalid: the sandbox does not know the access key ${scope.accessKeyId}; use one of ${keys}, with any secret.`
        : `The request is not signed: set AWS_ACCESS_KEY_ID to one of the sandbox's keys (${keys}) and any AWS_SECRET_ACCESS_KEY.`;
      return unknownKeyAnswer(request, sentence);
    }
    const params = form(request);
    if (params?.get('Action') === 'GetCallerIdentity') {
      return answerWith(
        200,
        'text/xml',
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${persona.arn}</Arn><UserId>${persona.principalId}</UserId><Account>${this.options.account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      );
    }
    return null;
  };

  /** Writes the CloudTrail record of a security-group call and queues its delivery; fixes moto's answer. */
  watch = async (exchange: ProxyExchange): Promise<ProxyAnswer | undefined> => {
    const { request } = exchange;
    const params = form(request);
    const action = params?.get('Action');
    const scope = signatureScope(request.headers, request.path);
    if (!params || !action || !SECURITY_GROUP_ACTIONS.has(action) || scope?.service !== 'ec2')
      return undefined;
    const persona = personaOf(scope.accessKeyId) as Persona;
    // moto answers every call with the request ID "request-id": each call gets its own, as in AWS.
    const requestId = randomUUID();
    let xml = exchange.answer.body
      .toString('utf8')
      .replace(
        /<(requestId|RequestID)>[^<]*<\/\1>/,
        (_whole, tag: string) => `<${tag}>${requestId}</${tag}>`,
      );
    if (action.startsWith('Authorize') && exchange.answer.status < 400) {
      xml = await this.withEveryRule(xml, params, action, exchange);
    }
    const answer: ProxyAnswer = {
      ...exchange.answer,
      headers: { ...exchange.answer.headers, 'x-amzn-requestid': requestId },
      body: Buffer.from(xml),
    };
    if (!this.deliver) return answer;
    const record = cloudTrailRecord({
      action,
      params,
      answer: { status: exchange.answer.status, xml },
      persona,
      region: scope.region,
      account: this.options.account,
      userAgent: request.headers['user-agent'] ?? '',
      requestId,
      at: new Date(),
    });
    this.enqueue(requestId, eventBridgeEvent(record));
    return answer;
  };

  /**
   * Runs `fn`; the events of the calls made meanwhile are delivered side by side, as EventBridge invokes
   * a Lambda concurrently for a burst of events (after the events queued before; later ones wait for them).
   */
  async concurrently<T>(fn: () => Promise<T>): Promise<T> {
    const batch = { after: this.chain, deliveries: [] as Promise<unknown>[] };
    this.batch = batch;
    try {
      return await fn();
    } finally {
      this.batch = null;
      this.chain = Promise.all([batch.after, ...batch.deliveries]);
    }
  }

  /** What became of the event of the call that EC2 answered with `requestId` (waits for its delivery). */
  delivered(requestId: string): Promise<TrailDelivery> | undefined {
    return this.deliveries.get(requestId);
  }

  private enqueue(requestId: string, event: Json): void {
    const detail = event.detail as Json & {
      eventID: string;
      eventName: string;
      userIdentity: { arn: string };
    };
    const matched = matchesPattern(this.options.pattern, event);
    const deliver = this.deliver!;
    const delivery = (this.batch?.after ?? this.chain).then(async (): Promise<TrailDelivery> => {
      const base = { eventId: detail.eventID, eventName: detail.eventName, matched };
      this.options.logger.info(
        { ...base, principal: detail.userIdentity.arn, errorCode: detail.errorCode },
        matched
          ? 'cloudtrail event delivered to detection'
          : 'cloudtrail event (no EventBridge rule matches)',
      );
      if (!matched) return base;
      await new Promise((r) => setTimeout(r, this.options.delayMs));
      try {
        return { ...base, result: await deliver(event) };
      } catch (error) {
        return { ...base, error: (error as Error).message };
      }
    });
    if (this.batch) this.batch.deliveries.push(delivery);
    else this.chain = delivery;
    this.deliveries.set(requestId, delivery);
    // The panel asks right after its call; nobody asks later than this.
    setTimeout(() => this.deliveries.delete(requestId), 5 * 60_000).unref();
  }

  /**
   * moto lists only the last permission's rules when a call adds several (AWS lists all): the answer,
   * and so the record, get every rule the call added, read back from EC2 in the same turn.
   */
  private async withEveryRule(
    xml: string,
    params: URLSearchParams,
    action: string,
    exchange: ProxyExchange,
  ): Promise<string> {
    const wanted = requestedRules(params);
    const root = parseXml(xml);
    const groupId = params.get('GroupId');
    if (!root || !groupId || items(root, 'securityGroupRuleSet').length >= wanted.length) return xml;
    const describe = new URLSearchParams({
      Action: 'DescribeSecurityGroupRules',
      Version: params.get('Version') ?? '2016-11-15',
      'Filter.1.Name': 'group-id',
      'Filter.1.Value.1': groupId,
    });
    const read = await exchange.read({
      method: 'POST',
      path: '/',
      headers: {
        ...exchange.request.headers,
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      },
      body: Buffer.from(describe.toString()),
    });
    const isEgress = action.endsWith('Egress') ? 'true' : 'false';
    const added = items(parseXml(read.body.toString('utf8')), 'securityGroupRuleSet').filter(
      (item) => childText(item, 'isEgress') === isEgress && wanted.includes(describedRuleKey(item)),
    );
    if (added.length === 0) return xml;
    const set = `<securityGroupRuleSet>${added.map((a) => toXml(a)).join('')}</securityGroupRuleSet>`;
    return xml.replace(
      /<securityGroupRuleSet>[\s\S]*?<\/securityGroupRuleSet>|<securityGroupRuleSet\/>/,
      set,
    );
  }
}
