import type { Refusal } from '../services/kernel/refusal';

/**
 * The one rule for what a person reads when sg-warden will not, or could not, do what they asked: the
 * service's sentence unchanged, then its stable code in parentheses — `… (NOT_AUTHORISED)` — so every
 * such answer ends the same way and can be quoted to whoever runs sg-warden. Answers that did what was
 * asked carry no code. Plain text: the caller escapes it for where it goes (mrkdwn, HTML).
 */
export function refusalText(refusal: Refusal): string {
  return `${refusal.message} (${refusal.code})`;
}
