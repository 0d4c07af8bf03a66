import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../services/config/config';
import { persona, personaSlackUsers } from './aws-personas';
import type { World } from './seed-account';

/** The sandbox's people: an engineer who makes changes and an approver who may keep them. */
export const SANDBOX_USERS = {
  U0ENGINEER: { name: 'erin.engineer', realName: 'Erin Engineer', title: 'engineer' },
  U0APPROVER: { name: 'alex.approver', realName: 'Alex Approver', title: 'approver' },
} as const;
export const APPROVERS_GROUP = 'S0APPROVERS';
/** The on-call user group a critical alert still pending at its reminder is escalated to (Alex is on call). */
export const ONCALL_GROUP = 'S0ONCALL';
/** The local workspace's team ID. */
export const SANDBOX_TEAM = 'T0SGWARDEN';
export const ALERT_CHANNEL = { id: 'C0SGWARDEN', name: 'security-alerts' };
/**
 * The teams' channels (slack.routes): an alert on a group tagged `team=<team>` goes to its team's channel;
 * payments' critical alerts mention the approvers' group, platform's are decided by Alex alone.
 */
export const TEAM_CHANNELS = [
  { id: 'C0PAYMENTS', name: 'team-payments', team: 'payments' },
  { id: 'C0PLATFORM', name: 'team-platform', team: 'platform' },
] as const;
/** The sandbox users' e-mail addresses in Slack (users.lookupByEmail finds an SSO session's author by it). */
export const SANDBOX_EMAILS: Record<keyof typeof SANDBOX_USERS, string> = {
  U0ENGINEER: 'erin.engineer@example.com',
  U0APPROVER: 'alex.approver@example.com',
};
/** The AWS principal the "make a change" panel acts as by default: Erin's SSO session. */
export const ENGINEER_PRINCIPAL = persona('erin').arn;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges `overlay` into `base`: objects key by key, anything else (arrays too) replaced. */
export function deepMerge(base: Json, overlay: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    out[key] = isObject(value) && isObject(out[key]) ? deepMerge(out[key] as Json, value) : value;
  }
  return out;
}

/** Replaces `${group:web}` with the seeded group's ID (for overlays written before the IDs are known). */
function substitute(value: unknown, world: World): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{group:([a-z]+)\}/g, (whole, role: string) => {
      const group = world.groups[role as keyof World['groups']];
      return group ? group.groupId : whole;
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, world));
  if (isObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, world)]));
  return value;
}

/**
 * The sandbox's config: the repo's default policy (config/sg-warden.yml) with the sandbox's Slack
 * channel and people, deadlines short enough to watch, a whitelist target and runbooks on the seeded
 * account, then the user's overlay (`--config`). Validated like any config; written to `path`.
 */
export function writeSandboxConfig(options: {
  basePath: string;
  overlayPath?: string;
  world: World;
  path: string;
}): void {
  const { world } = options;
  const base = parse(readFileSync(options.basePath, 'utf8')) as Json;
  const approvers = { users: [], userGroups: [APPROVERS_GROUP] };
  const sandbox: Json = {
    // The page's requests come from this workspace (test/support/slack-requests.ts uses the same team).
    slack: {
      alertChannel: ALERT_CHANNEL.id,
      teamId: SANDBOX_TEAM,
      routes: [
        { name: 'payments', tags: { team: 'payments' }, channel: 'C0PAYMENTS', mention: APPROVERS_GROUP },
        {
          name: 'platform',
          tags: { team: 'platform' },
          channel: 'C0PLATFORM',
          approvers: { users: ['U0APPROVER'] },
        },
      ],
    },
    policy: { timeouts: { critical: '2m', high: '10m', medium: '30m', low: null } },
    decisions: {
      approvers,
      principalToSlack: personaSlackUsers(),
      // With the watchable deadlines above, a critical alert's reminder (half its 2 minutes before) and its
      // escalation to on call come a minute after it; a high one's five minutes after.
      escalation: { userGroup: ONCALL_GROUP },
    },
    whitelist: {
      targets: {
        bastion: {
          groupId: world.groups.bastion.groupId,
          region: world.region,
          protocol: 'tcp',
          ports: [22],
          defaultDuration: '1h',
          maxDuration: '8h',
        },
        db: {
          groupId: world.groups.db.groupId,
          region: world.region,
          protocol: 'tcp',
          ports: [5432],
          defaultDuration: '30m',
          maxDuration: '2h',
        },
      },
    },
    runbooks: {
      allowAdHoc: false,
      targets: { 'web-prod': { region: world.region, tags: { Role: 'web', Env: 'prod' } } },
      items: {
        'disk-usage': {
          description: 'Disk usage on the production web servers',
          region: world.region,
          commands: ['df -h /'],
          targets: ['web-prod'],
        },
        'restart-web': {
          description: 'Restart nginx on the production web servers',
          region: world.region,
          commands: ['systemctl restart nginx', 'systemctl is-active nginx'],
          targets: ['web-prod'],
          approval: { required: true, approvers },
        },
      },
    },
    accounts: { aliases: { [world.account]: 'sandbox' } },
  };
  let merged = deepMerge(base, sandbox);
  if (options.overlayPath) {
    const overlay = parse(readFileSync(options.overlayPath, 'utf8')) as unknown;
    if (!isObject(overlay)) throw new Error(`${options.overlayPath}: not a YAML mapping`);
    merged = deepMerge(merged, overlay);
  }
  const text = `# Generated by npm start from config/sg-warden.yml and the sandbox's settings; rewritten at every start.\n${stringify(substitute(merged, world))}`;
  // Fail here with the config's own message (file, field, problem) rather than at the first Slack request.
  parseConfig(
    text,
    options.overlayPath ? `${options.overlayPath} (merged sandbox config)` : 'sandbox config',
  );
  writeFileSync(options.path, text);
}
