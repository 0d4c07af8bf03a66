import { formatDuration, parseDuration } from '../../../../services/shared/duration';

describe('duration', () => {
  describe('parseDuration', () => {
    it.each<[string | number, number]>([
      ['90s', 90],
      ['30m', 1800],
      ['2h', 7200],
      ['1d', 86400],
      ['1w', 604800],
      ['60m', 3600],
      [' 5 M ', 300],
      ['1H', 3600],
      [300, 300],
      ['999999s', 999999],
    ])('reads %p as %p seconds', (text, seconds) => {
      expect(parseDuration(text)).toBe(seconds);
    });

    it.each<string | number>([
      'soon',
      '',
      '0m',
      '0',
      '1h30m',
      '1.5h',
      '-5m',
      '10',
      '1y',
      '1000000s',
      0,
      -5,
      1.5,
      Number.NaN,
    ])('returns null for %p', (text) => {
      expect(parseDuration(text)).toBeNull();
    });
  });

  describe('formatDuration', () => {
    it.each([
      [45, '45s'],
      [60, '1m'],
      [5400, '90m'],
      [7200, '2h'],
      [90000, '25h'],
      [86400, '1d'],
      [604800, '1w'],
      [1209600, '2w'],
      [691200, '8d'],
    ])('writes %p seconds as %p', (seconds, text) => {
      expect(formatDuration(seconds)).toBe(text);
    });

    it('round-trips through parseDuration', () => {
      const values = [1, 59, 61, 3599, 3600, 86399, 86400, 604799, 604800, 1814400];

      expect(values.map((s) => parseDuration(formatDuration(s)))).toEqual(values);
    });
  });
});
