import type { DueKind } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import type { SessionDeps, SessionNotifier } from './deps';
import { pollSessions } from './end';
import type { SessionsItem } from './items';

/** The sweeper's end-sessions work: SESSIONS_POLL (read each instance's count, then tell). */
export function sessionDueHandlers(
  deps: SessionDeps,
  notifier: SessionNotifier,
): Partial<Record<DueKind, DueHandler>> {
  return {
    SESSIONS_POLL: async (item, now) => {
      await pollSessions({ ...deps, clock: () => now }, notifier, item as SessionsItem, now);
    },
  };
}
