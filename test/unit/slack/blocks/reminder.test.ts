import { inWords, mentions } from '../../../../slack/blocks/reminder';

describe('reminder wording', () => {
  it('says a span of time as people do', () => {
    expect(inWords(240)).toBe('4 minutes');
    expect(inWords(30)).toBe('1 minute');
    expect(inWords(3 * 3600)).toBe('3 hours');
    expect(inWords(86401)).toBe('1 day');
    expect(inWords(3 * 86400)).toBe('3 days');
  });

  it('mentions each user group and each user, and nobody for an empty list', () => {
    expect(mentions({ users: ['U0ALICE'], userGroups: ['S0SRE'] })).toBe('<!subteam^S0SRE> <@U0ALICE>');
    expect(mentions({ users: [], userGroups: [] })).toBe('');
  });
});
