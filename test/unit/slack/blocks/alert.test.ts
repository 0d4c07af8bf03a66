import type { AlertView } from '../../../../services/shared/ports';
import type { AlertItem, ViolationItem } from '../../../../services/violations/items';
import { alertBlocks, alertText, revokeFailureText } from '../../../../slack/blocks/alert';
import {
  actor,
  allText,
  BREAKOUT,
  BREAKOUT_IN_CODE,
  BREAKOUT_SHOWN,
  DOMAIN,
  expectNoLinkTo,
  expectVerbatim,
  now,
  OTHER_CONTROLS_SHOWN,
  rule,
  textObjects,
  URL,
  hostileViolation as violation,
} from './hostile-text';

function view(violations: ViolationItem[], accountAlias: string | null = null): AlertView {
  const alert: AlertItem = {
    pk: 'ALERT#e-1',
    sk: 'ALERT',
    type: 'alert',
    status: 'POSTED',
    version: 1,
    alertId: 'e-1',
    eventId: 'e-1',
    eventName: 'AuthorizeSecurityGroupIngress',
    eventTime: now.toISOString(),
    region: 'eu-west-1',
    account: '111122223333',
    groupId: rule.groupId,
    groupName: `web ${URL} ${DOMAIN}\nfake`,
    actor,
    violationIds: violations.map((v) => v.violationId),
    notifyAttempts: 0,
    createdAt: now.toISOString(),
  };
  return { alert, violations, accountAlias, now };
}

describe('alertBlocks: case 9, text from AWS stays text', () => {
  const blocks = alertBlocks(view([violation()], `prod ${URL}`));
  const text = allText(blocks);

  it('sends every mrkdwn text object verbatim, so Slack links nothing in it', () => {
    expectVerbatim(blocks);
    expectNoLinkTo(blocks);
  });

  it('shows the rule description with its URL as text and its controls as visible escapes', () => {
    expect(text).toContain(`_Description:_ see ${URL} ${BREAKOUT_SHOWN} ${OTHER_CONTROLS_SHOWN}`);
  });

  it('keeps a newline in the user agent and the principal inside their code spans', () => {
    expect(text).toContain(`user agent \`aws-cli/2 ${BREAKOUT_IN_CODE.slice(1)}`);
    expect(text).toContain(
      `*Who*\n\`arn:aws:sts::111122223333:assumed-role/Admin/${BREAKOUT_IN_CODE.slice(1)}`,
    );
    expect(text).not.toContain(BREAKOUT);
  });

  it('shows the group name, the source IP text and the account alias literally', () => {
    expect(text).toContain(`web ${URL} ${DOMAIN}\`\\n\`fake`);
    expect(text).toContain(`*Source IP*\nec2.amazonaws.com ${URL}`);
    expect(text).toContain(`prod ${URL}`);
  });

  it('leaves no address in the header (plain text) in a linkable shape, and no raw newline', () => {
    const header = textObjects(blocks[0])[0]!.text;
    expect(header).not.toContain('://');
    expect(header).not.toContain(DOMAIN);
    expect(header.replace(/\u2060/g, '')).toContain(`web ${URL} ${DOMAIN}\\nfake`);
  });

  it('quotes a justification line by line, each line literal', () => {
    const kept = alertBlocks(
      view([
        violation({
          status: 'KEPT',
          decidedBy: 'U0APPROVER',
          justification: `ticket ${URL}\n*Who* me\u0007`,
        }),
      ]),
    );
    expect(allText(kept)).toContain(`\n>ticket ${URL}\n>*Who* me\`\\x07\``);
    expectVerbatim(kept);
  });

  it('shows a revoke error literally', () => {
    const failed = alertBlocks(view([violation({ status: 'FAILED', lastError: `denied ${BREAKOUT}` })]));
    expect(allText(failed)).toContain(`: denied ${BREAKOUT_SHOWN}`);
  });

  it('the fallback text has no raw control character and no linkable address', () => {
    const fallback = alertText(view([violation()]));
    expect(fallback).not.toMatch(/[\n\t]/);
    expect(fallback).not.toContain('://');
    expect(fallback).not.toContain(DOMAIN);
  });

  it('the revoke-failure notice keeps EC2’s error inside its code span', () => {
    const notice = revokeFailureText({ violation: violation(), attempts: 5, error: `denied ${BREAKOUT}` });
    expect(notice).toContain(`Last error: \`denied ${BREAKOUT_IN_CODE.slice(1)}`);
  });
});
