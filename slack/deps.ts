import type { WebClient } from '@slack/web-api';
import type { ActorNotifier, SlackUserLookup } from '../services/actors/ports';
import type { Config } from '../services/config/config';
import type { ExposureLookup } from '../services/exposure/lookup';
import type { GrantNotifier } from '../services/grants/deps';
import type { JobQueue } from '../services/jobs/jobs';
import type { StateStore } from '../services/kernel/state';
import type { RunNotifier, RunPorts } from '../services/runs/deps';
import type { SessionPorts } from '../services/sessions/deps';
import type { Logger } from '../services/shared/logger';
import type { ChannelDirectory, Directory } from '../services/shared/people';
import type { RuleAuthorizer, RuleRemover, SecurityGroupReader } from '../services/shared/ports';
import type { AlertNotifier } from '../services/violations/ports';

/** What Slack listeners and background jobs work with; built once per container by handlers/wiring.ts. */
export interface SlackDeps extends RunPorts {
  config: Config;
  /**
   * Runs `fn`, then builds again at once the Home tabs the changes it made concern (handlers/wiring.ts);
   * unset: `fn` alone.
   */
  homesAfter?<T>(mode: 'rebuild', fn: () => Promise<T>): Promise<T>;
  logger: Logger;
  store: StateStore;
  ec2: SecurityGroupReader & RuleRemover & RuleAuthorizer;
  notifier: AlertNotifier;
  /** Tells Slack about `/sg-run` runs (slack/runs/notifier.ts, built by the wiring). */
  runNotifier: RunNotifier;
  /** Tells people about their grants (expiry, a used `me` link, "not me"). */
  grantNotifier: GrantNotifier;
  jobs: JobQueue;
  directory: Directory & ChannelDirectory;
  /** Finds Slack users by e-mail (a change's author); absent: decisions.principalToSlack only. */
  users?: SlackUserLookup;
  /** Talks to a change's author by direct message; absent: nobody is asked. */
  actorNotifier?: ActorNotifier;
  clock: () => Date;
  /** Web API client for background work. */
  slack(): Promise<WebClient>;
  /** The bot's public HTTPS base URL (SG_WARDEN_PUBLIC_URL), for `/sg-whitelist … me` links; unset = no links. */
  publicUrl?: string;
  /** The region the bot runs in: where `/sg-status sg-…` looks for a group no target names. */
  homeRegion?: string;
  /** A fresh exposure lookup for one invocation (`/sg-status <group>`, the sweep); unset: none is made. */
  newExposureLookup?: () => ExposureLookup;
  /** Run Command for ending sessions (`endSessions`, `policy.endSessionsOnRevoke`). */
  sessions?: SessionPorts;
}
