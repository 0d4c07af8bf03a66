/**
 * Slack mrkdwn → HTML, for the local workspace page. Safe by construction: every piece of text is
 * HTML-escaped on its way out, and only the few tags below are ever produced.
 */
import { escapeHtml } from '../../web/html';

export interface MrkdwnContext {
  /** Slack user ID → display name, for <@U…> mentions. */
  users: Record<string, string>;
  /** Slack user-group ID → handle, for <!subteam^S…> mentions. */
  userGroups?: Record<string, string>;
  /** Channel ID → name, for <#C…> mentions without a label. */
  channels?: Record<string, string>;
  /** "Now", for relative dates; defaults to the real clock. */
  now?: Date;
}

/** Slack escapes &, < and > in message text; this undoes it before the text is escaped for HTML. */
function decodeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Slack's short codes the bot (and people) use, as the characters Slack shows. */
export const EMOJI: Record<string, string> = {
  red_circle: '🔴',
  large_orange_circle: '🟠',
  large_yellow_circle: '🟡',
  white_circle: '⚪',
  large_green_circle: '🟢',
  no_entry: '⛔',
  alarm_clock: '⏰',
  ghost: '👻',
  white_check_mark: '✅',
  heavy_check_mark: '✔️',
  shield: '🛡️',
  x: '❌',
  test_tube: '🧪',
  hourglass_flowing_sand: '⏳',
  hourglass: '⌛',
  repeat: '🔁',
  bell: '🔔',
  warning: '⚠️',
  lock: '🔒',
  scissors: '✂️',
  unlock: '🔓',
  key: '🔑',
  rocket: '🚀',
  clock1: '🕐',
  stopwatch: '⏱️',
  hammer_and_wrench: '🛠️',
  gear: '⚙️',
  mag: '🔍',
  memo: '📝',
  clipboard: '📋',
  information_source: 'ℹ️',
  eyes: '👀',
  thumbsup: '👍',
  '+1': '👍',
  wave: '👋',
  raised_hand: '✋',
  hand: '✋',
  white_circle_with_check: '✅',
  heavy_multiplication_x: '✖️',
  speech_balloon: '💬',
  raising_hand: '🙋',
  point_right: '👉',
  hourglass_done: '⌛',
  hourglass_not_done: '⏳',
  rotating_light: '🚨',
  fire: '🔥',
  computer: '💻',
  globe_with_meridians: '🌐',
  link: '🔗',
  door: '🚪',
  traffic_light: '🚦',
  stop_sign: '🛑',
  zzz: '💤',
  arrows_counterclockwise: '🔄',
  checkered_flag: '🏁',
  no_entry_sign: '🚫',
  bust_in_silhouette: '👤',
  busts_in_silhouette: '👥',
  calendar: '📅',
  inbox_tray: '📥',
  outbox_tray: '📤',
  page_facing_up: '📄',
  scroll: '📜',
  pencil: '✏️',
  pushpin: '📌',
  grey_question: '❔',
  question: '❓',
  grey_exclamation: '❕',
  exclamation: '❗',
  large_blue_circle: '🔵',
  large_purple_circle: '🟣',
  black_circle: '⚫',
  heavy_plus_sign: '➕',
  heavy_minus_sign: '➖',
  arrow_right: '➡️',
  timer_clock: '⏲️',
  lock_with_ink_pen: '🔏',
  closed_lock_with_key: '🔐',
  label: '🏷️',
  mailbox: '📫',
  envelope: '✉️',
  package: '📦',
  wrench: '🔧',
  hammer: '🔨',
  tada: '🎉',
  sparkles: '✨',
  bulb: '💡',
  construction: '🚧',
  skull: '💀',
  robot_face: '🤖',
  satellite: '📡',
  earth_africa: '🌍',
  house: '🏠',
  office: '🏢',
  red_square: '🟥',
  large_orange_diamond: '🔶',
  small_orange_diamond: '🔸',
  small_blue_diamond: '🔹',
  white_large_square: '⬜',
  black_large_square: '⬛',
  ballot_box_with_check: '☑️',
  heavy_check: '✔️',
  negative_squared_cross_mark: '❎',
  leftwards_arrow_with_hook: '↩️',
  arrows_clockwise: '🔃',
  new: '🆕',
  sos: '🆘',
  id: '🆔',
};

function emoji(text: string): string {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => EMOJI[name] ?? whole);
}

const pad = (n: number) => String(n).padStart(2, '0');
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function dayDiff(date: Date, now: Date): number {
  const a = new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
  const b = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  return Math.round((a - b) / 86_400_000);
}

function ago(date: Date, now: Date): string {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const [n, unit] =
    abs < 60
      ? [abs, 'second']
      : abs < 3600
        ? [Math.round(abs / 60), 'minute']
        : abs < 86_400
          ? [Math.round(abs / 3600), 'hour']
          : [Math.round(abs / 86_400), 'day'];
  const phrase = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return seconds >= 0 ? `in ${phrase}` : `${phrase} ago`;
}

