const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses "30m", "2h", "1d", "90s", "1w" (or a number of seconds) into seconds; null when it is not one. */
export function parseDuration(text: string | number): number | null {
  if (typeof text === 'number') return Number.isInteger(text) && text > 0 ? text : null;
  const match = /^\s*(\d{1,6})\s*([smhdw])\s*$/i.exec(text);
  if (!match) return null;
  const seconds = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  return seconds > 0 ? seconds : null;
}

/** Seconds → the shortest exact text ("2h", "90m", "45s"). */
export function formatDuration(seconds: number): string {
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    const size = UNITS[unit]!;
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** A plain UTC time for fallbacks and web pages: 2026-11-23 12:00 UTC. */
export function plainTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}
