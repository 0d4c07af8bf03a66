import { gunzipSync } from 'node:zlib';
import { BadInputError } from '../shared/errors';
import type {
  Actor,
  Direction,
  Protocol,
  RuleFacts,
  SgEvent,
  SgEventKind,
  SourceKind,
} from '../shared/model';
import { createdGroupTags, describedRuleIds, prefixListChangeOf, tagChangeOf } from './watched-records';

type Json = Record<string, unknown>;

const EVENT_KINDS: Record<string, { kind: SgEventKind; direction: Direction | null }> = {
  AuthorizeSecurityGroupIngress: { kind: 'authorize', direction: 'ingress' },
  AuthorizeSecurityGroupEgress: { kind: 'authorize', direction: 'egress' },
  ModifySecurityGroupRules: { kind: 'modify', direction: null },
  RevokeSecurityGroupIngress: { kind: 'revoke', direction: 'ingress' },
  RevokeSecurityGroupEgress: { kind: 'revoke', direction: 'egress' },
  CreateSecurityGroup: { kind: 'create-group', direction: null },
  DeleteSecurityGroup: { kind: 'delete-group', direction: null },
  // Calls that can silence sg-warden without adding a rule (README "Watched changes").
  UpdateSecurityGroupRuleDescriptionsIngress: { kind: 'describe-rules', direction: 'ingress' },
  UpdateSecurityGroupRuleDescriptionsEgress: { kind: 'describe-rules', direction: 'egress' },
  CreateTags: { kind: 'tags-added', direction: null },
  DeleteTags: { kind: 'tags-removed', direction: null },
  CreateManagedPrefixList: { kind: 'prefix-list', direction: null },
  ModifyManagedPrefixList: { kind: 'prefix-list', direction: null },
};

/**
 * The CloudTrail event names sg-warden reads; the EventBridge rule matches exactly these (serverless.yml
 * takes them from here; infra/region-forwarder.yml lists them too, and a test keeps the two the same).
 */
