import { randomBytes } from 'node:crypto';
import {
  EC2Client,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListSchedulesCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { Logger } from '../services/shared/logger';
import { credentialsOf } from './aws-personas';

/**
 * What EventBridge Scheduler does for the backstop, in the sandbox (the test harness's idea,
 * test/support/backstop-harness.ts): moto keeps the schedules but never runs them, so on every tick of
 * the sandbox's clock (the bot's, which "skip ahead" moves) each schedule of the group that is due calls
 * its target (EC2's universal target) with its exact Input, as the execution role (the `backstop`
 * persona's key, so CloudTrail's record names that role's session), and is deleted, as
 * `ActionAfterCompletion: DELETE` does. A failed run becomes a dead letter for backstopDeadLetters.
 * It runs whether or not the page stopped the sweeper: that is the point.
 */
export class BackstopRunner {
  private readonly scheduler: SchedulerClient;
  private readonly ec2: EC2Client;
  private running: Promise<number> | null = null;

  constructor(
    private readonly options: {
      endpoint: string;
      region: string;
      group: string;
      now: () => Date;
      logger: Logger;
      /** The dead-letter queue's consumer (the backstopDeadLetters Lambda), with an SQS event. */
      deadLetter: (event: Record<string, unknown>) => Promise<unknown>;
    },
  ) {
    const base = { region: options.region, endpoint: options.endpoint };
    this.scheduler = new SchedulerClient({ ...base, credentials: credentialsOf('bot') });
    this.ec2 = new EC2Client({ ...base, credentials: credentialsOf('backstop') });
  }

  /** Makes sg-warden's schedule group unless it is there (the deploy's BackstopScheduleGroup). */
  async ensureGroup(): Promise<void> {
    try {
      await this.scheduler.send(new GetScheduleGroupCommand({ Name: this.options.group }));
    } catch {
      await this.scheduler.send(new CreateScheduleGroupCommand({ Name: this.options.group }));
    }
  }

  /** Runs every due schedule once; resolves with how many ran. One tick at a time. */
  tick(): Promise<number> {
    this.running ??= this.fireDue().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async fireDue(): Promise<number> {
    const { group, now, logger } = this.options;
    const list = await this.scheduler.send(new ListSchedulesCommand({ GroupName: group }));
    let ran = 0;
    for (const summary of list.Schedules ?? []) {
      const schedule = await this.scheduler.send(
        new GetScheduleCommand({ GroupName: group, Name: summary.Name! }),
      );
      const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(schedule.ScheduleExpression ?? '')?.[1];
      if (schedule.State !== 'ENABLED' || !at || new Date(`${at}Z`) > now()) continue;
      const target = schedule.Target!;
      const action = /^arn:aws:scheduler:::aws-sdk:ec2:(revokeSecurityGroup(?:Ingress|Egress))$/.exec(
        target.Arn ?? '',
      )?.[1];
      const input = JSON.parse(target.Input ?? '{}');
      let error: { code: string; message: string } | null = null;
      try {
        if (action === 'revokeSecurityGroupIngress')
          await this.ec2.send(new RevokeSecurityGroupIngressCommand(input));
        else if (action === 'revokeSecurityGroupEgress')
          await this.ec2.send(new RevokeSecurityGroupEgressCommand(input));
        else error = { code: 'UnsupportedTarget', message: `the sandbox does not run ${target.Arn}` };
      } catch (e) {
        const err = e as { name?: string; Code?: string; message?: string };
        error = { code: err.Code ?? err.name ?? 'Unknown', message: err.message ?? '' };
      }
      logger.info(
        { schedule: schedule.Name, error },
        error ? 'backstop ran and failed' : 'backstop revoked its rule',
      );
      if (error) await this.options.deadLetter(deadLetterEvent(schedule.Arn!, target, error));
      if (schedule.ActionAfterCompletion === 'DELETE')
        await this.scheduler.send(new DeleteScheduleCommand({ GroupName: group, Name: schedule.Name! }));
      ran++;
    }
    return ran;
  }
}

function deadLetterEvent(
  scheduleArn: string,
  target: { Input?: string; DeadLetterConfig?: { Arn?: string } },
  error: { code: string; message: string },
): Record<string, unknown> {
  const attribute = (stringValue: string) => ({ stringValue, dataType: 'String' });
  return {
    Records: [
      {
        messageId: randomBytes(8).toString('hex'),
        body: target.Input ?? '',
        messageAttributes: {
          SCHEDULE_ARN: attribute(scheduleArn),
          ERROR_CODE: attribute(error.code),
          ERROR_MESSAGE: attribute(error.message),
        },
        eventSource: 'aws:sqs',
        eventSourceARN: target.DeadLetterConfig?.Arn ?? '',
      },
    ],
  };
}