/** Formats a Slack date token's format string ({date_short_pretty} {time}, …) in the reader's time zone. */
export function formatSlackDate(epochSeconds: number, format: string, now = new Date()): string {
  const d = new Date(epochSeconds * 1000);
  const short = `${MONTHS[d.getMonth()]!.slice(0, 3)} ${d.getDate()}`;
  const long = `${DAYS[d.getDay()]}, ${MONTHS[d.getMonth()]} ${d.getDate()}${d.getFullYear() === now.getFullYear() ? '' : `, ${d.getFullYear()}`}`;
  const pretty = (fallback: string) => {
    const diff = dayDiff(d, now);
    return diff === 0 ? 'today' : diff === 1 ? 'tomorrow' : diff === -1 ? 'yesterday' : fallback;
  };
  const parts: Record<string, string> = {
    date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date: `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`,
    date_short: short,
    date_long: long,
    date_pretty: pretty(`${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`),
    date_short_pretty: pretty(short),
    date_long_pretty: pretty(long),
    time: `${pad(d.getHours())}:${pad(d.getMinutes())}`,
    time_secs: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
    ago: ago(d, now),
  };
  return format.replace(/\{([a-z_]+)\}/g, (whole, key: string) => parts[key] ?? whole);
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

/** One `<…>` token: mention, channel, special mention, date or link. */
function token(inner: string, ctx: MrkdwnContext): string {
  const bar = inner.indexOf('|');
  const target = bar === -1 ? inner : inner.slice(0, bar);
  const label = bar === -1 ? null : inner.slice(bar + 1);
  if (target.startsWith('@U') || target.startsWith('@W')) {
    const id = target.slice(1);
    const name = ctx.users[id] ?? label ?? id;
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(decodeSlack(name))}</span>`;
  }
  if (target.startsWith('#C') || target.startsWith('#G')) {
    const name = label ?? ctx.channels?.[target.slice(1)] ?? target.slice(1);
    return `<span class="mention">#${escapeHtml(decodeSlack(name))}</span>`;
  }
  if (target.startsWith('!subteam^')) {
    const id = target.slice(9);
    const handle = ctx.userGroups?.[id];
    return `<span class="mention">${escapeHtml(decodeSlack(handle ? `@${handle}` : (label ?? `@${id}`)))}</span>`;
  }
  if (target.startsWith('!date^')) {
    const [, epoch, format, link] = target.split('^');
    const seconds = Number(epoch);
    const fallback = decodeSlack(label ?? '');
    if (!Number.isFinite(seconds) || !format) return escapeHtml(fallback);
    const text = formatSlackDate(seconds, decodeSlack(format), ctx.now);
    const iso = new Date(seconds * 1000).toISOString();
    const body = `<time datetime="${iso}" title="${escapeHtml(iso.replace('T', ' ').slice(0, 19))} UTC">${escapeHtml(text)}</time>`;
    return link && SAFE_URL.test(decodeSlack(link))
      ? `<a href="${escapeHtml(decodeSlack(link))}" target="_blank" rel="noopener noreferrer">${body}</a>`
      : body;
  }
  if (target === '!here' || target === '!channel' || target === '!everyone') {
    return `<span class="mention">@${target.slice(1)}</span>`;
  }
  const url = decodeSlack(target);
  if (SAFE_URL.test(url)) {
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(decodeSlack(label ?? url))}</a>`;
  }
  // Not a token Slack would render: show it as the text it is.
  return escapeHtml(`<${decodeSlack(inner)}>`);
}

/** Inline formatting within one line: tokens, `code`, *bold*, _italic_, ~strike~. */
function inline(text: string, ctx: MrkdwnContext): string {
  let out = '';
  let plain = '';
  const flush = () => {
    out += emoji(escapeHtml(decodeSlack(plain)));
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '<') {
      const end = text.indexOf('>', i + 1);
      if (end > i + 1) {
        flush();
        out += token(text.slice(i + 1, end), ctx);
        i = end + 1;
        continue;
      }
    }
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        flush();
        out += `<code>${escapeHtml(decodeSlack(text.slice(i + 1, end)))}</code>`;
        i = end + 1;
        continue;
      }
    }
    if (ch === '*' || ch === '_' || ch === '~') {
      const before = i === 0 ? ' ' : text[i - 1]!;
      const end = text.indexOf(ch, i + 1);
      // Like Slack: a marker opens at a word boundary and closes before one, around non-blank text.
      if (
        end > i + 1 &&
        /[\s(>[{"'.,;:!?-]|^$/.test(before) &&
        text[i + 1] !== ' ' &&
        text[end - 1] !== ' ' &&
        (end + 1 >= text.length || /[\s)\].,;:!?'"-]/.test(text[end + 1]!))
      ) {
        flush();
        const tag = ch === '*' ? 'strong' : ch === '_' ? 'em' : 'del';
        out += `<${tag}>${inline(text.slice(i + 1, end), ctx)}</${tag}>`;
        i = end + 1;
        continue;
      }
    }
    plain += ch;
    i++;
  }
  flush();
  return out;
}

/** Renders a mrkdwn string (as a Block Kit text object carries it) to safe HTML. */
export function renderMrkdwn(text: string, ctx: MrkdwnContext): string {
  const parts = text.split('```');
  let html = '';
  parts.forEach((part, index) => {
    if (index % 2 === 1 && index < parts.length - 1) {
      html += `<pre>${escapeHtml(decodeSlack(part.replace(/^\n/, '')))}</pre>`;
      return;
    }
    const source = index % 2 === 1 ? `\`\`\`${part}` : part;
    const lines = source.split('\n');
    let quote: string[] = [];
    const flushQuote = () => {
      if (quote.length > 0) html += `<blockquote>${quote.join('<br>')}</blockquote>`;
      quote = [];
    };
    lines.forEach((line, n) => {
      // Only a literal ">" quotes: escaped text (&gt;) from users or AWS never does.
      const quoted = /^>/.exec(line);
      if (quoted) {
        quote.push(inline(line.slice(quoted[0].length).replace(/^ /, ''), ctx));
        return;
      }
      flushQuote();
      html += inline(line, ctx);
      if (n < lines.length - 1) html += '<br>';
    });
    flushQuote();
  });
  return html;
}

/** Plain text (plain_text objects): escaped, emoji shortcodes shown as emoji when asked. */
export function renderPlain(text: string, withEmoji = true): string {
  const escaped = escapeHtml(text);
  return withEmoji ? emoji(escaped) : escaped;
}
