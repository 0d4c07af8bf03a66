import { truncate } from '../../../slack/mrkdwn';

describe('truncate', () => {
  it('leaves text that fits alone', () => {
    expect(truncate('short', 10)).toBe('short');
  });

  it.each([
    [5000, 3000],
    [3001, 3000],
    [10_090, 100],
    [120, 75],
  ])('cuts %i characters to at most %i and says exactly how many it left out', (length, max) => {
    const text = 'x'.repeat(length);

    const out = truncate(text, max);

    expect(out.length).toBeLessThanOrEqual(max);
    const match = /… \((\d+) more characters\)$/.exec(out);
    expect(match).not.toBeNull();
    const kept = out.length - match![0].length;
    expect(kept + Number(match![1])).toBe(length);
  });
});
