import { parseStatusCommand } from '../../../../slack/commands/status';

const parse = (text: string) => parseStatusCommand(text, ['bastion']);

describe('parseStatusCommand', () => {
  it('reads the overview, a group by ID or target, and the audit views', () => {
    expect(parse('')).toEqual({ kind: 'overview' });
    expect(parse('  ')).toEqual({ kind: 'overview' });
    expect(parse('sg-0123456789abcdef0')).toEqual({
      kind: 'group',
      groupId: 'sg-0123456789abcdef0',
      alias: null,
      region: null,
    });
    expect(parse('SG-0123ABCD eu-west-1')).toEqual({
      kind: 'group',
      groupId: 'sg-0123abcd',
      alias: null,
      region: 'eu-west-1',
    });
    expect(parse('bastion')).toEqual({ kind: 'group', groupId: null, alias: 'bastion', region: null });
    expect(parse('audit')).toEqual({ kind: 'audit', subjectId: null });
    expect(parse('audit g-abcdefghjk')).toEqual({ kind: 'audit', subjectId: 'g-abcdefghjk' });
    expect(parse('audit v-0123456789ab')).toEqual({ kind: 'audit', subjectId: 'v-0123456789ab' });
  });

  it.each([
    ['help', undefined],
    ['nowhere', /neither a security-group ID/],
    ['sg-123', /neither a security-group ID/],
    ['bastion moon-base-1', /I did not understand "moon-base-1"/],
    ['bastion eu-west-1 extra', /I did not understand/],
    ['audit one two', /at most one/],
    ['audit <script>', /at most one/],
  ])('answers %j with help', (text, note) => {
    const parsed = parse(text);
    expect(parsed.kind).toBe('help');
    if (note) expect((parsed as { note: string }).note).toMatch(note);
  });
});
