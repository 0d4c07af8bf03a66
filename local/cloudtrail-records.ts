import { randomUUID } from 'node:crypto';
import type { Persona } from './aws-personas';
import { child, childText, items, parseXml, type XmlElement } from './xml';

type Json = Record<string, unknown>;

/** The EC2 security-group calls the sandbox writes CloudTrail records for. */
export const SECURITY_GROUP_ACTIONS = new Set([
  'AuthorizeSecurityGroupIngress',
  'AuthorizeSecurityGroupEgress',
  'RevokeSecurityGroupIngress',
  'RevokeSecurityGroupEgress',
  'ModifySecurityGroupRules',
  'CreateSecurityGroup',
  'DeleteSecurityGroup',
  'UpdateSecurityGroupRuleDescriptionsIngress',
  'UpdateSecurityGroupRuleDescriptionsEgress',
]);

/** The numbered members of a query-protocol list: `prefix.1…`, `prefix.2…`, in order, as their own params. */
function members(params: URLSearchParams, prefix: string): URLSearchParams[] {
  const found = new Map<number, URLSearchParams>();
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)(?:\\.(.*))?$`);
  for (const [key, value] of params) {
    const m = pattern.exec(key);
    if (!m) continue;
    const index = Number(m[1]);
    const entry = found.get(index) ?? new URLSearchParams();
    entry.append(m[2] ?? '', value);
    found.set(index, entry);
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
}

/** A port as CloudTrail writes it: a number (EC2 sends strings over the wire). */
function portOf(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) ? n : undefined;
}

/** `{items: [...]}` as CloudTrail writes a list, `{}` when empty. */
function list(values: Json[]): Json {
  return values.length > 0 ? { items: values } : {};
}

function compact(value: Json): Json {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null));
}

/** One IpPermission of the request (`IpPermissions.N.*`) as CloudTrail's requestParameters hold it. */
function permission(p: URLSearchParams): Json {
  const ranges = (name: string, field: string, as: string) =>
    list(members(p, name).map((r) => compact({ [as]: r.get(field), description: r.get('Description') })));
  return compact({
    ipProtocol: p.get('IpProtocol') ?? undefined,
    fromPort: portOf(p.get('FromPort')),
    toPort: portOf(p.get('ToPort')),
    groups: list(
      members(p, 'Groups').map((g) =>
        compact({
          userId: g.get('UserId'),
          groupId: g.get('GroupId'),
          groupName: g.get('GroupName'),
          description: g.get('Description'),
        }),
      ),
    ),
    ipRanges: ranges('IpRanges', 'CidrIp', 'cidrIp'),
    ipv6Ranges: ranges('Ipv6Ranges', 'CidrIpv6', 'cidrIpv6'),
    prefixListIds: ranges('PrefixListIds', 'PrefixListId', 'prefixListId'),
  });
}

/** TagSpecification.N as CloudTrail's tagSpecificationSet. */
function tagSpecifications(params: URLSearchParams): Json | undefined {
  const specs = members(params, 'TagSpecification');
  if (specs.length === 0) return undefined;
  return {
    items: specs.map((s) => ({
      resourceType: s.get('ResourceType'),
      tags: members(s, 'Tag').map((t) => ({ key: t.get('Key'), value: t.get('Value') ?? '' })),
    })),
  };
}

/** The rule of ModifySecurityGroupRules, PascalCase as CloudTrail records this newer API. */
function modifiedRule(r: URLSearchParams, index: number): Json {
  const rule = new URLSearchParams();
  for (const [key, value] of r) {
    if (key.startsWith('SecurityGroupRule.')) rule.append(key.slice('SecurityGroupRule.'.length), value);
  }
  return compact({
    tag: index + 1,
    SecurityGroupRuleId: r.get('SecurityGroupRuleId'),
    SecurityGroupRule: compact({
      IpProtocol: rule.get('IpProtocol'),
      FromPort: portOf(rule.get('FromPort')),
      ToPort: portOf(rule.get('ToPort')),
      CidrIpv4: rule.get('CidrIpv4'),
      CidrIpv6: rule.get('CidrIpv6'),
      PrefixListId: rule.get('PrefixListId'),
      ReferencedGroupId: rule.get('ReferencedGroupId'),
      Description: rule.get('Description'),
    }),
  });
}

/** The request's parameters as CloudTrail writes them for this action. */
export function requestParameters(action: string, params: URLSearchParams): Json {
  const group = compact({ groupId: params.get('GroupId'), groupName: params.get('GroupName') });
  switch (action) {
    case 'AuthorizeSecurityGroupIngress':
    case 'AuthorizeSecurityGroupEgress':
    case 'RevokeSecurityGroupIngress':
    case 'RevokeSecurityGroupEgress':
    case 'UpdateSecurityGroupRuleDescriptionsIngress':
    case 'UpdateSecurityGroupRuleDescriptionsEgress': {
      const ruleIds = members(params, 'SecurityGroupRuleId').map((r) => ({ securityGroupRuleId: r.get('') }));
      // The legacy flat form (`--protocol tcp --port 22 --cidr …`): top-level fields, ipPermissions {}.
      const flat = compact({
        ipProtocol: params.get('IpProtocol'),
        fromPort: portOf(params.get('FromPort')),
        toPort: portOf(params.get('ToPort')),
        cidrIp: params.get('CidrIp'),
        sourceSecurityGroupName: params.get('SourceSecurityGroupName'),
        sourceSecurityGroupOwnerId: params.get('SourceSecurityGroupOwnerId'),
      });
      const permissions = members(params, 'IpPermissions').map(permission);
      return compact({
        ...group,
        ...flat,
        // By rule IDs (revoke) there are no permissions; otherwise `{}` stands for none (the flat form).
        ...(ruleIds.length > 0 && permissions.length === 0 ? {} : { ipPermissions: list(permissions) }),
        ...(ruleIds.length > 0 ? { securityGroupRuleIds: { items: ruleIds } } : {}),
        tagSpecificationSet: tagSpecifications(params),
      });
    }
    case 'ModifySecurityGroupRules': {
      const rules = members(params, 'SecurityGroupRule').map(modifiedRule);
      return {
        ModifySecurityGroupRulesRequest: compact({
          GroupId: params.get('GroupId'),
          SecurityGroupRule: rules.length === 1 ? rules[0] : rules,
        }),
      };
    }
    case 'CreateSecurityGroup':
      return compact({
        groupName: params.get('GroupName'),
        groupDescription: params.get('GroupDescription'),
        vpcId: params.get('VpcId'),
        tagSpecificationSet: tagSpecifications(params),
      });
    default:
      return group;
  }
}

/** A rule of EC2's securityGroupRuleSet (XML) as CloudTrail writes it in responseElements. */
export function ruleSetItem(item: XmlElement, context: { account: string; region: string }): Json {
  const ruleId = childText(item, 'securityGroupRuleId');
  const referenced = child(item, 'referencedGroupInfo');
  return compact({
    groupOwnerId: childText(item, 'groupOwnerId') ?? context.account,
    groupId: childText(item, 'groupId'),
    securityGroupRuleId: ruleId,
    isEgress: childText(item, 'isEgress') === 'true',
    ipProtocol: childText(item, 'ipProtocol'),
    fromPort: portOf(childText(item, 'fromPort') ?? null),
    toPort: portOf(childText(item, 'toPort') ?? null),
    cidrIpv4: childText(item, 'cidrIpv4'),
    cidrIpv6: childText(item, 'cidrIpv6'),
    prefixListId: childText(item, 'prefixListId'),
    referencedGroupInfo: referenced
      ? compact({ groupId: childText(referenced, 'groupId'), userId: childText(referenced, 'userId') })
      : undefined,
    description: childText(item, 'description'),
    securityGroupRuleArn: ruleId
      ? `arn:aws:ec2:${context.region}:${context.account}:security-group-rule/${ruleId}`
      : undefined,
  });
}

/** The error of a failed call (EC2's `<Response><Errors><Error>`), if the answer is one. */
export function errorOf(answer: { status: number; xml: string }): { code: string; message: string } | null {
  if (answer.status < 400) return null;
  const root = parseXml(answer.xml);
  const error = child(child(root, 'Errors'), 'Error') ?? child(root, 'Error');
  return {
    code: childText(error, 'Code') ?? `HTTP${answer.status}`,
    message: childText(error, 'Message') ?? '',
  };
}

/** A successful answer's elements as CloudTrail writes them (requestId, _return, the rule set, groupId…). */
export function responseElements(
  action: string,
  xml: string,
  context: { account: string; region: string; requestId: string },
): Json {
  const root = parseXml(xml);
  const returned = childText(root, 'return');
  const ruleSet = items(root, 'securityGroupRuleSet');
  return compact({
    requestId: context.requestId,
    _return: returned === undefined ? true : returned === 'true',
    ...(action.startsWith('Authorize') && ruleSet.length > 0
      ? { securityGroupRuleSet: { items: ruleSet.map((r) => ruleSetItem(r, context)) } }
      : {}),
    groupId: action === 'CreateSecurityGroup' ? childText(root, 'groupId') : undefined,
    securityGroupArn: childText(root, 'securityGroupArn'),
  });
}

/**
 * The CloudTrail record AWS writes for one EC2 security-group call: who (the persona behind the access
 * key), what (requestParameters as CloudTrail writes them), EC2's answer (responseElements, or
 * errorCode/errorMessage for a refused call), and the envelope fields real records carry.
 */
export function cloudTrailRecord(call: {
  action: string;
  params: URLSearchParams;
  answer: { status: number; xml: string };
  persona: Persona;
  region: string;
  account: string;
  userAgent: string;
  requestId: string;
  at: Date;
}): Json {
  const error = errorOf(call.answer);
  return {
    eventVersion: '1.10',
    userIdentity: call.persona.userIdentity,
    eventTime: call.at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'ec2.amazonaws.com',
    eventName: call.action,
    awsRegion: call.region,
    sourceIPAddress: call.persona.sourceIp,
    userAgent: call.userAgent,
    ...(error ? { errorCode: error.code, errorMessage: error.message } : {}),
    requestParameters: requestParameters(call.action, call.params),
    responseElements: error
      ? null
      : responseElements(call.action, call.answer.xml, {
          account: call.account,
          region: call.region,
          requestId: call.requestId,
        }),
    requestID: call.requestId,
    eventID: randomUUID(),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: call.account,
    eventCategory: 'Management',
  };
}

/** A record as EventBridge delivers it to a rule's target ("AWS API Call via CloudTrail"). */
export function eventBridgeEvent(record: Json): Json {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.ec2',
    account: record.recipientAccountId,
    time: record.eventTime,
    region: record.awsRegion,
    resources: [],
    detail: record,
  };
}

/**
 * True when an EventBridge rule's pattern matches the event: every key of the pattern must be in the
 * event, an array lists the values allowed, an object is matched key by key, and `$or` holds when one of
 * its patterns does (EventBridge's exact-match subset, which is all the deploy's rule uses).
 */
export function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    const candidates = Array.isArray(value) ? value : [value];
    return candidates.some((v) => pattern.some((allowed) => allowed === v));
  }
  if (typeof pattern === 'object' && pattern !== null) {
    if (typeof value !== 'object' || value === null) return false;
    return Object.entries(pattern).every(([key, sub]) =>
      key === '$or' && Array.isArray(sub)
        ? sub.some((one) => matchesPattern(one, value))
        : matchesPattern(sub, (value as Json)[key]),
    );
  }
  return pattern === value;
}
