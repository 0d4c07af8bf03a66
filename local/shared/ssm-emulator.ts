import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopbackServer, readBody } from './loopback-http';

/**
 * How an instance looks to Systems Manager: online, offline (managed, but its agent stopped
 * answering) or not managed at all (no agent / no instance profile: SSM has never heard of it).
 */
export type SsmInstanceState = 'online' | 'connection-lost' | 'inactive' | 'unmanaged';

/** One answer GetCommandInvocation gives for an instance; successive calls walk through a script. */
export interface InvocationStep {
  status:
    | 'Pending'
    | 'InProgress'
    | 'Delayed'
    | 'Success'
    | 'Failed'
    | 'TimedOut'
    | 'Cancelled'
    | 'Cancelling'
    | 'Undeliverable';
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  statusDetails?: string;
  /** Answer InvocationDoesNotExist, as SSM does for a moment after SendCommand. */
  notYet?: boolean;
  /** Run the sent AWS-RunShellScript commands with /bin/sh in an empty directory; real output and exit code. */
  execute?: boolean;
}

/** A SendCommand the emulator accepted, as the SDK sent it. */
export interface SentCommand {
  commandId: string;
  region: string;
  input: {
    DocumentName: string;
    InstanceIds: string[];
    Parameters?: Record<string, string[]>;
    Comment?: string;
    TimeoutSeconds?: number;
    OutputS3BucketName?: string;
    OutputS3KeyPrefix?: string;
    CloudWatchOutputConfig?: { CloudWatchLogGroupName?: string; CloudWatchOutputEnabled?: boolean };
  };
  /** Where /bin/sh ran the commands, for steps with `execute`. */
  workDir?: string;
}

interface Invocation {
  steps: InvocationStep[];
  index: number;
  executed?: InvocationStep;
}

type ApiError = { status: number; type: string; message: string };

const SHELL_DOCUMENTS = new Set(['AWS-RunShellScript', 'AWS-RunPowerShellScript']);
/** What GetCommandInvocation returns at most (the rest only in S3 / CloudWatch). */
const STDOUT_LIMIT = 24000;
const STDERR_LIMIT = 8000;

/**
 * A test-only stand-in for the SSM Run Command API on 127.0.0.1, in front of moto. moto fakes every
 * command as an instant success with empty output and lacks DescribeInstanceInformation, so this answers
 * DescribeInstanceInformation, SendCommand and GetCommandInvocation from scripted instance state and
 * scripted results, with SSM's validation (comment ≤ 100, TimeoutSeconds 30…2592000, ≤ 50 instances,
 * only managed instances, known documents) and SSM's output limits. Every other request (Parameter Store,
 * …) is passed to moto unchanged.
 */
