import type { Actor } from '../shared/model';
import { actorOf, type Envelope, extractRecords, isObject, items, str } from './cloudtrail';

type Json = Record<string, unknown>;

/**
 * The CloudTrail calls that change what a security group exposes without changing any rule, by the
 * service that records them. The EventBridge rule matches exactly these (with the security-group calls):
 * services/deploy/event-pattern.ts builds the pattern from this list.
 */
export const EXPOSURE_EVENT_NAMES = {
  'ec2.amazonaws.com': [
    'ModifyNetworkInterfaceAttribute',
    'ModifyInstanceAttribute',
    'RunInstances',
    'CreateNetworkInterface',
    'AttachNetworkInterface',
    'AssociateAddress',
    'AssignIpv6Addresses',
    'ModifySubnetAttribute',
    'CreateRoute',
    'ReplaceRoute',
    'AttachInternetGateway',
    'AssociateRouteTable',
    'ReplaceRouteTableAssociation',
  ],
  'elasticloadbalancing.amazonaws.com': ['CreateLoadBalancer', 'SetSecurityGroups'],
  'rds.amazonaws.com': ['ModifyDBInstance', 'CreateDBInstance'],
} as const satisfies Record<string, readonly string[]>;

/** What an exposure change names, from which the groups it can move are found (services/exposure/moved.ts). */
export type ChangedThing =
  /** Interfaces by ID and instances by ID: the groups on them (and on every interface of those instances). */
  | { kind: 'interfaces'; networkInterfaceIds: string[]; instanceIds: string[] }
  /** Subnets: the groups on the interfaces in them. */
  | { kind: 'subnets'; subnetIds: string[] }
  /** A route table: the groups on the interfaces of the subnets it serves (all of them, or only `subnetId`). */
  | { kind: 'route-table'; routeTableId: string; subnetId?: string }
  /** An internet gateway attached to a VPC: the groups on the interfaces of the subnets routed to it. */
  | { kind: 'internet-gateway'; internetGatewayId: string; vpcId: string }
  /** An ELBv2 load balancer (by ARN when known; else the groups the event names, which are looked up). */
  | { kind: 'load-balancer'; name: string | null; arn: string | null; groupIds: string[] }
  /** A database: the groups the event names (the lookup reads what they are attached to). */
  | { kind: 'database'; dbInstanceId: string; groupIds: string[] };

/** One successful call that can change a group's exposure, normalised from CloudTrail. */
export interface ExposureChangeEvent {
  eventId: string;
  eventName: string;
  eventSource: string;
  eventTime: string;
  region: string;
  account: string;
  actor: Actor;
  changed: ChangedThing;
  /** What the call did, as a clause after the actor's name: "associated 3.248.1.9 with i-0abc". */
  what: string;
  /** Set when the record contradicts its envelope about the account or region: refused. */
  mismatch?: string;
}

const groupIdsOf = (set: unknown): string[] =>
  items(set)
    .map((g) => str(g.groupId))
    .filter((id): id is string => id !== null);

const strings = (value: unknown): string[] =>
  (Array.isArray(value) ? value : items(value))
    .map((v) =>
      typeof v === 'string' ? v : isObject(v) ? (str(v.vpcSecurityGroupId) ?? str(v.value)) : null,
    )
    .filter((v): v is string => v !== null && v.length > 0);

const unique = (values: readonly string[]): string[] => [...new Set(values)];

/** "i-0abc", "i-0abc and i-0def", "50 instances (i-0abc, i-0def and 48 more)". */
function named(ids: readonly string[], noun: string): string {
  if (ids.length === 1) return ids[0]!;
  const shown = ids.slice(0, 2).join(', ');
  const rest = ids.length - 2;
  return `${ids.length} ${noun} (${shown}${rest > 0 ? ` and ${rest} more` : ''})`;
}

/** A true flag as CloudTrail writes one: true, "true", or {value: true}. */
function isOn(value: unknown): boolean {
  if (isObject(value)) return isOn(value.value);
  return value === true || value === 'true';
}

type Parsed = Pick<ExposureChangeEvent, 'changed' | 'what'> | null;

