import type { ActionsBlock, HeaderBlock } from '@slack/types';
import { blockKitProblems } from '../../../../local/shared/block-kit-limits';
import type { AlertItem, DigestItem, ViolationItem } from '../../../../services/violations/items';
import type { DigestView } from '../../../../services/violations/ports';
import { digestBlocks, digestText, FALLBACK_TEXT_LIMIT, fitsDigest } from '../../../../slack/blocks/digest';
import {
  actor,
  allText,
  DOMAIN,
  expectNoLinkTo,
  expectVerbatim,
  now,
  hostileViolation as violation,
} from './hostile-text';

const digest: DigestItem = {
  pk: 'DIGEST#digest-1',
  sk: 'DIGEST',
  type: 'digest',
  status: 'POSTED',
  version: 1,
  digestId: 'digest-1',
  channel: 'C1',
  principal: actor.arn,
  region: 'eu-west-1',
  alertIds: ['e-1'],
  violationIds: [],
  notifyAttempts: 1,
  createdAt: now.toISOString(),
};

const alert = {
  type: 'alert',
  alertId: 'e-1',
  account: '111122223333',
  eventTime: now.toISOString(),
} as AlertItem;

function view(violations: ViolationItem[]): DigestView {
  return { digest, alerts: [alert], violations, accountAliases: { '111122223333': 'prod' }, now };
}

const lines = (n: number, overrides: Partial<ViolationItem> = {}) =>
  Array.from({ length: n }, (_, i) => violation({ violationId: `v-${i}`, ...overrides }));

describe('digest message', () => {
  it('gives each pending line its Revoke and Keep…, and the digest Revoke all / Keep all… naming the digest', () => {
    const blocks = digestBlocks(view(lines(3)));
    const actions = blocks.filter((b): b is ActionsBlock => b.type === 'actions');
    expect(actions.map((a) => a.block_id)).toEqual([
      'actions:v-0',
      'actions:v-1',
      'actions:v-2',
      'alert_actions',
    ]);
    expect(
      actions[0]!.elements.map((e) => [
        (e as { action_id: string }).action_id,
        (e as { value: string }).value,
      ]),
    ).toEqual([
      ['violation_revoke', 'v-0'],
      ['violation_keep', 'v-0'],
    ]);
    expect(
      actions[3]!.elements.map((e) => [
        (e as { action_id: string }).action_id,
        (e as { value: string }).value,
      ]),
    ).toEqual([
      ['alert_revoke_all', 'digest-1'],
      ['alert_keep_all', 'digest-1'],
    ]);
  });

  it('counts pending, revoked and kept in its header; decided lines lose their buttons', () => {
    const blocks = digestBlocks(
      view([
        violation({ violationId: 'a' }),
        violation({ violationId: 'b', status: 'REVOKED', decidedBy: 'U1', decidedAt: now.toISOString() }),
        violation({ violationId: 'c', status: 'KEPT', decidedBy: 'U2', keptUntil: null, justification: 'x' }),
      ]),
    );
    expect((blocks[0] as HeaderBlock).text.text).toMatch(
      /^HIGH: 1 pending · 1 revoked · 1 kept — 3 risky rules/,
    );
    expect(blocks.filter((b) => b.type === 'actions').map((b) => b.block_id)).toEqual(['actions:a']);
    const all = digestBlocks(view([violation({ status: 'AUTO_REVOKED', decidedBy: 'timeout' })]));
    expect((all[0] as HeaderBlock).text.text).toContain('all decided: 0 pending · 1 revoked · 0 kept');
  });

  it('fits 22 pending lines in one message and not 23 (50 blocks), and Slack accepts what fits', () => {
    expect(fitsDigest(view(lines(22)))).toBe(true);
    expect(fitsDigest(view(lines(23)))).toBe(false);
    const blocks = digestBlocks(view(lines(22)));
    expect(blocks).toHaveLength(49);
    expect(blockKitProblems('chat.postMessage', { blocks: JSON.parse(JSON.stringify(blocks)) })).toEqual([]);
  });

  it('keeps its fallback text within its limit, however many lines', () => {
    const text = digestText(view(lines(200)));
    expect(text.length).toBeLessThanOrEqual(FALLBACK_TEXT_LIMIT);
    expect(text).toMatch(/…and \d+ more$/);
  });

  it('shows text from AWS verbatim: no links, no mrkdwn breaking out', () => {
    const v = view(lines(2));
    const blocks = digestBlocks(v);
    expectVerbatim(blocks);
    expectNoLinkTo(blocks);
    // The principal's ARN (with a newline and a tab in it) stays one code span, its controls shown.
    expect(allText(blocks)).toContain('Admin/ok\\n*Who* root\\tx`');
    expect(allText(blocks)).not.toContain('ok\n*Who* root');
    expect(digestText(v)).not.toContain(`<https://`);
    expect(digestText(v)).not.toContain(DOMAIN);
  });
});
