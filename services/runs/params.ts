import type { AdHocConfig, Runbook } from '../config/config';
import { CONTROL, checkParameterValue, describeChar, placeholderPattern } from '../config/param-rules';
import { BadInputError } from '../shared/errors';
import type { Person } from '../shared/people';

/**
 * How `/sg-run` values reach an instance without ever becoming shell code (README, "/sg-run"):
 *
 * 1. Each value is checked before anything is sent (the rules are in services/config/param-rules.ts,
 *    which config also uses): no control or invisible format characters, no `{{`/`}}` (Run Command would
 *    resolve `{{ssm:…}}` references with the bot's own permissions), at most 1,024 characters, and —
 *    unless the parameter allows metacharacters — only letters, digits and `_ . : / @ % + , = -`, not
 *    starting with `-`. Then its enum, pattern (whole value) or integer range.
 * 2. For the shell documents the script sent is: one assignment per parameter, the value single-quoted
 *    (POSIX: `'` written as `'"'"'`; PowerShell: quote characters doubled), then the runbook's fixed
 *    command lines with each `{{ name }}` replaced by a quoted variable reference (`"${SGW_name}"` /
 *    `$SGW_name`). A variable's value is never parsed again by the shell, so no value can end its quotes,
 *    start a command, or expand anything; the only text that varies is inside single quotes.
 * 3. Any other document gets the values as its own parameters; its author decides how they are used.
 */

/** Longest ad-hoc command line. */
export const MAX_ADHOC_LENGTH = 2000;
/** Run Command's limit for SendCommand's Comment. */
export const MAX_COMMENT_LENGTH = 100;

/** POSIX shell single quotes: nothing inside is special except `'`, which is closed, quoted and reopened. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/** PowerShell single quotes: nothing inside is special; every single-quote character (also ‘ ’ ‚ ‛) is doubled. */
export function powershellQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

/** Slack escapes &, < and > in command text; the command means the characters themselves. */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** What `/sg-run …` asks for. */
export type RunRequest =
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'status'; runId: string }
  /** `target` is null when left out (allowed when the runbook has exactly one target). */
  | { kind: 'run'; runbook: string; target: string | null; assignments: [string, string][] }
  | { kind: 'adhoc'; target: string; command: string };

export const RUN_ID = /^r-[0-9a-z]{10}$/;

export const USAGE = [
  '`/sg-run <runbook> <target> [name=value …]` run a runbook on an instance (i-…) or a target alias (leave the target out when the runbook has only one)',
  '`/sg-run list` the runbooks you may run',
  '`/sg-run status <run>` where a run is',
  '`/sg-run help` this text',
  'Values with spaces go in double quotes: `pattern="connection refused"`.',
].join('\n');

/** Splits text into words; double quotes (also “ ”) group a value with spaces. Throws on an open quote. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: string | null = null;
  for (const ch of text) {
    if (quote !== null) {
      if ((quote === '"' && ch === '"') || (quote === '“' && ch === '”')) quote = null;
      else current += ch;
      continue;
    }
    if (ch === '"' || ch === '“') {
      quote = ch;
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote !== null) throw new BadInputError('A double quote is not closed.');
  if (inToken) tokens.push(current);
  return tokens;
}

/** Reads the text of a `/sg-run` command. Throws BadInputError with one sentence and the usage. */
export function parseRunCommand(rawText: string): RunRequest {
  const text = unescapeSlack(rawText).trim();
  if (text === '' || text === 'help') return { kind: 'help' };
  const first = text.split(/\s+/, 1)[0]!;
  if (first === 'adhoc') {
    const match = /^adhoc\s+(\S+)\s+([\s\S]+)$/.exec(text);
    if (!match) throw new BadInputError('Usage: `/sg-run adhoc <target> <command line>`.');
    return { kind: 'adhoc', target: match[1]!, command: match[2]!.trim() };
  }
  const words = tokenize(text);
  if (first === 'list') {
    if (words.length > 1) throw new BadInputError('`/sg-run list` takes nothing after it.');
    return { kind: 'list' };
  }
  if (first === 'status') {
    const runId = words[1];
    if (words.length !== 2 || !runId || !RUN_ID.test(runId))
      throw new BadInputError('Usage: `/sg-run status <run>`, for example `/sg-run status r-0a1b2c3d4e`.');
    return { kind: 'status', runId };
  }
  const [runbook, ...rest] = words;
  if (!runbook) throw new BadInputError(`Say which runbook.\n${USAGE}`, { context: { text } });
  // A second word that reads as name=value is a parameter: the target was left out.
  const target = rest[0] !== undefined && !/^[a-zA-Z][a-zA-Z0-9_]*=/.test(rest[0]) ? rest.shift()! : null;
  const assignments: [string, string][] = [];
  for (const word of rest) {
    const eq = word.indexOf('=');
    const name = eq > 0 ? word.slice(0, eq) : '';
    if (!/^[a-zA-Z][a-zA-Z0-9_]*$/.test(name))
      throw new BadInputError(
        `"${word.slice(0, 40)}" is not a name=value parameter; nothing was sent. Values with spaces go in double quotes.`,
      );
    assignments.push([name, word.slice(eq + 1)]);
  }
  return { kind: 'run', runbook, target, assignments };
}