function ec2Change(name: string, params: Json, response: Json | null): Parsed {
  const eni = str(params.networkInterfaceId);
  const instance = str(params.instanceId);
  const interfaces = (networkInterfaceIds: string[], instanceIds: string[]): ChangedThing => ({
    kind: 'interfaces',
    networkInterfaceIds: unique(networkInterfaceIds),
    instanceIds: unique(instanceIds),
  });
  switch (name) {
    case 'ModifyNetworkInterfaceAttribute': {
      const groups = groupIdsOf(params.groupSet);
      if (!eni || groups.length === 0) return null;
      return { changed: interfaces([eni], []), what: `put ${eni} in ${groups.join(', ')}` };
    }
    case 'ModifyInstanceAttribute': {
      const groups = groupIdsOf(params.groupSet);
      if (!instance || groups.length === 0) return null;
      return { changed: interfaces([], [instance]), what: `put ${instance} in ${groups.join(', ')}` };
    }
    case 'RunInstances': {
      const launched = items(response?.instancesSet)
        .map((i) => str(i.instanceId))
        .filter((id): id is string => id !== null);
      if (launched.length === 0) return null;
      return { changed: interfaces([], launched), what: `launched ${named(launched, 'instances')}` };
    }
    case 'CreateNetworkInterface': {
      const created = isObject(response?.networkInterface)
        ? str((response.networkInterface as Json).networkInterfaceId)
        : null;
      if (!created) return null;
      return { changed: interfaces([created], []), what: `created ${created}` };
    }
    case 'AttachNetworkInterface':
      if (!eni) return null;
      return {
        changed: interfaces([eni], []),
        what: `attached ${eni}${instance ? ` to ${instance}` : ''}`,
      };
    case 'AssociateAddress': {
      if (!eni && !instance) return null;
      const address = str(params.publicIp) ?? str(params.allocationId) ?? 'an address';
      return {
        changed: interfaces(eni ? [eni] : [], instance ? [instance] : []),
        what: `associated ${address} with ${eni ?? instance}`,
      };
    }
    case 'AssignIpv6Addresses':
      if (!eni) return null;
      return { changed: interfaces([eni], []), what: `assigned IPv6 addresses to ${eni}` };
    case 'ModifySubnetAttribute': {
      const subnet = str(params.subnetId);
      if (!subnet || !isOn(params.mapPublicIpOnLaunch)) return null;
      return {
        changed: { kind: 'subnets', subnetIds: [subnet] },
        what: `turned on public IPv4 addresses at launch in ${subnet}`,
      };
    }
    case 'CreateRoute':
    case 'ReplaceRoute': {
      const table = str(params.routeTableId);
      const gateway = str(params.gatewayId);
      if (!table || !gateway?.startsWith('igw-')) return null;
      const destination =
        str(params.destinationCidrBlock) ??
        str(params.destinationIpv6CidrBlock) ??
        str(params.destinationPrefixListId) ??
        'a destination';
      return {
        changed: { kind: 'route-table', routeTableId: table },
        what: `routed ${destination} in ${table} to ${gateway}`,
      };
    }
    case 'AttachInternetGateway': {
      const gateway = str(params.internetGatewayId);
      const vpc = str(params.vpcId);
      if (!gateway || !vpc) return null;
      return {
        changed: { kind: 'internet-gateway', internetGatewayId: gateway, vpcId: vpc },
        what: `attached ${gateway} to ${vpc}`,
      };
    }
    case 'AssociateRouteTable': {
      const table = str(params.routeTableId);
      const subnet = str(params.subnetId);
      // An edge association (gatewayId) routes what enters the VPC, not a subnet's way out.
      if (!table || !subnet) return null;
      return {
        changed: { kind: 'route-table', routeTableId: table, subnetId: subnet },
        what: `associated ${table} with ${subnet}`,
      };
    }
    case 'ReplaceRouteTableAssociation': {
      const table = str(params.routeTableId);
      const association = str(response?.newAssociationId) ?? str(params.associationId);
      if (!table || !association) return null;
      return {
        // The table's subnets (the one newly associated among them; every subnet without a table of its
        // own when it became the main table).
        changed: { kind: 'route-table', routeTableId: table },
        what: `replaced the route table of association ${str(params.associationId) ?? association} with ${table}`,
      };
    }
    default:
      return null;
  }
}

function elbChange(name: string, params: Json, response: Json | null): Parsed {
  const groups = unique(strings(params.securityGroups));
  if (name === 'CreateLoadBalancer') {
    // ELBv2's default scheme is internet-facing; only an internet-facing one can expose its groups.
    const scheme = str(params.scheme) ?? 'internet-facing';
    if (scheme !== 'internet-facing' || groups.length === 0) return null;
    const created = Array.isArray(response?.loadBalancers) ? (response.loadBalancers[0] as Json) : null;
    const lbName = str(params.name) ?? str(params.loadBalancerName);
    return {
      changed: {
        kind: 'load-balancer',
        name: lbName,
        arn: isObject(created) ? str(created.loadBalancerArn) : null,
        groupIds: groups,
      },
      what: `created internet-facing load balancer ${lbName ?? '(unnamed)'}`,
    };
  }
  if (name === 'SetSecurityGroups') {
    const arn = str(params.loadBalancerArn);
    if (!arn) return null;
    const lbName = /:loadbalancer\/(?:app|net|gwy)\/([^/]+)\//.exec(arn)?.[1] ?? arn;
    return {
      changed: { kind: 'load-balancer', name: lbName, arn, groupIds: groups },
      what: `set the groups of load balancer ${lbName} to ${groups.join(', ') || 'none'}`,
    };
  }
  return null;
}

