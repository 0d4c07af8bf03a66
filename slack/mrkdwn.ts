/** Escapes text for Slack mrkdwn so AWS- or user-supplied values cannot mention, link or format. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Characters that change how text reads rather than what it says: C0 and C1 controls (newline and tab
 * included) and DEL, the Unicode line and paragraph separators (a line break by another name), and the
 * bidirectional embeddings, overrides and isolates (text shown in another order than it is).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL_RUN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g;
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/** One control character as a visible escape: `\n`, `\t`, `\r`, `\x07`, `\u202e`. */
function visibleEscape(char: string): string {
  const named = NAMED_ESCAPES[char];
  if (named) return named;
  const point = char.codePointAt(0) ?? 0;
  return point < 0x100
    ? `\\x${point.toString(16).padStart(2, '0')}`
    : `\\u${point.toString(16).padStart(4, '0')}`;
}

/** Replaces every control character with a visible escape (a newline reads `\n`), for text in a code span. */
export function showControls(text: string): string {
  return text.replace(CONTROL, visibleEscape);
}

/**
 * AWS- or user-supplied text as it is, for mrkdwn outside a code span: `&`, `<` and `>` escaped, and each
 * run of control characters shown as visible escapes inside a code span of its own, so a newline cannot
 * start a line (a fake field, a quote) and a bidi override cannot reorder what follows. Send it in a
 * `verbatim` text object (slack/blocks/kit.ts) so Slack does not turn URLs and names in it into links.
 */
export function literal(text: string): string {
  return escapeMrkdwn(text).replace(CONTROL_RUN, (run) => `\`${showControls(run)}\``);
}

/**
 * User text whose line breaks are meant (a justification typed in a multi-line box) as a block quote:
 * each line quoted and shown literally, so no line can leave the quote.
 */
export function quoted(text: string): string {
  return text
    .split(/\r\n|\n/)
    .map((line) => `>${literal(line)}`)
    .join('\n');
}

/** Cuts text to `max` characters, saying how much was left out. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // The note takes room from the text it describes: settle the count (a digit more at most, twice).
  let cut = text.length - max;
  let note = '';
  for (let i = 0; i < 4; i++) {
    note = `… (${cut} more characters)`;
    const settled = text.length - Math.max(0, max - note.length);
    if (settled === cut) break;
    cut = settled;
  }
  return `${text.slice(0, Math.max(0, max - note.length))}${note}`;
}

/** A Slack date token that every reader sees in their own time zone, with a UTC fallback. */
export function slackDate(iso: string, format = '{date_short_pretty} {time}'): string {
  const epoch = Math.floor(new Date(iso).getTime() / 1000);
  const fallback = `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${epoch}^${format}|${fallback}>`;
}

/**
 * Inline code that cannot be broken out of: backticks replaced, mrkdwn escaped, and control characters
 * shown as visible escapes (a newline in a user agent reads `\n` and stays inside the span).
 */
export function code(text: string): string {
  return `\`${escapeMrkdwn(showControls(text.replace(/`/g, "'")))}\``;
}

/**
 * AWS text for a plain_text object (a header, a button's dialog), which Slack shows without mrkdwn:
 * control characters shown as escapes, and a word joiner (U+2060, invisible) after the dots and the
 * `://` of anything that looks like an address, so no client makes it a link.
 */
export function plainLiteral(text: string): string {
  return showControls(text)
    .replace(/:\/\//g, ':\u2060//')
    .replace(/([A-Za-z0-9])\.(?=[A-Za-z])/g, '$1.\u2060')
    .replace(/@(?=[A-Za-z0-9])/g, '@\u2060');
}
