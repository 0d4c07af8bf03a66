import type { Config, People, Runbook } from '../config/config';
import { RefusedError } from '../kernel/refusal';
import type { Directory, Person } from '../shared/people';
import type { CommandRunner, InstanceFinder, InstanceInfo } from '../shared/ports';
import type { RunItem } from './items';
import { runnerRefusal } from './who-may';

/** SendCommand takes at most 50 instance IDs. */
export const MAX_INSTANCES = 50;
/** The name `/sg-run` gives ad-hoc commands (a runbook may not be called so). */
export const ADHOC = 'adhoc';
export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** Everything a run needs from its runbook (or from the ad-hoc settings). */
export interface RunSpec {
  name: string;
  adHoc: boolean;
  description: string;
  document: string;
  region: string;
  targets: string[];
  allowed: People;
  approvalRequired: boolean;
  approvers: People;
  approvalExpiry: number;
  timeout: number;
  maxOutputChars: number;
  outputS3Bucket?: string;
  outputLogGroup?: string;
  /** Where its requests are posted whatever channel they came from; null: where it was asked. */
  channel: string | null;
  runbook: Runbook | null;
}

/**
 * The spec for a runbook alias or "adhoc" under the current config, or null when there is none. A typed
 * name is looked up among the config's own keys only (`constructor` is no runbook).
 */
export function specFor(config: Config, name: string): RunSpec | null {
  if (name === ADHOC) {
    const a = config.runbooks.adHoc;
    if (!config.runbooks.allowAdHoc || !a) return null;
    return {
      name,
      adHoc: true,
      description: 'ad-hoc command',
      document: a.document,
      region: a.region,
      targets: a.targets,
      allowed: a.allowed,
      // An ad-hoc command always needs a second person.
      approvalRequired: true,
      approvers: a.approvers,
      approvalExpiry: a.approvalExpiry,
      timeout: a.timeout,
      maxOutputChars: a.maxOutputChars,
      ...(a.outputS3Bucket ? { outputS3Bucket: a.outputS3Bucket } : {}),
      ...(a.outputLogGroup ? { outputLogGroup: a.outputLogGroup } : {}),
      channel: a.channel,
      runbook: null,
    };
  }
  const r = Object.hasOwn(config.runbooks.items, name) ? config.runbooks.items[name] : undefined;
  if (!r) return null;
  return {
    name,
    adHoc: false,
    description: r.description,
    document: r.document,
    region: r.region,
    targets: r.targets,
    allowed: r.allowed,
    approvalRequired: r.approval.required,
    approvers: r.approval.approvers,
    approvalExpiry: r.approvalExpiry,
    timeout: r.timeout,
    maxOutputChars: r.maxOutputChars,
    ...(r.outputS3Bucket ? { outputS3Bucket: r.outputS3Bucket } : {}),
    ...(r.outputLogGroup ? { outputLogGroup: r.outputLogGroup } : {}),
    channel: null,
    runbook: r,
  };
}

/** The spec of a stored run under the current config (null when its runbook is gone). */
export function specOf(config: Config, run: Pick<RunItem, 'adHoc' | 'runbook'>): RunSpec | null {
  return specFor(config, run.adHoc ? ADHOC : run.runbook);
}

function label(instance: { instanceId: string; name: string | null }): string {
  return instance.name ? `${instance.instanceId} (${instance.name})` : instance.instanceId;
}

function matchesTags(have: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => Object.hasOwn(have, k) && have[k] === v);
}

const refused = (message: string, code = 'BAD_INPUT') => new RefusedError({ code, message });

/** The target asked for, or the runbook's only target when none was named. */
export function targetOf(spec: RunSpec, target: string | null): string {
  if (target !== null) return target;
  if (spec.targets.length === 1) return spec.targets[0]!;
  throw refused(`Say which target: ${spec.name} may run on ${spec.targets.join(', ')}.`);
}

