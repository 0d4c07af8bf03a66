import type { AuditSubject } from '../kernel/audit';
import type { StoredItem } from '../kernel/state';
import type { MessageRef } from '../shared/ports';
import type { SessionScope } from './plan';

/**
 * One end-sessions command in flight: RUNNING (due SESSIONS_POLL) until every instance has reported, then
 * DONE. Its audit entries are written on the item it was sent for (`subject`: a grant or a violation), so
 * that item's history tells the whole story.
 */
export interface SessionsItem extends StoredItem {
  type: 'sessions';
  status: 'RUNNING' | 'DONE';
  sessionsId: string;
  subject: AuditSubject & { type: 'grant' | 'violation' };
  /** Who is told the count: the grant's owner (by DM), or the alert's thread. */
  notify: { kind: 'owner'; userId: string } | { kind: 'thread'; ref: MessageRef | null };
  account: string;
  region: string;
  groupId: string;
  scope: SessionScope;
  document: string;
  commandId: string;
  instanceIds: string[];
  /** Name tags, for messages. */
  instanceNames: Record<string, string>;
  /** Instances behind the group that were not sent the command, and why. */
  skipped: { instanceId: string; why: string }[];
  invocations: Record<string, SessionInvocation>;
  createdAt: string;
  sentAt: string;
  /** Past this time an instance SSM has not finished is recorded as Undetermined. */
  giveUpAt: string;
  finishedAt?: string;
}

/** One instance's part, as SSM reported it and as its output line said. */
export interface SessionInvocation {
  status: string;
  final: boolean;
  ended?: number;
  remaining?: number;
  error?: string;
}
