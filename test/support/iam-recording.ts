import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { RECORD_DIR, type RecordedAwsCall } from './iam-calls';

/**
 * Records every AWS call a Lambda function's code makes in the tests, for the IAM simulation
 * (test/iam/simulation.test.ts, the last step of `npm test`). A jest setup file: it
 *
 * - tags each invocation with the function it stands for: the handlers' `handler` (handlers/<file>.ts),
 *   `acceptJob` (what slackWorker runs, also when the door runs jobs in-process) and `sweep` (the sweeper's
 *   loop, which tests also call directly) run inside an AsyncLocalStorage scope naming the function, and
 *   so does the load of each such module (a call it starts at init is its function's);
 * - wraps `http.request` (the SDK's transport) once per jest worker: a SigV4-signed request made in such
 *   a scope is written to .cache/iam-calls/<pid>.jsonl with what IAM would look at: the signed service,
 *   region and access key, the body, the config and environment the function ran with, and, read from
 *   moto just before the call, the tags of the security groups, rules and instances it names (so that
 *   tag conditions are judged on the state the call met) and the identity behind assumed-role keys.
 *
 * Calls made outside a function (test arrangement, direct service calls) are not recorded.
 */

const ENV_KEYS = [
  'SG_WARDEN_TABLE',
  'SLACK_BOT_TOKEN_PARAM',
  'SLACK_SIGNING_SECRET_PARAM',
  'SG_WARDEN_WORKER_FUNCTION',
  'SG_WARDEN_SCAN_FUNCTION',
  'SG_WARDEN_ACCOUNT_ID',
  'AWS_REGION',
  'SG_WARDEN_BACKSTOP_GROUP',
  'SG_WARDEN_BACKSTOP_ROLE_ARN',
];

interface RecordingState {
  als: AsyncLocalStorage<{ fn: string }>;
  /** The running test file's environment and expect (jest gives each file its own copies). */
  env: NodeJS.ProcessEnv;
  testPath: () => string;
  callers: Map<string, Promise<string | undefined>>;
}

const KEY = Symbol.for('sg-warden.iam-recording');
type Patched = typeof http.request & { [KEY]?: RecordingState };

/** Lookups and the caller-identity question go straight to moto, unrecorded and past any test proxy. */
function motoPost(
  state: RecordingState,
  authorization: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const url = state.env.MOTO_URL;
  if (!url) return Promise.resolve('');
  return new Promise((resolve) => {
    const req = realRequest()(
      url,
      {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', () => resolve(''));
      },
    );
    req.on('error', () => resolve(''));
    req.end(body);
  });
}

function realRequest(): typeof http.request {
  return (http as unknown as { [KEY]: { real: typeof http.request } })[KEY].real;
}

const xmlValue = (xml: string, tag: string): string | undefined =>
  new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];

/** Every key/value of every tagSet in one EC2 answer about one resource. */
function tagsIn(xml: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const set of xml.matchAll(/<tagSet>([\s\S]*?)<\/tagSet>/g)) {
    for (const item of set[1]!.matchAll(/<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>/g)) {
      tags[item[1]!] = item[2]!;
    }
  }
  return tags;
}

/** The IDs of security groups, rules and instances an EC2 or SSM call names. */
function namedIds(call: Pick<RecordedAwsCall, 'service' | 'body'>): {
  groups: string[];
  rules: string[];
  instances: string[];
} {
  const ids = { groups: [] as string[], rules: [] as string[], instances: [] as string[] };
  if (call.service === 'ec2') {
    const form = new URLSearchParams(call.body);
    if (
      !/^(Revoke|Authorize|CreateTags|UpdateSecurityGroupRuleDescriptions|ModifySecurityGroupRules)/.test(
        form.get('Action') ?? '',
      )
    )
      return ids;
    for (const [key, value] of form) {
      if (key === 'GroupId' || (/^ResourceId\.\d+$/.test(key) && value.startsWith('sg-')))
        ids.groups.push(value);
      if (
        /SecurityGroupRuleId$|^SecurityGroupRuleId\.\d+$/.test(key) ||
        (/^ResourceId\.\d+$/.test(key) && value.startsWith('sgr-'))
      )
        ids.rules.push(value);
    }
  } else if (call.service === 'ssm') {
    try {
      ids.instances = ((JSON.parse(call.body) as { InstanceIds?: string[] }).InstanceIds ?? []).filter((i) =>
        i.startsWith('i-'),
      );
    } catch {
      // not JSON: nothing named
    }
  }
  return ids;
}

