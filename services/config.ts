import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseCidr } from './cidr';
import { parseDuration } from './duration';
import { ConfigError } from './errors';
import type { Severity } from './model';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const seconds = parseDuration(value);
  if (seconds === null) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration such as 30m, 2h or 1d` });
    return z.NEVER;
  }
  return seconds;
});

const cidr = z.string().refine((v) => parseCidr(v) !== null, { message: 'is not an IPv4 or IPv6 CIDR' });
const groupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'is not a security-group ID (sg-…)');
const slackUser = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'is not a Slack user ID (U…)');
const slackUserGroup = z.string().regex(/^S[A-Z0-9]{2,}$/, 'is not a Slack user-group ID (S…)');
const severity = z.enum(['critical', 'high', 'medium', 'low']);
const protocol = z.enum(['tcp', 'udp', 'icmp', 'icmpv6', 'all']);
const portNumber = z.number().int().min(0).max(65535);

/** Who may do something: Slack user IDs and/or user-group IDs. Both empty means "anyone in the channel". */
const people = z
  .object({ users: z.array(slackUser).default([]), userGroups: z.array(slackUserGroup).default([]) })
  .strict()
  .default({ users: [], userGroups: [] });

const groupSelector = z
  .object({ ids: z.array(groupId).default([]), tags: z.record(z.string(), z.string()).default({}) })
  .strict()
  .refine((s) => s.ids.length > 0 || Object.keys(s.tags).length > 0, { message: 'needs ids or tags' });

const DEFAULT_ADMIN_PORTS = [
  20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080,
  8088, 8888, 9200, 9300, 139, 1521, 2049, 2375, 2376, 5900, 6379, 9092, 11211, 27017, 27018,
];

const policySchema = z
  .object({
    evaluateEgress: z.boolean().default(false),
    adminPorts: z.array(portNumber).default(DEFAULT_ADMIN_PORTS),
    allowedPorts: z.array(z.object({ protocol: z.enum(['tcp', 'udp']), port: portNumber }).strict()).default([
      { protocol: 'tcp', port: 80 },
      { protocol: 'tcp', port: 443 },
    ]),
    /** Seconds until auto-revoke per severity; null = notify only. */
    timeouts: z
      .object({
        critical: duration.nullable().default(300),
        high: duration.nullable().default(900),
        medium: duration.nullable().default(3600),
        low: duration.nullable().default(null),
      })
      .strict()
      .default({ critical: 300, high: 900, medium: 3600, low: null }),
    dryRun: z
      .union([
        z.boolean(),
        z
          .object({ critical: z.boolean(), high: z.boolean(), medium: z.boolean(), low: z.boolean() })
          .partial()
          .strict(),
      ])
      .default(false),
    exceptions: z
      .object({
        groupIds: z.array(groupId).default([]),
        /** A group carrying one of these tag keys (and the value, when given) is exempt. */
        tags: z
          .array(z.object({ key: z.string().min(1), value: z.string().optional() }).strict())
          .default([]),
        sourceCidrs: z.array(cidr).default([]),
      })
      .strict()
      .default({ groupIds: [], tags: [], sourceCidrs: [] }),
    principals: z
      .array(
        z
          .object({
            /** ARN pattern; `*` matches any run of characters. Matched against the caller's ARN, its role ARN and the invoking service. */
            arn: z.string().min(1),
            action: z.enum(['notify', 'ignore']),
            reason: z.string().optional(),
          })
          .strict(),
      )
      .default([]),
    onlyFrom: z
      .array(
        z
          .object({
            name: z.string().min(1),
            groups: groupSelector,
            allowedSources: z.array(groupId).min(1),
            severity,
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

const decisionsSchema = z
  .object({
    revokers: people,
    approvers: people,
    keepDurations: z.array(duration).default([3600, 86400, 604800]),
    permanentKeepFor: z.array(severity).default(['low']),
    /** AWS principal ARN → Slack user ID: that person may not approve their own change. */
    principalToSlack: z.record(z.string(), slackUser).default({}),
    revokeAttempts: z.number().int().min(1).max(20).default(5),
  })
  .strict();

const whitelistTargetSchema = z
  .object({
    groupId,
    region: z.string().min(1),
    account: z
      .string()
      .regex(/^\d{12}$/)
      .optional(),
    protocol: protocol.default('tcp'),
    ports: z.array(portNumber).min(1),
    defaultDuration: duration.default(3600),
    maxDuration: duration.default(28800),
    allowed: people,
  })
  .strict()
  .refine((t) => t.defaultDuration <= t.maxDuration, {
    message: 'defaultDuration is longer than maxDuration',
  });

const runbookParameterSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/),
    pattern: z.string().optional(),
    enum: z.array(z.string()).optional(),
    default: z.string().optional(),
    allowShellMetacharacters: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.pattern !== undefined || p.enum !== undefined, { message: 'needs a pattern or an enum' });

const runbookSchema = z
  .object({
    description: z.string().default(''),
    document: z.string().default('AWS-RunShellScript'),
    region: z.string().min(1),
    commands: z.array(z.string()).default([]),
    parameters: z.array(runbookParameterSchema).default([]),
    targets: z.array(z.string()).min(1),
    allowed: people,
    approval: z
      .object({ required: z.boolean().default(false), approvers: people })
      .strict()
      .default({ required: false, approvers: { users: [], userGroups: [] } }),
    approvalExpiry: duration.default(1800),
    timeout: duration.default(600),
    maxOutputChars: z.number().int().min(100).max(40000).default(2500),
    outputS3Bucket: z.string().optional(),
    outputLogGroup: z.string().optional(),
  })
  .strict();

const configSchema = z
  .object({
    slack: z
      .object({
        alertChannel: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'is not a Slack channel ID (C…)'),
      })
      .strict(),
    policy: policySchema.default(policySchema.parse({})),
    decisions: decisionsSchema.default(decisionsSchema.parse({})),
    whitelist: z
      .object({
        targets: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/), whitelistTargetSchema).default({}),
        /** The account's "inbound rules per security group" quota, quoted when a group is full (AWS default 60). */
        rulesPerGroupLimit: z.number().int().min(1).max(1000).default(60),
      })
      .strict()
      .default({ targets: {}, rulesPerGroupLimit: 60 }),
    runbooks: z
      .object({
        allowAdHoc: z.boolean().default(false),
        targets: z
          .record(
            z.string(),
            z.object({ region: z.string(), tags: z.record(z.string(), z.string()) }).strict(),
          )
          .default({}),
        items: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/), runbookSchema).default({}),
      })
      .strict()
      .default({ allowAdHoc: false, targets: {}, items: {} }),
    accounts: z
      .object({
        aliases: z.record(z.string().regex(/^\d{12}$/), z.string()).default({}),
        /** Role name to assume in member accounts; absent = act in the bot's own account only. */
        roleName: z.string().optional(),
      })
      .strict()
      .default({ aliases: {} }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type PolicyConfig = Config['policy'];
export type DecisionsConfig = Config['decisions'];
export type WhitelistTarget = z.infer<typeof whitelistTargetSchema>;
export type Runbook = z.infer<typeof runbookSchema>;
export type People = z.infer<typeof people>;

/** Auto-revoke timeout for a severity in seconds, or null (notify only). */
export function timeoutFor(policy: PolicyConfig, sev: Severity): number | null {
  return policy.timeouts[sev];
}

function describePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Validates a parsed config value; ConfigError names the file, the field and what is wrong. */
export function validateConfig(value: unknown, source: string): Config {
  const result = configSchema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${describePath(issue.path)}: ${issue.message}`);
  throw new ConfigError(`${source}: ${problems.join('; ')}`, { context: { source, problems } });
}

/** Parses and validates YAML text. */
export function parseConfig(text: string, source: string): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new ConfigError(`${source}: not valid YAML: ${first.message.split('\n')[0]}`);
  }
  return validateConfig(doc.toJS(), source);
}

/** Reads, parses and validates the config file at `path`. */
export function loadConfig(path: string, options: { slackOptional?: boolean } = {}): Config {
  const text = readText(path);
  if (!options.slackOptional) return parseConfig(text, path);
  // A policy-only file (for `sg-warden evaluate --policy`) need not name a Slack channel.
  const doc = parseDocument(text);
  const value = doc.errors.length === 0 ? doc.toJS() : null;
  if (value && typeof value === 'object' && !('slack' in value)) {
    return validateConfig({ ...value, slack: { alertChannel: 'C0UNUSED' } }, path);
  }
  return parseConfig(text, path);
}

function readText(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`${path}: cannot read the config file (${code ?? 'unknown error'})`, {
      cause: error,
    });
  }
  return text;
}
