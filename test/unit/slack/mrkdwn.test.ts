import { textMessage } from '../../../slack/blocks/kit';
import { code, literal, plainLiteral, quoted, showControls, truncate } from '../../../slack/mrkdwn';

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

describe('case 9: text from AWS or a user is shown as it is', () => {
  it('shows every C0 and C1 control, DEL, line separators and bidi overrides as visible escapes', () => {
    expect(showControls('a\nb\tc\rd\u0000e\u001bf\u007fg\u0085h\u009fi\u2028j\u202ek\u2066l')).toBe(
      'a\\nb\\tc\\rd\\x00e\\x1bf\\x7fg\\x85h\\x9fi\\u2028j\\u202ek\\u2066l',
    );
    expect(showControls('plain text, ünïcödé and emoji 🙂')).toBe('plain text, ünïcödé and emoji 🙂');
  });

  it('literal(): escapes mrkdwn, and puts each run of controls in a code span of its own', () => {
    expect(literal('<!here> a\n\n*b*')).toBe('&lt;!here&gt; a`\\n\\n`*b*');
  });

  it('code(): one span that neither a newline nor a backtick can leave', () => {
    expect(code('curl\n`x` <y>')).toBe("`curl\\n'x' &lt;y&gt;`");
  });

  it('quoted(): every line of a justification stays inside the quote', () => {
    expect(quoted('one\r\ntwo\n>three\u0007')).toBe('>one\n>two\n>&gt;three`\\x07`');
  });

  it('plainLiteral(): no address left in a shape a client would link, the visible text unchanged', () => {
    const out = plainLiteral('see https://evil.example/x or www.evil.example, mail a@evil.example\n');
    expect(out).not.toMatch(/:\/\/|[a-z]\.[a-z]|@[a-z]/);
    expect(out.replace(/\u2060/g, '')).toBe(
      'see https://evil.example/x or www.evil.example, mail a@evil.example\\n',
    );
  });

  it("textMessage(): a text-only answer also travels as verbatim sections within Slack's limits", () => {
    const long = `${'x'.repeat(2990)}\n${'y'.repeat(100)}`;
    const message = textMessage(long);
    expect(message.text).toBe(long);
    expect(message.blocks).toHaveLength(2);
    for (const block of message.blocks)
      expect(block).toMatchObject({ type: 'section', text: { type: 'mrkdwn', verbatim: true } });
    expect(textMessage('   ').blocks).toEqual([]);
  });
});
