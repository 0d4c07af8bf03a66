import type { GrantItem } from '../../../../services/grants/items';
import { grantListMessage, listSection, revokeFailedMessage, timeLeft } from '../../../../slack/blocks/grant';
import { escapeHtml } from '../../../../web/html';
import { allText, BREAKOUT, BREAKOUT_SHOWN, expectNoLinkTo, expectVerbatim, URL } from './hostile-text';

describe('listSection', () => {
  it('shows every line when they fit', () => {
    const block = listSection('*Title*', ['a', 'b'], 'hint');
    expect(block.text!.text).toBe('*Title*\na\nb');
  });

  it('cuts at the line limit and counts the rest, with the hint', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    const block = listSection('*Title*', lines, 'See more with X.', 15);
    expect(block.text!.text.split('\n')).toHaveLength(17);
    expect(block.text!.text).toMatch(/…and 25 more\. See more with X\.$/);
  });

  it("stays within a section's 3,000 characters", () => {
    const lines = Array.from({ length: 40 }, (_, i) => `${i} ${'x'.repeat(290)}`);
    const block = listSection('*Title*', lines, 'See more with X.', 40);
    expect(block.text!.text.length).toBeLessThanOrEqual(3000);
    expect(block.text!.text).toMatch(/…and \d+ more\. See more with X\.$/);
  });
});

describe('revokeFailedMessage', () => {
  it('escapes what EC2 and Slack supplied, in the fallback text as in the blocks', () => {
    const grant = {
      grantId: 'g-abcd2345',
      alias: 'bastion',
      account: 'self',
      region: 'eu-west-1',
      groupId: 'sg-0123456789abcdef0',
      protocol: 'tcp',
      port: 22,
      cidr: '203.0.113.7/32',
      userId: 'U0ENGINEER',
      userName: 'erin<!here>',
      ruleId: 'sgr-0123456789abcdef0',
      revokeAttempts: 1,
      lastError: 'UnauthorizedOperation: <!channel> <https://evil.example|see here>',
    } as GrantItem;

    const message = revokeFailedMessage(grant);

    for (const text of [message.text, JSON.stringify(message.blocks)]) {
      expect(text).not.toContain('<!channel>');
      expect(text).not.toContain('<!here>');
      expect(text).not.toContain('<https://evil.example');
      expect(text).toContain('&lt;!channel&gt;');
    }
  });
});

describe('timeLeft', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  it.each([
    ['2026-11-23T10:14:10Z', '15m'],
    ['2026-11-23T11:05:00Z', '1h 5m'],
    ['2026-11-23T12:00:00Z', '2h'],
    ['2026-11-25T13:00:00Z', '2d 3h'],
    ['2026-11-23T09:00:00Z', 'now'],
    // Just under an hour or a day reads as the hour or the day, never "60m" or "24h".
    ['2026-11-23T10:59:30Z', '1h'],
    ['2026-11-24T09:59:30Z', '1d'],
    ['2026-11-23T11:59:01Z', '2h'],
  ])('%s → %s', (iso, text) => {
    expect(timeLeft(iso, now)).toBe(text);
  });
});

describe('escapeHtml', () => {
  it('escapes element content and attribute quotes', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});

describe('grant messages: case 9, text from AWS stays text', () => {
  const grant = {
    grantId: 'g-abcd2345',
    alias: 'bastion',
    account: 'self',
    region: 'eu-west-1',
    groupId: 'sg-0123456789abcdef0',
    protocol: 'tcp',
    port: 22,
    cidr: '203.0.113.7/32',
    userId: 'U0ENGINEER',
    userName: `erin ${URL}\nx`,
    ruleId: 'sgr-0123456789abcdef0',
    revokeAttempts: 1,
    status: 'REVOKE_FAILED',
    expiresAt: '2026-11-23T12:00:00.000Z',
    lastError: `UnauthorizedOperation: see ${URL} ${BREAKOUT}`,
  } as GrantItem;

  it('shows EC2’s error literally in verbatim sections, controls as visible escapes', () => {
    const message = revokeFailedMessage(grant);
    expectVerbatim(message.blocks);
    expectNoLinkTo(message.blocks);
    expect(allText(message.blocks)).toContain(`see ${URL} ${BREAKOUT_SHOWN}`);
    expect(message.text).not.toMatch(/[\n\t]/);
  });

  it('lists grants and their errors verbatim', () => {
    const list = grantListMessage([grant], new Date('2026-11-23T11:00:00.000Z'));
    expectVerbatim(list.blocks);
    expect(allText(list.blocks)).toContain(BREAKOUT_SHOWN);
  });
});
