// The config's field types shared by its sections: durations, CIDRs, IDs, severities, ports, people.
import './zod-setup';
// A namespace import, as in config.ts: esbuild keeps only the zod parts used.
import * as z from 'zod';
import { parseCidr } from '../shared/cidr';
import { parseDuration } from '../shared/duration';

export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const seconds = parseDuration(value);
  if (seconds === null) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration such as 30m, 2h or 1d` });
    return z.NEVER;
  }
  return seconds;
});

export const cidr = z
  .string()
  .refine((v) => parseCidr(v) !== null, { message: 'is not an IPv4 or IPv6 CIDR' });
export const groupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'is not a security-group ID (sg-…)');
export const slackUser = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'is not a Slack user ID (U…)');
export const slackUserGroup = z.string().regex(/^S[A-Z0-9]{2,}$/, 'is not a Slack user-group ID (S…)');
export const slackChannel = z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'is not a Slack channel ID (C…)');
export const severity = z.enum(['critical', 'high', 'medium', 'low']);
export const protocol = z.enum(['tcp', 'udp', 'icmp', 'icmpv6', 'all']);
export const portNumber = z
  .number({ message: 'is not a port number (0–65535)' })
  .int('is not a port number (0–65535)')
  .min(0, 'is not a port number (0–65535)')
  .max(65535, 'is not a port number (0–65535)');

/** Who may do something: Slack user IDs and/or user-group IDs. Both empty means "anyone in the channel". */
export const people = z
  .object({ users: z.array(slackUser).default([]), userGroups: z.array(slackUserGroup).default([]) })
  .strict()
  .default({ users: [], userGroups: [] });
