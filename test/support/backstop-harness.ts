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
  type GetScheduleCommandOutput,
  ListSchedulesCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { SQSEvent } from 'aws-lambda';
import { motoUrl } from './aws';
import { eventBridgeEvent, revokeIngressRecord } from './cloudtrail-factory';

/**
 * What AWS does for the backstop, against moto: moto keeps the schedules (CreateSchedule, UpdateSchedule,
 * DeleteSchedule) but never runs them. `fireDue(now)` does: every schedule of the group whose `at(…)` is at
 * or before `now` calls its target, EC2's universal target, with its exact Input as the API's own request,
 * as its execution role (assumed through moto's STS, in the schedule's account and region). A success
 * becomes CloudTrail's record of that call for detection; a failure becomes a dead letter; either way the
 * schedule is deleted (ActionAfterCompletion: DELETE). So a test proves the Input is what EC2 accepts.
 */

const TEST_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
export const MOTO_OWN_ACCOUNT = '123456789012';

/** Where schedules live: an account (moto's own, or a member reached by assuming a role) and a region. */
export interface SchedulePlace {
  account: string;
  region: string;
}

export interface Fired {
  name: string;
  place: SchedulePlace;
  /** What EC2 said: null when the revoke succeeded. */
  error: { code: string; message: string } | null;
}

/** The universal targets the harness runs (a schedule naming another is a test failure, not a skip). */
const ACTIONS = {
  revokeSecurityGroupIngress: RevokeSecurityGroupIngressCommand,
  revokeSecurityGroupEgress: RevokeSecurityGroupEgressCommand,
} as const;

async function assumed(roleArn: string, region: string, session: string) {
  const sts = new STSClient({ region, endpoint: motoUrl(), credentials: TEST_CREDENTIALS });
  const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: session }));
  const c = out.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
}

/** A Scheduler client in the place's account (moto maps an assumed role's credentials to its account). */
export async function schedulerIn(place: SchedulePlace): Promise<SchedulerClient> {
  const credentials =
    place.account === MOTO_OWN_ACCOUNT
      ? TEST_CREDENTIALS
      : await assumed(`arn:aws:iam::${place.account}:role/sg-warden-test-admin`, place.region, 'harness');
  return new SchedulerClient({ region: place.region, endpoint: motoUrl(), credentials });
}

/** Creates sg-warden's schedule group in the place (what serverless.yml and the region stacks do). */
export async function createScheduleGroup(place: SchedulePlace, group: string): Promise<void> {
  await (await schedulerIn(place)).send(new CreateScheduleGroupCommand({ Name: group }));
}

/** Every schedule of the group in the place, with its whole definition. */
export async function schedulesIn(place: SchedulePlace, group: string): Promise<GetScheduleCommandOutput[]> {
  const client = await schedulerIn(place);
  const list = await client.send(new ListSchedulesCommand({ GroupName: group }));
  const out: GetScheduleCommandOutput[] = [];
  for (const s of list.Schedules ?? []) {
    out.push(await client.send(new GetScheduleCommand({ GroupName: group, Name: s.Name! })));
  }
  return out;
}

/** The time an `at(yyyy-mm-ddThh:mm:ss)` expression names, read in UTC. */
export function atTime(expression: string, timezone = 'UTC'): Date {
  if (timezone !== 'UTC') throw new Error(`the harness reads at() in UTC only, not ${timezone}`);
  const match = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (!match) throw new Error(`not a one-time schedule expression: ${expression}`);
  return new Date(`${match[1]}Z`);
}

export interface FireOptions {
  /** Where to look: each account and region the test put rules in. */
  places: SchedulePlace[];
  group: string;
  /** Detection: the EventBridge event of the revoke's CloudTrail record. */
  onCloudTrail?: (event: ReturnType<typeof eventBridgeEvent>) => Promise<unknown>;
  /** The dead-letter queue's consumer: an SQS event of the dead letter. */
  onDeadLetter?: (event: SQSEvent) => Promise<unknown>;
}

/** Runs every schedule due at `now`, as EventBridge Scheduler would. */
export async function fireDue(now: Date, options: FireOptions): Promise<Fired[]> {
  const fired: Fired[] = [];
  for (const place of options.places) {
    for (const schedule of await schedulesIn(place, options.group)) {
      if (schedule.State !== 'ENABLED') continue;
      if (atTime(schedule.ScheduleExpression!, schedule.ScheduleExpressionTimezone) > now) continue;
      fired.push(await fire(place, schedule, options));
    }
  }
  return fired;
}

async function fire(
  place: SchedulePlace,
  schedule: GetScheduleCommandOutput,
  options: FireOptions,
): Promise<Fired> {
  const target = schedule.Target!;
  const match = /^arn:aws:scheduler:::aws-sdk:ec2:([A-Za-z]+)$/.exec(target.Arn ?? '');
  const Command = match ? ACTIONS[match[1] as keyof typeof ACTIONS] : undefined;
  if (!Command) throw new Error(`the harness does not run target ${target.Arn}`);
  const roleArn = target.RoleArn!;
  // Scheduler assumes the execution role, in the schedule's account: it must be that account's role.
  if (roleArn.split(':')[4] !== place.account)
    throw new Error(`execution role ${roleArn} is not in the schedule's account ${place.account}`);
  const session = randomBytes(16).toString('hex');
  const ec2 = new EC2Client({
    region: place.region,
    endpoint: motoUrl(),
    credentials: await assumed(roleArn, place.region, session),
  });
  const input = JSON.parse(target.Input!);
  let error: Fired['error'] = null;
  try {
    if (match![1] === 'revokeSecurityGroupIngress')
      await ec2.send(new RevokeSecurityGroupIngressCommand(input));
    else await ec2.send(new RevokeSecurityGroupEgressCommand(input));
  } catch (e) {
    const err = e as { name?: string; Code?: string; message?: string };
    error = { code: err.Code ?? err.name ?? 'Unknown', message: err.message ?? '' };
  }
  const name = schedule.Name!;
  if (!error && options.onCloudTrail) {
    const roleName = roleArn.split('/').at(-1)!;
    const record = revokeIngressRecord({
      groupId: input.GroupId,
      ruleIds: input.SecurityGroupRuleIds,
      region: place.region,
      account: place.account,
      principalArn: `arn:aws:sts::${place.account}:assumed-role/${roleName}/${session}`,
    });
    if (match![1] === 'revokeSecurityGroupEgress') record.eventName = 'RevokeSecurityGroupEgress';
    await options.onCloudTrail(eventBridgeEvent(record));
  }
  if (error && options.onDeadLetter) {
    const dlq = target.DeadLetterConfig?.Arn;
    if (!dlq) throw new Error(`schedule ${name} has no dead-letter queue`);
    const attribute = (stringValue: string) => ({
      stringValue,
      dataType: 'String' as const,
      stringListValues: [],
      binaryListValues: [],
    });
    await options.onDeadLetter({
      Records: [
        {
          messageId: randomBytes(8).toString('hex'),
          receiptHandle: 'harness',
          body: target.Input!,
          attributes: {} as never,
          messageAttributes: {
            SCHEDULE_ARN: attribute(schedule.Arn!),
            ERROR_CODE: attribute(error.code),
            ERROR_MESSAGE: attribute(error.message),
          },
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: dlq,
          awsRegion: place.region,
        },
      ],
    });
  }
  if (schedule.ActionAfterCompletion === 'DELETE') {
    await (await schedulerIn(place)).send(
      new DeleteScheduleCommand({ GroupName: schedule.GroupName, Name: name }),
    );
  }
  return { name, place, error };
}
