import { blockKitProblems } from '../../../local/shared/block-kit-limits';

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });

describe('SlackEmulator Block Kit limits', () => {
  it('accepts a message within the limits', () => {
    expect(
      blockKitProblems('chat.postMessage', { blocks: Array.from({ length: 50 }, () => section('ok')) }),
    ).toEqual([]);
  });

  it('refuses what Slack refuses: 51 blocks, a long section, header or button', () => {
    expect(
      blockKitProblems('chat.postMessage', { blocks: Array.from({ length: 51 }, () => section('x')) }),
    ).toEqual(['must be less than 51 items [/blocks]']);
    expect(
      blockKitProblems('chat.update', {
        blocks: [
          section('x'.repeat(3001)),
          { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } },
          {
            type: 'actions',
            elements: [{ type: 'button', text: { type: 'plain_text', text: 'b'.repeat(76) } }],
          },
        ],
      }),
    ).toEqual([
      'must be less than 3001 characters [/blocks/0/text]',
      'must be less than 151 characters [/blocks/1/text]',
      'must be less than 76 characters [/blocks/2/elements/0/text]',
    ]);
  });

  it('allows a modal 100 blocks', () => {
    const view = { type: 'modal', blocks: Array.from({ length: 100 }, () => section('x')) };
    expect(blockKitProblems('views.open', { view })).toEqual([]);
    expect(
      blockKitProblems('views.open', { view: { ...view, blocks: [...view.blocks, section('x')] } }),
    ).toEqual(['must be less than 101 items [/blocks]']);
  });
});
