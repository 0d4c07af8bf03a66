/** Escapes text for Slack mrkdwn so AWS- or user-supplied values cannot mention, link or format. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to `max` characters, saying how much was left out. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… (${text.length - max + 40} more characters)`;
  return `${text.slice(0, Math.max(0, max - note.length))}${note}`;
}

/** A Slack date token that every reader sees in their own time zone, with a UTC fallback. */
export function slackDate(iso: string, format = '{date_short_pretty} {time}'): string {
  const epoch = Math.floor(new Date(iso).getTime() / 1000);
  const fallback = `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${epoch}^${format}|${fallback}>`;
}

/** Inline code that cannot be broken out of (backticks removed, mrkdwn escaped). */
export function code(text: string): string {
  return `\`${escapeMrkdwn(text.replace(/`/g, "'"))}\``;
}