/**
 * The instances a target stands for, if the spec allows it: an instance ID listed in the spec's targets
 * or carrying the tags of one of its aliases, or an alias the spec lists (its running instances). Typed
 * aliases are looked up among the config's own keys only. Throws RefusedError.
 */
export async function resolveTarget(
  deps: { config: Config; instances: InstanceFinder },
  spec: RunSpec,
  target: string,
): Promise<{ instances: InstanceInfo[]; leftOut: InstanceInfo[] }> {
  const selectors = deps.config.runbooks.targets;
  const selectorOf = (alias: string) => (Object.hasOwn(selectors, alias) ? selectors[alias] : undefined);
  const aliases = spec.targets.filter((t) => !INSTANCE_ID.test(t));
  const allowedList = spec.targets.join(', ');
  if (INSTANCE_ID.test(target)) {
    const found = (await deps.instances.instancesById(spec.region, [target])).filter(
      (i) => i.state !== 'terminated',
    );
    const instance = found[0];
    if (!instance) throw refused(`There is no instance ${target} in ${spec.region}; nothing was sent.`);
    const allowed =
      spec.targets.includes(target) ||
      aliases.some((a) => {
        const selector = selectorOf(a);
        return selector !== undefined && matchesTags(instance.tags, selector.tags);
      });
    if (!allowed)
      throw refused(
        `${target} is not a target of ${spec.name}; it may run on ${allowedList}.`,
        'NOT_AUTHORISED',
      );
    return { instances: [instance], leftOut: [] };
  }
  const selector = selectorOf(target);
  if (!spec.targets.includes(target) || !selector) {
    throw refused(
      selector
        ? `${spec.name} may not run on ${target}; it may run on ${allowedList}.`
        : `"${target}" is neither an instance ID (i-…) nor a target alias; ${spec.name} may run on ${allowedList}.`,
    );
  }
  const all = (await deps.instances.instancesByTags(spec.region, selector.tags)).filter(
    (i) => i.state !== 'terminated',
  );
  const instances = all.filter((i) => i.state === 'running');
  const leftOut = all.filter((i) => i.state !== 'running');
  const tags = Object.entries(selector.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (instances.length === 0)
    throw refused(
      `No running instance in ${spec.region} carries ${tags} (${target})${leftOut.length ? `; ${leftOut.length} not running` : ''}; nothing was sent.`,
    );
  if (instances.length > MAX_INSTANCES)
    throw refused(
      `${target} stands for ${instances.length} instances; Run Command takes at most ${MAX_INSTANCES} at once.`,
    );
  return { instances, leftOut };
}

/** Refuses unless every instance is managed by SSM and online; the refusal names each one that is not. */
export async function checkOnline(
  deps: { commands: CommandRunner },
  region: string,
  instances: readonly { instanceId: string; name: string | null }[],
): Promise<void> {
  const managed = await deps.commands.describeManagedInstances(
    region,
    instances.map((i) => i.instanceId),
  );
  const problems: string[] = [];
  for (const instance of instances) {
    const info = managed.find((m) => m.instanceId === instance.instanceId);
    if (!info)
      problems.push(`${label(instance)} is not managed by SSM (no agent, or no instance profile for SSM)`);
    else if (info.pingStatus !== 'Online')
      problems.push(`${label(instance)} is offline (SSM: ${info.pingStatus})`);
  }
  if (problems.length > 0)
    throw new RefusedError(
      { code: 'TARGET_NOT_READY', message: `Refused, nothing was sent: ${problems.join('; ')}.` },
      { context: { problems } },
    );
}

/** `/sg-run list`: the runbooks this person may run (and whether ad-hoc commands are open to them). */
export async function listRunbooks(
  deps: { config: Config; directory: Directory },
  person: Person,
): Promise<RunSpec[]> {
  const names = [...Object.keys(deps.config.runbooks.items).sort(), ADHOC];
  const out: RunSpec[] = [];
  for (const name of names) {
    const spec = specFor(deps.config, name);
    if (spec && (await runnerRefusal(deps.directory, spec, person)) === null) out.push(spec);
  }
  return out;
}
