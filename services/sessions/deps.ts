import type { StateStore } from '../kernel/state';
import type { Logger } from '../shared/logger';
import type { CommandRunner, GroupInstanceFinder } from '../shared/ports';
import type { SessionsItem } from './items';

/** The AWS side of ending sessions, built once per container by handlers/wiring.ts. */
export interface SessionPorts {
  /** The end-sessions Command document's name (SG_WARDEN_SESSIONS_DOCUMENT); null: not deployed here. */
  document: string | null;
  /** Run Command is sent with sg-warden's own credentials: only in its own account. */
  isOwnAccount(account: string): boolean;
  instances: GroupInstanceFinder;
  commands: CommandRunner;
}

/** What ending sessions works with; `sessions` absent means it cannot be done in this process. */
export interface SessionDeps {
  store: StateStore;
  clock: () => Date;
  logger: Logger;
  sessions?: SessionPorts;
}

/** Tells people how many sessions a command ended (Slack in production). */
export interface SessionNotifier {
  /** Every instance has answered (or was given up on): the grant's owner, or the alert's thread, is told. */
  sessionsEnded(item: SessionsItem): Promise<void>;
}
