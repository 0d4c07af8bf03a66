import { escapeHtml } from '../../../web/html';

describe('escapeHtml', () => {
  it('escapes element content and attribute quotes', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});