function rdsChange(name: string, params: Json, response: Json | null): Parsed {
  const db = str(params.dBInstanceIdentifier) ?? str(params.dbInstanceIdentifier);
  if (!db) return null;
  const requested = strings(params.vpcSecurityGroupIds);
  const recorded = strings(response?.vpcSecurityGroups);
  const groups = unique([...requested, ...recorded]);
  const isPublic = isOn(params.publiclyAccessible);
  if (name === 'ModifyDBInstance') {
    if (!isPublic && requested.length === 0) return null;
    if (groups.length === 0) return null;
    const parts = [
      isPublic ? 'made it publicly accessible' : null,
      requested.length > 0 ? `put it in ${requested.join(', ')}` : null,
    ].filter(Boolean);
    return {
      changed: { kind: 'database', dbInstanceId: db, groupIds: groups },
      what: `modified database ${db}: ${parts.join(' and ')}`,
    };
  }
  if (name === 'CreateDBInstance') {
    if (groups.length === 0) return null;
    return {
      changed: { kind: 'database', dbInstanceId: db, groupIds: groups },
      what: `created database ${db}${isPublic ? ' (publicly accessible)' : ''}`,
    };
  }
  return null;
}

/** True when this service records a call of this name that sg-warden takes as an exposure change. */
export function isExposureEvent(eventSource: unknown, eventName: unknown): boolean {
  if (typeof eventSource !== 'string' || typeof eventName !== 'string') return false;
  if (!Object.hasOwn(EXPOSURE_EVENT_NAMES, eventSource)) return false;
  const names: readonly string[] = EXPOSURE_EVENT_NAMES[eventSource as keyof typeof EXPOSURE_EVENT_NAMES];
  return names.includes(eventName);
}

/**
 * Normalises one CloudTrail record of a call that can change a group's exposure. Null for any other call,
 * for a failed one (errorCode), and for one that cannot change exposure as recorded (a route to something
 * other than an internet gateway, a subnet attribute turned off, an internal load balancer, …).
 */
export function parseExposureChange(
  record: Json,
  regionHint?: string,
  envelope: Envelope = {},
): ExposureChangeEvent | null {
  const eventSource = record.eventSource;
  const eventName = record.eventName;
  if (!isExposureEvent(eventSource, eventName)) return null;
  if (record.errorCode !== undefined && record.errorCode !== null) return null;
  const params = isObject(record.requestParameters) ? record.requestParameters : {};
  const response = isObject(record.responseElements) ? record.responseElements : null;
  const name = eventName as string;
  const parsed =
    eventSource === 'ec2.amazonaws.com'
      ? ec2Change(name, params, response)
      : eventSource === 'rds.amazonaws.com'
        ? rdsChange(name, params, response)
        : elbChange(name, params, response);
  if (!parsed) return null;
  const region = str(record.awsRegion) ?? regionHint ?? 'unknown';
  const account =
    str(record.recipientAccountId) ??
    (isObject(record.userIdentity) ? str(record.userIdentity.accountId) : null) ??
    'unknown';
  const event: ExposureChangeEvent = {
    eventId: str(record.eventID) ?? 'unknown',
    eventName: name,
    eventSource: eventSource as string,
    eventTime: str(record.eventTime) ?? new Date(0).toISOString(),
    region,
    account,
    actor: actorOf(record),
    ...parsed,
  };
  if (regionHint && str(record.awsRegion) && regionHint !== region)
    event.mismatch = `the event says region ${regionHint}, its CloudTrail record ${region}`;
  else if (envelope.account && str(record.recipientAccountId) && envelope.account !== account)
    event.mismatch = `the event says account ${envelope.account}, its CloudTrail record ${account}`;
  return event;
}

/** Every exposure change in a value of any shape parseCloudTrail reads (other calls left out). */
export function parseExposureChanges(value: unknown): ExposureChangeEvent[] {
  return extractRecords(value)
    .map(({ record, regionHint, envelope }) => parseExposureChange(record, regionHint, envelope))
    .filter((e): e is ExposureChangeEvent => e !== null);
}
