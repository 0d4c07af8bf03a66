import type { AuditActor } from '../kernel/audit';
import { endSessions } from '../sessions/end';
import type { GrantDeps, GrantSessions } from './deps';
import type { GrantItem } from './items';
import { targetNamed } from './plan';

/**
 * Right after a grant's rule is removed (expiry, `/sg-whitelist revoke`, "not me", the backstop): when its
 * target says `endSessions: true`, sends the one end-sessions command for the grant's address and port
 * to the instances behind the target's group. The owner is told the count by DM once every instance has
 * answered (SESSIONS_POLL); the grant's audit trail holds the command and the count. Never throws.
 */
export async function endGrantSessions(
  deps: GrantDeps,
  grant: GrantItem,
  by: AuditActor,
): Promise<GrantSessions> {
  if (!targetNamed(deps.config, grant.alias)?.endSessions) return { kind: 'off' };
  return endSessions(deps, {
    subject: { id: grant.grantId, type: 'grant' },
    by,
    account: grant.account,
    region: grant.region,
    groupId: grant.groupId,
    source: { cidr: grant.cidr, protocol: grant.protocol, fromPort: grant.port, toPort: grant.port },
    notify: { kind: 'owner', userId: grant.userId },
  });
}
