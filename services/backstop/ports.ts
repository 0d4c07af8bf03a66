import type { Direction } from '../shared/model';
import type { AwsTarget } from '../shared/ports';

/** One backstop: a one-time schedule that revokes one rule by its ID, in the rule's account and region. */
export interface BackstopSchedule {
  /** Derived from the item (services/backstop/plan.ts): the same item always has the same name. */
  name: string;
  target: AwsTarget;
  /** When it fires (ISO, whole seconds, UTC). */
  at: string;
  groupId: string;
  ruleId: string;
  direction: Direction;
  /** What it is for, as the console shows it. */
  description: string;
}

/**
 * Creates, moves and deletes the backstop's schedules (EventBridge Scheduler in production,
 * services/aws/scheduler-backstop.ts). Throws AwsCallError with the service's code on failure.
 */
export interface ScheduleWriter {
  /** Creates the schedule; one already there under its name is replaced by this one (a retry). */
  put(schedule: BackstopSchedule): Promise<void>;
  /** Moves the schedule to this definition; creates it when it is not there. */
  move(schedule: BackstopSchedule): Promise<void>;
  /** Deletes the schedule; false when there was none (it fired and deleted itself, or was never made). */
  remove(target: AwsTarget, name: string): Promise<boolean>;
}

/** A sentence about an item's backstop, told where people follow the item (its alert thread, or the channel). */
export interface BackstopNote {
  channel: string | null;
  threadTs: string | null;
  text: string;
}

/** The backstop as the features use it: null (or absent) when it is off. */
export interface Backstop {
  schedules: ScheduleWriter;
  /** Seconds after the due time that the schedule fires (config backstop.grace). */
  graceSeconds: number;
  /** Part of every schedule's name, so that two stages in one account never share one. */
  stage: string;
  /** Whether `roleArn` (an event's assumed role) is the backstop's execution role in `account`. */
  isExecutionRole(account: string, roleArn: string | null): boolean;
  /** Tells people (Slack in production); a failure is logged by the caller, never undoes anything. */
  tell(note: BackstopNote): Promise<void>;
}

/** What the features pass: their deps carry the backstop when it is on. */
export interface BackstopDeps {
  backstop?: Backstop | null;
}
