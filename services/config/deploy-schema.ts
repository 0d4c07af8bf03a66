// Sections the deploy reads (API throttling, audit archive, alarms, KMS, log retention); the functions ignore them.
import './zod-setup';
// A namespace import, as in config.ts: esbuild keeps only the zod parts used.
import * as z from 'zod';

/**
 * The HTTP API in front of the Slack door and the `me` link: API Gateway's route throttling (every route),
 * so a flood of requests is turned away at API Gateway (429) before it costs a Lambda invocation.
 */
export const httpSchema = z
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
export const auditSchema = z
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
export const alarmsSchema = z
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

export const kmsSchema = z
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

export const logsSchema = z
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
