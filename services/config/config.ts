import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import './zod-setup';
// The namespace import lets esbuild keep only the zod parts used here: `{ z }` is a namespace object
// that it keeps whole (every locale, JSON Schema conversion: ~560 KiB more in each bundle).
import * as z from 'zod';
import { ConfigError } from '../shared/errors';
import type { Severity } from '../shared/model';
import { alarmsSchema, auditSchema, httpSchema, kmsSchema, logsSchema } from './deploy-schema';
import {
  duration,
  groupId,
  people,
  portNumber,
  protocol,
  severity,
  slackChannel,
  slackUser,
  slackUserGroup,
} from './fields';
import { checkParameterValue, placeholdersIn } from './param-rules';
import { policySchema } from './policy-schema';
import { routesSchema } from './routes-schema';

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
    /** Ask the person who made a change (when they are a known Slack user) by direct message. */
    askActor: z.boolean({ message: 'must be true or false' }).default(true),
    /**
     * How long before an auto-revoke deadline the approvers are reminded in the alert's thread; default
     * (absent) half the timeout, at least one minute; null: no reminder.
     */
    remindBefore: duration.nullable().optional(),
    /** Notify-only violations (no deadline): the first reminder this long after the alert, then doubling; null: none. */
    remindUndecided: duration.nullable().default(86400),
    /** Critical violations still pending when their reminder fires: told here (once per violation). */
    escalation: z
      .object({ channel: slackChannel.optional(), userGroup: slackUserGroup.optional() })
      .strict()
      .default({}),
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
    /**
     * When a grant's rule is removed, also end the owner's established TCP connections to the granted port
     * on the group's SSM-managed Linux instances (one SSM command, services/sessions/).
     */
    endSessions: z.boolean({ message: 'must be true or false' }).default(false),
  })
  .strict()
  .refine((t) => t.defaultDuration <= t.maxDuration, {
    message: 'defaultDuration is longer than maxDuration',
  })
  .refine((t) => !t.endSessions || t.protocol === 'tcp' || t.protocol === 'all', {
    path: ['endSessions'],
    message: 'ends TCP connections only: the target must grant tcp (or all)',
  });

/**
 * The backstop (README "How temporary is temporary"): one EventBridge Scheduler schedule per due rule that
 * revokes it `grace` after its deadline or expiry, through AWS alone, when the sweeper did not.
 */
const backstopSchema = z
  .object({
    /** On where the deploy made the schedule group and the execution role (serverless.yml); off here = none. */
    enabled: z.boolean({ message: 'is not true or false' }).default(true),
    /** How long after the due time the schedule fires: the sweeper's head start (one sweep is 1 minute). */
    grace: duration
      .refine((s) => s >= 60 && s <= 3600, { message: 'must be between 1m and 1h' })
      .default(120),
  })
  .strict();

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
 * EventBridge's schedule expressions the scan accepts: rate(N minute(s)|hour(s)|day(s)) or cron(…) with
 * six fields; `off` deploys the function with no schedule (the CLI still scans).
 */
const scheduleExpression = z
  .string()
  .refine(
    (s) =>
      s === 'off' ||
      /^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$/.test(s) ||
      /^cron\((\S+\s+){5}\S+\)$/.test(s),
    { message: 'is not a schedule: rate(6 hours), rate(1 day), cron(0 */6 * * ? *) or off' },
  );

/** The reconciliation scan of every rule (README "The scan"). */
const scanSchema = z
  .object({
    schedule: scheduleExpression.default('rate(6 hours)'),
    /** Regions read in every watched account; absent: the regions enabled in the bot's account (DescribeRegions). */
    regions: z
      .array(awsRegion)
      .min(1, 'needs at least one region (leave it out for every enabled region)')
      .optional(),
    /** EC2 reads in flight at once per account and region (DescribeSecurityGroupRules pages). */
    concurrency: z.number().int().min(1).max(16).default(4),
  })
  .strict();

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
        /** Ordered routes: an alert goes to the first that matches, else to alertChannel (services/routing). */
        routes: routesSchema,
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
    backstop: backstopSchema.default(backstopSchema.parse({})),
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
    scan: scanSchema.default(scanSchema.parse({})),
    http: httpSchema.default(httpSchema.parse({})),
    audit: auditSchema.default(auditSchema.parse({})),
    alarms: alarmsSchema,
    kms: kmsSchema,
    logs: logsSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    // Run Command goes out with sg-warden's own credentials: a member account's instances are out of reach.
    for (const [alias, t] of Object.entries(c.whitelist.targets)) {
      if (t.endSessions && t.account && c.accounts.watched.includes(t.account))
        ctx.addIssue({
          code: 'custom',
          path: ['whitelist', 'targets', alias, 'endSessions'],
          message: `sessions are ended only in sg-warden's own account, and ${t.account} is a member account (accounts.watched)`,
        });
    }
  });

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
export type BackstopConfig = Config['backstop'];
export type ScanConfig = Config['scan'];

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
