import { describeError, SgWardenError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type AuditActor, type AuditSubject, auditEntry } from './audit';
import type { StateStore } from './state';

/**
 * sg-warden's one answer to a request it will not carry out: a stable code and the sentence the person
 * sees. Services return it as a value, or throw it as a RefusedError where a call has no other answer.
 */
export interface Refusal {
  code: string;
  message: string;
}

/**
 * The one rule for what a person reads when sg-warden will not, or could not, do what they asked: the
 * service's sentence unchanged, then its stable code in parentheses — `… (NOT_AUTHORISED)` — so every
 * such answer ends the same way and can be quoted to whoever runs sg-warden. Answers that did what was
 * asked carry no code. Plain text: the caller escapes it for where it goes (mrkdwn in Slack, HTML on the
 * `me` page).
 */
export function refusalText(refusal: Refusal): string {
  return `${refusal.message} (${refusal.code})`;
}

/** A Refusal thrown: the door turns it into the sentence, like any SgWardenError. */
export class RefusedError extends SgWardenError {
  constructor(refusal: Refusal, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(refusal.code, refusal.message, options);
  }

  get refusal(): Refusal {
    return { code: this.code, message: this.message };
  }
}

/** The refusal an error stands for: its code and sentence when sg-warden raised it on purpose. */
export function refusalOf(error: unknown): Refusal | null {
  return error instanceof SgWardenError ? { code: error.code, message: error.message } : null;
}

export interface RefusalRecord {
  subject: AuditSubject;
  action: string;
  by: AuditActor;
  refusal: Refusal;
  fromState?: string | null;
  justification?: string;
  details?: Record<string, unknown>;
}

/**
 * Puts a refusal on the audit trail (who asked for what, and why not) and logs it; returns the refusal.
 * A refusal that cannot be audited is logged as an error and still returned: the person still gets
 * their answer, and nothing moved.
 */
export async function recordRefusal(
  deps: { store: Pick<StateStore, 'appendAudit'>; clock: () => Date; logger: Logger },
  record: RefusalRecord,
): Promise<Refusal> {
  const { subject, action, by, refusal } = record;
  await deps.store
    .appendAudit(
      auditEntry({ id: subject.id.slice(0, 100), type: subject.type }, by, {
        action,
        fromState: record.fromState ?? null,
        toState: null,
        result: 'refused',
        error: refusal.message,
        ...(record.justification ? { justification: record.justification } : {}),
        details: { code: refusal.code, ...record.details },
        at: deps.clock().toISOString(),
      }),
    )
    .catch((error: unknown) =>
      deps.logger.error({ err: describeError(error), action, subject: subject.id }, 'refusal not audited'),
    );
  deps.logger.info({ actor: by.id, action, code: refusal.code, subject: subject.id }, 'request refused');
  return refusal;
}
