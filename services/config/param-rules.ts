/**
 * The rules a `/sg-run` parameter value must pass (README, "/sg-run"). Config checks configured enums
 * and defaults with them at load time, and services/runs/params.ts checks typed values with them, so
 * they live here, below both: config never imports the runs feature.
 */

/** Longest value a parameter may have. */
export const MAX_VALUE_LENGTH = 1024;

/** What a value is checked against: a runbook parameter as configured. */
export interface ParameterRule {
  type: 'string' | 'integer';
  pattern?: string | undefined;
  enum?: string[] | undefined;
  min?: number | undefined;
  max?: number | undefined;
  allowShellMetacharacters: boolean;
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z][a-zA-Z0-9_]*)\s*\}\}/g;
const SAFE_CHARS = /^[A-Za-z0-9_.:/@%+,=-]*$/;
const SAFE_CHAR = /[A-Za-z0-9_.:/@%+,=-]/;
/** Control characters (newline, tab, NUL, …) and invisible format characters (bidi overrides, zero-width). */
export const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** `{{ name }}` in a command line: a parameter's place. */
export function placeholderPattern(): RegExp {
  return new RegExp(PLACEHOLDER.source, 'g');
}

/** The parameter names a command line refers to with `{{ name }}`. */
export function placeholdersIn(line: string): string[] {
  return [...line.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** A character as a refusal names it: "a newline", "the control character U+0000", `";"`. */
export function describeChar(ch: string): string {
  if (ch === ' ') return 'a space';
  if (ch === '\n') return 'a newline';
  if (ch === '\t') return 'a tab';
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20 || cp === 0x7f || CONTROL.test(ch))
    return `the control character U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return `"${ch}"`;
}

/** Characters that appear in refusals: every character a value may not hold, described once. */
function unsafeChars(value: string): string[] {
  const seen = new Set<string>();
  for (const ch of value) if (!SAFE_CHAR.test(ch)) seen.add(describeChar(ch));
  return [...seen];
}

/**
 * Why a value is not acceptable for a parameter (a sentence fragment such as `contains ";"`), or null
 * when it is. The same check runs on configured enums and defaults at load time.
 */
export function checkParameterValue(param: ParameterRule, value: string): string | null {
  if (value.length > MAX_VALUE_LENGTH) return `is longer than ${MAX_VALUE_LENGTH} characters`;
  const control = [...value].find((ch) => CONTROL.test(ch));
  if (control !== undefined) return `contains ${describeChar(control)}, which is never allowed`;
  if (value.includes('{{') || value.includes('}}'))
    return 'contains "{{" or "}}", which Run Command would read as a parameter reference';
  if (param.type === 'integer') {
    if (!/^-?\d{1,15}$/.test(value)) return 'is not a whole number';
    const n = Number(value);
    if (param.min !== undefined && n < param.min) return `is less than ${param.min}`;
    if (param.max !== undefined && n > param.max) return `is more than ${param.max}`;
  } else if (!param.allowShellMetacharacters) {
    if (!SAFE_CHARS.test(value))
      return `contains ${unsafeChars(value).join(', ')}: only letters, digits and _ . : / @ % + , = - are allowed`;
    if (value.startsWith('-')) return 'starts with "-", so a command would read it as an option';
  }
  if (param.enum && !param.enum.includes(value)) return `is not one of ${param.enum.join(', ')}`;
  if (param.pattern !== undefined && !new RegExp(`^(?:${param.pattern})$`).test(value))
    return `does not match ${param.pattern}`;
  return null;
}
