import { createHash } from 'node:crypto';
import type { RuleFacts } from './model';

function digest(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** A rule's identity: its rule ID where known, plus its content (so a modified rule is a different rule). */
export function ruleFingerprint(account: string, region: string, rule: RuleFacts): string {
  return digest(
    [
      account,
      region,
      rule.groupId,
      rule.ruleId ?? '-',
      rule.direction,
      rule.protocol,
      rule.fromPort,
      rule.toPort,
      rule.source,
    ].join('|'),
    32,
  );
}

/** Deterministic violation ID for one rule of one event, so a re-delivered event maps to the same item. */
export function violationIdFor(alertId: string, rule: RuleFacts, index: number): string {
  return `v-${digest(`${alertId}|${rule.ruleId ?? index}|${rule.direction}|${rule.protocol}|${rule.fromPort}|${rule.toPort}|${rule.source}`, 12)}`;
}
