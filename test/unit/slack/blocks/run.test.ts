import { shownOutput, splitEscaped } from '../../../../slack/blocks/run';

describe('run blocks', () => {
  describe('shownOutput', () => {
    it('shows everything within the limit, stderr under a marker', () => {
      expect(shownOutput({ stdout: 'ok\n', stderr: 'warn\n' }, 100)).toEqual({
        text: 'ok\n--- stderr ---\nwarn\n',
        totalChars: 23,
        shownChars: 23,
        cutChars: 0,
      });
    });

    it('keeps the first and last halves beyond the limit and says how much was cut', () => {
      const out = shownOutput({ stdout: `${'a'.repeat(500)}${'b'.repeat(500)}`, stderr: '' }, 100);
      expect(out).toMatchObject({ totalChars: 1000, shownChars: 100, cutChars: 900 });
      expect(out.text).toBe(`${'a'.repeat(50)}\n… 900 characters cut …\n${'b'.repeat(50)}`);
    });
  });

  describe('splitEscaped', () => {
    it('never cuts inside an &…; entity and keeps every piece within the budget', () => {
      const escaped = 'x&amp;'.repeat(1000);
      const pieces = splitEscaped(escaped, 97);
      expect(pieces.join('')).toBe(escaped);
      for (const piece of pieces) {
        expect(piece.length).toBeLessThanOrEqual(97);
        expect(piece).not.toMatch(/&[a-z]*$/);
        expect(piece).not.toMatch(/^[a-z]*;/);
      }
    });

    it('prefers a newline near the end of a piece', () => {
      expect(splitEscaped(`${'a'.repeat(60)}\n${'b'.repeat(60)}`, 100)).toEqual([
        `${'a'.repeat(60)}\n`,
        'b'.repeat(60),
      ]);
    });
  });
});
