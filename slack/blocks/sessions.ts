import type { GrantSessions } from '../../services/grants/deps';
import { sessionTotals } from '../../services/sessions/end';
import type { SessionsItem } from '../../services/sessions/items';
import { describePeer, describePorts, STAYS_UNTIL_IDLE } from '../../services/sessions/plan';
import { code, escapeMrkdwn, literal, showControls } from '../mrkdwn';
import { count } from '../plural';
import { context, type SlackMessage, section } from './kit';

/** Said in plain words (no markup): where sessions are not ended, what happens to an open one. */
export const STAYS_UNTIL_IDLE_TEXT = STAYS_UNTIL_IDLE;

/** One mrkdwn line for a grant's end: what became of its owner's open connections. */
export function grantSessionsLine(sessions: GrantSessions): string {
  switch (sessions.kind) {
    case 'off':
      return `:information_source: ${STAYS_UNTIL_IDLE}`;
    case 'sent':
      return `:scissors: sg-warden is closing your open TCP connections from ${code(describePeer(sessions.scope))} to ${describePorts(sessions.scope)} on ${count(sessions.instanceIds.length, 'instance')}; you get the count here when they answer.`;
    case 'none':
      return `:information_source: No open connection could be left behind: ${literal(sessions.reason)}.`;
    default:
      return `:warning: Your open connections could not be closed: ${literal(sessions.reason)}. ${STAYS_UNTIL_IDLE}`;
  }
}

function instanceLabel(item: SessionsItem, id: string): string {
  const name = item.instanceNames[id];
  return name ? `${code(id)} (${literal(name)})` : code(id);
}

/** The count, once every instance answered: to the grant's owner by DM, or in the alert's thread. */
export function sessionsEndedMessage(item: SessionsItem): SlackMessage {
  const totals = sessionTotals(item);
  const what = `from ${describePeer(item.scope)} to ${describePorts(item.scope)}`;
  const lines = item.instanceIds.map((id) => {
    const i = item.invocations[id];
    if (i?.ended !== undefined)
      return `• ${instanceLabel(item, id)}: ${count(i.ended, 'connection')} closed${i.remaining ? `, ${i.remaining} still open` : ''}`;
    return `• ${instanceLabel(item, id)}: no count — ${literal(i?.error ?? 'no answer')}`;
  });
  for (const s of item.skipped) lines.push(`• ${code(s.instanceId)}: not sent — ${literal(s.why)}`);
  const subject =
    item.subject.type === 'grant'
      ? `grant ${code(item.subject.id)}`
      : `the revoked rule (${code(item.subject.id)})`;
  const head =
    totals.failed.length === 0
      ? `:scissors: Closed ${count(totals.ended, 'open TCP connection')} ${escapeMrkdwn(what)} for ${subject}.`
      : `:warning: Closed ${count(totals.ended, 'open TCP connection')} ${escapeMrkdwn(what)} for ${subject}; ${count(totals.failed.length, 'instance')} gave no count, and a connection there stays until idle.`;
  const text = showControls(
    `${totals.failed.length === 0 ? 'Closed' : 'Closed (some instances gave no count)'} ${totals.ended} open TCP connection${totals.ended === 1 ? '' : 's'} ${what} for ${item.subject.id}.`,
  );
  return {
    text: escapeMrkdwn(text),
    blocks: [
      section(`${head}\n${lines.join('\n')}`),
      context(`SSM command ${code(item.commandId)} · \`/sg-status audit ${item.subject.id}\``),
    ],
  };
}
