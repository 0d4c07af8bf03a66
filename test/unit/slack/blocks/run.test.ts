import type { SectionBlock } from '@slack/types';
import { blockKitProblems } from '../../../../local/shared/block-kit-limits';
import { keys } from '../../../../services/kernel/state';
import type { RunItem } from '../../../../services/runs/items';
import { MAX_ADHOC_LENGTH } from '../../../../services/runs/params';
import { MAX_APPROVAL_SCRIPT_CHARS, shownCommandHash } from '../../../../services/runs/plan';
import {
  commandPieces,
  runAnnouncement,
  runResultMessage,
  runStatusText,
  shownOutput,
  splitEscaped,
} from '../../../../slack/blocks/run';
import { runCommandModal } from '../../../../slack/blocks/run-command';

function adHocRun(command: string): RunItem {
  return {
    ...keys.run('r-0a1b2c3d4e'),
    type: 'run',
    status: 'AWAITING_APPROVAL',
    version: 1,
    runId: 'r-0a1b2c3d4e',
    runbook: 'adhoc',
    adHoc: true,
    document: 'AWS-RunShellScript',
    region: 'eu-west-1',
    target: 'web',
    instanceIds: ['i-0123456789abcdef0'],
    instanceNames: {},
    values: { command },
    documentParameters: { commands: [command], executionTimeout: ['600'] },
    comment: 'sg-warden r-0a1b2c3d4e by erin (U0ENGINEER)',
    timeoutSeconds: 600,
    maxOutputChars: 2500,
    requestedBy: 'U0ENGINEER',
    requestedByName: 'erin',
    createdAt: '2026-11-23T10:00:00.000Z',
    approvalRequired: true,
    approvalExpiresAt: '2026-11-23T10:30:00.000Z',
    invocations: {},
  };
}

type Section = { type: string; text?: { text: string }; elements?: { action_id: string; value?: string }[] };

/** Every code block of the blocks, joined, with Slack's entities read back as characters. */
function codeIn(blocks: Section[]): string {
  return blocks
    .map((b) => (b.type === 'section' ? /```([\s\S]*)```$/.exec(b.text?.text ?? '')?.[1] : undefined))
    .filter((piece): piece is string => piece !== undefined)
    .join('')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

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

  describe('what an approver is shown', () => {
    it.each(['&', '<', '>', '&<>'])(
      'case 2: shows a %s command at the ad-hoc limit whole in the message, within Slack’s limits',
      (chars) => {
        const command = chars.repeat(MAX_ADHOC_LENGTH).slice(0, MAX_ADHOC_LENGTH);
        const run = adHocRun(command);

        const { blocks } = runAnnouncement(run, null);

        expect(codeIn(blocks as Section[])).toBe(command);
        expect(blockKitProblems('chat.postMessage', { blocks })).toEqual([]);
        const approve = (blocks as Section[])
          .flatMap((b) => b.elements ?? [])
          .find((e) => e.action_id === 'run_approve');
        expect(approve?.value).toBe(`r-0a1b2c3d4e ${shownCommandHash(run)}`);
      },
    );

    it('case 2: moves a command too long for one message to the full-command view, whole', () => {
      const command = '&'.repeat(MAX_APPROVAL_SCRIPT_CHARS);
      const run = adHocRun(command);

      const { blocks } = runAnnouncement(run, null);
      const view = runCommandModal(run) as { blocks: Section[] };

      expect(codeIn(blocks as Section[])).toBe('');
      expect(JSON.stringify(blocks)).toContain('Show full command');
      expect(codeIn(view.blocks)).toBe(command);
      expect(blockKitProblems('views.open', { view })).toEqual([]);
      expect(Buffer.byteLength(JSON.stringify(view))).toBeLessThan(250_000);
      expect(commandPieces(run).length).toBeGreaterThan(6);
    });

    it('case 2: names the command’s hash in /sg-run status', () => {
      const run = adHocRun('uptime');
      expect(runStatusText(run, null)).toContain(
        `Command SHA-256 \`${shownCommandHash(run)}\` (6 characters, as approved)`,
      );
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
    const texts = runAnnouncement(run, null).blocks.map((b) => String((b as SectionBlock).text?.text ?? ''));
    expect(texts).toContain('*Parameters*\n```pattern=a `b`  c\nlines=20```');
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
