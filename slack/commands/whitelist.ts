import { parseHostAddress } from '../../services/grants/address';
import { parseDuration } from '../../services/shared/duration';

/** What `/sg-whitelist <text>` asks for. */
export type WhitelistCommand =
  | { kind: 'help'; note?: string }
  | { kind: 'list' }
  | { kind: 'revoke'; grantId: string }
  | { kind: 'extend'; grantId: string; durationSeconds: number }
  | {
      kind: 'grant';
      alias: string;
      /** A validated single host, or 'me' for a one-time link. */
      address: string;
      isLink: boolean;
      port: number | null;
      durationSeconds: number | null;
    }
  /** The text is recognisably a request but wrong: one sentence says what. */
  | { kind: 'invalid'; message: string };

export const WHITELIST_USAGE =
  '`/sg-whitelist <target> <ip|me> [<port>] [for <duration>]` · `/sg-whitelist list` · `/sg-whitelist revoke <grant>` · `/sg-whitelist extend <grant> <duration>` · `/sg-whitelist help`';

const GRANT_ID = /^g-[a-z0-9]{4,20}$/;

function shown(token: string): string {
  return token.length > 40 ? `${token.slice(0, 40)}…` : token;
}

function grantIdOf(token: string | undefined): string | { error: string } {
  if (!token) return { error: 'Name the grant (g-…); `/sg-whitelist list` shows yours.' };
  const id = token.toLowerCase();
  if (!GRANT_ID.test(id))
    return { error: `"${shown(token)}" is not a grant ID (g-…); \`/sg-whitelist list\` shows yours.` };
  return id;
}

function durationOf(token: string | undefined): number | { error: string } {
  if (!token) return { error: 'Say how long, e.g. `30m`, `2h` or `1d`.' };
  const seconds = parseDuration(token);
  // `0m` is a duration, just one too short to grant anything: say so rather than "not a duration".
  if (seconds === null && /^\s*0+\s*[smhdw]\s*$/i.test(token))
    return { error: `"${shown(token)}" is too short: give a duration above zero, such as 30m, 2h or 1d.` };
  if (seconds === null) return { error: `"${shown(token)}" is not a duration such as 30m, 2h or 1d.` };
  return seconds;
}

/**
 * Parses the text of `/sg-whitelist`. Pure: the target, the person's permission and EC2 are checked by
 * the grant service; here only the shape, the address (one host) and the duration's syntax.
 * `aliases` are the configured targets, so a lone unknown word gets the help text.
 */
export function parseWhitelistCommand(text: string, aliases: readonly string[]): WhitelistCommand {
  const tokens = text.trim().split(/\s+/).filter(Boolean);
  const [first, ...rest] = tokens;
  if (!first || first.toLowerCase() === 'help') return { kind: 'help' };
  const verb = first.toLowerCase();
  if (verb === 'list') {
    return rest.length === 0 ? { kind: 'list' } : { kind: 'help', note: '`list` takes nothing after it.' };
  }
  if (verb === 'revoke') {
    const id = grantIdOf(rest[0]);
    if (typeof id !== 'string') return { kind: 'invalid', message: id.error };
    if (rest.length > 1)
      return { kind: 'invalid', message: 'Revoke one grant at a time: `/sg-whitelist revoke <grant>`.' };
    return { kind: 'revoke', grantId: id };
  }
  if (verb === 'extend') {
    const id = grantIdOf(rest[0]);
    if (typeof id !== 'string') return { kind: 'invalid', message: id.error };
    const durationTokens = rest.slice(1);
    if (durationTokens[0]?.toLowerCase() === 'by' || durationTokens[0]?.toLowerCase() === 'for')
      durationTokens.shift();
    if (durationTokens.length > 1)
      return {
        kind: 'invalid',
        message: 'Usage: `/sg-whitelist extend <grant> <duration>`, e.g. `extend g-… 1h`.',
      };
    const seconds = durationOf(durationTokens[0]);
    if (typeof seconds !== 'number') return { kind: 'invalid', message: seconds.error };
    return { kind: 'extend', grantId: id, durationSeconds: seconds };
  }
  // A lone word that is not a target gets the help text. A word followed by more is a request for a
  // target of that name: the grant service answers "there is no whitelist target called …" (and puts
  // the refusal on record), whatever the word — `constructor` and `__proto__` included.
  if (rest.length === 0 && !aliases.includes(verb)) {
    return { kind: 'help', note: `I did not understand "${shown(first)}".` };
  }
  const [addressToken, ...options] = rest;
  if (!addressToken) {
    return {
      kind: 'invalid',
      message: `Give the address to allow, or \`me\`: \`/sg-whitelist ${verb} <ip|me> [<port>] [for <duration>]\`.`,
    };
  }
  const isLink = addressToken.toLowerCase() === 'me';
  let address = 'me';
  if (!isLink) {
    const parsed = parseHostAddress(addressToken);
    if (!parsed.ok) return { kind: 'invalid', message: parsed.reason };
    address = parsed.host.address;
  }
  let port: number | null = null;
  let durationSeconds: number | null = null;
  for (let i = 0; i < options.length; i++) {
    const token = options[i]!;
    const lower = token.toLowerCase();
    if (/^\d{1,5}$/.test(token) && port === null) {
      port = Number(token);
      if (port > 65535) return { kind: 'invalid', message: `${token} is not a port (0–65535).` };
      continue;
    }
    if (lower === 'port' && port === null && /^\d{1,5}$/.test(options[i + 1] ?? '')) continue;
    if (durationSeconds === null) {
      const durationToken = lower === 'for' ? options[++i] : token;
      const seconds = durationOf(durationToken);
      if (typeof seconds === 'number') {
        durationSeconds = seconds;
        continue;
      }
      if (lower === 'for') return { kind: 'invalid', message: seconds.error };
    }
    return {
      kind: 'invalid',
      message: `I did not understand "${shown(token)}". Usage: \`/sg-whitelist ${verb} <ip|me> [<port>] [for <duration>]\`.`,
    };
  }
  return { kind: 'grant', alias: verb, address, isLink, port, durationSeconds };
}
