/** Escapes text for Slack mrkdwn so AWS- or user-supplied values cannot mention, link or format. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
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

/** Inline code that cannot be broken out of (backticks removed, mrkdwn escaped). */
export function code(text: string): string {
  return `\`${escapeMrkdwn(text.replace(/`/g, "'"))}\``;
}
