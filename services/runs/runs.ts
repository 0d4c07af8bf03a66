import { createHash, randomBytes } from 'node:crypto';
import type { Config, People, Runbook } from '../config/config';
import { SHELL_DOCUMENTS } from '../config/config';
import type { AuditEntry } from '../kernel/audit';
import { keys, type StateStore, type Transition, tryTransition } from '../kernel/state';
import {
  AwsCallError,
  BadInputError,
  describeError,
  NotAuthorisedError,
  NotFoundError,
  SgWardenError,
  StateConflictError,
} from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type Directory, isAllowed } from '../shared/people';
import type {
  CommandInvocation,
  CommandRunner,
  InstanceFinder,
  InstanceInfo,
  MessageRef,
} from '../shared/ports';
import { FINAL_RUN_STATUSES, type RunInvocation, type RunItem, type RunStatus } from './items';
import {
  adHocParameters,
  checkAdHocCommand,
  documentParameters,
  parseRunCommand,
  type RunRequest,
  resolveParameters,
  runComment,
} from './params';

/** How `/sg-run` tells people about a run (Slack in production). */
export interface RunNotifier {
  /** Posts the run's announcement in `channel` (with Approve / Reject while it awaits approval). */
  announce(channel: string, run: RunItem): Promise<MessageRef>;
  /** Re-renders the announcement from the run as it is now. */
  refresh(run: RunItem): Promise<void>;
  /** Posts one instance's result and output in the run's thread; says how much of the output it showed. */
  postResult(
    run: RunItem,
    instanceId: string,
    invocation: CommandInvocation,
  ): Promise<{ shownChars: number; cutChars: number }>;
  /** A short line in the run's thread (rejected, expired, could not be sent). */
  postNote(run: RunItem, note: RunNote): Promise<void>;
}

/**
 * What a note in a run's thread says. The notifier words it (and escapes what it quotes: an error can
 * name an instance by its Name tag, which anyone who may tag instances chooses).
 */
export type RunNote =
  | { kind: 'not-sent'; error: string }
  | { kind: 'withdrawn' | 'rejected'; by: string }
  | { kind: 'expired' }
  | { kind: 'send-unknown' };

/** The AWS ports `/sg-run` needs, built once per container by the wiring. */
export interface RunPorts {
  instances: InstanceFinder;
  commands: CommandRunner;
}

export interface RunDeps extends RunPorts {
  config: Config;
  store: StateStore;
  clock: () => Date;
  logger: Logger;
  directory: Directory;
  notifier: RunNotifier;
}

/** Who asked (from Slack's payload; checked against the config, never trusted for more). */
export interface RunActor {
  userId: string;
  userName: string;
}

/** SendCommand takes at most 50 instance IDs. */
export const MAX_INSTANCES = 50;
/** A sender that holds SENDING longer than this is presumed dead. */
export const SEND_LEASE_SECONDS = 300;
/** A poller that holds POLLING longer than this is presumed dead. */
export const POLL_LEASE_SECONDS = 120;
/**
 * When the next look at a run in flight is due: soon after sending (most runbooks take seconds), then
 * less often. The deployed sweeper runs every minute, so this only matters for faster sweeps (sandbox).
 */
export function nextPollSeconds(sentAt: string | undefined, now: Date): number {
  const elapsed = sentAt ? (now.getTime() - Date.parse(sentAt)) / 1000 : 0;
  if (elapsed < 60) return 2;
  if (elapsed < 600) return 10;
  return 30;
}
/** Tries to post an instance's result before giving up (the run still finishes). */
export const MAX_POST_ATTEMPTS = 5;

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** SSM's final invocation states: nothing changes after these. */
const FINAL_SSM_STATUSES = new Set([
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'Undeliverable',
  'Terminated',
]);
export const ADHOC = 'adhoc';

/** A run ID people can type: r- and ten lowercase letters or digits. */
export function newRunId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return `r-${[...randomBytes(10)].map((b) => alphabet[b % 36]).join('')}`;
}

function plusSeconds(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

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
  runbook: Runbook | null;
}

/** The spec for a runbook alias or "adhoc" under the current config, or null when there is none. */
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
    runbook: r,
  };
}

function label(instance: { instanceId: string; name: string | null }): string {
  return instance.name ? `${instance.instanceId} (${instance.name})` : instance.instanceId;
}

