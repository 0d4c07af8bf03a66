/** The summary every bench figure reports: how many runs, the median and the 99th percentile. */
export interface Stat {
  n: number;
  median: number;
  p99: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of sorted values (p in 0–100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Median and p99 (nearest rank: with fewer than 100 runs the p99 is the slowest run) of the samples. */
export function summarize(samples: readonly number[]): Stat {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? sorted[Math.floor(mid)]!
        : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    n: sorted.length,
    median,
    p99: percentile(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** "12.3 ms" / "1.24 s": milliseconds for a table cell. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** "median / p99" of a Stat, in milliseconds. */
export function msPair(stat: Stat): string {
  return `${ms(stat.median)} / ${ms(stat.p99)}`;
}

/** "1.6 MiB", "64 KiB". */
export function bytes(value: number): string {
  if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(2)} MiB`;
  if (value >= 1024) return `${(value / 1024).toFixed(0)} KiB`;
  return `${value} B`;
}

/** "1,234,567". */
export function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Rounds a number for the JSON report (3 decimals). */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** A Stat with every number rounded, for the JSON report. */
export function roundStat(stat: Stat): Stat {
  return {
    n: stat.n,
    median: round(stat.median),
    p99: round(stat.p99),
    min: round(stat.min),
    max: round(stat.max),
  };
}
