import type { Machine } from './machine';
import { machineLine } from './machine';

/** One goal from the issue, judged by a figure: met, missed, or not measurable yet (null). */
export interface GoalResult {
  goal: string;
  met: boolean | null;
  detail: string;
}

/** What one figure hands back: a table for people, raw numbers for the JSON file, goals and notes. */
export interface FigureResult {
  figure: string;
  title: string;
  columns: string[];
  rows: string[][];
  goals: GoalResult[];
  notes: string[];
  data: Record<string, unknown>;
  durationMs: number;
  /** The machine's one-minute load average before and after the figure ran (set by the orchestrator). */
  load?: { before: number; after: number };
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  mode: 'full' | 'quick';
  machine: Machine;
  git: { commit: string | null; dirty: boolean | null };
  emulators: { aws: string; slack: string };
  figures: FigureResult[];
}

/** A plain-text table with aligned columns. */
export function renderTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function goalMark(met: boolean | null): string {
  if (met === null) return 'n/a ';
  return met ? 'MET ' : 'MISS';
}

/** The whole report as text: machine, then each figure's table, goals and notes. */
export function renderReport(report: BenchReport): string {
  const out: string[] = [];
  out.push(`sg-warden bench (${report.mode}) — ${report.startedAt}`);
  out.push(`machine: ${machineLine(report.machine)}`);
  out.push(`emulators: AWS = ${report.emulators.aws}; Slack = ${report.emulators.slack}`);
  if (report.git.commit)
    out.push(`commit: ${report.git.commit}${report.git.dirty ? ' (+ uncommitted changes)' : ''}`);
  for (const f of report.figures) {
    out.push('');
    const load = f.load ? `, load ${f.load.before.toFixed(1)} → ${f.load.after.toFixed(1)}` : '';
    out.push(`## ${f.title}  (${(f.durationMs / 1000).toFixed(1)} s${load})`);
    if (f.load && Math.max(f.load.before, f.load.after) > report.machine.cores) {
      out.push(
        `  ! the machine was busy with other work (load above ${report.machine.cores} cores): figures are slower than on an idle machine`,
      );
    }
    if (f.rows.length > 0) out.push(renderTable(f.columns, f.rows));
    for (const g of f.goals) out.push(`  [${goalMark(g.met)}] ${g.goal}: ${g.detail}`);
    for (const n of f.notes) out.push(`  · ${n}`);
  }
  return out.join('\n');
}
