import type { LoadBalancerFacts, NetworkInterfaceFacts, RouteTableFacts } from './ports';

/**
 * The pure core of exposure: from the network interfaces that use a group, their subnets' route tables
 * and their load balancers' schemes, what the group is attached to and whether the internet can reach it.
 * No I/O: lookup.ts reads the facts, this decides.
 */

/** How far a group reaches: `unknown` when a read failed (it never lowers anything). */
export type ExposureClass = 'internet' | 'internal' | 'unattached' | 'unknown';
export const EXPOSURE_CLASSES: readonly ExposureClass[] = ['internet', 'internal', 'unattached', 'unknown'];

/** What a network interface belongs to. */
export type AttachmentType =
  | 'instance'
  | 'load-balancer'
  | 'rds'
  | 'lambda'
  | 'ecs-task'
  | 'nat-gateway'
  | 'vpc-endpoint'
  | 'other';

/** One thing the group is attached to (all of its interfaces that use the group, taken together). */
export interface Attachment {
  type: AttachmentType;
  /** i-…, the load balancer's ARN tail (app/<name>/<id>), nat-…, vpce-…, or the interface ID. */
  id: string;
  /** The instance's Name tag, the load balancer's or function's name; null when there is none. */
  name: string | null;
  /** Its public IPv4 address (or Elastic IP), else a public IPv6 address; null when it has none. */
  publicIp: string | null;
  subnetId: string | null;
  /** Whether its subnet routes to an internet gateway; null when the route tables could not be read. */
  routesToInternet: boolean | null;
  exposure: 'internet' | 'internal' | 'unknown';
  /** Why, in one clause: "public address 3.248.1.9 in a subnet routed to igw-0abc". */
  reason: string;
  networkInterfaceIds: string[];
}

/** A group's exposure: its class, what it is attached to (the most exposed first) and why. */
export interface Exposure {
  exposure: ExposureClass;
  attachments: Attachment[];
  /** One clause a finding can carry: "reachable from the internet through i-0abc (web-1, 3.248.1.9)". */
  reason: string;
  /** The reads that failed ("DescribeRouteTables failed (UnauthorizedOperation)"); empty when none did. */
  failures: string[];
}

/** What one read gave: its value, or why it failed. */
export type Read<T> = { ok: true; value: T } | { ok: false; failure: string };

/** The facts classify() decides from; a read left out was not made. */
export interface NetworkFacts {
  interfaces: Read<NetworkInterfaceFacts[]>;
  routeTables?: Read<RouteTableFacts[]>;
  loadBalancers?: Read<LoadBalancerFacts[]>;
  instanceNames?: Read<Record<string, string>>;
}

/** The third read a lookup may make: only one of them, so that a group costs at most three calls. */
export type ThirdRead =
  | { kind: 'load-balancers'; names: string[] }
  | { kind: 'instance-names'; instanceIds: string[] }
  | null;

interface LoadBalancerRef {
  kind: 'application' | 'network' | 'gateway' | 'classic';
  name: string;
  /** The ARN's ID part; null for a classic load balancer. */
  lbId: string | null;
}

interface Owner {
  type: AttachmentType;
  id: string;
  name: string | null;
  loadBalancer: LoadBalancerRef | null;
}

interface Verdict {
  exposure: Attachment['exposure'];
  publicIp: string | null;
  routesToInternet: boolean | null;
  reason: string;
}

// How AWS describes the interfaces its services create for you.
const ELB_V2 = /^ELB (app|net|gwy)\/([^/\s]+)\/([0-9a-f]+)$/;
const ELB_CLASSIC = /^ELB ([^/\s]+)$/;
const LB_KINDS = { app: 'application', net: 'network', gwy: 'gateway' } as const;
const LAMBDA = /^AWS Lambda VPC ENI-(.+?)(-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$/;
const ECS = /^arn:aws[a-z-]*:ecs:[^:]*:\d*:attachment\/(.+)$/;
const NAT = /^Interface for NAT Gateway (nat-[0-9a-f]+)$/;
const ENDPOINT = /^VPC Endpoint Interface (vpce-[0-9a-f]+)$/;

const NAME_LIMIT = 100;

/**
 * A name from AWS (a Name tag, an interface description) made fit for one line of text: control characters
 * and runs of whitespace become one space, and it is cut at 100 characters. Tags are anyone's to write.
 */
export function cleanName(text: string): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]+/g, ' ').trim();
  if (!flat) return null;
  return flat.length > NAME_LIMIT ? `${flat.slice(0, NAME_LIMIT - 1)}…` : flat;
}

