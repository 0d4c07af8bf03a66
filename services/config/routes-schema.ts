// `slack.routes`: which channel (and which people) an alert goes to, by where and what it is.
import './zod-setup';
// A namespace import, as in config.ts: esbuild keeps only the zod parts used.
import * as z from 'zod';
import { severity, slackChannel, slackUser, slackUserGroup } from './fields';
import { arnPattern } from './policy-schema';

const accountId = z.string().regex(/^\d{12}$/, 'is not an AWS account ID (12 digits)');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'is not an AWS region such as eu-west-1');
/** A tag key or value to match: `*` stands for any run of characters (so `*` alone for any value). */
const tagGlob = z.string().min(1, 'is empty: write * for any value');

/**
 * A route's own people, replacing `decisions.revokers` / `decisions.approvers` for what it carries. Left
 * out, the decisions lists apply (no default here: an empty list would mean anyone in the channel).
 */
const routePeople = z
  .object({ users: z.array(slackUser).default([]), userGroups: z.array(slackUserGroup).default([]) })
  .strict()
  .optional();

/**
 * One named route. Every condition given must hold (a list holds when any of its entries matches); a
 * route with no condition matches everything, so it can only be the last.
 */
export const routeSchema = z
  .object({
    name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,62}$/,
        'is not a route name (lowercase letters, digits and -, at most 63)',
      ),
    /** AWS account IDs the group is in. */
    accounts: z.array(accountId).min(1).optional(),
    /** Regions the group is in. */
    regions: z.array(region).min(1).optional(),
    /** The group's tags as EC2 has them: every key here (glob) must be on the group with a value matching (glob). */
    tags: z
      .record(tagGlob, tagGlob)
      .refine((t) => Object.keys(t).length > 0, { message: 'needs at least one tag' })
      .optional(),
    /** The alert's severity (its worst rule's). */
    severities: z.array(severity).min(1).optional(),
    /** The principal that made the change: its ARN or its role's (`*` within one segment, `**` across). */
    principals: z.array(arnPattern).min(1).optional(),
    /** The channel the alert, its thread and its updates go to. */
    channel: slackChannel,
    /** Who may Revoke what this route carries (instead of decisions.revokers). */
    revokers: routePeople,
    /** Who may Keep what this route carries (instead of decisions.approvers). */
    approvers: routePeople,
    /** A user group (S…) mentioned on this route's critical alerts: the team's on-call, say. */
    mention: slackUserGroup.optional(),
  })
  .strict();

/** The condition keys of a route (what it matches on). */
export const ROUTE_CONDITIONS = ['accounts', 'regions', 'tags', 'severities', 'principals'] as const;

/** Ordered routes: the first that matches an alert takes it; names are unique; a catch-all comes last. */
export const routesSchema = z
  .array(routeSchema)
  .max(100)
  .default([])
  .superRefine((routes, ctx) => {
    const seen = new Map<string, number>();
    routes.forEach((route, i) => {
      const first = seen.get(route.name);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `"${route.name}" is already the name of route ${first}: route names must be unique (the audit trail records them)`,
        });
      else seen.set(route.name, i);
      const catchAll = ROUTE_CONDITIONS.every((key) => route[key] === undefined);
      if (catchAll && i < routes.length - 1)
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `"${route.name}" has no condition (accounts, regions, tags, severities, principals), so it matches every alert and the routes after it are never used: move it last or give it a condition`,
        });
    });
  });

export type Route = z.infer<typeof routeSchema>;
