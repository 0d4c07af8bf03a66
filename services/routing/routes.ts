import type { Config, People } from '../config/config';
import type { Route } from '../config/routes-schema';
import { matchesArnPattern, principalArns } from '../detection/policy';
import type { Actor, Severity } from '../shared/model';

/**
 * Routes (`slack.routes`): which channel an alert goes to and who decides it, by the account, region and
 * tags of its group, its severity and the principal that made the change. Pure: the facts come in (the
 * group's tags as EC2 has them, never as an event claims), the choice goes out. The first route that
 * matches wins; none → `slack.alertChannel` with the `decisions.*` lists.
 */

/** What a route is chosen by. */
export interface RouteFacts {
  account: string;
  region: string;
  /** The group's tags as EC2 has them; null when they could not be read (a tag condition then fails). */
  tags: Readonly<Record<string, string>> | null;
  severity: Severity;
  /** The principal's ARN and, for an assumed role, the role's ARN. */
  principals: readonly string[];
}

/** Where an alert goes: the route's name (null: no route matched) and channel, and whom to mention. */
export interface RouteChoice {
  route: string | null;
  channel: string;
  /** A user group to mention: only on a critical alert of a route that names one. */
  mention: string | null;
}

/** What a violation (or alert) carries of its route: the name, as the item stores it. */
export interface Routed {
  route?: string | null;
}

const globs = new Map<string, RegExp>();

/** `*` stands for any run of characters (nothing else is special). */
export function matchesGlob(pattern: string, value: string): boolean {
  let regex = globs.get(pattern);
  if (!regex) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${body}$`, 's');
    globs.set(pattern, regex);
  }
  return regex.test(value);
}

/** Every tag the route names (key glob → value glob) is on the group with a value that matches. */
function tagsMatch(wanted: Record<string, string>, tags: RouteFacts['tags']): boolean {
  if (!tags) return false;
  const have = Object.entries(tags);
  return Object.entries(wanted).every(([key, value]) =>
    have.some(([k, v]) => matchesGlob(key, k) && matchesGlob(value, v)),
  );
}

/** True when every condition the route gives holds for the facts (a route with none matches everything). */
export function routeMatches(route: Route, facts: RouteFacts): boolean {
  if (route.accounts && !route.accounts.includes(facts.account)) return false;
  if (route.regions && !route.regions.includes(facts.region)) return false;
  if (route.severities && !route.severities.includes(facts.severity)) return false;
  if (route.tags && !tagsMatch(route.tags, facts.tags)) return false;
  if (
    route.principals &&
    !route.principals.some((pattern) => facts.principals.some((arn) => matchesArnPattern(pattern, arn)))
  )
    return false;
  return true;
}

/** The first route that matches, or null. */
export function matchingRoute(config: Pick<Config, 'slack'>, facts: RouteFacts): Route | null {
  return config.slack.routes.find((route) => routeMatches(route, facts)) ?? null;
}

/** Where an alert with these facts goes: the first matching route's channel, else `slack.alertChannel`. */
export function routeFor(config: Pick<Config, 'slack'>, facts: RouteFacts): RouteChoice {
  const route = matchingRoute(config, facts);
  if (!route) return { route: null, channel: config.slack.alertChannel, mention: null };
  return {
    route: route.name,
    channel: route.channel,
    mention: facts.severity === 'critical' ? (route.mention ?? null) : null,
  };
}

/** The configured route of that name (own entries only), or null: a route since removed from the config. */
export function routeNamed(config: Pick<Config, 'slack'>, name: string | null | undefined): Route | null {
  if (!name) return null;
  return config.slack.routes.find((route) => route.name === name) ?? null;
}

/**
 * Who may Keep (approve) what `item` is about: its stored route's `approvers` when the route names them,
 * else `decisions.approvers`. The route comes from the item as stored, never from a button. A route that
 * is no longer in the config falls back to `decisions.approvers`.
 */
export function approversFor(config: Pick<Config, 'slack' | 'decisions'>, item: Routed): People {
  return routeNamed(config, item.route)?.approvers ?? config.decisions.approvers;
}

/** Who may Revoke what `item` is about: its stored route's `revokers`, else `decisions.revokers` (as approversFor). */
export function revokersFor(config: Pick<Config, 'slack' | 'decisions'>, item: Routed): People {
  return routeNamed(config, item.route)?.revokers ?? config.decisions.revokers;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** The worst of some severities (an alert is routed by its worst rule); `low` for none. */
export function worstSeverity(severities: readonly Severity[]): Severity {
  return severities.reduce<Severity>(
    (worst, s) => (SEVERITY_RANK[s] > SEVERITY_RANK[worst] ? s : worst),
    'low',
  );
}

/** The facts of an alert: where its group is, the group's tags as EC2 has them, its worst rule, who made it. */
export function alertRouteFacts(alert: {
  account: string;
  region: string;
  actor: Actor;
  tags: RouteFacts['tags'];
  severities: readonly Severity[];
}): RouteFacts {
  return {
    account: alert.account,
    region: alert.region,
    tags: alert.tags,
    severity: worstSeverity(alert.severities),
    principals: principalArns(alert.actor),
  };
}