function matchesTags(have: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/**
 * The instances a target stands for, if the spec allows it: an instance ID listed in the spec's targets
 * or carrying the tags of one of its aliases, or an alias the spec lists (its running instances).
 */
export async function resolveTarget(
  deps: Pick<RunDeps, 'config' | 'instances'>,
  spec: RunSpec,
  target: string,
): Promise<{ instances: InstanceInfo[]; leftOut: InstanceInfo[] }> {
  const selectors = deps.config.runbooks.targets;
  const aliases = spec.targets.filter((t) => !INSTANCE_ID.test(t));
  const allowedList = spec.targets.join(', ');
  if (INSTANCE_ID.test(target)) {
    const found = (await deps.instances.instancesById(spec.region, [target])).filter(
      (i) => i.state !== 'terminated',
    );
    const instance = found[0];
    if (!instance)
      throw new BadInputError(`There is no instance ${target} in ${spec.region}; nothing was sent.`);
    const allowed =
      spec.targets.includes(target) ||
      aliases.some((a) => selectors[a] !== undefined && matchesTags(instance.tags, selectors[a].tags));
    if (!allowed)
      throw new NotAuthorisedError(
        `${target} is not a target of ${spec.name}; it may run on ${allowedList}.`,
      );
    return { instances: [instance], leftOut: [] };
  }
  const selector = Object.hasOwn(selectors, target) ? selectors[target] : undefined;
  if (!spec.targets.includes(target) || !selector) {
    throw new BadInputError(
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
    throw new BadInputError(
      `No running instance in ${spec.region} carries ${tags} (${target})${leftOut.length ? `; ${leftOut.length} not running` : ''}; nothing was sent.`,
    );
  if (instances.length > MAX_INSTANCES)
    throw new BadInputError(
      `${target} stands for ${instances.length} instances; Run Command takes at most ${MAX_INSTANCES} at once.`,
    );
  return { instances, leftOut };
}

/** Refuses unless every instance is managed by SSM and online; the refusal names each one that is not. */
export async function checkOnline(
  deps: Pick<RunDeps, 'commands'>,
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
    throw new SgWardenError('TARGET_NOT_READY', `Refused, nothing was sent: ${problems.join('; ')}.`, {
      context: { problems },
    });
}

function audit(
  run: { runId: string },
  entry: Omit<AuditEntry, 'subjectId' | 'subjectType' | 'at'>,
  now: Date,
): AuditEntry {
  return { subjectId: run.runId, subjectType: 'run', at: now.toISOString(), ...entry };
}

function userActor(actor: RunActor): Pick<AuditEntry, 'actorType' | 'actorId' | 'actorName'> {
  return { actorType: 'slack-user', actorId: actor.userId, actorName: actor.userName };
}

const SYSTEM = { actorType: 'system', actorId: 'sg-warden' } as const;

function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * Reads the text of `/sg-run`. A command that cannot be read (a stray word such as a newline-split
 * `rm -rf /`, an open quote) is refused and audited like any other refused request.
 */
export async function parseRequest(
  deps: Pick<RunDeps, 'store' | 'clock'>,
  actor: RunActor,
  text: string,
  channel: string,
): Promise<RunRequest> {
  try {
    return parseRunCommand(text);
  } catch (error) {
    await deps.store.appendAudit(
      audit(
        { runId: newRunId() },
        {
          action: 'request',
          fromState: null,
          toState: null,
          ...userActor(actor),
          result: 'refused',
          error: describeError(error),
          details: { text: clip(text, 2000), channel },
        },
        deps.clock(),
      ),
    );
    throw error;
  }
}

/**
 * `/sg-run <runbook> <target> …` and `/sg-run adhoc …`: checks who asks, the values and the targets
 * (instances exist, are allowed, are managed by SSM and online) before anything is stored or sent.
 * The run is stored, then announced in `channel` (results go to that message's thread), then sent —
 * or left for a second person's approval. Every refusal is audited and thrown as one sentence.
 */
export async function requestRun(
  deps: RunDeps,
  actor: RunActor,
  request: Extract<RunRequest, { kind: 'run' | 'adhoc' }>,
  channel: string,
): Promise<RunItem> {
  const runId = newRunId();
  const name = request.kind === 'adhoc' ? ADHOC : request.runbook;
  const asked = {
    runbook: name,
    target: request.target,
    channel,
    ...(request.kind === 'adhoc'
      ? { command: clip(request.command, 2000) }
      : { given: Object.fromEntries(request.assignments.map(([k, v]) => [clip(k, 64), clip(v)])) }),
  };
  let planned: Awaited<ReturnType<typeof planRun>>;
  try {
    planned = await planRun(deps, actor, request, runId);
  } catch (error) {
    const known = error instanceof SgWardenError;
    await deps.store.appendAudit(
      audit(
        { runId },
        {
          action: 'request',
          fromState: null,
          toState: null,
          ...userActor(actor),
          result: known && !(error instanceof AwsCallError) ? 'refused' : 'error',
          error: describeError(error),
          details: asked,
        },
        deps.clock(),
      ),
    );
    throw error;
  }
  const now = deps.clock();
  const { spec, instances, values, parameters, target } = planned;
  const status: RunStatus = spec.approvalRequired ? 'AWAITING_APPROVAL' : 'SENDING';
  const approvalExpiresAt = spec.approvalRequired ? plusSeconds(now, spec.approvalExpiry) : undefined;
  const due = spec.approvalRequired
    ? { kind: 'RUN_APPROVAL_EXPIRY' as const, at: approvalExpiresAt! }
    : { kind: 'RUN_POLL' as const, at: plusSeconds(now, SEND_LEASE_SECONDS) };
  const run: RunItem = {
    ...keys.run(runId),
    type: 'run',
    status,
    version: 1,
    dueKind: due.kind,
    dueAt: due.at,
    runId,
    runbook: spec.name,
    adHoc: spec.adHoc,
    document: spec.document,
    region: spec.region,
    target,
    instanceIds: instances.map((i) => i.instanceId),
    instanceNames: Object.fromEntries(instances.filter((i) => i.name).map((i) => [i.instanceId, i.name!])),
    values,
    documentParameters: parameters,
    comment: runComment(runId, actor),
    timeoutSeconds: spec.timeout,
    maxOutputChars: spec.maxOutputChars,
    ...(spec.outputS3Bucket
      ? { outputS3Bucket: spec.outputS3Bucket, outputS3KeyPrefix: `sg-warden/${runId}` }
      : {}),
    ...(spec.outputLogGroup ? { outputLogGroup: spec.outputLogGroup } : {}),
    requestedBy: actor.userId,
    requestedByName: actor.userName,
    createdAt: now.toISOString(),
    approvalRequired: spec.approvalRequired,
    ...(approvalExpiresAt ? { approvalExpiresAt } : {}),
    invocations: {},
  } as RunItem;
  const created = await deps.store.createAll(
    [run as unknown as Record<string, unknown>],
    [
      audit(
        run,
        {
          action: 'request',
          fromState: null,
          toState: status,
          ...userActor(actor),
          result: 'ok',
          details: {
            ...asked,
            document: run.document,
            region: run.region,
            instanceIds: run.instanceIds,
            values,
            documentParameters: parameters,
            approvalRequired: spec.approvalRequired,
          },
        },
        now,
      ),
    ],
  );
  if (!created) throw new StateConflictError(`Run ${runId} exists already; please ask again.`);

  let ref: MessageRef;
  try {
    ref = await deps.notifier.announce(channel, run);
  } catch (error) {
    deps.logger.warn({ runId, err: describeError(error) }, 'run announcement not posted');
    await deps.store
      .transition({
        key: keys.run(runId),
        from: [status],
        to: 'CANCELLED',
        set: {
          lastError: `announcement not posted: ${describeError(error)}`,
          finishedAt: deps.clock().toISOString(),
        },
        due: null,
        audit: audit(
          run,
          {
            action: 'announce',
            fromState: status,
            toState: 'CANCELLED',
            ...SYSTEM,
            result: 'error',
            error: describeError(error),
            details: { channel },
          },
          deps.clock(),
        ),
      })
      .catch((e) => deps.logger.error({ runId, err: describeError(e) }, 'run not cancelled'));
    throw new SgWardenError(
      'CHANNEL_UNAVAILABLE',
      `sg-warden could not post in this channel, so run ${runId} was cancelled and nothing was sent. Invite the bot here, or ask in a channel it is in.`,
      { cause: error },
    );
  }
  await deps.store.patch(keys.run(runId), { channel: ref.channel, ts: ref.ts });
  const announced: RunItem = { ...run, channel: ref.channel, ts: ref.ts };
  if (spec.approvalRequired) return announced;
  return sendRun(deps, announced, { recheck: false });
}

async function planRun(
  deps: RunDeps,
  actor: RunActor,
  request: Extract<RunRequest, { kind: 'run' | 'adhoc' }>,
  runId: string,
): Promise<{
  spec: RunSpec;
  instances: InstanceInfo[];
  values: Record<string, string>;
  parameters: Record<string, string[]>;
  target: string;
}> {
  const name = request.kind === 'adhoc' ? ADHOC : request.runbook;
  const spec = specFor(deps.config, name);
  if (!spec) {
    throw new BadInputError(
      name === ADHOC
        ? 'Ad-hoc commands are turned off (runbooks.allowAdHoc); use a runbook. `/sg-run list` shows the ones you may run.'
        : `There is no runbook "${clip(name, 64)}". \`/sg-run list\` shows the ones you may run.`,
    );
  }
  if (!(await isAllowed(spec.allowed, actor.userId, deps.directory)))
    throw new NotAuthorisedError(
      spec.adHoc ? 'You may not run ad-hoc commands.' : `You may not run ${spec.name}.`,
    );
  // Values are checked before any AWS call, so a refused value never reaches an instance or a log line of SSM.
  let values: Record<string, string>;
  let parameters: Record<string, string[]>;
  const shell = SHELL_DOCUMENTS[spec.document] ?? null;
  if (request.kind === 'adhoc') {
    const command = checkAdHocCommand(request.command);
    values = { command };
    parameters = adHocParameters({ timeout: spec.timeout }, command);
  } else {
    values = resolveParameters(spec.runbook!, request.assignments);
    parameters = documentParameters(spec.runbook!, values, shell);
  }
  const target = targetOf(spec, request.target);
  const { instances } = await resolveTarget(deps, spec, target);
  await checkOnline(deps, spec.region, instances);
  deps.logger.info({ runId, runbook: spec.name, instances: instances.length }, 'run planned');
  return { spec, instances, values, parameters, target };
}

/** The target asked for, or the runbook's only target when none was named. */
function targetOf(spec: RunSpec, target: string | null): string {
  if (target !== null) return target;
  if (spec.targets.length === 1) return spec.targets[0]!;
  throw new BadInputError(`Say which target: ${spec.name} may run on ${spec.targets.join(', ')}.`);
}

/** The approvers of a run under the current config (null when its runbook is gone). */
function specOf(deps: Pick<RunDeps, 'config'>, run: RunItem): RunSpec | null {
  return specFor(deps.config, run.adHoc ? ADHOC : run.runbook);
}

/** Sends a run in SENDING to SSM and records the command ID (→ RUNNING), or the failure (→ SEND_FAILED). */
export async function sendRun(deps: RunDeps, run: RunItem, options: { recheck: boolean }): Promise<RunItem> {
  const key = keys.run(run.runId);
  const fail = async (error: unknown, stage: string): Promise<RunItem> => {
    const now = deps.clock();
    const failed = await deps.store.transition<RunItem>({
      key,
      from: ['SENDING'],
      to: 'SEND_FAILED',
      set: { lastError: describeError(error), finishedAt: now.toISOString() },
      due: null,
      audit: audit(
        run,
        {
          action: stage,
          fromState: 'SENDING',
          toState: 'SEND_FAILED',
          ...SYSTEM,
          result: 'error',
          error: describeError(error),
          ...(error instanceof AwsCallError && error.requestId ? { awsRequestId: error.requestId } : {}),
          details: error instanceof AwsCallError ? { awsCode: error.awsCode } : {},
        },
        now,
      ),
    });
    await tell(deps, failed, { kind: 'not-sent', error: describeError(error) });
    return failed;
  };
  if (options.recheck) {
    const instances = run.instanceIds.map((id) => ({ instanceId: id, name: run.instanceNames[id] ?? null }));
    try {
      await checkOnline(deps, run.region, instances);
    } catch (error) {
      return fail(error, 'precheck');
    }
  }
  let sent: { commandId: string; requestId: string | null };
  try {
    sent = await deps.commands.sendCommand({
      region: run.region,
      document: run.document,
      instanceIds: run.instanceIds,
      parameters: run.documentParameters,
      comment: run.comment,
      timeoutSeconds: run.timeoutSeconds,
      ...(run.outputS3Bucket
        ? { outputS3Bucket: run.outputS3Bucket, outputS3KeyPrefix: run.outputS3KeyPrefix }
        : {}),
      ...(run.outputLogGroup ? { outputLogGroup: run.outputLogGroup } : {}),
    });
  } catch (error) {
    return fail(error, 'send');
  }
  const now = deps.clock();
  const invocations: Record<string, RunInvocation> = Object.fromEntries(
    run.instanceIds.map((id) => [id, { status: 'Pending', final: false }]),
  );
  const details = {
    commandId: sent.commandId,
    document: run.document,
    parameters: run.documentParameters,
    instanceIds: run.instanceIds,
    comment: run.comment,
    timeoutSeconds: run.timeoutSeconds,
    ...(run.outputS3Bucket
      ? { outputS3Bucket: run.outputS3Bucket, outputS3KeyPrefix: run.outputS3KeyPrefix }
      : {}),
    ...(run.outputLogGroup ? { outputLogGroup: run.outputLogGroup } : {}),
  };
  let running: RunItem;
  try {
    running = await deps.store.transition<RunItem>({
      key,
      from: ['SENDING'],
      to: 'RUNNING',
      set: { commandId: sent.commandId, sentAt: now.toISOString(), invocations },
      due: { kind: 'RUN_POLL', at: plusSeconds(now, nextPollSeconds(undefined, now)) },
      audit: audit(
        run,
        {
          action: 'send',
          fromState: 'SENDING',
          toState: 'RUNNING',
          ...SYSTEM,
          result: 'ok',
          ...(sent.requestId ? { awsRequestId: sent.requestId } : {}),
          details,
        },
        now,
      ),
    });
  } catch (error) {
    // SSM has the command but the run left SENDING (its lease ran out): keep the command ID on record.
    await deps.store.appendAudit(
      audit(
        run,
        {
          action: 'send',
          fromState: 'SENDING',
          toState: null,
          ...SYSTEM,
          result: 'error',
          error: `sent, but not recorded as RUNNING: ${describeError(error)}`,
          details,
        },
        now,
      ),
    );
    throw error;
  }
  await refresh(deps, running);
  return running;
}

async function refresh(deps: RunDeps, run: RunItem): Promise<void> {
  try {
    await deps.notifier.refresh(run);
  } catch (error) {
    deps.logger.warn({ runId: run.runId, err: describeError(error) }, 'run message not updated');
  }
}

async function tell(deps: RunDeps, run: RunItem, note: RunNote): Promise<void> {
  await refresh(deps, run);
  try {
    await deps.notifier.postNote(run, note);
  } catch (error) {
    deps.logger.warn({ runId: run.runId, err: describeError(error) }, 'run note not posted');
  }
}

async function loadRun(deps: Pick<RunDeps, 'store'>, runId: string): Promise<RunItem> {
  const run = await deps.store.get<RunItem>(keys.run(runId));
  if (!run) throw new NotFoundError(`There is no run ${runId}.`);
  return run;
}

function stateSentence(run: RunItem): string {
  const by = run.decidedByName ? ` by ${run.decidedByName}` : '';
  switch (run.status) {
    case 'AWAITING_APPROVAL':
      return 'is waiting for approval';
    case 'SENDING':
    case 'RUNNING':
    case 'POLLING':
      return `was approved${by} and is running`;
    case 'REJECTED':
      return `was rejected${by}`;
    case 'CANCELLED':
      return `was cancelled${by}`;
    case 'EXPIRED':
      return 'expired unapproved';
    default:
      return `${run.decidedBy ? `was approved${by} and ` : 'has '}finished (${run.status})`;
  }
}

/** Refuses (audited) and throws. */
async function refuseDecision(
  deps: RunDeps,
  run: RunItem,
  actor: RunActor,
  action: string,
  error: SgWardenError,
): Promise<never> {
  await deps.store.appendAudit(
    audit(
      run,
      {
        action,
        fromState: run.status,
        toState: null,
        ...userActor(actor),
        result: 'refused',
        error: error.message,
      },
      deps.clock(),
    ),
  );
  throw error;
}

/**
 * A person's decision on a run awaiting approval, as one conditional transition out of AWAITING_APPROVAL
 * (so approve, reject and the expiry cannot both win). Losing that race is refused and audited like any
 * other refusal, saying what happened to the run instead.
 */
async function decide(
  deps: RunDeps,
  run: RunItem,
  actor: RunActor,
  action: 'approve' | 'reject' | 'withdraw',
  to: RunStatus,
  now: Date,
  change: { set?: Record<string, unknown>; due: Transition['due'] },
): Promise<RunItem> {
  const decided = await tryTransition<RunItem>(deps.store, {
    key: keys.run(run.runId),
    from: ['AWAITING_APPROVAL'],
    to,
    set: {
      decidedBy: actor.userId,
      decidedByName: actor.userName,
      decidedAt: now.toISOString(),
      ...change.set,
    },
    due: change.due,
    audit: audit(
      run,
      { action, fromState: 'AWAITING_APPROVAL', toState: to, ...userActor(actor), result: 'ok' },
      now,
    ),
  });
  if (decided) return decided;
  const current = await loadRun(deps, run.runId);
  return refuseDecision(
    deps,
    current,
    actor,
    action === 'approve' ? 'approve' : 'reject',
    new StateConflictError(`Run ${run.runId} ${stateSentence(current)}.`),
  );
}

/**
 * Approve: only an approver who is not the requester, while the run awaits approval and has not
 * expired. One conditional transition (AWAITING_APPROVAL → SENDING) decides between approve, reject
 * and expiry; then the targets are checked again and the command is sent.
 */
export async function approveRun(deps: RunDeps, runId: string, actor: RunActor): Promise<RunItem> {
  const run = await loadRun(deps, runId);
  if (run.status !== 'AWAITING_APPROVAL')
    return refuseDecision(
      deps,
      run,
      actor,
      'approve',
      new StateConflictError(`Run ${runId} ${stateSentence(run)}.`),
    );
  if (actor.userId === run.requestedBy)
    return refuseDecision(
      deps,
      run,
      actor,
      'approve',
      new NotAuthorisedError('You cannot approve your own run; another approver must.'),
    );
  const spec = specOf(deps, run);
  if (!spec)
    return refuseDecision(
      deps,
      run,
      actor,
      'approve',
      new BadInputError(
        `Runbook ${run.runbook} is no longer configured, so run ${runId} cannot be approved.`,
      ),
    );
  if (!(await isAllowed(spec.approvers, actor.userId, deps.directory)))
    return refuseDecision(
      deps,
      run,
      actor,
      'approve',
      new NotAuthorisedError(`You are not an approver of ${spec.name}.`),
    );
  const now = deps.clock();
  if (run.approvalExpiresAt && run.approvalExpiresAt <= now.toISOString()) {
    await expireApproval(deps, run, now);
    return refuseDecision(
      deps,
      run,
      actor,
      'approve',
      new StateConflictError(`Run ${runId} expired unapproved.`),
    );
  }
  const sending = await decide(deps, run, actor, 'approve', 'SENDING', now, {
    due: { kind: 'RUN_POLL', at: plusSeconds(now, SEND_LEASE_SECONDS) },
  });
  await refresh(deps, sending);
  return sendRun(deps, sending, { recheck: true });
}

/**
 * Reject: an approver (not the requester) rejects; the requester may withdraw their own request.
 * Conditional on AWAITING_APPROVAL, so it cannot also be approved or expire.
 */
export async function rejectRun(deps: RunDeps, runId: string, actor: RunActor): Promise<RunItem> {
  const run = await loadRun(deps, runId);
  if (run.status !== 'AWAITING_APPROVAL')
    return refuseDecision(
      deps,
      run,
      actor,
      'reject',
      new StateConflictError(`Run ${runId} ${stateSentence(run)}.`),
    );
  const withdraw = actor.userId === run.requestedBy;
  if (!withdraw) {
    const spec = specOf(deps, run);
    if (!spec || !(await isAllowed(spec.approvers, actor.userId, deps.directory)))
      return refuseDecision(
        deps,
        run,
        actor,
        'reject',
        new NotAuthorisedError(`You are not an approver of ${run.runbook}.`),
      );
  }
  const now = deps.clock();
  const to: RunStatus = withdraw ? 'CANCELLED' : 'REJECTED';
  const decided = await decide(deps, run, actor, withdraw ? 'withdraw' : 'reject', to, now, {
    set: { finishedAt: now.toISOString() },
    due: null,
  });
  await tell(deps, decided, { kind: withdraw ? 'withdrawn' : 'rejected', by: actor.userId });
  return decided;
}

/** RUN_APPROVAL_EXPIRY: nobody approved in time (→ EXPIRED). Losing to a click is fine. */
export async function expireApproval(deps: RunDeps, run: RunItem, now: Date): Promise<RunItem | null> {
  const expired = await tryTransition<RunItem>(deps.store, {
    key: keys.run(run.runId),
    from: ['AWAITING_APPROVAL'],
    to: 'EXPIRED',
    set: { decidedBy: 'timeout', decidedAt: now.toISOString(), finishedAt: now.toISOString() },
    due: null,
    audit: audit(
      run,
      {
        action: 'expire',
        fromState: 'AWAITING_APPROVAL',
        toState: 'EXPIRED',
        actorType: 'timeout',
        actorId: 'timeout',
        result: 'ok',
        details: { approvalExpiresAt: run.approvalExpiresAt },
      },
      now,
    ),
  });
  if (!expired) return null;
  await tell(deps, expired, { kind: 'expired' });
  return expired;
}

/**
 * RUN_POLL: follows a run in flight. Claims it (RUNNING → POLLING, a lease), asks SSM for each
 * unfinished instance, records every status change with its own audit entry, posts each finished
 * instance's output in the run's thread once, then releases it (→ RUNNING) or finishes it
 * (→ SUCCEEDED / FAILED). A stale SENDING lease becomes SEND_UNKNOWN; a stale POLLING lease is taken over.
 */
export async function pollRun(deps: RunDeps, item: RunItem, now: Date): Promise<RunItem | null> {
  const key = keys.run(item.runId);
  if (item.status === 'SENDING') {
    const lost = await tryTransition<RunItem>(deps.store, {
      key,
      from: ['SENDING'],
      expectVersion: item.version,
      to: 'SEND_UNKNOWN',
      set: { finishedAt: now.toISOString(), lastError: 'sg-warden stopped while sending' },
      due: null,
      audit: audit(
        item,
        {
          action: 'send',
          fromState: 'SENDING',
          toState: 'SEND_UNKNOWN',
          ...SYSTEM,
          result: 'error',
          error: `sg-warden stopped while sending; look for "${item.comment}" in Run Command's history`,
        },
        now,
      ),
    });
    if (!lost) return null;
    await tell(deps, lost, { kind: 'send-unknown' });
    return lost;
  }
  if (item.status !== 'RUNNING' && item.status !== 'POLLING') return null;
  const claimed = await tryTransition<RunItem>(deps.store, {
    key,
    from: [item.status],
    expectVersion: item.version,
    to: 'POLLING',
    due: { kind: 'RUN_POLL', at: plusSeconds(now, POLL_LEASE_SECONDS) },
    audit: null,
  });
  if (!claimed) return null;
  let run = claimed;
  const giveUpAt = plusSeconds(new Date(run.sentAt ?? run.createdAt), 2 * run.timeoutSeconds + 1800);
  for (const instanceId of run.instanceIds) {
    const before = run.invocations[instanceId] ?? { status: 'Pending', final: false };
    if (before.final && before.posted) continue;
    if (before.final && (before.postAttempts ?? 0) >= MAX_POST_ATTEMPTS) continue;
    let invocation: CommandInvocation | null;
    try {
      invocation = await deps.commands.getInvocation(run.region, run.commandId!, instanceId);
    } catch (error) {
      deps.logger.warn({ runId: run.runId, instanceId, err: describeError(error) }, 'invocation not read');
      continue;
    }
    if (!invocation && now.toISOString() >= giveUpAt) {
      invocation = {
        status: 'Undetermined',
        statusDetails: 'SSM never reported this invocation',
        exitCode: null,
        stdout: '',
        stderr: '',
        stdoutUrl: null,
        stderrUrl: null,
      };
    }
    if (!invocation) continue;
    if (!FINAL_SSM_STATUSES.has(invocation.status) && now.toISOString() >= giveUpAt) {
      invocation = {
        ...invocation,
        status: 'Undetermined',
        statusDetails: `still ${invocation.status} past every timeout`,
      };
    }
    const isFinal = FINAL_SSM_STATUSES.has(invocation.status) || invocation.status === 'Undetermined';
    if (invocation.status !== before.status) {
      const next: RunInvocation = {
        status: invocation.status,
        final: isFinal,
        ...(invocation.statusDetails ? { statusDetails: invocation.statusDetails } : {}),
        postAttempts: 0,
        posted: false,
        ...(isFinal
          ? {
              ...(invocation.exitCode !== null ? { exitCode: invocation.exitCode } : {}),
              stdoutChars: invocation.stdout.length,
              stderrChars: invocation.stderr.length,
              stdoutSha256: sha256(invocation.stdout),
              stderrSha256: sha256(invocation.stderr),
              ...(invocation.stdoutUrl ? { stdoutUrl: invocation.stdoutUrl } : {}),
              ...(invocation.stderrUrl ? { stderrUrl: invocation.stderrUrl } : {}),
              finishedAt: now.toISOString(),
            }
          : {}),
      };
      run = await deps.store.transition<RunItem>({
        key,
        from: ['POLLING'],
        expectVersion: run.version,
        to: 'POLLING',
        set: { invocations: { ...run.invocations, [instanceId]: next } },
        due: { kind: 'RUN_POLL', at: plusSeconds(now, POLL_LEASE_SECONDS) },
        audit: audit(
          run,
          {
            action: isFinal ? 'result' : 'status',
            fromState: before.status,
            toState: invocation.status,
            actorType: 'aws-principal',
            actorId: 'ssm',
            result: 'ok',
            details: {
              instanceId,
              commandId: run.commandId,
              ...(invocation.statusDetails ? { statusDetails: invocation.statusDetails } : {}),
              ...(isFinal
                ? {
                    exitCode: invocation.exitCode,
                    stdoutChars: next.stdoutChars,
                    stderrChars: next.stderrChars,
                    stdoutSha256: next.stdoutSha256,
                    stderrSha256: next.stderrSha256,
                  }
                : {}),
            },
          },
          now,
        ),
      });
    }
    if (!isFinal) continue;
    run = await postInstanceResult(deps, run, instanceId, invocation, now);
  }
  const all = run.instanceIds.map((id) => run.invocations[id]);
  const done = all.every((i) => i?.final && (i.posted || (i.postAttempts ?? 0) >= MAX_POST_ATTEMPTS));
  if (!done) {
    return deps.store.transition<RunItem>({
      key,
      from: ['POLLING'],
      expectVersion: run.version,
      to: 'RUNNING',
      due: { kind: 'RUN_POLL', at: plusSeconds(now, nextPollSeconds(run.sentAt, now)) },
      audit: null,
    });
  }
  const to: RunStatus = all.every((i) => i?.status === 'Success') ? 'SUCCEEDED' : 'FAILED';
  const finished = await deps.store.transition<RunItem>({
    key,
    from: ['POLLING'],
    expectVersion: run.version,
    to,
    set: { finishedAt: now.toISOString() },
    due: null,
    audit: audit(
      run,
      {
        action: 'finish',
        fromState: 'RUNNING',
        toState: to,
        ...SYSTEM,
        result: 'ok',
        details: {
          commandId: run.commandId,
          instances: Object.fromEntries(
            run.instanceIds.map((id) => [
              id,
              { status: run.invocations[id]?.status, exitCode: run.invocations[id]?.exitCode },
            ]),
          ),
        },
      },
      now,
    ),
  });
  await refresh(deps, finished);
  return finished;
}

async function postInstanceResult(
  deps: RunDeps,
  run: RunItem,
  instanceId: string,
  invocation: CommandInvocation,
  now: Date,
): Promise<RunItem> {
  const current = run.invocations[instanceId]!;
  const attempts = (current.postAttempts ?? 0) + 1;
  // Posted or not, the attempt is recorded (and audited) under the poll's lease.
  const record = (posted: boolean, outcome: Pick<AuditEntry, 'result' | 'error' | 'details'>) =>
    deps.store.transition<RunItem>({
      key: keys.run(run.runId),
      from: ['POLLING'],
      expectVersion: run.version,
      to: 'POLLING',
      set: {
        invocations: {
          ...run.invocations,
          [instanceId]: { ...current, posted, postAttempts: attempts },
        },
      },
      due: { kind: 'RUN_POLL', at: plusSeconds(now, POLL_LEASE_SECONDS) },
      audit: audit(
        run,
        { action: 'output-posted', fromState: 'POLLING', toState: 'POLLING', ...SYSTEM, ...outcome },
        now,
      ),
    });
  let shown: { shownChars: number; cutChars: number };
  try {
    shown = await deps.notifier.postResult(run, instanceId, invocation);
  } catch (error) {
    deps.logger.warn(
      { runId: run.runId, instanceId, attempts, err: describeError(error) },
      'run result not posted',
    );
    return record(false, {
      result: 'error',
      error: describeError(error),
      details: { instanceId, attempts, giveUp: attempts >= MAX_POST_ATTEMPTS },
    });
  }
  return record(true, {
    result: 'ok',
    details: {
      instanceId,
      channel: run.channel,
      threadTs: run.ts,
      shownChars: shown.shownChars,
      cutChars: shown.cutChars,
    },
  });
}

/** `/sg-run status <run>`: the run, for its requester, those who may run its runbook, and its approvers. */
export async function runStatus(deps: RunDeps, runId: string, actor: RunActor): Promise<RunItem> {
  const run = await deps.store.get<RunItem>(keys.run(runId));
  if (!run) throw new NotFoundError(`There is no run ${runId}.`);
  if (run.requestedBy === actor.userId) return run;
  const spec = specOf(deps, run);
  if (
    spec &&
    ((await isAllowed(spec.allowed, actor.userId, deps.directory)) ||
      (spec.approvalRequired && (await isAllowed(spec.approvers, actor.userId, deps.directory))))
  )
    return run;
  const refusal = new NotAuthorisedError(`You may not see run ${runId}.`);
  // A look at someone else's run is refused like any other request: on record, with who asked.
  await deps.store.appendAudit(
    audit(
      run,
      {
        action: 'status',
        fromState: run.status,
        toState: null,
        ...userActor(actor),
        result: 'refused',
        error: refusal.message,
        details: { code: refusal.code },
      },
      deps.clock(),
    ),
  );
  throw refusal;
}

/** `/sg-run list`: the runbooks this person may run (and whether ad-hoc commands are open to them). */
export async function listRunbooks(
  deps: Pick<RunDeps, 'config' | 'directory'>,
  actor: RunActor,
): Promise<RunSpec[]> {
  const names = [...Object.keys(deps.config.runbooks.items).sort(), ADHOC];
  const out: RunSpec[] = [];
  for (const name of names) {
    const spec = specFor(deps.config, name);
    if (spec && (await isAllowed(spec.allowed, actor.userId, deps.directory))) out.push(spec);
  }
  return out;
}

/** True when the run will not change any more. */
export function isFinalRun(run: RunItem): boolean {
  return FINAL_RUN_STATUSES.includes(run.status);
}
