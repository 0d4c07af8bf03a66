import { isAsGranted, type OwnRuleItem } from '../grants/changed-rule';
import type { GrantItem } from '../grants/items';
import type { AuditActor } from '../kernel/audit';
import { keys, type StateStore } from '../kernel/state';
import type { RuleFacts, SgEvent } from '../shared/model';
import type { AccountScope } from '../shared/ports';

/** Grant states in which its rule may still exist and still be sg-warden's to manage. */
const OWNED_WHILE: readonly GrantItem['status'][] = ['ACTIVE', 'REVOKING', 'REVOKE_FAILED'];

/**
 * What detection makes of a rule sg-warden may have made:
 * - `own`: recorded as sg-warden's and still exactly what its grant made: not evaluated;
 * - `changed`: recorded as sg-warden's but no longer what was made (or no longer live): evaluated like
 *   any rule, and its grant ends when this is EC2's view of the rule;
 * - `none`: not a rule sg-warden made.
 */
export type OwnRuleVerdict =
  | { kind: 'own'; grantId: string }
  | { kind: 'changed'; record: OwnRuleItem; grant: GrantItem | null; reason: string }
  | { kind: 'none' };

/** The grant's account as an event names it: targets without an account are the bot's own. */
function sameAccount(accounts: AccountScope, grant: GrantItem, eventAccount: string): boolean {
  if (grant.account === eventAccount) return true;
  return accounts.isOwn(grant.account) && accounts.isOwn(eventAccount);
}

/** "TCP 22 from 198.51.100.44/32", what a grant made, in words. */
export function grantedAccess(grant: GrantItem): string {
  const access =
    grant.protocol === 'all'
      ? 'all traffic'
      : grant.port === null
        ? grant.protocol.toUpperCase().replace('V6', 'v6')
        : `${grant.protocol.toUpperCase()} ${grant.port}`;
  return `${access} from ${grant.cidr}`;
}

/**
 * Whether `rule` is sg-warden's own, judged by the record of what sg-warden made and the rule as it is
 * now. Only the rule's ID and content count: whatever a rule ID was once, it is skipped only while it
 * is still what the grant made, in the grant's account, region and group.
 */
export async function ownRuleVerdict(
  deps: { store: StateStore; accounts: AccountScope },
  event: Pick<SgEvent, 'account' | 'region'> & { actor: Pick<SgEvent['actor'], 'arn'> | null },
  rule: RuleFacts,
): Promise<OwnRuleVerdict> {
  if (!rule.ruleId) return { kind: 'none' };
  const record = await deps.store.get<OwnRuleItem>(keys.ownRule(event.region, rule.ruleId));
  if (!record) return { kind: 'none' };
  const grant = record.grantId ? await deps.store.get<GrantItem>(keys.grant(record.grantId)) : null;
  // The scan has no event: who changed the rule is not known.
  const by = event.actor
    ? `by ${event.actor.arn}`
    : 'outside sg-warden (found by the scan: who is not known)';
  if (!grant) {
    return {
      kind: 'changed',
      record,
      grant: null,
      reason: `a rule sg-warden made for a grant was changed ${by}: its grant ${record.grantId} is not on record`,
    };
  }
  const live = OWNED_WHILE.includes(grant.status);
  const asMade =
    isAsGranted(rule, grant) &&
    grant.region === event.region &&
    sameAccount(deps.accounts, grant, event.account);
  if (live && asMade) return { kind: 'own', grantId: grant.grantId };
  return {
    kind: 'changed',
    record,
    grant,
    reason: asMade
      ? `a rule sg-warden made for a grant was changed ${by}: grant ${grant.grantId} (${grant.userName}) has ended (${grant.status}), yet the rule is still there`
      : `a rule sg-warden made for a grant was changed ${by}: grant ${grant.grantId} (${grant.userName}) gave ${grantedAccess(grant)} in ${grant.groupId}`,
  };
}

/** The actor of an event as the audit trail names it. */
export function eventActor(event: Pick<SgEvent, 'actor'>, name: string): AuditActor {
  return { type: 'aws-principal', id: event.actor.arn, name };
}
