import type { ActionsBlock, KnownBlock, ModalView } from '@slack/types';
import type { AskView, NeedNotice } from '../../services/actors/ports';
import { MAX_JUSTIFICATION } from '../../services/decisions/states';
import { describeRule } from '../../services/detection/policy';
import { ActionIds, BlockIds, CallbackIds, InputActionIds } from '../ids';
import { code, literal, quoted, slackDate, truncate } from '../mrkdwn';
import { mrkdwn, plainText, SECTION_LIMIT, type SlackMessage, section } from './kit';

/** How many rules the direct message lists before it says how many more. */
const MAX_LISTED = 10;

/** The binding of an "I need it" dialog: the alert, and the direct message it was opened from. */
export interface NeedMetadata {
  alertId: string;
  channel: string;
  ts: string;
}

const ID = /^[\w:.-]{1,100}$/;
const TEXT = /^[\w.:-]{1,100}$/;

/** Reads the dialog's binding back; null when it names nothing sg-warden can read (it is checked in the table anyway). */
export function decodeNeedMetadata(text: unknown): NeedMetadata | null {
  if (typeof text !== 'string' || text.length > 1000) return null;
  try {
    const m = JSON.parse(text) as Record<string, unknown>;
    if (typeof m !== 'object' || m === null) return null;
    const { alertId, channel, ts } = m;
    if (typeof alertId !== 'string' || !ID.test(alertId)) return null;
    if (typeof channel !== 'string' || !TEXT.test(channel) || typeof ts !== 'string' || !TEXT.test(ts))
      return null;
    return { alertId, channel, ts };
  } catch {
    return null;
  }
}

function where(view: AskView): string {
  const { alert } = view;
  const account = view.accountAlias
    ? `${literal(alert.account)} (${literal(view.accountAlias)})`
    : literal(alert.account);
  const group = `${code(alert.groupId)}${alert.groupName ? ` ${literal(alert.groupName)}` : ''}`;
  return `${group} in account ${account}, ${literal(alert.region)}`;
}

/** The earliest deadline of the rules still pending, or null (notify only, or all decided). */
function deadlineOf(view: AskView): string | null {
  const deadlines = view.violations
    .filter((v) => v.status === 'PENDING' && v.deadline)
    .map((v) => v.deadline as string)
    .sort();
  return deadlines[0] ?? null;
}

function state(view: AskView): string {
  const pending = view.violations.filter((v) => v.status === 'PENDING').length;
  switch (view.ask.status) {
    case 'REVOKED':
      return `:leftwards_arrow_with_hook: You revoked it${view.ask.answeredAt ? ` ${slackDate(view.ask.answeredAt)}` : ''}. Thank you.`;
    case 'NEEDED':
      return `:raising_hand: You told the approvers why you need it${view.ask.answeredAt ? ` ${slackDate(view.ask.answeredAt)}` : ''}:\n${quoted(truncate(view.ask.justification ?? '', 1500))}\nThey decide in <#${view.channel}>; ${pending > 0 ? 'you can still revoke it yourself.' : 'it is decided.'}`;
    default: {
      if (pending === 0) return ':white_check_mark: It was decided meanwhile; see the alert.';
      const deadline = deadlineOf(view);
      return deadline
        ? `:hourglass: sg-warden revokes it ${slackDate(deadline)} unless an approver keeps it.`
        : ':bell: It is not revoked by the clock: an approver decides.';
    }
  }
}

/**
 * The direct message to a change's author: what they changed, where, the deadline, and — while anything is
 * pending and they have not answered — **Revoke it now** and **I need it**. Everything from AWS shown literally.
 */
export function askMessage(view: AskView): SlackMessage {
  const { alert } = view;
  const rules = view.violations.slice(0, MAX_LISTED).map((v) => {
    const decided = v.status === 'PENDING' ? '' : ` — ${v.status.toLowerCase().replace('_', ' ')}`;
    return `• *${v.severity}* ${code(describeRule(v.rule))}${v.rule.ruleId ? ` ${code(v.rule.ruleId)}` : ''}${decided}`;
  });
  if (view.violations.length > MAX_LISTED) rules.push(`…and ${view.violations.length - MAX_LISTED} more`);
  const count = view.violations.length === 1 ? 'a rule' : `${view.violations.length} rules`;
  const blocks: KnownBlock[] = [
    section(
      truncate(
        `:wave: Your change ${slackDate(alert.eventTime)} added ${count} that sg-warden flagged, on ${where(view)}:\n${rules.join('\n')}`,
        SECTION_LIMIT,
      ),
      'actor_change',
    ),
    section(`${state(view)}\nThe alert is in <#${view.channel}>.`, 'actor_state'),
  ];
  const pending = view.violations.some((v) => v.status === 'PENDING');
  // SENDING: the message being sent is the question itself.
  const asking = view.ask.status === 'SENDING' || view.ask.status === 'ASKED';
  const open = asking || view.ask.status === 'NEEDED';
  if (pending && open) {
    const actions: ActionsBlock = {
      type: 'actions',
      block_id: BlockIds.actorActions,
      elements: [
        {
          type: 'button',
          action_id: ActionIds.actorRevoke,
          text: plainText('Revoke it now'),
          style: 'danger',
          value: alert.alertId,
          confirm: {
            title: plainText('Revoke your change?'),
            text: mrkdwn(`This removes every rule of your change still pending from ${code(alert.groupId)}.`),
            confirm: plainText('Revoke'),
            deny: plainText('Cancel'),
            style: 'danger',
          },
        },
      ],
    };
    if (asking)
      actions.elements.push({
        type: 'button',
        action_id: ActionIds.actorNeed,
        text: plainText('I need it'),
        value: alert.alertId,
      });
    blocks.push(actions);
  }
  return {
    text: `sg-warden: your change on ${alert.groupId} (${alert.account} ${alert.region}) needs an answer`,
    blocks,
  };
}

/** The "I need it" dialog: the reason goes to the approvers and the audit trail. */
export function needModal(metadata: NeedMetadata): ModalView {
  return {
    type: 'modal',
    callback_id: CallbackIds.actorNeedModal,
    private_metadata: JSON.stringify(metadata),
    title: plainText('I need it'),
    submit: plainText('Send to approvers'),
    close: plainText('Cancel'),
    blocks: [
      section(
        'Say why this rule must stay open. It is posted in the alert’s thread for the approvers and kept in the audit trail. An approver still decides: you cannot keep your own change.',
      ),
      {
        type: 'input',
        block_id: BlockIds.actorNeedReason,
        label: plainText('Why do you need it?'),
        element: {
          type: 'plain_text_input',
          action_id: InputActionIds.justification,
          multiline: true,
          max_length: MAX_JUSTIFICATION,
        },
      },
    ],
  };
}

/** The notice in the alert's thread: the author's reason, to the approvers (mentioned). */
export function needNoticeText(notice: NeedNotice): string {
  const approvers = [
    ...notice.approvers.users.map((u) => `<@${u}>`),
    ...notice.approvers.userGroups.map((g) => `<!subteam^${g}>`),
  ];
  const to = approvers.length > 0 ? `${approvers.join(' ')}: ` : '';
  return truncate(
    `:raising_hand: ${to}<@${notice.user}> made this change and says they need it:\n${quoted(notice.justification)}\nKeep it with *Keep…* on the alert, or revoke it; they cannot keep it themselves.`,
    SECTION_LIMIT,
  );
}
