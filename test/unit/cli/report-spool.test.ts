import { PassThrough } from 'node:stream';
import { ReportSpool } from '../../../cli/report-spool';

async function printed(items: unknown[]): Promise<string> {
  const spool = new ReportSpool();
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  try {
    for (const item of items) spool.add(item);
    await spool.writeReport(out, 'events', 7, 'violations');
  } finally {
    spool.dispose();
  }
  return Buffer.concat(chunks).toString('utf8');
}

describe('ReportSpool', () => {
  it.each([
    ['no items', []],
    ['one item with nested values and nulls', [{ a: 1, b: [1, { c: null }], d: 'x\ny', e: undefined }]],
    ['several items', [{ a: 1 }, { a: 2 }, { reasons: [] }]],
  ])('prints %s exactly as JSON.stringify(…, null, 2) does', async (_name, items) => {
    expect(await printed(items)).toBe(`${JSON.stringify({ events: 7, violations: items }, null, 2)}\n`);
  });

  it('prints the same once the items outgrow memory and wait in a temporary file', async () => {
    const items = Array.from({ length: 20_000 }, (_, i) => ({
      i,
      pad: 'x'.repeat(500),
      list: [i, { j: i }],
    }));
    expect(await printed(items)).toBe(`${JSON.stringify({ events: 7, violations: items }, null, 2)}\n`);
  });
});
