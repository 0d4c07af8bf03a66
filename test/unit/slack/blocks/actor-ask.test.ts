import type { ActionsBlock } from '@slack/types';
import type { AskView } from '../../../../services/actors/ports';
import type { AlertItem } from '../../../../services/violations/items';
import {
  askMessage,
  decodeNeedMetadata,
  needModal,
  needNoticeText,
} from '../../../../slack/blocks/actor-ask';
import { actorAnswerLine, alertBlocks, alertText } from '../../../../slack/blocks/alert';
import {
  actor,
  allText,
  BREAKOUT_SHOWN,
  DOMAIN,
  expectNoLinkTo,
  expectVerbatim,
  hostileViolation,
  now,
  rule,
  URL,
} from './hostile-text';

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
  violationIds: ['v-1'],
  notifyAttempts: 0,
  channel: 'C0PAYMENTS',
  ts: '1700000000.000100',
  route: 'payments',
  createdAt: now.toISOString(),
};

function view(status: AskView['ask']['status'], overrides: Partial<AskView['ask']> = {}): AskView {
  return {
    ask: { user: 'U0ERIN', status, ...overrides },
    alert,
    violations: [hostileViolation()],
    accountAlias: `prod ${URL}`,
    channel: 'C0PAYMENTS',
    now,
  };
}

const buttons = (v: AskView) =>
  askMessage(v)
    .blocks.filter((b): b is ActionsBlock => b.type === 'actions')
    .flatMap((b) => b.elements.map((e) => ('action_id' in e ? e.action_id : '')));

describe('the direct message to a change’s author', () => {
  it('says what, where and until when, with AWS text kept as text', () => {
    const message = askMessage(view('ASKED'));
    expectVerbatim(message.blocks);
    expectNoLinkTo(message.blocks);
    const text = allText(message.blocks);
    expect(text).toContain(`\`${rule.groupId}\` web ${URL} ${DOMAIN}\`\\n\`fake`);
    expect(text).toContain('TCP 22 (SSH) from 0.0.0.0/0');
    expect(text).toContain(`<!date^${Date.parse('2026-11-23T12:15:00.000Z') / 1000}^`);
    expect(text).toContain('<#C0PAYMENTS>');
    expect(message.text).toContain(rule.groupId);
  });

  it('offers both buttons while asked, only Revoke once they need it, none once revoked or decided', () => {
    expect(buttons(view('SENDING'))).toEqual(['actor_revoke', 'actor_need']);
    expect(buttons(view('ASKED'))).toEqual(['actor_revoke', 'actor_need']);
    expect(buttons(view('NEEDED', { justification: 'x' }))).toEqual(['actor_revoke']);
    expect(buttons(view('REVOKED'))).toEqual([]);
    expect(buttons({ ...view('ASKED'), violations: [hostileViolation({ status: 'KEPT' })] })).toEqual([]);
  });

  it('quotes the reason literally, in the DM, the thread and on the alert', () => {
    const reason = `need it ${URL}\n<!channel> ${BREAKOUT_SHOWN}`;
    const dm = allText(askMessage(view('NEEDED', { justification: reason })).blocks);
    expect(dm).toContain('&lt;!channel&gt;');
    expect(dm).not.toContain('<!channel>');
    const notice = needNoticeText({
      user: 'U0ERIN',
      justification: reason,
      approvers: { users: ['U0ALEX'], userGroups: ['S0PAY'] },
    });
    expect(notice).toMatch(/^:raising_hand: <@U0ALEX> <!subteam\^S0PAY>: <@U0ERIN> made this change/);
    expect(notice).not.toContain('<!channel>');
    const shown = actorAnswerLine({
      alert: {
        ...alert,
        actorAsk: { user: 'U0ERIN', status: 'NEEDED', at: now.toISOString(), justification: reason },
      },
      violations: [],
      accountAlias: null,
      now,
    });
    expect(shown).toContain('<@U0ERIN> made this change and says they need it');
    expect(shown).toContain('>need it');
    expect(shown).not.toContain('<!channel>');
  });

  it('binds the reason dialog to the DM, and reads back only what it wrote', () => {
    const modal = needModal({ alertId: 'e-1', channel: 'D0ERIN', ts: '1700000000.000200' });
    expect(decodeNeedMetadata(modal.private_metadata)).toEqual({
      alertId: 'e-1',
      channel: 'D0ERIN',
      ts: '1700000000.000200',
    });
    for (const bad of [
      '',
      'x',
      '{"alertId":"a b","channel":"D1","ts":"1"}',
      '{"alertId":"a","channel":"<x>","ts":"1"}',
    ])
      expect(decodeNeedMetadata(bad)).toBeNull();
  });
});

describe('the alert of a route', () => {
  it('mentions the route’s user group first on a critical alert, and names the route', () => {
    const critical = {
      alert: { ...alert, mention: 'S0ONCALL' },
      violations: [hostileViolation({ severity: 'critical' })],
      accountAlias: null,
      now,
    };
    expect(alertText(critical)).toMatch(/^<!subteam\^S0ONCALL> sg-warden: /);
    const text = allText(alertBlocks(critical));
    expect(text).toContain('<!subteam^S0ONCALL> a critical change needs a decision');
    expect(text).toContain('route `payments`');
    expect(alertText({ ...critical, alert: alert })).toMatch(/^sg-warden: /);
  });
});
