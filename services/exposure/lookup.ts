import type { Metrics } from '../shared/metrics';
import type { AwsTarget } from '../shared/ports';
import { classify, type Exposure, type NetworkFacts, planThirdRead, type Read } from './classify';
import type { NetworkReader } from './ports';

/**
 * The code to name a failure by: AWS's error code, else Node's (ECONNREFUSED, ETIMEDOUT), else the error's
 * name; never its message (AWS's can hold ARNs and encoded authorization details).
 */
export function errorCode(error: unknown, depth = 0): string {
  const e = error as {
    awsCode?: string;
    Code?: string;
    name?: string;
    code?: unknown;
    cause?: unknown;
  } | null;
  const generic = (name: string | undefined) => !name || name === 'Error' || name === 'Unknown';
  const named = e?.awsCode ?? e?.Code ?? e?.name;
  if (!generic(named)) return named!;
  if (typeof e?.code === 'string') return e.code;
  if (e?.cause && depth < 3) return errorCode(e.cause, depth + 1);
  return named ?? 'Error';
}

/** "DescribeRouteTables failed (UnauthorizedOperation)". */
function failureText(action: string, error: unknown): string {
  return `${action} failed (${errorCode(error)})`;
}

async function read<T>(action: string, call: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, failure: failureText(action, error) };
  }
}

/**
 * Reads a group's exposure with at most three calls: its network interfaces, then (when it has any) the
 * route tables of their VPCs, then one more only when it can tell something: the load balancers' schemes
 * when an interface belongs to one that its address does not already decide, else the instances' Name
 * tags. A failed read makes what it would have decided `unknown`; this never throws.
 */
export async function lookUpExposure(
  reader: NetworkReader,
  target: AwsTarget,
  groupId: string,
): Promise<Exposure> {
  const interfaces = await read('DescribeNetworkInterfaces', () =>
    reader.interfacesUsingGroup(target, groupId),
  );
  const facts: NetworkFacts = { interfaces };
  if (!interfaces.ok || interfaces.value.length === 0) return classify(facts);
  const vpcIds = [...new Set(interfaces.value.flatMap((i) => (i.vpcId ? [i.vpcId] : [])))].sort();
  facts.routeTables = await read('DescribeRouteTables', () => reader.routeTables(target, vpcIds));
  const third = planThirdRead(interfaces.value, facts.routeTables);
  if (third?.kind === 'load-balancers') {
    facts.loadBalancers = await read('DescribeLoadBalancers', () =>
      reader.loadBalancers(target, third.names),
    );
  } else if (third?.kind === 'instance-names') {
    facts.instanceNames = await read('DescribeTags', () => reader.instanceNames(target, third.instanceIds));
  }
  return classify(facts);
}

/**
 * Exposure per group for one invocation: each group is looked up once however often it is asked for
 * (several rules of one group, the alert and the deadline check). Make one per invocation, so that a
 * warm container never answers from an earlier one.
 */
export class ExposureLookup {
  private readonly reader: NetworkReader;
  private readonly metrics: Metrics | undefined;
  private readonly cache = new Map<string, Promise<Exposure>>();

  /** `metrics`: each lookup made is counted by class (ExposureLookups), a failed read too (ExposureUnreadable). */
  constructor(options: { reader: NetworkReader; metrics?: Metrics }) {
    this.reader = options.reader;
    this.metrics = options.metrics;
  }

  /** The group's exposure in this account and region; never rejects (a failed read gives `unknown`). */
  exposureOf(target: AwsTarget, groupId: string): Promise<Exposure> {
    const key = `${target.account}|${target.region}|${groupId}`;
    let pending = this.cache.get(key);
    if (!pending) {
      pending = lookUpExposure(this.reader, target, groupId).then((exposure) => {
        this.metrics?.add('ExposureLookups', 1, { exposure: exposure.exposure });
        if (exposure.failures.length > 0) this.metrics?.add('ExposureUnreadable', 1);
        return exposure;
      });
      this.cache.set(key, pending);
    }
    return pending;
  }
}
