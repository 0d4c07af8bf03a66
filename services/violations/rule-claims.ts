import type { AuditEntry } from '../kernel/audit';
import { keys, type StateStore, type StoredItem, tryTransition } from '../kernel/state';
import { ruleFingerprint } from '../shared/ids';
import type { RuleFacts } from '../shared/model';
import type { ViolationItem, ViolationStatus } from './items';

/**
 * One open violation per rule, however it was found: every new violation is written in one transaction
 * with the rule's claim (`RULECLAIM#<fingerprint>`, the rule's account, region, group, ID and content),
 * so event detection, the scan and a re-asked Keep can race for a rule and exactly one of them raises it.
 */
export interface RuleClaimItem extends StoredItem {
  type: 'rule-claim';
  status: 'HELD';
  fingerprint: string;
  /** The violation that holds the rule now. */
  violationId: string;
  account: string;
  region: string;
  groupId: string;
  ruleId: string | null;
  /** When the current holder claimed it (the status index sorts by `createdAt`). */
  claimedAt: string;
  createdAt: string;
}

/**
 * Violation states that let the rule go: it was removed (REVOKED, AUTO_REVOKED, GONE), changed so that it
 * no longer violates (RESOLVED), or kept under an exception (KEPT: the exception decides, and its expiry
 * re-asks). In any other state the rule is still that violation's business: pending, being revoked, a
 * revoke that failed for good (FAILED: told in the channel, the alarm fires) or a dry run's record
 * (DRY_RUN: alerted once, never revoked by design) — none of them is raised again.
 */
export const RELEASING_STATUSES: readonly ViolationStatus[] = [
  'REVOKED',
  'AUTO_REVOKED',
  'GONE',
  'RESOLVED',
  'KEPT',
];

/** The fingerprint a violation's claim is keyed by: the same as its exception's, when it is kept. */
export function claimFingerprint(where: { account: string; region: string }, rule: RuleFacts): string {
  return ruleFingerprint(where.account, where.region, rule);
}

function claimItem(v: ViolationItem, fingerprint: string, now: string): RuleClaimItem {
  return {
    ...keys.ruleClaim(fingerprint),
    type: 'rule-claim',
    status: 'HELD',
    version: 1,
    fingerprint,
    violationId: v.violationId,
    account: v.account,
    region: v.region,
    groupId: v.groupId,
    ruleId: v.rule.ruleId,
    claimedAt: now,
    createdAt: now,
  };
}

/** The violation that holds this rule and has not let it go, or null when the rule is free to raise. */
export async function openHolder(
  store: StateStore,
  where: { account: string; region: string },
  rule: RuleFacts,
): Promise<ViolationItem | null> {
  const claim = await store.get<RuleClaimItem>(keys.ruleClaim(claimFingerprint(where, rule)));
  if (!claim) return null;
  const holder = await store.get<ViolationItem>(keys.violation(claim.violationId));
  return holder && !RELEASING_STATUSES.includes(holder.status) ? holder : null;
}

/** What became of one new violation: stored (now or by an earlier run of the same work), or held by another. */
export type ClaimOutcome = { kind: 'stored' } | { kind: 'held'; by: ViolationItem };

/** Attempts before giving up on a claim that keeps changing hands (each lost round means another writer won). */
const CLAIM_ROUNDS = 4;

/**
 * Stores a new violation with its audit entry only if its rule is free: the claim is created with it, or
 * taken over from a violation that let the rule go (conditional on the claim's version, so two takers
 * cannot both win). Idempotent: a violation that already exists (the same event or scan run again) counts
 * as stored.
 */
export async function storeClaimed(
  store: StateStore,
  v: ViolationItem,
  audit: AuditEntry,
  now: string,
): Promise<ClaimOutcome> {
  const fingerprint = claimFingerprint(v, v.rule);
  const record = v as unknown as Record<string, unknown>;
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const claim = claimItem(v, fingerprint, now);
    if (await store.createAll([record, claim as unknown as Record<string, unknown>], [audit]))
      return { kind: 'stored' };
    if (await store.get<ViolationItem>(keys.violation(v.violationId))) return { kind: 'stored' };
    const held = await store.get<RuleClaimItem>(keys.ruleClaim(fingerprint));
    if (!held) continue;
    const holder = await store.get<ViolationItem>(keys.violation(held.violationId));
    if (holder && !RELEASING_STATUSES.includes(holder.status)) return { kind: 'held', by: holder };
    const taken = await tryTransition(store, {
      key: keys.ruleClaim(fingerprint),
      from: ['HELD'],
      to: 'HELD',
      expectVersion: held.version,
      set: { violationId: v.violationId, claimedAt: now },
      due: null,
      audit,
      alsoPut: [record],
    });
    if (taken) return { kind: 'stored' };
  }
  throw new Error(`the claim on rule ${v.rule.ruleId ?? fingerprint} kept changing hands; try again`);
}

/** Violations one transaction can store with their claims and entries, beside one more item (DynamoDB: 100 writes). */
export const CLAIMED_PER_TRANSACTION = 32;

/**
 * Stores `first` (an alert, when given) and every violation with its claim and audit entry in one transaction, when
 * none of them exists yet and no claim is held: the common case of a new event. False when anything
 * existed (a claim held or to take over, a re-delivery): nothing is written, and the caller stores them
 * one by one (storeClaimed), which sorts out each case.
 */
export async function storeAllClaimed(
  store: StateStore,
  first: Record<string, unknown> | null,
  violations: readonly { violation: ViolationItem; audit: AuditEntry }[],
  now: string,
): Promise<boolean> {
  if (violations.length > CLAIMED_PER_TRANSACTION) return false;
  const items = violations.flatMap(({ violation: v }) => [
    v as unknown as Record<string, unknown>,
    claimItem(v, claimFingerprint(v, v.rule), now) as unknown as Record<string, unknown>,
  ]);
  return store.createAll(
    first ? [first, ...items] : items,
    violations.map((v) => v.audit),
  );
}

/** Which of these violations are still free to raise (their rule held by no other open violation). */
export async function freeToRaise(
  store: StateStore,
  violations: ViolationItem[],
): Promise<{
  free: ViolationItem[];
  held: { violation: ViolationItem; by: ViolationItem }[];
}> {
  const holders = await Promise.all(violations.map((v) => openHolder(store, v, v.rule)));
  const free: ViolationItem[] = [];
  const held: { violation: ViolationItem; by: ViolationItem }[] = [];
  violations.forEach((v, i) => {
    const by = holders[i];
    if (by && by.violationId !== v.violationId) held.push({ violation: v, by });
    else free.push(v);
  });
  return { free, held };
}
