import type { Config } from '../config/config';
import type { GrantItem } from '../grants/items';
import { type ItemKey, keys, type StateStore } from '../kernel/state';
import { AwsCallError, describeError } from '../shared/errors';
import { ruleFingerprint } from '../shared/ids';
import type { Actor, Finding, RuleFacts } from '../shared/model';
import type { AccountScope, AwsTarget, PrefixListReader } from '../shared/ports';
import type { ExceptionItem } from '../violations/items';
import { ownRuleVerdict } from './own-rules';
import { evaluate } from './policy';
import { prefixListEntriesFor } from './prefix-lists';

// How a live rule is judged, shared by event detection and the scan so that both see a rule the same way:
// sg-warden's own rules (while still what a grant made) and kept rules (an active exception) are left
// out; the rest go to the policy, prefix lists through their entries.

/** Where a rule lives and who changed it: the event's principal, or null when nobody is known (the scan). */
export interface RuleOrigin {
  account: string;
  region: string;
  actor: Actor | null;
}

/** What sg-warden's own records say of a rule before the policy sees it. */
export type Screened =
  /** A rule a grant made, still exactly as made: not evaluated. */
  | { kind: 'own'; why: string }
  /** Kept: an active, unexpired exception covers it (the scan's re-grade reads what it was granted at). */
  | { kind: 'kept'; why: string; exception: ExceptionItem }
  /** To evaluate; `leading` is said first in its reasons; `changedGrant` is the grant whose rule was changed. */
  | { kind: 'evaluate'; leading: string[]; changedGrant: GrantItem | null };

/** An active, unexpired exception for this rule, if any. */
export async function activeException(
  store: StateStore,
  where: { account: string; region: string },
  rule: RuleFacts,
  now: Date,
): Promise<ExceptionItem | null> {
  const exception = await store.get<ExceptionItem>(
    keys.exception(ruleFingerprint(where.account, where.region, rule)),
  );
  if (exception?.status !== 'ACTIVE') return null;
  if (exception.expiresAt !== null && new Date(exception.expiresAt) <= now) return null;
  return exception;
}

/**
 * The items screening these rules and raising their violations reads (own-rule records, exceptions, rule
 * claims): read in one batch beforehand (kernel/read-ahead.ts) instead of one call each.
 */
export function screenKeys(
  where: { account: string; region: string },
  rules: readonly RuleFacts[],
): ItemKey[] {
  return rules.flatMap((rule) => {
    const fingerprint = ruleFingerprint(where.account, where.region, rule);
    return [
      ...(rule.ruleId ? [keys.ownRule(where.region, rule.ruleId)] : []),
      keys.exception(fingerprint),
      keys.ruleClaim(fingerprint),
    ];
  });
}

/** Checks a rule against sg-warden's own-rule records and exceptions (no AWS call). */
export async function screenRule(
  deps: { store: StateStore; accounts: AccountScope },
  origin: RuleOrigin,
  rule: RuleFacts,
  now: Date,
): Promise<Screened> {
  const verdict = await ownRuleVerdict(deps, origin, rule);
  if (verdict.kind === 'own') return { kind: 'own', why: `granted by sg-warden (${verdict.grantId})` };
  const exception = await activeException(deps.store, origin, rule, now);
  if (exception)
    return {
      kind: 'kept',
      why: `kept until ${exception.expiresAt ?? 'revoked'} (${exception.violationId})`,
      exception,
    };
  return verdict.kind === 'changed'
    ? { kind: 'evaluate', leading: [verdict.reason], changedGrant: verdict.grant }
    : { kind: 'evaluate', leading: [], changedGrant: null };
}

/** A rule that will be evaluated, with what the caller adds to its finding's reasons. */
export interface Candidate {
  rule: RuleFacts;
  /** Said first (a rule sg-warden made that was changed). */
  leading: string[];
  /** Said after the policy's reasons (could not be checked in EC2, …). */
  trailing: string[];
}

const ACCESS_DENIED = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
]);

/**
 * The entries of the prefix lists these rules name, read in their account and region. A role that may
 * not read them (a member role from before prefix lists were read) gives `unreadable` and no entries, so
 * the rest is still judged; any other failure is thrown.
 */
export async function prefixListsFor(
  reader: PrefixListReader,
  target: AwsTarget,
  rules: readonly RuleFacts[],
): Promise<{ entries: Record<string, string[]>; unreadable: string | null }> {
  if (!rules.some((r) => r.sourceKind === 'prefix-list')) return { entries: {}, unreadable: null };
  try {
    return { entries: await prefixListEntriesFor(reader, target, rules), unreadable: null };
  } catch (error) {
    if (!(error instanceof AwsCallError && ACCESS_DENIED.has(error.awsCode))) throw error;
    return { entries: {}, unreadable: describeError(error) };
  }
}

/** The policy's findings for the candidates, each with the caller's leading and trailing reasons, most severe first. */
export function judge(
  candidates: readonly Candidate[],
  policy: Config['policy'],
  context: {
    actor: Actor | null;
    groupTags: Record<string, string> | null;
    prefixLists: Record<string, string[]>;
    /** Who set each of the group's tags (exemption tags count only when a trusted tagger set them). */
    tagSetters?: Parameters<typeof evaluate>[2]['tagSetters'];
  },
): Finding[] {
  const byRule = new Map(candidates.map((c) => [c.rule, c]));
  return evaluate(
    candidates.map((c) => c.rule),
    policy,
    context,
  ).map((f): Finding => {
    const c = byRule.get(f.rule);
    return { ...f, reasons: [...(c?.leading ?? []), ...f.reasons, ...(c?.trailing ?? [])] };
  });
}