export class SsmEmulator {
  readonly sent: SentCommand[] = [];
  readonly calls: { action: string; body: Record<string, unknown> }[] = [];
  private readonly instances = new Map<string, { state: SsmInstanceState; platform: string }>();
  private readonly scripts = new Map<string, InvocationStep[][]>();
  private readonly commands = new Map<string, { sent: SentCommand; invocations: Map<string, Invocation> }>();
  private readonly documents = new Set(SHELL_DOCUMENTS);
  private readonly faults = new Map<string, ApiError[]>();
  private readonly http = new LoopbackServer(
    (req, res) => this.handle(req, res),
    (error, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ __type: 'InternalServerError', message: error.message }));
    },
  );
  url = '';

  constructor(private readonly options: { upstream: string }) {}

  async start(): Promise<this> {
    this.url = await this.http.listen();
    return this;
  }

  async stop(): Promise<void> {
    await this.http.close();
  }

  /** Sets how SSM sees an instance (default for unknown instances: unmanaged). */
  setInstance(instanceId: string, state: SsmInstanceState, platform = 'Linux'): void {
    this.instances.set(instanceId, { state, platform });
  }

  /** Scripts the answers for the next command sent to this instance (queued per command). */
  script(instanceId: string, steps: InvocationStep[]): void {
    const queue = this.scripts.get(instanceId) ?? [];
    queue.push(steps);
    this.scripts.set(instanceId, queue);
  }

  /** A Command document other than the two shell documents that SendCommand accepts. */
  registerDocument(name: string): void {
    this.documents.add(name);
  }

  /** Makes the next call of `action` fail with an SSM error. */
  failNext(action: string, error: { type: string; message: string; status?: number }): void {
    const queue = this.faults.get(action) ?? [];
    queue.push({ status: error.status ?? 400, type: error.type, message: error.message });
    this.faults.set(action, queue);
  }

  /** Calls of one action, in order. */
  callsTo(action: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.action === action).map((c) => c.body);
  }

  reset(): void {
    this.sent.length = 0;
    this.calls.length = 0;
    this.scripts.clear();
    this.commands.clear();
    this.faults.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req)).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith('AmazonSSM.') ? target.slice('AmazonSSM.'.length) : '';
    const ours: Record<string, (body: Record<string, unknown>, region: string) => Record<string, unknown>> = {
      DescribeInstanceInformation: (b) => this.describeInstanceInformation(b),
      SendCommand: (b, region) => this.sendCommand(b, region),
      GetCommandInvocation: (b) => this.getCommandInvocation(b),
    };
    const answer = ours[action];
    if (!answer) return this.proxy(req, res, raw);
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    this.calls.push({ action, body });
    const fault = this.faults.get(action)?.shift();
    if (fault) return sendError(res, fault);
    try {
      sendJson(res, 200, answer(body, regionOf(req)));
    } catch (error) {
      if (isApiError(error)) return sendError(res, error);
      throw error;
    }
  }

  private describeInstanceInformation(body: Record<string, unknown>): Record<string, unknown> {
    const maxResults = body.MaxResults as number | undefined;
    if (maxResults !== undefined && (maxResults < 5 || maxResults > 50))
      throw apiError('ValidationException', 'MaxResults must be between 5 and 50');
    const filters = (body.Filters as { Key: string; Values: string[] }[] | undefined) ?? [];
    const legacy =
      (body.InstanceInformationFilterList as { key: string; valueSet: string[] }[] | undefined) ?? [];
    const wanted = [
      ...filters.filter((f) => f.Key === 'InstanceIds').flatMap((f) => f.Values),
      ...legacy.filter((f) => f.key === 'InstanceIds').flatMap((f) => f.valueSet),
    ];
    const managed = [...this.instances.entries()].filter(
      ([id, i]) => i.state !== 'unmanaged' && (wanted.length === 0 || wanted.includes(id)),
    );
    const start = Number(body.NextToken ?? 0);
    const page = managed.slice(start, start + (maxResults ?? 50));
    const next = start + page.length < managed.length ? String(start + page.length) : undefined;
    const now = Date.now() / 1000;
    return {
      InstanceInformationList: page.map(([id, i]) => ({
        InstanceId: id,
        PingStatus: { online: 'Online', 'connection-lost': 'ConnectionLost', inactive: 'Inactive' }[
          i.state as 'online' | 'connection-lost' | 'inactive'
        ],
        LastPingDateTime: i.state === 'online' ? now : now - 86400,
        AgentVersion: '3.3.1142.0',
        IsLatestVersion: true,
        PlatformType: i.platform,
        PlatformName: i.platform === 'Windows' ? 'Microsoft Windows Server 2022 Datacenter' : 'Amazon Linux',
        ResourceType: 'EC2Instance',
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  private sendCommand(body: Record<string, unknown>, region: string): Record<string, unknown> {
    const input = body as unknown as SentCommand['input'];
    if (!input.DocumentName || !this.documents.has(input.DocumentName))
      throw apiError('InvalidDocument', `Document ${input.DocumentName ?? ''} does not exist`);
    const ids = input.InstanceIds ?? [];
    if (ids.length === 0 || ids.length > 50)
      throw apiError('ValidationException', 'InstanceIds must hold between 1 and 50 instance IDs');
    if ((input.Comment ?? '').length > 100)
      throw apiError('ValidationException', "Value at 'comment' failed to satisfy constraint: length <= 100");
    const timeout = input.TimeoutSeconds;
    if (timeout !== undefined && (timeout < 30 || timeout > 2592000))
      throw apiError('ValidationException', 'TimeoutSeconds must be between 30 and 2592000');
    const notManaged = ids.filter((id) => (this.instances.get(id)?.state ?? 'unmanaged') === 'unmanaged');
    if (notManaged.length > 0)
      throw apiError(
        'InvalidInstanceId',
        `Instances [[${notManaged.join(', ')}]] not in a valid state for account`,
      );
    if (SHELL_DOCUMENTS.has(input.DocumentName)) {
      const commands = input.Parameters?.commands;
      if (!Array.isArray(commands) || commands.length === 0)
        throw apiError('InvalidParameters', 'document parameter "commands" is required');
      const execTimeout = input.Parameters?.executionTimeout?.[0];
      if (execTimeout !== undefined && !/^\d+$/.test(execTimeout))
        throw apiError('InvalidParameters', 'executionTimeout must be a number of seconds');
    }
    const commandId = randomUUID();
    const sent: SentCommand = { commandId, region, input };
    const invocations = new Map<string, Invocation>();
    for (const id of ids) {
      const queue = this.scripts.get(id);
      const steps = queue?.shift() ?? [{ status: 'Success', exitCode: 0, stdout: '' }];
      invocations.set(id, { steps, index: 0 });
    }
    this.commands.set(commandId, { sent, invocations });
    this.sent.push(sent);
    return {
      Command: {
        CommandId: commandId,
        DocumentName: input.DocumentName,
        Comment: input.Comment ?? '',
        Parameters: input.Parameters ?? {},
        InstanceIds: ids,
        Status: 'Pending',
        RequestedDateTime: Date.now() / 1000,
        TimeoutSeconds: timeout ?? 3600,
        TargetCount: ids.length,
        CompletedCount: 0,
        ErrorCount: 0,
        OutputS3BucketName: input.OutputS3BucketName ?? '',
        OutputS3KeyPrefix: input.OutputS3KeyPrefix ?? '',
        ...(input.CloudWatchOutputConfig ? { CloudWatchOutputConfig: input.CloudWatchOutputConfig } : {}),
      },
    };
  }

  private getCommandInvocation(body: Record<string, unknown>): Record<string, unknown> {
    const command = this.commands.get(String(body.CommandId ?? ''));
    if (!command) throw apiError('InvalidCommandId', 'CommandId is not valid');
    const instanceId = String(body.InstanceId ?? '');
    const invocation = command.invocations.get(instanceId);
    if (!invocation) throw apiError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)');
    let step = invocation.steps[Math.min(invocation.index, invocation.steps.length - 1)]!;
    invocation.index += 1;
    if (step.notYet) throw apiError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)');
    if (step.execute) {
      invocation.executed ??= this.execute(command.sent, step);
      step = invocation.executed;
    }
    const { input } = command.sent;
    const plugin =
      input.DocumentName === 'AWS-RunPowerShellScript' ? 'runPowerShellScript' : 'runShellScript';
    const s3 = input.OutputS3BucketName
      ? `https://s3.${command.sent.region}.amazonaws.com/${input.OutputS3BucketName}/${input.OutputS3KeyPrefix ? `${input.OutputS3KeyPrefix}/` : ''}${command.sent.commandId}/${instanceId}/aws${plugin}/0.aws${plugin}`
      : '';
    return {
      CommandId: command.sent.commandId,
      InstanceId: instanceId,
      Comment: input.Comment ?? '',
      DocumentName: input.DocumentName,
      PluginName: `aws:${plugin}`,
      ResponseCode: step.exitCode ?? -1,
      Status: step.status,
      StatusDetails: step.statusDetails ?? step.status,
      StandardOutputContent: (step.stdout ?? '').slice(0, STDOUT_LIMIT),
      StandardErrorContent: (step.stderr ?? '').slice(0, STDERR_LIMIT),
      StandardOutputUrl: s3 ? `${s3}/stdout` : '',
      StandardErrorUrl: s3 ? `${s3}/stderr` : '',
      CloudWatchOutputConfig: input.CloudWatchOutputConfig ?? {
        CloudWatchLogGroupName: '',
        CloudWatchOutputEnabled: false,
      },
    };
  }

  /** Runs the sent shell script with /bin/sh in an empty directory, as the agent would on a Linux box. */
  private execute(sent: SentCommand, step: InvocationStep): InvocationStep {
    const workDir = mkdtempSync(join(tmpdir(), 'ssm-emulator-'));
    sent.workDir = workDir;
    const script = (sent.input.Parameters?.commands ?? []).join('\n');
    const out = spawnSync('/bin/sh', ['-c', script], {
      cwd: workDir,
      encoding: 'utf8',
      timeout: 10_000,
      env: { PATH: '/usr/bin:/bin', HOME: workDir },
    });
    const exitCode = out.status ?? 124;
    return {
      ...step,
      status: exitCode === 0 ? 'Success' : 'Failed',
      exitCode,
      stdout: out.stdout ?? '',
      stderr: out.stderr ?? '',
      statusDetails: exitCode === 0 ? 'Success' : 'Failed',
    };
  }

  private async proxy(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || ['host', 'connection', 'content-length', 'transfer-encoding'].includes(k))
        continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    const upstream = await fetch(`${this.options.upstream}${req.url ?? '/'}`, {
      method: req.method ?? 'POST',
      headers,
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
    });
    const out: Record<string, string> = {};
    upstream.headers.forEach((value, key) => {
      if (!['connection', 'content-length', 'transfer-encoding', 'content-encoding'].includes(key))
        out[key] = value;
    });
    const payload = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, { ...out, 'content-length': String(payload.length) });
    res.end(payload);
  }
}

function regionOf(req: IncomingMessage): string {
  const auth = String(req.headers.authorization ?? '');
  return /Credential=[^/]+\/\d{8}\/([^/]+)\/ssm\//.exec(auth)?.[1] ?? 'us-east-1';
}

function apiError(type: string, message: string, status = 400): ApiError {
  return { status, type, message };
}

function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && 'type' in value && 'status' in value;
}

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': String(Buffer.byteLength(text)),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, { __type: error.type, message: error.message });
}
