/** `seconds` after `from` (a Date or an ISO time), as an ISO time. Negative seconds go back. */
export function plusSeconds(from: Date | string, seconds: number): string {
  const start = typeof from === 'string' ? Date.parse(from) : from.getTime();
  return new Date(start + seconds * 1000).toISOString();
}

/**
 * Seconds to wait before try `attempt + 1` after `attempt` failures: `base`, doubling each time, never
 * over `max` (attempt 1 → base, 2 → 2 × base, …).
 */
export function backoffSeconds(attempt: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, attempt - 1));
}
