import { itemBytes, queryPageReadUnits, valueBytes } from '../../../bench/lib/item-size';
import { percentile, summarize } from '../../../bench/lib/stats';

describe('bench statistics', () => {
  describe('summarize', () => {
    it('gives the median of an odd and an even number of runs', () => {
      expect(summarize([5, 1, 3]).median).toBe(3);
      expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
    });

    it('takes the slowest run as p99 when there are fewer than 100 runs', () => {
      expect(summarize([10, 30, 20]).p99).toBe(30);
    });

    it('uses the nearest rank for p99 with 200 runs', () => {
      const runs = Array.from({ length: 200 }, (_, i) => i + 1);
      expect(percentile(runs, 99)).toBe(198);
      expect(summarize(runs)).toMatchObject({ n: 200, min: 1, max: 200, p99: 198 });
    });
  });
});

describe('DynamoDB item size and read units', () => {
  it('counts strings in UTF-8 bytes and attribute names', () => {
    expect(itemBytes({ pk: 'abc' })).toBe(5);
    expect(valueBytes('é')).toBe(2);
  });

  it('counts numbers by significant digits', () => {
    expect(valueBytes(7)).toBe(2);
    expect(valueBytes(123456)).toBe(4);
    expect(valueBytes(1000)).toBe(2);
  });

  it('adds 3 bytes per list or map and 1 per element', () => {
    expect(valueBytes(['a', 'b'])).toBe(3 + 2 + 2);
    expect(valueBytes({ k: true })).toBe(3 + 1 + 1 + 1);
  });

  it('rounds a page up to 4 KB and halves it for an eventually consistent index read', () => {
    const item = { pk: 'x'.repeat(998) }; // 1,000 bytes
    expect(queryPageReadUnits([item])).toBe(0.5);
    expect(queryPageReadUnits(Array.from({ length: 5 }, () => item))).toBe(1);
    expect(
      queryPageReadUnits(
        Array.from({ length: 5 }, () => item),
        true,
      ),
    ).toBe(2);
  });
});
