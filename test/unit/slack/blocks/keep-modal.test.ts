import { parseConfig } from '../../../../services/config/config';
import { keepModal, keepRefusalModal, keepSummary } from '../../../../slack/blocks/keep-modal';
import {
  allText,
  BREAKOUT_SHOWN,
  expectNoLinkTo,
  expectVerbatim,
  hostileViolation,
  URL,
} from './hostile-text';

const config = parseConfig('slack:\n  alertChannel: C0ALERTS\n', 'test.yml');

describe('keepModal: case 9, text from AWS stays text', () => {
  const violation = hostileViolation({ reasons: [`made by ${URL} ok\n*Who* root\tx`] });
  const modal = keepModal({
    metadata: { violationIds: [violation.violationId], channel: 'C0ALERTS', ts: '1.2' },
    choices: [3600],
    summary: keepSummary([violation]),
    config,
  });

  it('is a typed modal whose mrkdwn is verbatim', () => {
    expect(modal.type).toBe('modal');
    expectVerbatim(modal.blocks);
    expectNoLinkTo(modal.blocks);
  });

  it('shows the reason (which quotes the principal) literally, controls as visible escapes', () => {
    expect(allText(modal.blocks)).toContain(`made by ${URL} ${BREAKOUT_SHOWN}`);
  });

  it('shows the rule in a code span that a newline cannot leave', () => {
    const described = hostileViolation({ groupId: `sg-1${'\n'}x` });
    expect(keepSummary([described])).toContain('`sg-1\\nx`');
  });

  it('a refusal dialog is verbatim too', () => {
    expectVerbatim(keepRefusalModal(`no ${URL}`).blocks);
  });
});