export const SECURITY_GROUP_EVENT_NAMES = Object.keys(EVENT_KINDS);

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{items: [...]}` as CloudTrail writes lists; `{}` or absent means empty; a lone object counts as one. */
export function items(value: unknown): Json[] {
  if (Array.isArray(value)) return value.filter(isObject);
  if (!isObject(value)) return [];
  if (Array.isArray(value.items)) return value.items.filter(isObject);
  if (isObject(value.items)) return [value.items];
  return [];
}

export function str(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** A port as CloudTrail records it (number, numeric string, -1 or absent) → number, or null for "all". */
function port(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 0) return null;
  return n;
}

const PROTOCOL_NAMES: Record<string, Protocol> = {
  '-1': 'all',
  all: 'all',
  '6': 'tcp',
  tcp: 'tcp',
  '17': 'udp',
  udp: 'udp',
  '1': 'icmp',
  icmp: 'icmp',
  '58': 'icmpv6',
  icmpv6: 'icmpv6',
};

/** Normalises "-1", "6", "TCP", 17… to all / tcp / udp / icmp / icmpv6, or the number as a string. */
export function normaliseProtocol(value: unknown): Protocol {
  const text = String(value ?? '-1')
    .trim()
    .toLowerCase();
  // hasOwn: a protocol such as "constructor" must not resolve to Object.prototype's members.
  return Object.hasOwn(PROTOCOL_NAMES, text) ? PROTOCOL_NAMES[text]! : text;
}

function normalisePorts(
  protocol: Protocol,
  from: unknown,
  to: unknown,
): { fromPort: number | null; toPort: number | null } {
  if (protocol === 'all') return { fromPort: null, toPort: null };
  const fromPort = port(from);
  const toPort = port(to);
  if (protocol === 'tcp' || protocol === 'udp') {
    if (fromPort === null || toPort === null) return { fromPort: null, toPort: null };
  }
  return { fromPort, toPort };
}

type Source = { source: string; sourceKind: SourceKind; description: string | null };

/** Every source of one IpPermission (IPv4 and IPv6 ranges, referenced groups, prefix lists). */
function permissionSources(permission: Json): Source[] {
  const sources: Source[] = [];
  for (const r of items(permission.ipRanges)) {
    const cidr = str(r.cidrIp);
    if (cidr) sources.push({ source: cidr, sourceKind: 'ipv4', description: str(r.description) });
  }
  for (const r of items(permission.ipv6Ranges)) {
    const cidr = str(r.cidrIpv6);
    if (cidr) sources.push({ source: cidr, sourceKind: 'ipv6', description: str(r.description) });
  }
  for (const g of items(permission.groups)) {
    const id = str(g.groupId) ?? str(g.groupName);
    if (id) sources.push({ source: id, sourceKind: 'security-group', description: str(g.description) });
  }
  for (const p of items(permission.prefixListIds)) {
    const id = str(p.prefixListId);
    if (id) sources.push({ source: id, sourceKind: 'prefix-list', description: str(p.description) });
  }
  return sources;
}

/** Rules from the request's IpPermissions, or from the legacy flat form (cidrIp, ipProtocol, ports). */
function rulesFromRequest(params: Json, groupId: string, direction: Direction): RuleFacts[] {
  const permissions = items(params.ipPermissions);
  // A legacy grant to a source group by name carries no ipProtocol or cidrIp at all (all traffic).
  const isLegacyFlat =
    params.cidrIp !== undefined ||
    params.ipProtocol !== undefined ||
    params.sourceSecurityGroupName !== undefined;
  if (permissions.length === 0 && isLegacyFlat) {
    permissions.push({
      ipProtocol: params.ipProtocol,
      fromPort: params.fromPort,
      toPort: params.toPort,
      ipRanges: params.cidrIp ? { items: [{ cidrIp: params.cidrIp }] } : {},
      groups: params.sourceSecurityGroupName
        ? { items: [{ groupName: params.sourceSecurityGroupName }] }
        : {},
    });
  }
  return permissions.flatMap((permission) => {
    const protocol = normaliseProtocol(permission.ipProtocol);
    const ports = normalisePorts(protocol, permission.fromPort, permission.toPort);
    return permissionSources(permission).map((s) => ({
      groupId,
      ruleId: null,
      direction,
      protocol,
      ...ports,
      ...s,
    }));
  });
}

/** Rules as EC2 reported them back in responseElements.securityGroupRuleSet (with rule IDs). */
function rulesFromResponse(response: Json | null, fallbackGroupId: string): RuleFacts[] {
  if (!response) return [];
  return items(response.securityGroupRuleSet).flatMap((r) => {
    const protocol = normaliseProtocol(r.ipProtocol);
    const source = sourceOfRuleSetItem(r);
    if (!source) return [];
    return [
      {
        groupId: str(r.groupId) ?? fallbackGroupId,
        ruleId: str(r.securityGroupRuleId),
        direction: r.isEgress === true || r.isEgress === 'true' ? 'egress' : 'ingress',
        protocol,
        ...normalisePorts(protocol, r.fromPort, r.toPort),
        ...source,
      } satisfies RuleFacts,
    ];
  });
}

function sourceOfRuleSetItem(r: Json): Source | null {
  const description = str(r.description);
  const v4 = str(r.cidrIpv4);
  if (v4) return { source: v4, sourceKind: 'ipv4', description };
  const v6 = str(r.cidrIpv6);
  if (v6) return { source: v6, sourceKind: 'ipv6', description };
  const pl = str(r.prefixListId);
  if (pl) return { source: pl, sourceKind: 'prefix-list', description };
  const ref = isObject(r.referencedGroupInfo) ? str(r.referencedGroupInfo.groupId) : null;
  if (ref) return { source: ref, sourceKind: 'security-group', description };
  return null;
}

/** What one ModifySecurityGroupRules entry asked its rule to become (the request's SecurityGroupRule). */
function requestedRule(groupId: string | null, entry: Json): RuleFacts | null {
  const ruleId = str(entry.SecurityGroupRuleId) ?? str(entry.securityGroupRuleId);
  const wanted = isObject(entry.SecurityGroupRule) ? entry.SecurityGroupRule : null;
  if (!ruleId || !wanted || !groupId) return null;
  const description = str(wanted.Description);
  const source: Source | null = str(wanted.CidrIpv4)
    ? { source: str(wanted.CidrIpv4)!, sourceKind: 'ipv4', description }
    : str(wanted.CidrIpv6)
      ? { source: str(wanted.CidrIpv6)!, sourceKind: 'ipv6', description }
      : str(wanted.PrefixListId)
        ? { source: str(wanted.PrefixListId)!, sourceKind: 'prefix-list', description }
        : str(wanted.ReferencedGroupId)
          ? { source: str(wanted.ReferencedGroupId)!, sourceKind: 'security-group', description }
          : null;
  if (!source) return null;
  const protocol = normaliseProtocol(wanted.IpProtocol);
  return {
    groupId,
    ruleId,
    direction: 'ingress',
    protocol,
    ...normalisePorts(protocol, wanted.FromPort, wanted.ToPort),
    ...source,
  };
}

/** ModifySecurityGroupRules: PascalCase, SecurityGroupRule may be one object or a list. */
function modifiedRules(params: Json): { groupId: string | null; ruleIds: string[]; requested: RuleFacts[] } {
  const request = isObject(params.ModifySecurityGroupRulesRequest)
    ? params.ModifySecurityGroupRulesRequest
    : params;
  const groupId = str(request.GroupId) ?? str(request.groupId);
  const raw = request.SecurityGroupRule ?? request.securityGroupRule ?? request.SecurityGroupRules;
  const list = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(isObject);
  const ruleIds = list
    .map((r) => str(r.SecurityGroupRuleId) ?? str(r.securityGroupRuleId))
    .filter((id): id is string => id !== null);
  const requested = list.map((r) => requestedRule(groupId, r)).filter((r): r is RuleFacts => r !== null);
  return { groupId, ruleIds, requested };
}

/** Where the record contradicts its envelope or itself about the account or region, in one sentence. */
function mismatchOf(record: Json, account: string, region: string, envelope: Envelope): string | null {
  if (envelope.region && str(record.awsRegion) && envelope.region !== region)
    return `the event says region ${envelope.region}, its CloudTrail record ${region}`;
  if (envelope.account && str(record.recipientAccountId) && envelope.account !== account)
    return `the event says account ${envelope.account}, its CloudTrail record ${account}`;
  const response = isObject(record.responseElements) ? record.responseElements : null;
  for (const r of response ? items(response.securityGroupRuleSet) : []) {
    const owner = str(r.groupOwnerId);
    if (owner && owner !== account)
      return `the record is from account ${account}, but rule ${str(r.securityGroupRuleId) ?? '?'} belongs to a group of account ${owner}`;
  }
  return null;
}

function revokedRuleIds(params: Json): string[] {
  return items(params.securityGroupRuleIds)
    .map((r) => str(r.securityGroupRuleId))
    .filter((id): id is string => id !== null);
}

export function actorOf(record: Json): Actor {
  const identity = isObject(record.userIdentity) ? record.userIdentity : {};
  const session = isObject(identity.sessionContext) ? identity.sessionContext : {};
  const issuer = isObject(session.sessionIssuer) ? session.sessionIssuer : {};
  const invokedBy = str(identity.invokedBy);
  return {
    arn: str(identity.arn) ?? invokedBy ?? str(identity.principalId) ?? 'unknown',
    type: str(identity.type) ?? 'Unknown',
    roleArn: str(issuer.arn),
    invokedBy,
    sourceIp: str(record.sourceIPAddress),
    userAgent: str(record.userAgent),
  };
}

/** True for a CloudTrail record (as opposed to some other JSON object). */
export function isCloudTrailRecord(value: unknown): value is Json {
  return (
    isObject(value) &&
    typeof value.eventName === 'string' &&
    (typeof value.eventSource === 'string' || 'eventID' in value)
  );
}

/**
 * Normalises one CloudTrail record. Returns null for a call sg-warden does not read:
 * another service or API, or a failed call (errorCode present).
 */
/** What the EventBridge envelope around a record says (absent for a bare record). */
export interface Envelope {
  account?: string;
  region?: string;
}

export function parseRecord(record: Json, regionHint?: string, envelope: Envelope = {}): SgEvent | null {
  const eventName = String(record.eventName);
  // hasOwn: an eventName such as "constructor" must not resolve to Object.prototype's members.
  const known = Object.hasOwn(EVENT_KINDS, eventName) ? EVENT_KINDS[eventName] : undefined;
  if (!known) return null;
  if (record.eventSource !== undefined && record.eventSource !== 'ec2.amazonaws.com') return null;
  if (record.errorCode !== undefined && record.errorCode !== null) return null;
  const params = isObject(record.requestParameters) ? record.requestParameters : {};
  const response = isObject(record.responseElements) ? record.responseElements : null;
  const region = str(record.awsRegion) ?? regionHint ?? 'unknown';
  const account =
    str(record.recipientAccountId) ??
    (isObject(record.userIdentity) ? str(record.userIdentity.accountId) : null) ??
    'unknown';
  const base = {
    eventId: str(record.eventID) ?? 'unknown',
    eventName,
    eventTime: str(record.eventTime) ?? new Date(0).toISOString(),
    region,
    account,
    actor: actorOf(record),
    kind: known.kind,
    requestId: str(record.requestID) ?? (response ? str(response.requestId) : null),
  };
  const mismatch = mismatchOf(record, account, region, { region: regionHint, ...envelope });
  if (mismatch) Object.assign(base, { mismatch });

  if (known.kind === 'authorize' && known.direction) {
    const groupId = str(params.groupId) ?? 'unknown';
    const fromResponse = rulesFromResponse(response, groupId);
    const rules = fromResponse.length > 0 ? fromResponse : rulesFromRequest(params, groupId, known.direction);
    const missingIds = rules.some((r) => r.ruleId === null);
    return {
      ...base,
      groupId,
      rules,
      ruleIds: rules.map((r) => r.ruleId).filter((id): id is string => id !== null),
      needsLookup: missingIds,
      lookupReason: missingIds
        ? 'the record carries no security-group rule IDs (written before EC2 reported them)'
        : null,
    };
  }
  if (known.kind === 'modify') {
    const { groupId, ruleIds, requested } = modifiedRules(params);
    return {
      ...base,
      groupId,
      rules: [],
      ruleIds,
      ...(requested.length > 0 ? { requested } : {}),
      needsLookup: true,
      lookupReason: 'ModifySecurityGroupRules does not record the rules as they are after the change',
    };
  }
  if (known.kind === 'revoke' && known.direction) {
    const groupId = str(params.groupId) ?? 'unknown';
    return {
      ...base,
      groupId,
      rules: rulesFromRequest(params, groupId, known.direction),
      ruleIds: revokedRuleIds(params),
      needsLookup: false,
      lookupReason: null,
    };
  }
  if (known.kind === 'describe-rules' && known.direction) {
    const groupId = str(params.groupId) ?? 'unknown';
    return {
      ...base,
      groupId,
      rules: rulesFromRequest(params, groupId, known.direction),
      ruleIds: describedRuleIds(eventName, params),
      needsLookup: true,
      lookupReason: 'a description is not a grant: the rule is judged as EC2 has it',
    };
  }
  const none = { rules: [], ruleIds: [], needsLookup: false, lookupReason: null };
  if (known.kind === 'tags-added' || known.kind === 'tags-removed')
    return { ...base, groupId: null, ...none, tagChange: tagChangeOf(params) };
  if (known.kind === 'prefix-list')
    return { ...base, groupId: null, ...none, prefixList: prefixListChangeOf(eventName, params, response) };
  const groupId = str(params.groupId) ?? (response ? str(response.groupId) : null);
  const tagChange = known.kind === 'create-group' ? createdGroupTags(params, groupId) : null;
  return { ...base, groupId, ...none, ...(tagChange ? { tagChange } : {}) };
}

/**
 * Every CloudTrail record inside a value of any shape a user has: an EventBridge event, a bare record,
 * an array of records, a log file as stored in S3 ({"Records": [...]}) or `aws cloudtrail lookup-events`
 * output ({"Events": [{"CloudTrailEvent": "<json>"}]}). Throws BadInputError when the value holds none.
 */
export function extractRecords(value: unknown): { record: Json; regionHint?: string; envelope?: Envelope }[] {
  const out: { record: Json; regionHint?: string; envelope?: Envelope }[] = [];
  const visit = (v: unknown, depth: number): boolean => {
    if (depth > 3) return false;
    if (Array.isArray(v)) {
      let any = false;
      for (const item of v) any = visit(item, depth + 1) || any;
      return any || v.length === 0;
    }
    if (!isObject(v)) return false;
    if (v['detail-type'] === 'AWS API Call via CloudTrail' && isObject(v.detail)) {
      out.push({
        record: v.detail,
        ...(str(v.region) ? { regionHint: str(v.region)! } : {}),
        ...(str(v.account) ? { envelope: { account: str(v.account)! } } : {}),
      });
      return true;
    }
    if (Array.isArray(v.Records)) return visit(v.Records, depth + 1);
    if (Array.isArray(v.Events)) {
      for (const e of v.Events) {
        if (!isObject(e) || typeof e.CloudTrailEvent !== 'string') {
          throw new BadInputError(
            'An item of "Events" has no CloudTrailEvent string: is this `aws cloudtrail lookup-events` output?',
          );
        }
        let inner: unknown;
        try {
          inner = JSON.parse(e.CloudTrailEvent);
        } catch {
          throw new BadInputError('A CloudTrailEvent string in "Events" is not valid JSON.');
        }
        visit(inner, depth + 1);
      }
      return true;
    }
    if (isCloudTrailRecord(v)) {
      out.push({ record: v });
      return true;
    }
    return false;
  };
  if (!visit(value, 0)) {
    throw new BadInputError(
      'The input is JSON but not a CloudTrail event: expected an EventBridge event, a CloudTrail record, an array of records, {"Records": [...]} or lookup-events output.',
    );
  }
  return out;
}

/** Decodes file bytes (plain or gzip JSON) into a value; BadInputError when it is not JSON. */
export function decodeJson(bytes: Buffer): unknown {
  let text: string;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      text = gunzipSync(bytes).toString('utf8');
    } catch {
      throw new BadInputError('The file looks gzip-compressed but could not be decompressed.');
    }
  } else {
    text = bytes.toString('utf8');
  }
  // Editors and PowerShell on Windows often save JSON with a UTF-8 byte-order mark, which JSON.parse rejects.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch {
    const lines = text.split('\n').filter((l) => l.trim().length > 0);
    if (lines.length > 1) {
      try {
        return lines.map((l) => JSON.parse(l));
      } catch {
        // fall through to the error below
      }
    }
    throw new BadInputError('The input is not valid JSON.');
  }
}

/** Every security-group event in a value of any supported shape (failed calls and other APIs left out). */
export function parseCloudTrail(value: unknown): SgEvent[] {
  return extractRecords(value)
    .map(({ record, regionHint, envelope }) => parseRecord(record, regionHint, envelope))
    .filter((e): e is SgEvent => e !== null);
}
