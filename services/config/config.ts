import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
// The namespace import lets esbuild keep only the zod parts used here: `{ z }` is a namespace object
// that it keeps whole (every locale, JSON Schema conversion: ~560 KiB more in each bundle).
import * as z from 'zod';
import { parseCidr } from '../shared/cidr';
import { parseDuration } from '../shared/duration';
import { ConfigError } from '../shared/errors';
import type { Severity } from '../shared/model';
import { checkParameterValue, placeholdersIn } from './param-rules';

// These schemas parse one file once per cold start: zod's JIT (a parser compiled with `new Function`
// per object schema, on its first parse) costs more than it saves then. Read when a schema is built,
// so it is set before any is.
z.config({ jitless: true });

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
const slackChannel = z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'is not a Slack channel ID (C…)');
const severity = z.enum(['critical', 'high', 'medium', 'low']);
const protocol = z.enum(['tcp', 'udp', 'icmp', 'icmpv6', 'all']);
const portNumber = z
  .number({ message: 'is not a port number (0–65535)' })
  .int('is not a port number (0–65535)')
  .min(0, 'is not a port number (0–65535)')
  .max(65535, 'is not a port number (0–65535)');

/**
 * One port that may be open to the internet: `tcp/80` (as README writes it) or `{ protocol: tcp, port: 80 }`.
 */