/** What an interface belongs to, from its type, description, requester and attachment. */
export function ownerOf(eni: NetworkInterfaceFacts): Owner {
  const d = eni.description.trim();
  const type = eni.interfaceType ?? '';
  const plain = (t: AttachmentType, id: string, name: string | null = null): Owner => ({
    type: t,
    id,
    name,
    loadBalancer: null,
  });
  const v2 = ELB_V2.exec(d);
  if (v2) {
    const [, kind, name, lbId] = v2 as unknown as [string, keyof typeof LB_KINDS, string, string];
    return {
      type: 'load-balancer',
      id: `${kind}/${name}/${lbId}`,
      name,
      loadBalancer: { kind: LB_KINDS[kind], name, lbId },
    };
  }
  const classic = ELB_CLASSIC.exec(d);
  if (classic) {
    const name = classic[1]!;
    return { type: 'load-balancer', id: name, name, loadBalancer: { kind: 'classic', name, lbId: null } };
  }
  const lambda = LAMBDA.exec(d);
  if (type === 'lambda' || lambda)
    return plain('lambda', eni.networkInterfaceId, cleanName(lambda?.[1] ?? ''));
  if (ECS.test(d)) return plain('ecs-task', eni.networkInterfaceId);
  if (type === 'nat_gateway' || NAT.test(d))
    return plain('nat-gateway', NAT.exec(d)?.[1] ?? eni.networkInterfaceId);
  if (type === 'vpc_endpoint' || ENDPOINT.test(d))
    return plain('vpc-endpoint', ENDPOINT.exec(d)?.[1] ?? eni.networkInterfaceId);
  if (d === 'RDSNetworkInterface' || eni.requesterId === 'amazon-rds')
    return plain('rds', eni.networkInterfaceId);
  // An instance's own interface: attached to it, not by a service on its behalf.
  if (eni.instanceId && !(eni.instanceOwnerId ?? '').startsWith('amazon-'))
    return plain('instance', eni.instanceId);
  return plain('other', eni.networkInterfaceId, cleanName(d));
}

/** True for an IPv6 address the internet can route to (not unique-local fc00::/7 or link-local fe80::/10). */
export function isPublicIpv6(address: string): boolean {
  return !/^(f[cd]|fe[89ab])/i.test(address.trim());
}

/** Where a subnet's traffic to the internet goes: the internet gateway per address family, or null. */
export interface SubnetRouting {
  routeTableId: string;
  v4: string | null;
  v6: string | null;
}

/**
 * A subnet routes to the internet when its route table (the VPC's main table when it has none of its own)
 * sends traffic to an internet gateway: 0.0.0.0/0 or ::/0, or any narrower range (the internet gateway
 * answers from that part of the internet too). Blackhole routes and egress-only gateways do not count.
 */
export function subnetRouting(
  subnetId: string | null,
  vpcId: string | null,
  tables: readonly RouteTableFacts[],
): SubnetRouting | null {
  const table =
    (subnetId ? tables.find((t) => t.subnetIds.includes(subnetId)) : undefined) ??
    tables.find((t) => t.isMain && t.vpcId === vpcId);
  if (!table) return null;
  let v4: string | null = null;
  let v6: string | null = null;
  for (const route of table.routes) {
    if (!route.target?.startsWith('igw-') || route.state === 'blackhole') continue;
    const destination = route.destination ?? '';
    // A prefix list may hold either family: it counts for both.
    const isPrefixList = destination.startsWith('pl-');
    if (isPrefixList || !destination.includes(':')) v4 ??= route.target;
    if (isPrefixList || destination.includes(':')) v6 ??= route.target;
  }
  return { routeTableId: table.routeTableId, v4, v6 };
}

function findLoadBalancer(ref: LoadBalancerRef, lbs: readonly LoadBalancerFacts[]): LoadBalancerFacts | null {
  return (
    lbs.find(
      (lb) => lb.name === ref.name && lb.type === ref.kind && (lb.id === null || ref.lbId === lb.id),
    ) ?? null
  );
}

