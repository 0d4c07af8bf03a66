import type { FigureContext } from '../lib/context';
import type { FigureResult } from '../lib/report';

/** Figure 5 (sweep): written next. */
export async function run(_ctx: FigureContext): Promise<FigureResult> {
  return {
    figure: 'sweep',
    title: '5. Sweep',
    columns: [],
    rows: [],
    goals: [],
    notes: ['not measured yet'],
    data: {},
    durationMs: 0,
  };
}
