import type { ChangedThing } from '../detection/exposure-events';
import { AccountAccessError, AwsCallError } from '../shared/errors';
import type { AwsTarget } from '../shared/ports';
import { errorCode } from './lookup';
import type { ChangeReader, InterfaceGroups, NetworkReader, RouteTableFacts } from './ports';

/** The groups an exposure change may have moved, at most the cap of them. */
export interface MovedGroups {
  /** Sorted; at most `maxGroupsPerEvent`. */
  groupIds: string[];
  /** Set when more groups were found than the cap: how many (at least, when reading stopped early). */
  capped: { found: number; atLeast: boolean } | null;
  /** The read that failed ("DescribeRouteTables failed (UnauthorizedOperation)"), or null. */
  failure: string | null;
}

type Reader = Pick<NetworkReader, 'routeTables'> & ChangeReader;

/**
 * The subnets whose way to the internet goes through these tables: the ones associated with them, and when
 * one is the VPC's main table, every subnet of the VPC without a table of its own (`wholeVpc`, less
 * `exceptSubnets`: the subnets explicitly on another table). Pure.
 */
export function subnetsServedBy(
  tables: readonly RouteTableFacts[],
  vpcTables: readonly RouteTableFacts[],
): { subnetIds: string[]; wholeVpc: string | null; exceptSubnets: string[] } {
  const ids = new Set(tables.map((t) => t.routeTableId));
  const subnetIds = [...new Set(tables.flatMap((t) => t.subnetIds))].sort();
  const main = tables.find((t) => t.isMain);
  if (!main) return { subnetIds, wholeVpc: null, exceptSubnets: [] };
  const exceptSubnets = vpcTables
    .filter((t) => !ids.has(t.routeTableId))
    .flatMap((t) => t.subnetIds)
    .sort();
  return { subnetIds, wholeVpc: main.vpcId, exceptSubnets };
}

/** The route tables of a VPC that send something to this internet gateway. Pure. */
export function tablesRoutedTo(tables: readonly RouteTableFacts[], gatewayId: string): RouteTableFacts[] {
  return tables.filter((t) => t.routes.some((r) => r.target === gatewayId));
}

async function interfacesIn(
  reader: Reader,
  target: AwsTarget,
  served: ReturnType<typeof subnetsServedBy>,
  limit: number,
): Promise<{ interfaces: InterfaceGroups[]; complete: boolean }> {
  if (served.wholeVpc) {
    const read = await reader.interfacesBy(target, 'vpc-id', [served.wholeVpc], limit);
    const except = new Set(served.exceptSubnets);
    return {
      interfaces: read.interfaces.filter((i) => !i.subnetId || !except.has(i.subnetId)),
      complete: read.complete,
    };
  }
  return reader.interfacesBy(target, 'subnet-id', served.subnetIds, limit);
}

async function candidates(
  reader: Reader,
  target: AwsTarget,
  changed: ChangedThing,
  limit: number,
): Promise<{ groupIds: string[]; complete: boolean }> {
  const fromInterfaces = (reads: { interfaces: InterfaceGroups[]; complete: boolean }[]) => ({
    groupIds: reads.flatMap((r) => r.interfaces.flatMap((i) => i.groupIds)),
    complete: reads.every((r) => r.complete),
  });
  switch (changed.kind) {
    case 'interfaces': {
      const reads = [];
      if (changed.networkInterfaceIds.length > 0)
        reads.push(
          await reader.interfacesBy(target, 'network-interface-id', changed.networkInterfaceIds, limit),
        );
      if (changed.instanceIds.length > 0)
        reads.push(await reader.interfacesBy(target, 'attachment.instance-id', changed.instanceIds, limit));
      return fromInterfaces(reads);
    }
    case 'subnets':
      return fromInterfaces([await reader.interfacesBy(target, 'subnet-id', changed.subnetIds, limit)]);
    case 'route-table': {
      const [table] = await reader.routeTablesById(target, [changed.routeTableId]);
      if (!table) return { groupIds: [], complete: true };
      if (changed.subnetId)
        return fromInterfaces([await reader.interfacesBy(target, 'subnet-id', [changed.subnetId], limit)]);
      const vpcTables = table.isMain && table.vpcId ? await reader.routeTables(target, [table.vpcId]) : [];
      return fromInterfaces([await interfacesIn(reader, target, subnetsServedBy([table], vpcTables), limit)]);
    }
    case 'internet-gateway': {
      const vpcTables = await reader.routeTables(target, [changed.vpcId]);
      const routed = tablesRoutedTo(vpcTables, changed.internetGatewayId);
      if (routed.length === 0) return { groupIds: [], complete: true };
      return fromInterfaces([await interfacesIn(reader, target, subnetsServedBy(routed, vpcTables), limit)]);
    }
    case 'load-balancer':
      // The load balancer as ELBv2 has it now; a classic one (no ARN) by the groups its event names.
      return {
        groupIds: changed.arn ? await reader.loadBalancerGroups(target, [changed.arn]) : changed.groupIds,
        complete: true,
      };
    case 'database':
      // The groups the event names: the lookup reads from EC2 what each is attached to now.
      return { groupIds: changed.groupIds, complete: true };
  }
}

/**
 * The groups whose exposure an exposure change can have changed, read from EC2 and ELBv2 (the event only
 * says where to look): the groups on the interfaces, instances or load balancer it names, the groups the
 * database event names, and for a route, gateway or subnet change the groups on the interfaces in the
 * subnets it affects. At most `maxGroups` (sorted); beyond that `capped` says how many were found and the
 * rest is left to the scan. A failed AWS read (or an account it cannot act in) is returned as `failure`.
 */
export async function groupsMovedBy(
  reader: Reader,
  target: AwsTarget,
  changed: ChangedThing,
  maxGroups: number,
): Promise<MovedGroups> {
  try {
    const found = await candidates(reader, target, changed, maxGroups);
    const groupIds = [...new Set(found.groupIds.filter((g) => g.startsWith('sg-')))].sort();
    const over = groupIds.length > maxGroups || !found.complete;
    return {
      groupIds: groupIds.slice(0, maxGroups),
      capped: over ? { found: groupIds.length, atLeast: !found.complete } : null,
      failure: null,
    };
  } catch (error) {
    if (error instanceof AccountAccessError) return { groupIds: [], capped: null, failure: error.message };
    if (!(error instanceof AwsCallError)) throw error;
    const action = /^(\w+) failed/.exec(error.message)?.[1] ?? 'a read';
    return { groupIds: [], capped: null, failure: `${action} failed (${errorCode(error)})` };
  }
}
