import type { RunItem } from '../../../../services/runs/items';
import { nextPollSeconds } from '../../../../services/runs/runs';
import { runAnnouncement, shownOutput, splitEscaped } from '../../../../slack/blocks/run';

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

  describe('nextPollSeconds', () => {
    it('looks again soon after sending, then less often', () => {
      const sentAt = '2026-11-23T10:00:00.000Z';
      expect(nextPollSeconds(undefined, new Date(sentAt))).toBe(2);
      expect(nextPollSeconds(sentAt, new Date('2026-11-23T10:00:30.000Z'))).toBe(2);
      expect(nextPollSeconds(sentAt, new Date('2026-11-23T10:05:00.000Z'))).toBe(10);
      expect(nextPollSeconds(sentAt, new Date('2026-11-23T11:00:00.000Z'))).toBe(30);
    });
  });
});

describe('run announcement', () => {
  it('shows each parameter value exactly as it is passed: backticks and spaces kept', () => {
    const run = {
      adHoc: false,
      runbook: 'grep-log',
      target: 'web-prod',
      requestedBy: 'U0ENGINEER',
      values: { pattern: 'a `b`  c', lines: '20' },
      documentParameters: { commands: ['grep'] },
      instanceIds: ['i-1'],
      instanceNames: {},
      invocations: {},
      status: 'RUNNING',
      commandId: 'c-1',
      runId: 'r-1',
      document: 'AWS-RunShellScript',
      region: 'us-east-1',
      timeoutSeconds: 600,
      requestedByName: 'erin.engineer',
    } as unknown as RunItem;
    const texts = runAnnouncement(run, null).blocks.map((b) => String(b.text?.text ?? ''));
    expect(texts).toContain('*Parameters*\n```pattern=a `b`  c\nlines=20```');
  });
});