/**
 * The runbook's parameter values from `name=value` pairs and the defaults. Throws BadInputError naming
 * every problem (unknown, repeated, missing or refused values) — nothing is sent unless all pass.
 */
export function resolveParameters(runbook: Runbook, assignments: [string, string][]): Record<string, string> {
  const problems: string[] = [];
  const given = new Map<string, string>();
  for (const [name, value] of assignments) {
    const param = runbook.parameters.find((p) => p.name === name);
    if (!param)
      problems.push(
        `\`${name.length > 40 ? `${name.slice(0, 40)}…` : name}\` is not a parameter of this runbook`,
      );
    else if (given.has(name)) problems.push(`\`${name}\` is given twice`);
    else given.set(name, value);
  }
  const values: Record<string, string> = {};
  for (const param of runbook.parameters) {
    const value = given.get(param.name) ?? param.default;
    if (value === undefined) {
      problems.push(`\`${param.name}\` is required`);
      continue;
    }
    const problem = checkParameterValue(param, value);
    if (problem) problems.push(`\`${param.name}\` ${problem}`);
    else values[param.name] = value;
  }
  if (problems.length > 0)
    throw new BadInputError(`Refused, nothing was sent: ${problems.join('; ')}.`, { context: { problems } });
  return values;
}

/** Checks an ad-hoc command line; returns it unchanged or throws BadInputError. */
export function checkAdHocCommand(command: string): string {
  if (command.length > MAX_ADHOC_LENGTH)
    throw new BadInputError(`The command is longer than ${MAX_ADHOC_LENGTH} characters.`);
  const control = [...command].find((ch) => CONTROL.test(ch));
  if (control !== undefined)
    throw new BadInputError(`The command contains ${describeChar(control)}; write it on one line.`);
  if (command.includes('{{') || command.includes('}}'))
    throw new BadInputError(
      'The command contains "{{" or "}}", which Run Command would resolve as a parameter reference.',
    );
  return command;
}

function variable(name: string): string {
  return `SGW_${name}`;
}

/**
 * The exact SSM document parameters sent for a runbook and its checked values (see the design above).
 * `values` must come from resolveParameters.
 */
export function documentParameters(
  runbook: Pick<Runbook, 'document' | 'commands' | 'parameters' | 'timeout'>,
  values: Record<string, string>,
  shell: 'posix' | 'powershell' | null,
): Record<string, string[]> {
  if (shell === null) {
    return Object.fromEntries(runbook.parameters.map((p) => [p.name, [values[p.name] ?? '']]));
  }
  const preamble = runbook.parameters.map((p) => {
    const value = values[p.name];
    if (value === undefined) throw new Error(`parameter ${p.name} has no checked value`);
    return shell === 'posix'
      ? `${variable(p.name)}=${shellQuote(value)}`
      : `$${variable(p.name)} = ${powershellQuote(value)}`;
  });
  const reference = (name: string) => (shell === 'posix' ? `"\${${variable(name)}}"` : `$${variable(name)}`);
  const lines = runbook.commands.map((line) =>
    line.replace(placeholderPattern(), (_m, name: string) => reference(name)),
  );
  return { commands: [...preamble, ...lines], executionTimeout: [String(runbook.timeout)] };
}

/** The document parameters for an ad-hoc command line (it is a shell command by design: approval guards it). */
export function adHocParameters(
  adHoc: Pick<AdHocConfig, 'timeout'>,
  command: string,
): Record<string, string[]> {
  return { commands: [command], executionTimeout: [String(adHoc.timeout)] };
}

/** SendCommand's Comment: names the run and the Slack user, printable ASCII, at most 100 characters. */
export function runComment(runId: string, user: Person): string {
  const name = user.name.replace(/[^\x20-\x7e]/g, '?');
  const fixed = `sg-warden ${runId} by  (${user.id})`;
  const room = Math.max(0, MAX_COMMENT_LENGTH - fixed.length);
  const shown = name.length > room ? `${name.slice(0, Math.max(0, room - 1))}~` : name;
  return `sg-warden ${runId} by ${shown} (${user.id})`.slice(0, MAX_COMMENT_LENGTH);
}