/** Reads from moto the tags of what an EC2 or SSM call names, before the call changes them. */
async function lookups(
  state: RecordingState,
  call: Pick<RecordedAwsCall, 'service' | 'body'>,
  authorization: string,
): Promise<Pick<RecordedAwsCall, 'groups' | 'rules' | 'instances'>> {
  const ids = namedIds(call);
  const ec2 = (params: Record<string, string>) =>
    motoPost(
      state,
      authorization.replace(/\/[a-z0-9-]+\/aws4_request/, '/ec2/aws4_request'),
      new URLSearchParams({ Version: '2016-11-15', ...params }).toString(),
    );
  const out: Pick<RecordedAwsCall, 'groups' | 'rules' | 'instances'> = {};
  for (const id of ids.groups) {
    const xml = await ec2({ Action: 'DescribeSecurityGroups', 'GroupId.1': id });
    out.groups = {
      ...out.groups,
      [id]: { tags: tagsIn(xml), ...(xmlValue(xml, 'vpcId') ? { vpcId: xmlValue(xml, 'vpcId')! } : {}) },
    };
  }
  for (const id of ids.rules) {
    const xml = await ec2({ Action: 'DescribeSecurityGroupRules', 'SecurityGroupRuleId.1': id });
    out.rules = {
      ...out.rules,
      [id]: {
        tags: tagsIn(xml),
        ...(xmlValue(xml, 'groupId') ? { groupId: xmlValue(xml, 'groupId')! } : {}),
      },
    };
  }
  for (const id of ids.instances) {
    const xml = await ec2({ Action: 'DescribeInstances', 'InstanceId.1': id });
    out.instances = { ...out.instances, [id]: { tags: tagsIn(xml) } };
  }
  return out;
}

/** Who an access key belongs to, when it is not the function's own (an assumed member-account role). */
function callerOf(
  state: RecordingState,
  accessKeyId: string,
  authorization: string,
): Promise<string | undefined> {
  if (accessKeyId === (state.env.AWS_ACCESS_KEY_ID ?? 'testing')) return Promise.resolve(undefined);
  let known = state.callers.get(accessKeyId);
  if (!known) {
    known = motoPost(
      state,
      authorization.replace(/\/[a-z0-9-]+\/aws4_request/, '/sts/aws4_request'),
      'Action=GetCallerIdentity&Version=2011-06-15',
    ).then((xml) => xmlValue(xml, 'Arn'));
    state.callers.set(accessKeyId, known);
  }
  return known;
}

