import { formatSlackDate, renderMrkdwn } from '../../../local/page/mrkdwn';
import { escapeHtml } from '../../../web/html';

const ctx = { users: { U0APPROVER: 'Alex Approver' }, userGroups: { S0APPROVERS: 'security-approvers' } };

describe('renderMrkdwn (the sandbox page)', () => {
  describe('safety', () => {
    it('never lets text become markup: HTML in text comes out escaped', () => {
      const html = renderMrkdwn('<script>alert(1)</script> "x" \'y\' <img src=x onerror=alert(1)>', ctx);
      expect(html).not.toMatch(/<script|<img/);
      expect(html).toContain('&lt;script&gt;');
    });

    it('shows Slack-escaped user text (&lt; &gt; &amp;) as the characters, escaped for HTML once', () => {
      expect(renderMrkdwn('a &lt;b&gt; &amp; c', ctx)).toBe('a &lt;b&gt; &amp; c');
    });

    it('links only http(s) and mailto: a javascript: link is shown as text', () => {
      expect(renderMrkdwn('<javascript:alert(1)|click>', ctx)).not.toContain('<a ');
      expect(renderMrkdwn('<https://example.com/a?b=1&c="2"|docs>', ctx)).toBe(
        '<a href="https://example.com/a?b=1&amp;c=&quot;2&quot;" target="_blank" rel="noopener noreferrer">docs</a>',
      );
    });

    it('escapes code spans and blocks', () => {
      expect(renderMrkdwn('`<b>`', ctx)).toBe('<code>&lt;b&gt;</code>');
      expect(renderMrkdwn('```<i>x</i>```', ctx)).toBe('<pre>&lt;i&gt;x&lt;/i&gt;</pre>');
    });

    it('does not quote a line that starts with an escaped > (user text)', () => {
      expect(renderMrkdwn('&gt; not a quote', ctx)).not.toContain('<blockquote>');
      expect(renderMrkdwn('>a quote', ctx)).toBe('<blockquote>a quote</blockquote>');
    });
  });

  describe('tokens', () => {
    it('renders user and user-group mentions by name', () => {
      expect(renderMrkdwn('by <@U0APPROVER>', ctx)).toBe(
        'by <span class="mention" data-user="U0APPROVER">@Alex Approver</span>',
      );
      expect(renderMrkdwn('<!subteam^S0APPROVERS>', ctx)).toBe(
        '<span class="mention">@security-approvers</span>',
      );
    });

    it('renders a date token in the reader’s time and keeps the UTC time as its title', () => {
      const html = renderMrkdwn('<!date^1795452315^{date_num} {time}|2026-11-23 16:45 UTC>', ctx);
      expect(html).toMatch(/^<time datetime="2026-11-23T16:45:15.000Z" title="2026-11-23 16:45:15 UTC">/);
    });

    it('falls back to the token’s text when the date is not a number', () => {
      expect(renderMrkdwn('<!date^soon^{time}|later>', ctx)).toBe('later');
    });
  });

  describe('formatting', () => {
    it('renders bold, italic, strike and nested formatting', () => {
      expect(renderMrkdwn('*HIGH* _now_ ~old~ *a `b`*', ctx)).toBe(
        '<strong>HIGH</strong> <em>now</em> <del>old</del> <strong>a <code>b</code></strong>',
      );
    });

    it('leaves markers inside words alone (snake_case_names, 2*3*4)', () => {
      expect(renderMrkdwn('snake_case_name 2*3*4', ctx)).toBe('snake_case_name 2*3*4');
    });

    it('turns known emoji shortcodes into emoji and leaves unknown ones', () => {
      expect(renderMrkdwn(':red_circle: :no_such_emoji:', ctx)).toBe('🔴 :no_such_emoji:');
    });
  });
});

describe('formatSlackDate', () => {
  const now = new Date(2026, 10, 23, 12, 0, 0);
  const at = (h: number, m: number, dayOffset = 0) =>
    new Date(2026, 10, 23 + dayOffset, h, m).getTime() / 1000;

  it('says today / tomorrow / yesterday for the *_pretty formats', () => {
    expect(formatSlackDate(at(16, 5), '{date_short_pretty} {time}', now)).toBe('today 16:05');
    expect(formatSlackDate(at(9, 0, 1), '{date_short_pretty}', now)).toBe('tomorrow');
    expect(formatSlackDate(at(9, 0, -1), '{date_pretty}', now)).toBe('yesterday');
  });

  it('says how far away a time is with {ago}', () => {
    expect(formatSlackDate(at(12, 5), '{ago}', now)).toBe('in 5 minutes');
    expect(formatSlackDate(at(10, 0), '{ago}', now)).toBe('2 hours ago');
  });
});

describe('escapeHtml', () => {
  it('escapes the five characters that matter in content and attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});

describe('emoji on the sandbox page', () => {
  it('shows every short code the bot writes as the emoji Slack shows', () => {
    const { readdirSync, readFileSync, statSync } = require('node:fs') as typeof import('node:fs');
    const { join } = require('node:path') as typeof import('node:path');
    const root = join(__dirname, '..', '..', '..');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    for (const dir of ['slack', 'services', 'handlers']) walk(join(root, dir));
    // A short code where a message may hold one: after a quote, space or bracket, not inside an ARN or IPv6.
    const codes = new Set<string>();
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(
        /(?<=['"`\s(>])(:[a-z][a-z0-9_+-]*:)(?=['"`\s]|$)/g,
      )) {
        codes.add(m[1]!);
      }
    }
    expect(codes.size).toBeGreaterThan(10);
    const shown = [...codes].filter((code) => renderMrkdwn(code, { users: {} }).includes(code));
    expect(shown).toEqual([]);
  });
});
