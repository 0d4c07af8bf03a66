import type { ActionsBlock, Button, SectionBlock } from '@slack/types';
import type { AlertItem, ViolationItem } from '../../../../services/violations/items';
import type { AlertView } from '../../../../services/violations/ports';
import { alertBlocks, alertText, fitSection, revokeFailureText } from '../../../../slack/blocks/alert';
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

const DEADLINE = '2026-11-23T10:05:00.000Z';

function truncationView(description: string, justification?: string): AlertView {
  const violation = {
    violationId: 'v-01TEST',
    status: justification ? 'KEPT' : 'PENDING',
    severity: 'high',
    deadline: DEADLINE,
    dryRun: false,
    reasons: ['port 22 (SSH) open: 0.0.0.0/0 is the whole internet'],
    rule: {
      groupId: 'sg-1',
      ruleId: 'sgr-1',
      direction: 'ingress',
      protocol: 'tcp',
      fromPort: 22,
      toPort: 22,
      source: '0.0.0.0/0',
      sourceKind: 'ipv4',
      description,
    },
    ...(justification
      ? { decidedBy: 'U0APPROVER', decidedAt: DEADLINE, keptUntil: DEADLINE, justification }
      : {}),
  } as unknown as ViolationItem;
  const alert = {
    alertId: 'a-1',
    eventId: 'e-1',
    eventName: 'AuthorizeSecurityGroupIngress',
    eventTime: DEADLINE,
    region: 'us-east-1',
    account: '123456789012',
    groupId: 'sg-1',
    groupName: 'web',
    actor: { arn: 'arn:aws:sts::123456789012:assumed-role/x/y', sourceIp: '198.51.100.1', userAgent: 'cli' },
  } as unknown as AlertItem;
  return { alert, violations: [violation], accountAlias: null, now: new Date(DEADLINE) };
}

describe('alert message truncation (Slack: 3,000 characters a section)', () => {
  it('cuts a long description first and keeps the rule line, the deadline and the buttons', () => {
    const blocks = alertBlocks(truncationView('x'.repeat(10_000)));
    const section = blocks.find((b) => b.block_id === 'rule:v-01TEST') as SectionBlock;
    const text: string = section.text!.text;
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text.startsWith(':large_orange_circle: *HIGH* `ingress TCP 22')).toBe(true);
    expect(text).toContain('port 22 (SSH) open');
    expect(text).toMatch(/more characters\)/);
    expect(text.split('\n').pop()).toMatch(/^:hourglass: Auto-revoke <!date\^.* · `v-01TEST`$/);
    const buttons = blocks
      .filter((b): b is ActionsBlock => b.type === 'actions')
      .flatMap((b) => b.elements.map((e) => (e as Button).text.text));
    expect(buttons).toEqual(['Revoke', 'Keep…']);
  });

  it('keeps the state line of a kept rule and cuts its long justification after the description', () => {
    const text: string = (
      alertBlocks(truncationView('d'.repeat(5000), 'j'.repeat(5000))).find(
        (b) => b.block_id === 'rule:v-01TEST',
      ) as SectionBlock
    ).text!.text;
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).toMatch(/\n:shield: Kept by <@U0APPROVER>/);
    expect(text).not.toContain('_Description:_');
    expect(text).toMatch(/\n>j+… \(\d+ more characters\)$/);
  });

  it('changes nothing that fits', () => {
    expect(fitSection({ rule: 'R', reasons: '• a', description: '_Description:_ d', state: 'S\n>q' })).toBe(
      'R\n• a\n_Description:_ d\nS\n>q',
    );
  });
});

describe('alert message wording', () => {
  const gone = (decidedBy: string, decidedByName?: string) => {
    const v = truncationView('');
    Object.assign(v.violations[0]!, { status: 'GONE', decidedBy, decidedByName, decidedAt: DEADLINE });
    return (alertBlocks(v).find((b) => b.block_id === 'rule:v-01TEST') as SectionBlock).text!.text;
  };

  it('says a rule found gone was removed outside sg-warden, not by whoever pressed Revoke', () => {
    expect(gone('U0ENGINEER')).toContain(
      ':ghost: Already gone (removed outside sg-warden) when <@U0ENGINEER> pressed Revoke',
    );
    expect(gone('arn:aws:sts::123456789012:assumed-role/ops/ann')).toContain(
      ':ghost: Already gone: removed outside sg-warden by arn:aws:sts::123456789012:assumed-role/ops/ann',
    );
    expect(gone('timeout')).toContain('Already gone (removed outside sg-warden) at the deadline');
  });
});

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

describe('the exposure line of each violation', () => {
  const exposure = {
    exposure: 'internet' as const,
    reason: 'reachable from the internet through i-01 (web-1, 3.248.1.9)',
    attachments: [
      {
        type: 'instance' as const,
        id: 'i-01',
        name: 'web-1',
        publicIp: '3.248.1.9',
        subnetId: 'subnet-1',
        routesToInternet: true,
        exposure: 'internet' as const,
        reason: 'public address 3.248.1.9 in a subnet routed to igw-1',
      },
    ],
    attachmentCount: 1,
    failures: [],
    at: DEADLINE,
    from: 'high' as const,
    change: 'raised' as const,
  };
  const LINE = 'Exposure: internet · i-01 (web-1, 3.248.1.9) · high → critical';

  function viewOf(count: number): AlertView {
    const base = truncationView('d');
    const violations = Array.from({ length: count }, (_, i) => ({
      ...base.violations[0]!,
      violationId: `v-${i}`,
      severity: 'critical',
      rule: { ...base.violations[0]!.rule, ruleId: `sgr-${i}`, fromPort: 1000 + i, toPort: 1000 + i },
      exposure,
    })) as ViolationItem[];
    return { ...base, violations };
  }

  it('is a context block under the violation’s section, and the header is the final severity', () => {
    const blocks = alertBlocks(viewOf(1));
    const at = blocks.findIndex((b) => b.block_id === 'rule:v-0');
    expect(blocks[at + 1]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: LINE, verbatim: true }],
    });
    expect(blocks[at + 2]?.type).toBe('actions');
    expect(alertText(viewOf(1))).toContain('CRITICAL: a risky rule');
  });

  it('moves into each section when its own blocks would pass Slack’s 50', () => {
    const blocks = alertBlocks(viewOf(20));
    expect(blocks.length).toBeLessThanOrEqual(50);
    const sections = blocks.filter((b) => b.block_id?.startsWith('rule:')) as SectionBlock[];
    expect(sections).toHaveLength(18);
    for (const s of sections) expect(s.text!.text).toContain(`_${LINE}_`);
  });
});
