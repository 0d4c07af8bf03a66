import { auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import type { StateStore } from '../kernel/state';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import type { AwsTarget, SecurityGroupReader } from '../shared/ports';
import { itemOfScheduleName } from './plan';

/**
 * A backstop that could not revoke its rule ends in its dead-letter queue (after Scheduler's retries):
 * most often because the sweeper or a person removed the rule first and the schedule could not be
 * deleted, so EC2 answered that the rule does not exist. Each dead letter is reconciled against EC2: a
 * rule already gone is recorded and is no one's page; a rule still there means the backstop failed (its
 * role, its group), which is alarmed (BackstopFailed). The item itself stays with the sweeper either way.
 */

/** One dead letter as the queue delivers it: the target's input, and what Scheduler attached. */
export interface DeadLetter {
  messageId: string;
  /** The target's input: `{"GroupId": …, "SecurityGroupRuleIds": [ … ]}`. */
  body: string;
  /** Scheduler's message attributes (SCHEDULE_ARN, ERROR_CODE, ERROR_MESSAGE, …), as strings. */
  attributes: Record<string, string>;
  /** The queue's ARN: the schedule's account and region when the attributes do not say. */
  queueArn: string;
}

export type DeadLetterOutcome = 'already-gone' | 'still-there' | 'unreadable';

export interface DeadLetterDeps {
  store: Pick<StateStore, 'appendAudit'>;
  groups: SecurityGroupReader;
  clock: () => Date;
  logger: Logger;
  metrics: Metrics;
}

/** The account and region in an ARN (`arn:aws:<service>:<region>:<account>:…`). */
function targetOfArn(arn: string): AwsTarget | null {
  const [, , , region, account] = arn.split(':');
  return region && account && /^\d{12}$/.test(account) ? { account, region } : null;
}

/** What a dead letter says: the rule, the schedule, where (null when it is not a backstop's). */
export function readDeadLetter(letter: DeadLetter): {
  groupId: string;
  ruleId: string;
  target: AwsTarget;
  scheduleName: string | null;
} | null {
  let input: unknown;
  try {
    input = JSON.parse(letter.body);
  } catch {
    return null;
  }
  const { GroupId, SecurityGroupRuleIds } = (input ?? {}) as {
    GroupId?: unknown;
    SecurityGroupRuleIds?: unknown;
  };
  const ruleId = Array.isArray(SecurityGroupRuleIds) ? SecurityGroupRuleIds[0] : undefined;
  if (typeof GroupId !== 'string' || !/^sg-[0-9a-f]{8,17}$/.test(GroupId)) return null;
  if (typeof ruleId !== 'string' || !/^sgr-[0-9a-f]{8,17}$/.test(ruleId)) return null;
  const scheduleArn = letter.attributes.SCHEDULE_ARN ?? '';
  const target = targetOfArn(scheduleArn) ?? targetOfArn(letter.queueArn);
  if (!target) return null;
  const scheduleName = scheduleArn ? (scheduleArn.split('/').at(-1) ?? null) : null;
  return { groupId: GroupId, ruleId, target, scheduleName };
}

/** Reconciles one dead letter with EC2; throws only when EC2 cannot be asked (the queue delivers it again). */
export async function reconcileDeadLetter(
  deps: DeadLetterDeps,
  letter: DeadLetter,
): Promise<DeadLetterOutcome> {
  const read = readDeadLetter(letter);
  const error = [letter.attributes.ERROR_CODE, letter.attributes.ERROR_MESSAGE].filter(Boolean).join(': ');
  if (!read) {
    deps.logger.error(
      { messageId: letter.messageId, error },
      'backstop dead letter unreadable: look at it by hand',
    );
    deps.metrics.add('BackstopDeadLetters', 1, { outcome: 'unreadable' });
    deps.metrics.add('BackstopFailed', 1);
    return 'unreadable';
  }
  const live = await deps.groups.describeRules(read.target, [read.ruleId]);
  const outcome: DeadLetterOutcome = live.length === 0 ? 'already-gone' : 'still-there';
  deps.metrics.add('BackstopDeadLetters', 1, { outcome });
  const item = read.scheduleName ? itemOfScheduleName(read.scheduleName) : null;
  const details = {
    ruleId: read.ruleId,
    groupId: read.groupId,
    account: read.target.account,
    region: read.target.region,
    schedule: read.scheduleName,
    scheduleError: error || null,
    note:
      outcome === 'already-gone'
        ? 'the backstop found the rule already gone: nothing to do'
        : 'the backstop could not revoke the rule, and it is still there: the sweeper keeps trying; see README "How temporary is temporary"',
  };
  if (outcome === 'still-there') {
    deps.metrics.add('BackstopFailed', 1);
    deps.logger.error(
      { messageId: letter.messageId, ...details },
      'backstop failed and the rule is still there',
    );
  } else {
    deps.logger.info({ messageId: letter.messageId, ...details }, 'backstop dead letter reconciled');
  }
  if (item) {
    await deps.store.appendAudit(
      auditEntry({ id: item.id, type: item.kind }, SYSTEM_ACTOR, {
        action: 'backstop-dead-letter',
        fromState: null,
        toState: null,
        result: outcome === 'already-gone' ? 'ok' : 'error',
        ...(outcome === 'still-there' ? { error: error || 'the backstop did not revoke the rule' } : {}),
        details,
        // One entry per dead letter, even when the queue delivers it twice.
        at: deps.clock().toISOString(),
      }),
    );
  }
  return outcome;
}