const allowedPort = z.union(
  [
    z.string().transform((value, ctx) => {
      const match = /^(tcp|udp)\/(\d{1,5})$/.exec(value.trim());
      const port = match ? Number(match[2]) : Number.NaN;
      if (!match || port > 65535) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a port such as tcp/80 or udp/53` });
        return z.NEVER;
      }
      return { protocol: match[1] as 'tcp' | 'udp', port };
    }),
    z
      .object({
        protocol: z.enum(['tcp', 'udp'], { message: 'is not tcp or udp' }),
        port: portNumber,
      })
      .strict(),
  ],
  { message: 'is not a port such as tcp/80 or { protocol: tcp, port: 80 }' },
);
/** An AWS service principal, as CloudTrail names the service that made a call (invokedBy). */
const SERVICE_PRINCIPAL = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$/;

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

/** An ARN pattern: `*` stands for any run of characters within one ARN segment, `**` for any run at all. */
const arnPattern = z
  .string()
  .min(1)
  .superRefine((v, ctx) => {
    if (SERVICE_PRINCIPAL.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" names a service, not a principal: match the service with invokedBy, together with arn (the principal, such as arn:aws:iam::123456789012:role/deploy) or stack`,
      });
    } else if (!v.startsWith('arn:')) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not an ARN pattern: expected the principal that made the call, such as arn:aws:iam::123456789012:role/deploy-* (* stays within one segment, ** crosses : and /)`,
      });
    }
  });

/**
 * Who a principal rule is about: the principal that made the call (`arn`, its own ARN or its role's),
 * the group's CloudFormation stack (`stack`), and only together with one of those the service that
 * made the call for it (`invokedBy`). Every condition given must match.
 */
const principalRuleSchema = z
  .object({
    /** The principal that made the call: its ARN, or for an assumed role the role's ARN. */
    arn: arnPattern.optional(),
    /** The service that made the call for the principal (CloudTrail's userIdentity.invokedBy), e.g. cloudformation.amazonaws.com. */
    invokedBy: z
      .string()
      .regex(SERVICE_PRINCIPAL, 'is not an AWS service principal such as cloudformation.amazonaws.com')
      .optional(),
    /** The group's CloudFormation stack name (its aws:cloudformation:stack-name tag); `*` stands for any run of characters. */
    stack: z.string().min(1).optional(),
    action: z.enum(['notify', 'ignore']),
    /** Lets the rule apply to critical findings too; without it they stay alerts with a deadline. */
    allowCritical: z.boolean().default(false),
    reason: z.string().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.arn === undefined && rule.stack === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          rule.invokedBy !== undefined
            ? `invokedBy alone would exempt every caller that goes through ${rule.invokedBy}: add arn (the principal, such as arn:aws:iam::123456789012:role/deploy) or stack (the stack name)`
            : 'needs arn (the principal, such as arn:aws:iam::123456789012:role/deploy) or stack (the stack name)',
      });
    }
  });

const exposureStep = z.enum(['raise', 'keep', 'lower'], { message: 'must be raise, keep or lower' });

/** Per exposure class: raise, keep or lower a finding's severity by one step. */
const exposureSchema = z
  .object({
    /** false: no exposure lookups; severities are the rules' own. */
    enabled: z.boolean({ message: 'must be true or false' }).default(true),
    internet: exposureStep.default('raise'),
    internal: exposureStep.default('keep'),
    unattached: exposureStep.default('lower'),
    unknown: z
      .enum(['raise', 'keep'], {
        message: 'must be raise or keep (an exposure that could not be read never lowers a severity)',
      })
      .default('keep'),
  })
  .strict();

const policySchema = z
  .object({
    evaluateEgress: z.boolean().default(false),
    adminPorts: z.array(portNumber).default(DEFAULT_ADMIN_PORTS),
    allowedPorts: z.array(allowedPort).default([
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
    principals: z.array(principalRuleSchema).default([]),
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
    /** What a group's exposure does to a finding's severity (services/exposure/severity.ts). */
    exposure: exposureSchema.default(exposureSchema.parse({})),
  })
  .strict();

const decisionsSchema = z
  .object({
    revokers: people,
    approvers: people,
    // Offered as options in the Keep dialog: Slack allows at most 100; a handful reads best.
    keepDurations: z.array(duration).min(1).max(20).default([3600, 86400, 604800]),
    permanentKeepFor: z.array(severity).default(['low']),
    /** AWS principal ARN → Slack user ID: that person may not approve their own change. */
    principalToSlack: z.record(z.string(), slackUser).default({}),
    revokeAttempts: z.number().int().min(1).max(20).default(5),
  })
  .strict();

/**
 * Who may read `/sg-status` (rules, grants with owner and address, runs): the people listed here, the
 * members of the alert channel unless `alertChannelMembers: false`, and always the revokers and approvers.
 */
const statusSchema = z
  .object({
    readers: z
      .object({
        users: z.array(slackUser).default([]),
        userGroups: z.array(slackUserGroup).default([]),
        alertChannelMembers: z.boolean().default(true),
      })
      .strict()
      .default({ users: [], userGroups: [], alertChannelMembers: true }),
  })
  .strict();

const whitelistTargetSchema = z
  .object({
    groupId,
    region: z.string().min(1),
    account: z
      .string()
      .regex(/^\d{12}$/, 'is not an AWS account ID (12 digits)')
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

/** Documents whose `commands` sg-warden writes itself, and the shell that runs them. */
export const SHELL_DOCUMENTS: Readonly<Record<string, 'posix' | 'powershell'>> = {
  'AWS-RunShellScript': 'posix',
  'AWS-RunPowerShellScript': 'powershell',
};

/** The shell that runs a document's `commands`, or null when sg-warden does not write them (own keys only). */
export function shellOf(document: string): 'posix' | 'powershell' | null {
  return Object.hasOwn(SHELL_DOCUMENTS, document) ? (SHELL_DOCUMENTS[document] ?? null) : null;
}

/** Words `/sg-run` reads as sub-commands, so no runbook may be called by them. */
export const RESERVED_RUNBOOK_NAMES = ['list', 'help', 'status', 'adhoc'] as const;

const awsRegion = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'is not an AWS region such as eu-west-1');
const instanceId = /^i-[0-9a-f]{8,17}$/;
/** Run Command's limits: TimeoutSeconds ≥ 30 s; the shell documents' executionTimeout ≤ 48 h. */
const runTimeout = duration.refine((s) => s >= 30 && s <= 172800, { message: 'must be between 30s and 48h' });

const runbookParameterSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/, 'is not a parameter name (a letter, then letters, digits or _)'),
    description: z.string().default(''),
    /** string: checked against `pattern` or `enum`; integer: an optional sign and digits, within min/max. */
    type: z.enum(['string', 'integer']).default('string'),
    pattern: z.string().optional(),
    enum: z.array(z.string()).min(1).optional(),
    default: z
      .union([z.string(), z.number()])
      .transform((v) => String(v))
      .optional(),
    min: z.number().int().optional(),
    max: z.number().int().optional(),
    /** Lets the value hold shell metacharacters and spaces; it is still passed only as a quoted value. */
    allowShellMetacharacters: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.type === 'string' && p.pattern === undefined && p.enum === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs a pattern or an enum' });
      return;
    }
    if (p.type === 'integer' && p.allowShellMetacharacters) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowShellMetacharacters'],
        message: 'makes no sense for an integer',
      });
    }
    if (p.pattern !== undefined) {
      try {
        new RegExp(p.pattern);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'is not a valid regular expression' });
        return;
      }
    }
    (p.enum ?? []).forEach((value, i) => {
      const problem = checkParameterValue(p, value);
      if (problem) ctx.addIssue({ code: 'custom', path: ['enum', i], message: `"${value}" ${problem}` });
    });
    if (p.default !== undefined) {
      const problem = checkParameterValue(p, p.default);
      if (problem) ctx.addIssue({ code: 'custom', path: ['default'], message: `"${p.default}" ${problem}` });
    }
  });

const runbookSchema = z
  .object({
    description: z.string().default(''),
    /** AWS-RunShellScript / AWS-RunPowerShellScript (sg-warden writes `commands`), or another Command document (parameters passed as its own). */
    document: z
      .string()
      .regex(/^[a-zA-Z0-9_.:/-]{3,128}$/, 'is not an SSM document name')
      .default('AWS-RunShellScript'),
    region: awsRegion,
    /** Fixed command lines; `{{ name }}` stands for a parameter's value (see README, "/sg-run"). */
    commands: z.array(z.string().min(1)).default([]),
    parameters: z.array(runbookParameterSchema).default([]),
    /** Target aliases (runbooks.targets) and/or instance IDs this runbook may run on. */
    targets: z.array(z.string().min(1)).min(1),
    allowed: people,
    approval: z
      .object({ required: z.boolean().default(false), approvers: people })
      .strict()
      .default({ required: false, approvers: { users: [], userGroups: [] } }),
    approvalExpiry: duration.default(1800),
    timeout: runTimeout.default(600),
    maxOutputChars: z.number().int().min(100).max(40000).default(2500),
    outputS3Bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'is not an S3 bucket name')
      .optional(),
    outputLogGroup: z
      .string()
      .regex(/^[a-zA-Z0-9_./#-]{1,512}$/, 'is not a CloudWatch Logs group name')
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const names = r.parameters.map((p) => p.name);
    // Case-insensitively: PowerShell variable names ignore case.
    const lower = names.map((n) => n.toLowerCase());
    names.forEach((name, i) => {
      if (lower.indexOf(name.toLowerCase()) !== i)
        ctx.addIssue({
          code: 'custom',
          path: ['parameters', i, 'name'],
          message: `"${name}" is declared twice`,
        });
    });
    if (!shellOf(r.document)) {
      if (r.commands.length > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['commands'],
          message: `only AWS-RunShellScript and AWS-RunPowerShellScript take commands; ${r.document} gets the parameters as its own`,
        });
      return;
    }
    if (r.commands.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['commands'],
        message: `${r.document} needs at least one command line`,
      });
      return;
    }
    const used = new Set<string>();
    r.commands.forEach((line, i) => {
      for (const ref of placeholdersIn(line)) {
        if (!names.includes(ref))
          ctx.addIssue({
            code: 'custom',
            path: ['commands', i],
            message: `{{ ${ref} }} is not a declared parameter`,
          });
        used.add(ref);
      }
      if (/\{\{(?!\s*[a-zA-Z][a-zA-Z0-9_]*\s*\}\})/.test(line))
        ctx.addIssue({
          code: 'custom',
          path: ['commands', i],
          message: 'has "{{" that is not a parameter placeholder such as {{ name }}',
        });
    });
    names.forEach((name, i) => {
      if (!used.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['parameters', i],
          message: `"${name}" is not used by any command ({{ ${name} }})`,
        });
    });
  });

/** Ad-hoc commands (a free command line): off unless `allowAdHoc`; always approved by a second person. */
const adHocSchema = z
  .object({
    document: z.enum(['AWS-RunShellScript', 'AWS-RunPowerShellScript']).default('AWS-RunShellScript'),
    region: awsRegion,
    targets: z.array(z.string().min(1)).min(1),
    /** Who may ask for an ad-hoc command: must name people (an empty list would mean anyone). */
    allowed: people.refine((p) => p.users.length > 0 || p.userGroups.length > 0, {
      message: 'must name users or userGroups: ad-hoc commands are a shell',
    }),
    /** Who may approve one: must name people (an empty list would let anyone but the requester approve a shell). */
    approvers: people.refine((p) => p.users.length > 0 || p.userGroups.length > 0, {
      message:
        'must name users or userGroups: with nobody named, anyone but the requester could approve a shell',
    }),
    /** Where ad-hoc approval requests (and their output) are posted, whatever channel the request came from. */
    channel: z
      .string({
        error:
          'is required: ad-hoc approval requests are posted in this channel (a Slack channel ID, C…), never where the requester asks',
      })
      .regex(/^[CG][A-Z0-9]{2,}$/, 'is not a Slack channel ID (C…)'),
    approvalExpiry: duration.default(1800),
    timeout: runTimeout.default(600),
    maxOutputChars: z.number().int().min(100).max(40000).default(2500),
    outputS3Bucket: z.string().optional(),
    outputLogGroup: z.string().optional(),
  })
  .strict();

const runbooksSchema = z
  .object({
    allowAdHoc: z.boolean().default(false),
    adHoc: adHocSchema.optional(),
    /** Tag selectors: alias → the region and the tags (all must match) of the instances it stands for. */
    targets: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'is not a target alias (lowercase letters, digits, -)'),
        z
          .object({
            region: awsRegion,
            tags: z.record(z.string().min(1), z.string()).refine((t) => Object.keys(t).length > 0, {
              message: 'needs at least one tag',
            }),
          })
          .strict(),
      )
      .default({}),
    items: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'is not a runbook name (lowercase letters, digits, -)'),
        runbookSchema,
      )
      .default({}),
  })
  .strict()
  .superRefine((rb, ctx) => {
    const checkTargets = (targets: string[], region: string, path: PropertyKey[]) => {
      targets.forEach((t, i) => {
        if (instanceId.test(t)) return;
        const alias = Object.hasOwn(rb.targets, t) ? rb.targets[t] : undefined;
        if (!alias)
          ctx.addIssue({
            code: 'custom',
            path: [...path, i],
            message: `"${t}" is neither an instance ID (i-…) nor an alias in runbooks.targets`,
          });
        else if (alias.region !== region)
          ctx.addIssue({
            code: 'custom',
            path: [...path, i],
            message: `"${t}" is in ${alias.region}, but this runs in ${region}`,
          });
      });
    };
    for (const [name, r] of Object.entries(rb.items)) {
      if ((RESERVED_RUNBOOK_NAMES as readonly string[]).includes(name))
        ctx.addIssue({
          code: 'custom',
          path: ['items', name],
          message: `"${name}" is a /sg-run sub-command`,
        });
      checkTargets(r.targets, r.region, ['items', name, 'targets']);
    }
    if (rb.allowAdHoc && !rb.adHoc)
      ctx.addIssue({ code: 'custom', path: ['adHoc'], message: 'is required when allowAdHoc is true' });
    if (rb.adHoc) checkTargets(rb.adHoc.targets, rb.adHoc.region, ['adHoc', 'targets']);
  });

/**
 * The HTTP API in front of the Slack door and the `me` link: API Gateway's route throttling (every route),
 * so a flood of requests is turned away at API Gateway (429) before it costs a Lambda invocation.
 */
const httpSchema = z
  .object({
    throttle: z
      .object({
        /** Requests per second, steady. */
        rate: z.number().positive().max(10_000).default(25),
        /** Requests let through at once above the steady rate. */
        burst: z.number().int().min(1).max(5_000).default(50),
      })
      .strict()
      .default({ rate: 25, burst: 50 }),
  })
  .strict();

/**
 * The audit trail's optional archive: every entry, as it is written, copied to an S3 bucket with Object
 * Lock (write-once storage), created by the deploy when a bucket name is given.
 */
const auditSchema = z
  .object({
    archiveBucket: z
      .string()
      .regex(
        /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
        'is not an S3 bucket name (3–63 lowercase letters, digits and hyphens)',
      )
      .optional(),
    /** How long each archived entry is locked (Object Lock default retention), in days. */
    archiveRetentionDays: z.number().int().min(1).max(36_500).default(365),
    /** GOVERNANCE: privileged users may lift a lock; COMPLIANCE: nobody may, not even the account's root. */
    archiveMode: z.enum(['GOVERNANCE', 'COMPLIANCE']).default('GOVERNANCE'),
  })
  .strict();

/** CloudWatch Logs' retention choices, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Settings the deploy reads (serverless.yml through infra/iam-from-config.js); the functions ignore them. */
const alarmsSchema = z
  .object({
    /** SNS topic the alarms notify (ALARM and OK); none: the alarms only change state. */
    topicArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
        'is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)',
      )
      .optional(),
    /** Hours without any security-group CloudTrail event before the canary alarms; 0 turns it off. */
    silenceHours: z
      .number({ message: 'is not a number of hours (0–168)' })
      .int('is not a whole number of hours (0–168)')
      .min(0, 'is not a number of hours (0–168)')
      .max(168, 'is longer than CloudWatch can watch (168 hours, 7 days)')
      .default(24),
  })
  .strict()
  .default({ silenceHours: 24 });

const kmsSchema = z
  .object({
    /** A customer-managed key of your own for the table, the queue and the logs. */
    keyArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/,
        'is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)',
      )
      .optional(),
    /** Let the deploy create a customer-managed key (rotated yearly) for the table, the queue and the logs. */
    create: z.boolean({ message: 'is not true or false' }).default(false),
  })
  .strict()
  .refine((k) => !(k.keyArn && k.create), { message: 'sets both keyArn and create: choose one' })
  .default({ create: false });

const logsSchema = z
  .object({
    retentionDays: z
      .number({ message: `is not one of CloudWatch's retention periods (${LOG_RETENTION_DAYS.join(', ')})` })
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        message: `is not one of CloudWatch's retention periods (${LOG_RETENTION_DAYS.join(', ')})`,
      })
      .default(90),
  })
  .strict()
  .default({ retentionDays: 90 });

