import type { CreateScheduleCommandInput, SchedulerClient } from '@aws-sdk/client-scheduler';
import { atExpression, revokeInput, universalTargetArn } from '../backstop/plan';
import type { BackstopSchedule, ScheduleWriter } from '../backstop/ports';
import type { AwsTarget } from '../shared/ports';
import { awsError } from './ec2-security-groups';
import { schedulerSdk } from './sdk';

/** Gives the Scheduler client for an account and region (member accounts through their role). */
export type SchedulerClientProvider = (target: AwsTarget) => Promise<SchedulerClient> | SchedulerClient;

/** How Scheduler tries the revoke again before the dead-letter queue: throttling and 5xx, for an hour. */
export const BACKSTOP_RETRY_POLICY = { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 } as const;

/**
 * The backstop's schedules in EventBridge Scheduler: one-time (`at(…)`, UTC, flexible window off), in
 * sg-warden's own schedule group, deleted by Scheduler once they ran; the target is EC2's universal target
 * revoking one rule by ID, run by an execution role that may only revoke rules, with retries and a
 * dead-letter queue. The schedule lives in the rule's own account and region.
 */
export class SchedulerBackstop implements ScheduleWriter {
  private readonly clientFor: SchedulerClientProvider;
  private readonly groupName: string;
  private readonly roleArnFor: (target: AwsTarget) => string;
  private readonly deadLetterArnFor: (target: AwsTarget) => string;
  private readonly partition: string;

  constructor(options: {
    clientFor: SchedulerClientProvider;
    groupName: string;
    /** The execution role in the target's account. */
    roleArnFor: (target: AwsTarget) => string;
    /** The dead-letter queue in the target's account and region. */
    deadLetterArnFor: (target: AwsTarget) => string;
    partition?: string;
  }) {
    this.clientFor = options.clientFor;
    this.groupName = options.groupName;
    this.roleArnFor = options.roleArnFor;
    this.deadLetterArnFor = options.deadLetterArnFor;
    this.partition = options.partition ?? 'aws';
  }

  /** The whole definition: UpdateSchedule replaces a schedule, so create and update send the same. */
  definition(schedule: BackstopSchedule): CreateScheduleCommandInput {
    return {
      Name: schedule.name,
      GroupName: this.groupName,
      Description: schedule.description.slice(0, 512),
      ScheduleExpression: atExpression(schedule.at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Target: {
        Arn: universalTargetArn(schedule.direction, this.partition),
        RoleArn: this.roleArnFor(schedule.target),
        Input: revokeInput(schedule),
        RetryPolicy: { ...BACKSTOP_RETRY_POLICY },
        DeadLetterConfig: { Arn: this.deadLetterArnFor(schedule.target) },
      },
    };
  }

  async put(schedule: BackstopSchedule): Promise<void> {
    const client = await this.clientFor(schedule.target);
    const { CreateScheduleCommand, UpdateScheduleCommand } = schedulerSdk();
    try {
      await client.send(new CreateScheduleCommand(this.definition(schedule)));
    } catch (error) {
      const err = awsError('CreateSchedule', error);
      // A retry of the same request (or a re-delivered event): make it what it should be now.
      if (err.awsCode !== 'ConflictException') throw err;
      try {
        await client.send(new UpdateScheduleCommand(this.definition(schedule)));
      } catch (again) {
        throw awsError('UpdateSchedule', again);
      }
    }
  }

  async move(schedule: BackstopSchedule): Promise<void> {
    const client = await this.clientFor(schedule.target);
    const { CreateScheduleCommand, UpdateScheduleCommand } = schedulerSdk();
    try {
      await client.send(new UpdateScheduleCommand(this.definition(schedule)));
    } catch (error) {
      const err = awsError('UpdateSchedule', error);
      // Gone (never made, or removed by hand): a moved expiry still needs its backstop.
      if (err.awsCode !== 'ResourceNotFoundException') throw err;
      try {
        await client.send(new CreateScheduleCommand(this.definition(schedule)));
      } catch (again) {
        throw awsError('CreateSchedule', again);
      }
    }
  }

  async remove(target: AwsTarget, name: string): Promise<boolean> {
    const client = await this.clientFor(target);
    const { DeleteScheduleCommand } = schedulerSdk();
    try {
      await client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.groupName }));
      return true;
    } catch (error) {
      const err = awsError('DeleteSchedule', error);
      if (err.awsCode === 'ResourceNotFoundException') return false;
      throw err;
    }
  }
}
