import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { Config } from '../../services/config/config';
import type { DecisionTarget } from '../../services/decisions/requests';
import { MAX_JUSTIFICATION } from '../../services/decisions/states';
import { keepChoiceValue, keepDurationFor } from '../../services/decisions/who-may';
import { describeRule } from '../../services/detection/policy';
import type { ViolationItem } from '../../services/violations/items';
import { BlockIds, CallbackIds, InputActionIds } from '../ids';
import { code, literal, truncate } from '../mrkdwn';
import { plainText, section } from './kit';

/**
 * The Keep dialog's binding, carried in its private_metadata: what it is about (the rules, and their alert
 * once sg-warden has read it; or every pending rule of an alert) and the alert message it was opened from
 * (channel and ts; absent when the button's payload did not say). Set by us, and still checked against the
 * table on submit: a binding that is missing or names another alert's rule is refused.
 */
export type KeepMetadata = DecisionTarget & { channel?: string; ts?: string };

const ID = /^[\w:.-]{1,100}$/;
const isId = (value: unknown): value is string => typeof value === 'string' && ID.test(value);
const isText = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= 100;

export function encodeKeepMetadata(metadata: KeepMetadata): string {
  return JSON.stringify(metadata);
}

/** Reads the dialog's metadata back; null when it names nothing sg-warden can read. */
export function decodeKeepMetadata(text: unknown): KeepMetadata | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 3000) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  const message = {
    ...(isText(m.channel) ? { channel: m.channel } : {}),
    ...(isText(m.ts) ? { ts: m.ts } : {}),
  };
  if (m.alertId !== undefined && !isId(m.alertId)) return null;
  if (m.violationIds !== undefined) {
    if (
      !Array.isArray(m.violationIds) ||
      m.violationIds.length === 0 ||
      m.violationIds.length > 50 ||
      !m.violationIds.every(isId)
    )
      return null;
    return {
      violationIds: m.violationIds as string[],
      ...(isId(m.alertId) ? { alertId: m.alertId } : {}),
      ...message,
    };
  }
  return isId(m.alertId) ? { alertId: m.alertId, ...message } : null;
}

/** The request a dialog's metadata names (without where it came from). */
export function keepTarget(metadata: KeepMetadata): DecisionTarget {
  if (!('violationIds' in metadata)) return { alertId: metadata.alertId };
  return {
    violationIds: metadata.violationIds,
    ...(metadata.alertId !== undefined ? { alertId: metadata.alertId } : {}),
  };
}

/** "1 hour", "7 days", "Permanent". */
export function durationLabel(seconds: number | null): string {
  if (seconds === null) return 'Permanent';
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of units) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

/** The select's value for a duration. */
export function durationValue(seconds: number | null): string {
  return keepChoiceValue(seconds);
}

/** A submitted duration: seconds, null for permanent, undefined when it is not a value we offer. */
export function parseDurationValue(value: unknown, config: Config): number | null | undefined {
  return keepDurationFor(config, value);
}

/** The choices before the rules are read (the dialog must open at once): permanent is labelled with where it is allowed. */
export function initialChoices(config: Config): (number | null)[] {
  return [...config.decisions.keepDurations, ...(config.decisions.permanentKeepFor.length > 0 ? [null] : [])];
}

function option(seconds: number | null, config: Config, exact: boolean): PlainTextOption {
  const label =
    seconds === null && !exact
      ? `Permanent (only ${config.decisions.permanentKeepFor.join('/')} rules)`
      : durationLabel(seconds);
  return { text: plainText(truncate(label, 75)), value: durationValue(seconds) };
}

/** One or more rules, in words, for the dialog. */
export function keepSummary(violations: ViolationItem[]): string {
  const lines = violations.map(
    (v) =>
      `• *${v.severity.toUpperCase()}* ${code(describeRule(v.rule))} in ${code(v.groupId)} (${literal(v.region)})`,
  );
  const head =
    violations.length === 1
      ? literal(violations[0]!.reasons[0] ?? '')
      : `${violations.length} pending rules of this alert:`;
  return truncate(`${head}\n${lines.join('\n')}`, 2900);
}

/**
 * The Keep dialog: a required justification and a duration. `summary` null means the rules are still
 * being read (the dialog opens first, within the trigger's 3 seconds, and is updated when they are).
 */
export function keepModal(options: {
  metadata: KeepMetadata;
  choices: (number | null)[];
  summary: string | null;
  config: Config;
  count?: number;
}): ModalView {
  const { metadata, choices, summary, config } = options;
  const count = options.count ?? ('violationIds' in metadata ? metadata.violationIds.length : 0);
  const options_ = choices.map((c) => option(c, config, summary !== null));
  const blocks: KnownBlock[] = [
    section(summary ?? ':hourglass_flowing_sand: Reading the rule…', BlockIds.keepSummary),
    {
      type: 'input',
      block_id: BlockIds.keepJustification,
      label: plainText('Why must it stay open?'),
      element: {
        type: 'plain_text_input',
        action_id: InputActionIds.justification,
        multiline: true,
        max_length: MAX_JUSTIFICATION,
        placeholder: plainText("e.g. partner's load test until Friday, ticket CHG-1234"),
      },
      hint: plainText('Recorded in the audit trail and shown on the alert.'),
    },
    {
      type: 'input',
      block_id: BlockIds.keepDuration,
      label: plainText('Keep it for'),
      element: {
        type: 'static_select',
        action_id: InputActionIds.duration,
        options: options_,
        ...(options_[0] ? { initial_option: options_[0] } : {}),
      },
      hint: plainText('When it runs out, sg-warden asks again: the rule is never kept silently forever.'),
    },
  ];
  return {
    type: 'modal',
    callback_id: CallbackIds.keepModal,
    private_metadata: encodeKeepMetadata(metadata),
    title: plainText(count > 1 || 'alertId' in metadata ? 'Keep rules' : 'Keep rule'),
    submit: plainText('Keep'),
    close: plainText('Cancel'),
    blocks,
  };
}

/** The dialog replaced by a refusal: no submit button, just why. */
export function keepRefusalModal(text: string): ModalView {
  return {
    type: 'modal',
    callback_id: CallbackIds.keepModal,
    title: plainText('Cannot keep'),
    close: plainText('Close'),
    blocks: [section(`:no_entry_sign: ${truncate(text, 2900)}`)],
  };
}
