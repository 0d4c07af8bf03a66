import { recordRefusal } from '../kernel/refusal';
import type { SgEvent } from '../shared/model';
import type { AccountScope } from '../shared/ports';
import type { AlertDeps } from '../violations/alerts';
import { eventActor } from './own-rules';
import { principalName } from './principal-name';

/** Why an event is refused before anything is evaluated, or null when it may go on. */
export function intakeRefusal(
  accounts: AccountScope,
  event: SgEvent,
): { code: string; message: string } | null {
  if (event.mismatch) {
    return {
      code: 'EVENT_MISMATCH',
      message: `${event.eventName} ${event.eventId} does not add up: ${event.mismatch}.`,
    };
  }
  if (!accounts.isWatched(event.account)) {
    return {
      code: 'ACCOUNT_NOT_WATCHED',
      message: `${event.eventName} ${event.eventId} is from account ${event.account}, which sg-warden does not watch (accounts.watched): refused, not evaluated in the bot's own account.`,
    };
  }
  return null;
}

/** Logs (warn) and audits an event refused at the door; the subject is the alert the event would have made. */
export async function refuseEvent(
  deps: Pick<AlertDeps, 'store' | 'clock' | 'logger'>,
  event: SgEvent,
  refusal: { code: string; message: string },
): Promise<void> {
  deps.logger.warn(
    {
      eventId: event.eventId,
      eventName: event.eventName,
      account: event.account,
      region: event.region,
      code: refusal.code,
      why: refusal.message,
    },
    'event refused',
  );
  await recordRefusal(deps, {
    subject: { id: event.eventId, type: 'alert' },
    action: 'detect',
    by: eventActor(event, principalName(event.actor.arn)),
    refusal,
    details: {
      eventName: event.eventName,
      account: event.account,
      region: event.region,
      groupId: event.groupId,
      ruleIds: event.ruleIds,
      sourceIp: event.actor.sourceIp,
    },
  });
}
