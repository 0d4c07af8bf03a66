// The `policy` section: which rule changes are findings, how severe, and when they are revoked.
import './zod-setup';
// A namespace import, as in config.ts: esbuild keeps only the zod parts used.
import * as z from 'zod';
import { cidr, duration, groupId, portNumber, severity } from './fields';

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

const groupSelector = z
  .object({ ids: z.array(groupId).default([]), tags: z.record(z.string(), z.string()).default({}) })
  .strict()
  .refine((s) => s.ids.length > 0 || Object.keys(s.tags).length > 0, { message: 'needs ids or tags' });

const DEFAULT_ADMIN_PORTS = [
  20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080,
  8088, 8888, 9200, 9300, 139, 1521, 2049, 2375, 2376, 5900, 6379, 9092, 11211, 27017, 27018,
];

/** An ARN pattern: `*` stands for any run of characters within one ARN segment, `**` for any run at all. */
export const arnPattern = z
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
    /**
     * The most groups one exposure change (an address associated, a route to an internet gateway, …) re-grades
     * at once; the rest are left to the scan, and the cap is logged.
     */
    maxGroupsPerEvent: z.number().int().min(1).max(200).default(20),
  })
  .strict();

export const policySchema = z
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
        /**
         * Who may exempt a group by tag: a tag in `tags` (or `sg-warden:protected`) exempts only when its
         * last setter's ARN (or assumed role's ARN) matches one of these ARN patterns. Default: nobody.
         */
        trustedTaggers: z.array(arnPattern).default([]),
      })
      .strict()
      .default({ groupIds: [], tags: [], sourceCidrs: [], trustedTaggers: [] }),
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
    /**
     * After a violation's rule is revoked (a person or the clock), also end the established TCP connections
     * from its source to its ports on the group's SSM-managed Linux instances (services/sessions/).
     */
    endSessionsOnRevoke: z.boolean({ message: 'must be true or false' }).default(false),
  })
  .strict();