const configSchema = z
  .object({
    slack: z
      .object({
        alertChannel: slackChannel,
        /**
         * The Slack workspace (team ID, T…) the bot serves. When set, requests whose payload names any
         * other team (another workspace, or a user from one in a shared channel) are refused.
         */
        teamId: z
          .string()
          .regex(/^T[A-Z0-9]{2,}$/, 'is not a Slack team ID (T…)')
          .optional(),
      })
      .strict(),
    policy: policySchema.default(policySchema.parse({})),
    decisions: decisionsSchema.default(decisionsSchema.parse({})),
    status: statusSchema.default(statusSchema.parse({})),
    whitelist: z
      .object({
        targets: z
          .record(
            z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'is not a target alias (lowercase letters, digits, -)'),
            whitelistTargetSchema,
          )
          .default({}),
        /** The account's "inbound rules per security group" quota, quoted when a group is full (AWS default 60). */
        rulesPerGroupLimit: z.number().int().min(1).max(1000).default(60),
      })
      .strict()
      .default({ targets: {}, rulesPerGroupLimit: 60 }),
    runbooks: runbooksSchema.default({ allowAdHoc: false, targets: {}, items: {} }),
    accounts: z
      .object({
        aliases: z
          .record(z.string().regex(/^\d{12}$/, 'is not an AWS account ID (12 digits)'), z.string())
          .default({}),
        /** Role name to assume in member accounts; absent = act in the bot's own account only. */
        roleName: z
          .string()
          .regex(/^[\w+=,.@-]{1,64}$/, 'is not an IAM role name (letters, digits and +=,.@-_, at most 64)')
          .optional(),
        /**
         * Member accounts whose events sg-warden evaluates, besides its own (SG_WARDEN_ACCOUNT_ID). An
         * event from any other account is refused, never evaluated in the bot's own account.
         */
        watched: z.array(z.string().regex(/^\d{12}$/, 'is not an AWS account ID (12 digits)')).default([]),
        /**
         * The AWS Organizations ID (o-…) whose accounts may send security-group events to the home bus
         * (infra/region-forwarder.yml). In the config, not a deploy flag, so no redeploy can forget it.
         */
        organizationId: z
          .string()
          .regex(/^o-[a-z0-9]{10,32}$/, 'is not an AWS Organizations ID (o- and 10 to 32 letters or digits)')
          .optional(),
      })
      .strict()
      .default({ aliases: {}, watched: [] }),
    http: httpSchema.default(httpSchema.parse({})),
    audit: auditSchema.default(auditSchema.parse({})),
    alarms: alarmsSchema,
    kms: kmsSchema,
    logs: logsSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type PolicyConfig = Config['policy'];
export type DecisionsConfig = Config['decisions'];
export type StatusConfig = Config['status'];
export type WhitelistTarget = z.infer<typeof whitelistTargetSchema>;
export type Runbook = z.infer<typeof runbookSchema>;
export type RunbookParameter = z.infer<typeof runbookParameterSchema>;
export type AdHocConfig = z.infer<typeof adHocSchema>;
export type RunbooksConfig = z.infer<typeof runbooksSchema>;
export type People = z.infer<typeof people>;

/** Auto-revoke timeout for a severity in seconds, or null (notify only). */
export function timeoutFor(policy: PolicyConfig, sev: Severity): number | null {
  return policy.timeouts[sev];
}

function describePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** What is wrong, in the words of the schema: a bad map key says what a key must look like. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0]?.message;
    if (inner) return `"${String(issue.path.at(-1))}" ${inner}`;
  }
  return issue.message;
}

/** Validates a parsed config value; ConfigError names the file, the field and what is wrong. */
export function validateConfig(value: unknown, source: string): Config {
  const result = configSchema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${describePath(issue.path)}: ${issueMessage(issue)}`);
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
