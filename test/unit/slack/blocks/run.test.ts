import type { RunItem } from '../../../../services/runs/items';
import { nextPollSeconds } from '../../../../services/runs/runs';
import {
  runAnnouncement,
  runResultMessage,
  runStatusText,
  shownOutput,
  splitEscaped,
} from '../../../../slack/blocks/run';
import { allText, BREAKOUT, BREAKOUT_SHOWN, expectNoLinkTo, expectVerbatim, URL } from './hostile-text';

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

describe('run messages: case 9, text from AWS stays text', () => {
  const instance = 'i-0123456789abcdef0';
  const run = {
    runId: 'r-1',
    runbook: 'restart',
    adHoc: false,
    document: 'AWS-RunShellScript',
    region: 'eu-west-1',
    target: 'web',
    instanceIds: [instance],
    // The Name tag: a tag value from EC2.
    instanceNames: { [instance]: `web ${URL} ${BREAKOUT}` },
    values: {},
    documentParameters: { commands: ['uptime'] },
    comment: 'sg-warden r-1',
    timeoutSeconds: 600,
    maxOutputChars: 2000,
    requestedBy: 'U0ENGINEER',
    requestedByName: `erin\n${URL}`,
    createdAt: '2026-11-23T12:00:00.000Z',
    approvalRequired: false,
    status: 'SUCCEEDED',
    invocations: { [instance]: { status: 'Success', final: true, exitCode: 0 } },
  } as unknown as RunItem;
  const invocation = {
    status: 'Success',
    statusDetails: `Details ${URL} ${BREAKOUT}`,
    exitCode: 0,
    stdout: `served ${URL}\n`,
    stderr: '',
    stdoutUrl: null,
    stderrUrl: null,
  };

  it('the output header shows the instance’s Name tag and SSM’s details literally, in verbatim sections', () => {
    const message = runResultMessage(run, instance, invocation);
    expectVerbatim(message.blocks);
    expectNoLinkTo(message.blocks);
    const heading = allText(message.blocks.slice(0, 1));
    expect(heading).toContain(`web ${URL} ${BREAKOUT_SHOWN}`);
    expect(heading).toContain(`(Details ${URL} ${BREAKOUT_SHOWN})`);
  });

  it('the announcement and the status text name the instance literally', () => {
    const announcement = runAnnouncement(run, null);
    expectVerbatim(announcement.blocks);
    expect(allText(announcement.blocks)).toContain(BREAKOUT_SHOWN);
    expect(announcement.text).not.toMatch(/\n/);
    expect(runStatusText(run, null)).toContain(`web ${URL} ${BREAKOUT_SHOWN}`);
  });
});
