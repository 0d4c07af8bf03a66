import type {
  ContextBlock,
  DividerBlock,
  HeaderBlock,
  KnownBlock,
  MrkdwnElement,
  PlainTextElement,
  SectionBlock,
} from '@slack/types';
import { truncate } from '../mrkdwn';

/**
 * The Block Kit pieces every builder uses, typed by @slack/types. Every mrkdwn text object is
 * `verbatim`: Slack then leaves text as sent (no bare URL, channel name or mention turned into a link),
 * while sg-warden's own tokens (`<@U…>`, `<!date^…>`, `<url|label>`) still work.
 */

/** Slack's limit for a section's (or a context element's) text. */
export const SECTION_LIMIT = 3000;
/** Slack's limit for a header's text. */
export const HEADER_LIMIT = 150;

/** A message: the plain-text fallback (notifications, screen readers) and its blocks. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/** A mrkdwn text object that Slack shows verbatim (no automatic links). */
export function mrkdwn(text: string): MrkdwnElement {
  return { type: 'mrkdwn', text, verbatim: true };
}

/** A plain_text object. */
export function plainText(text: string): PlainTextElement {
  return { type: 'plain_text', text };
}

/** A section of mrkdwn, cut to Slack's limit. */
export function section(text: string, blockId?: string): SectionBlock {
  return {
    type: 'section',
    ...(blockId ? { block_id: blockId } : {}),
    text: mrkdwn(truncate(text, SECTION_LIMIT)),
  };
}

/** A header line, cut to Slack's limit. */
export function header(text: string): HeaderBlock {
  return { type: 'header', text: plainText(truncate(text, HEADER_LIMIT)) };
}

/** A context line of mrkdwn, cut to Slack's limit. */
export function context(text: string): ContextBlock {
  return { type: 'context', elements: [mrkdwn(truncate(text, SECTION_LIMIT))] };
}

export const divider: DividerBlock = { type: 'divider' };

/**
 * A mrkdwn sentence as a message whose text Slack shows verbatim: a top-level `text` alone would be
 * parsed for links, so it also travels as sections (split at Slack's limit, at a line break when near).
 */
export function textMessage(text: string): SlackMessage {
  if (text.trim().length === 0) return { text, blocks: [] };
  const blocks: KnownBlock[] = [];
  let rest = text;
  while (rest.length > 0 && blocks.length < 50) {
    let cut = Math.min(rest.length, SECTION_LIMIT);
    if (cut < rest.length) {
      const newline = rest.lastIndexOf('\n', cut);
      if (newline > SECTION_LIMIT - 500) cut = newline + 1;
      // Never inside an escaped character (&amp;, &lt;, &gt;).
      const amp = rest.lastIndexOf('&', cut - 1);
      if (amp > cut - 6 && !rest.slice(amp, cut).includes(';')) cut = amp;
    }
    blocks.push(section(rest.slice(0, cut)));
    rest = rest.slice(cut);
  }
  return { text, blocks };
}