/** One interface's verdict: reachable from the internet, not, or not known. */
function verdictFor(eni: NetworkInterfaceFacts, owner: Owner, facts: NetworkFacts): Verdict {
  const publicV6 = eni.ipv6Addresses.find(isPublicIpv6) ?? null;
  const publicIp = eni.publicIpv4 ?? publicV6;
  const tables = facts.routeTables;
  const routing = tables?.ok ? subnetRouting(eni.subnetId, eni.vpcId, tables.value) : undefined;
  const routesToInternet = routing ? routing.v4 !== null || routing.v6 !== null : null;
  const base = { publicIp, routesToInternet };
  const internet = (reason: string): Verdict => ({ ...base, exposure: 'internet', reason });
  const internal = (reason: string): Verdict => ({ ...base, exposure: 'internal', reason });
  const unknown = (reason: string): Verdict => ({ ...base, exposure: 'unknown', reason });

  const lb = owner.loadBalancer;
  let schemeNote: string | null = null;
  if (lb && lb.kind !== 'classic') {
    const read = facts.loadBalancers;
    const found = read?.ok ? findLoadBalancer(lb, read.value) : null;
    if (found?.scheme === 'internet-facing') return internet('internet-facing load balancer');
    if (found?.scheme === 'internal') return internal('internal load balancer');
    if (!read) schemeNote = 'its scheme was not read';
    else if (!read.ok) schemeNote = `its scheme could not be read: ${read.failure}`;
    else schemeNote = `load balancer ${lb.name} was not found`;
  }

  const address = eni.publicIpv4
    ? `${eni.isElasticIp ? 'Elastic IP' : 'public address'} ${eni.publicIpv4}`
    : publicV6
      ? `public IPv6 address ${publicV6}`
      : null;
  if (!address) {
    // A v2 load balancer whose scheme is not known may still be internet-facing (AWS gives those public
    // addresses, but an IPv6-only or just-created one may show none yet): not known, never "internal".
    if (schemeNote) return unknown(`no public address, and ${schemeNote}`);
    return internal('no public address');
  }
  if (tables && !tables.ok)
    return unknown(`${address}, but its subnet's routes could not be read: ${tables.failure}`);
  if (!routing)
    return unknown(`${address}, but no route table was found for subnet ${eni.subnetId ?? '(none)'}`);
  const gateway = (eni.publicIpv4 && routing.v4) || (publicV6 && routing.v6);
  if (gateway) return internet(`${address} in a subnet routed to ${gateway}`);
  return internal(`${address}, but subnet ${eni.subnetId ?? '(none)'} has no route to an internet gateway`);
}

const RANK: Record<Attachment['exposure'], number> = { internet: 0, unknown: 1, internal: 2 };

const TYPE_WORDS: Record<AttachmentType, string> = {
  instance: '',
  'load-balancer': 'load balancer',
  rds: 'RDS',
  lambda: 'Lambda',
  'ecs-task': 'ECS task',
  'nat-gateway': 'NAT gateway',
  'vpc-endpoint': 'VPC endpoint',
  other: 'interface',
};