function configHash(env: NodeJS.ProcessEnv): string | undefined {
  const path = env.SG_WARDEN_CONFIG;
  if (!path || !existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = join(RECORD_DIR, 'configs', `${hash}.yml`);
  if (!existsSync(file)) {
    mkdirSync(join(RECORD_DIR, 'configs'), { recursive: true });
    writeFileSync(file, text);
  }
  return hash;
}

function install(): RecordingState {
  const current = http.request as Patched;
  const existing = (http as unknown as { [KEY]?: { state: RecordingState } })[KEY];
  if (existing) return existing.state;
  const state: RecordingState = {
    als: new AsyncLocalStorage(),
    env: process.env,
    testPath: () => '',
    callers: new Map(),
  };
  const real = current;
  (http as unknown as { [KEY]: { state: RecordingState; real: typeof http.request } })[KEY] = { state, real };
  const patched = function request(this: unknown, ...args: unknown[]) {
    const req = (real as (...a: unknown[]) => http.ClientRequest).apply(this, args);
    const scope = state.als.getStore();
    const options = (args.find((a) => typeof a === 'object' && a !== null && !(a instanceof URL)) ?? {}) as {
      headers?: Record<string, string>;
      method?: string;
      path?: string;
      host?: string;
      hostname?: string;
      port?: number;
    };
    const headers = Object.fromEntries(
      Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    const scopeMatch = /Credential=([^/]+)\/\d{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/.exec(
      headers.authorization ?? '',
    );
    if (!scope || !scopeMatch) return req;
    const chunks: Buffer[] = [];
    const write = req.write;
    req.write = function (this: http.ClientRequest, chunk: unknown, ...rest: unknown[]) {
      if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string));
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof req.write;
    const end = req.end;
    req.end = function (this: http.ClientRequest, chunk?: unknown, ...rest: unknown[]) {
      if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string));
      const env = state.env;
      const call: RecordedAwsCall = {
        fn: scope.fn,
        testPath: state.testPath(),
        method: options.method ?? 'GET',
        host: `${options.hostname ?? options.host ?? ''}:${options.port ?? ''}`,
        path: options.path ?? '/',
        service: scopeMatch[3]!,
        region: scopeMatch[2]!,
        accessKeyId: scopeMatch[1]!,
        ...(headers['x-amz-target'] ? { target: headers['x-amz-target'] } : {}),
        body: Buffer.concat(chunks).toString('utf8'),
        status: 0,
        env: Object.fromEntries(ENV_KEYS.filter((k) => env[k]).map((k) => [k, env[k]!])),
      };
      const hash = configHash(env);
      if (hash) call.configHash = hash;
      const authorization = headers.authorization!;
      const prepared = state.als.exit(() =>
        Promise.all([lookups(state, call, authorization), callerOf(state, call.accessKeyId, authorization)]),
      );
      let written = false;
      const save = (status: number) => {
        if (written) return;
        written = true;
        call.status = status;
        mkdirSync(RECORD_DIR, { recursive: true });
        appendFileSync(join(RECORD_DIR, `${process.pid}.jsonl`), `${JSON.stringify(call)}\n`);
      };
      req.once('response', (res: http.IncomingMessage) => save(res.statusCode ?? 0));
      req.once('error', () => save(0));
      prepared
        .then(([found, caller]) => {
          Object.assign(call, found);
          if (caller) call.callerArn = caller;
        })
        .catch(() => {})
        .finally(() => (end as (...a: unknown[]) => unknown).call(req, chunk, ...rest));
      return req;
    } as typeof req.end;
    return req;
  } as Patched;
  (http as { request: typeof http.request }).request = patched;
  return state;
}

/** Runs `fn` as an invocation of the named Lambda function: its AWS calls are recorded under that name. */
export function asFunction<T>(name: string, fn: () => T): T {
  return install().als.run({ fn: name }, fn);
}

const root = join(__dirname, '..', '..');

/** `handlers/ip-capture.ts` → `ipCapture`, the function's name in serverless.yml. */
function functionName(file: string): string {
  return file.replace(/\.ts$/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The entry points: module, the export to wrap, the function it stands for. */
function entryPoints(): [string, string, string | null][] {
  const handlers = readdirSync(join(root, 'handlers'))
    .filter((f) => f.endsWith('.ts') && f !== 'wiring.ts')
    .map((f): [string, string, string | null] => [
      join(root, 'handlers', f.replace(/\.ts$/, '')),
      'handler',
      functionName(f),
    ]);
  return [
    ...handlers,
    [join(root, 'slack', 'jobs'), 'acceptJob', 'slackWorker'],
    [join(root, 'services', 'kernel', 'sweep'), 'sweep', 'sweeper'],
  ];
}

const state = install();
// This test file's own environment and name (jest gives each file its own `process.env` and `expect`).
state.env = process.env;
state.testPath = () => (expect.getState().testPath ?? '').replace(`${root}/`, '');

for (const [modulePath, exportName, fn] of entryPoints()) {
  if (!fn) continue;
  jest.doMock(modulePath, () => {
    // The module's own load runs as the function too: what it starts at init (the Slack door's secrets
    // read) is that function's call, as in Lambda, where init runs in the function's container.
    const actual = state.als.run({ fn }, () => jest.requireActual(modulePath)) as Record<string, unknown>;
    const original = actual[exportName];
    if (typeof original !== 'function') return actual;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      return state.als.run({ fn }, () => (original as (...a: unknown[]) => unknown).apply(this, args));
    };
    return { ...actual, __esModule: true, [exportName]: wrapped };
  });
}
