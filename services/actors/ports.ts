import type { MessageRef } from '../shared/ports';
import type { AlertItem, ViolationItem } from '../violations/items';
import type { AskItem } from './items';

/** Finds a Slack user by e-mail (users.lookupByEmail, scope users:read.email). */
export interface SlackUserLookup {
  /** The user's ID, or null when no user has that address; throws when Slack cannot say. */
  userIdByEmail(email: string): Promise<string | null>;
}

/** What the direct message to a change's author shows. */
export interface AskView {
  ask: Pick<AskItem, 'user' | 'status' | 'justification' | 'answeredAt'>;
  alert: AlertItem;
  /** The alert's rules as they are now. */
  violations: ViolationItem[];
  accountAlias: string | null;
  /** The channel the alert is in. */
  channel: string;
  now: Date;
}

/** The notice in an alert's thread that its author says they need the change. */
export interface NeedNotice {
  user: string;
  justification: string;
  /** Who may keep it: mentioned, so they hear of it (empty: anyone in the channel). */
  approvers: { users: string[]; userGroups: string[] };
}

/** Talks to a change's author (Slack in production: slack/actors/notifier.ts). */
export interface ActorNotifier {
  /** Sends the direct message; resolves with where it is (the DM channel and ts). */
  ask(user: string, view: AskView): Promise<MessageRef>;
  /** Re-renders the direct message (after an answer). */
  updateAsk(ref: MessageRef, view: AskView): Promise<void>;
  /** Posts the author's "I need it" in the alert's thread. */
  postNeed(alert: MessageRef, notice: NeedNotice): Promise<void>;
}
