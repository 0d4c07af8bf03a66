/** What `/sg-status <text>` asks for. */
export type StatusCommand =
  | { kind: 'overview' }
  | { kind: 'group'; groupId: string | null; alias: string | null; region: string | null }
  | { kind: 'audit'; subjectId: string | null }
  | { kind: 'help'; note?: string };

export const STATUS_USAGE =
  '`/sg-status` · `/sg-status <sg-id or target> [<region>]` · `/sg-status audit [<violation or grant ID>]` · `/sg-status help`';

const GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const SUBJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{2,99}$/;

function shown(token: string): string {
  return token.length > 40 ? `${token.slice(0, 40)}…` : token;
}

/** Parses the text of `/sg-status`. Anything it does not understand gets the help text. */
export function parseStatusCommand(text: string, aliases: readonly string[]): StatusCommand {
  const tokens = text.trim().split(/\s+/).filter(Boolean);
  const [first, ...rest] = tokens;
  if (!first) return { kind: 'overview' };
  const lower = first.toLowerCase();
  if (lower === 'help') return { kind: 'help' };
  if (lower === 'audit') {
    if (rest.length === 0) return { kind: 'audit', subjectId: null };
    if (rest.length === 1 && SUBJECT_ID.test(rest[0]!)) return { kind: 'audit', subjectId: rest[0]! };
    return { kind: 'help', note: '`audit` takes at most one violation or grant ID.' };
  }
  const region = rest[0] ?? null;
  if (rest.length > 1 || (region !== null && !REGION.test(region))) {
    return { kind: 'help', note: `I did not understand "${shown(rest.join(' '))}".` };
  }
  if (GROUP_ID.test(lower)) return { kind: 'group', groupId: lower, alias: null, region };
  if (aliases.includes(lower)) return { kind: 'group', groupId: null, alias: lower, region };
  return {
    kind: 'help',
    note: `"${shown(first)}" is neither a security-group ID (sg-…) nor a whitelist target.`,
  };
}