/** How an attachment is named in a sentence: "i-0abc (web-1, 3.248.1.9)", "load balancer web (internet-facing)". */
export function attachmentLabel(
  a: Pick<Attachment, 'type' | 'id' | 'name' | 'publicIp' | 'exposure'>,
): string {
  if (a.type === 'load-balancer') {
    const scheme = { internet: 'internet-facing', internal: 'internal', unknown: 'scheme unknown' }[
      a.exposure
    ];
    return `load balancer ${a.name ?? a.id} (${[scheme, a.publicIp].filter(Boolean).join(', ')})`;
  }
  const details = [a.name, a.publicIp].filter(Boolean).join(', ');
  const word = TYPE_WORDS[a.type];
  return `${word ? `${word} ` : ''}${a.id}${details ? ` (${details})` : ''}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The reads that failed, in the order they were made. */
function failuresOf(facts: NetworkFacts): string[] {
  return [facts.interfaces, facts.routeTables, facts.loadBalancers, facts.instanceNames].flatMap((r) =>
    r && !r.ok ? [r.failure] : [],
  );
}

/**
 * The group's exposure from the facts read about it: `internet` when at least one attachment is reachable
 * from the internet (a public address in a subnet routed to an internet gateway, or an internet-facing load
 * balancer), else `unknown` when a failed read leaves one undecided, else `internal`; `unattached` when no
 * interface uses the group; `unknown` when the interfaces could not be read.
 */
export function classify(facts: NetworkFacts): Exposure {
  const failures = failuresOf(facts);
  if (!facts.interfaces.ok) {
    return {
      exposure: 'unknown',
      attachments: [],
      reason: `exposure unknown: ${facts.interfaces.failure}`,
      failures,
    };
  }
  const interfaces = facts.interfaces.value;
  if (interfaces.length === 0) {
    return {
      exposure: 'unattached',
      attachments: [],
      reason: 'no network interface uses this group now',
      failures,
    };
  }
  const names = facts.instanceNames?.ok ? facts.instanceNames.value : {};
  const byOwner = new Map<string, Attachment>();
  for (const eni of interfaces) {
    const owner = ownerOf(eni);
    const verdict = verdictFor(eni, owner, facts);
    const key = `${owner.type}:${owner.id}`;
    const seen = byOwner.get(key);
    const candidate: Attachment = {
      type: owner.type,
      id: owner.id,
      name:
        owner.type === 'instance'
          ? Object.hasOwn(names, owner.id)
            ? cleanName(names[owner.id]!)
            : null
          : owner.name,
      publicIp: verdict.publicIp,
      subnetId: eni.subnetId,
      routesToInternet: verdict.routesToInternet,
      exposure: verdict.exposure,
      reason: verdict.reason,
      networkInterfaceIds: [...(seen?.networkInterfaceIds ?? []), eni.networkInterfaceId],
    };
    // The most exposed interface speaks for the whole attachment.
    if (!seen || RANK[verdict.exposure] < RANK[seen.exposure]) byOwner.set(key, candidate);
    else seen.networkInterfaceIds.push(eni.networkInterfaceId);
  }
  const attachments = [...byOwner.values()].sort((a, b) => RANK[a.exposure] - RANK[b.exposure]);
  const first = attachments[0]!;
  const count = (e: Attachment['exposure']) => attachments.filter((a) => a.exposure === e).length;
  const more = (n: number) => (n > 1 ? ` and ${n - 1} more` : '');
  if (first.exposure === 'internet') {
    return {
      exposure: 'internet',
      attachments,
      reason: `reachable from the internet through ${attachmentLabel(first)}${more(count('internet'))}`,
      failures,
    };
  }
  if (first.exposure === 'unknown') {
    return {
      exposure: 'unknown',
      attachments,
      reason: `exposure unknown: ${attachmentLabel(first)} has ${first.reason}`,
      failures,
    };
  }
  return {
    exposure: 'internal',
    attachments,
    reason: `not reachable from the internet: ${plural(attachments.length, 'attachment')} (${attachmentLabel(first)}${more(attachments.length)}), none with a public address in a subnet routed to an internet gateway or behind an internet-facing load balancer`,
    failures,
  };
}

/**
 * Which third read decides most, given the interfaces and route tables: the load balancers' schemes when
 * an ELBv2 interface is not already reachable by its own address, else the instances' Name tags, else none.
 */
export function planThirdRead(
  interfaces: readonly NetworkInterfaceFacts[],
  routeTables: Read<RouteTableFacts[]>,
): ThirdRead {
  const facts: NetworkFacts = { interfaces: { ok: true, value: [...interfaces] }, routeTables };
  const lbNames = new Set<string>();
  const instanceIds = new Set<string>();
  for (const eni of interfaces) {
    const owner = ownerOf(eni);
    if (owner.type === 'instance') instanceIds.add(owner.id);
    const lb = owner.loadBalancer;
    if (lb && lb.kind !== 'classic' && verdictFor(eni, owner, facts).exposure !== 'internet')
      lbNames.add(lb.name);
  }
  if (lbNames.size > 0) return { kind: 'load-balancers', names: [...lbNames].sort() };
  if (instanceIds.size > 0) return { kind: 'instance-names', instanceIds: [...instanceIds].sort() };
  return null;
}
