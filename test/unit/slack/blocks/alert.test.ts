import type { AlertView } from '../../../../services/shared/ports';
import type { AlertItem, ViolationItem } from '../../../../services/violations/items';
import { alertBlocks, fitSection } from '../../../../slack/blocks/alert';

const DEADLINE = '2026-11-23T10:05:00.000Z';

function view(description: string, justification?: string): AlertView {
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
    const blocks = alertBlocks(view('x'.repeat(10_000)));
    const section = blocks.find((b) => b.block_id === 'rule:v-01TEST')!;
    const text: string = section.text.text;
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text.startsWith(':large_orange_circle: *HIGH* `ingress TCP 22')).toBe(true);
    expect(text).toContain('port 22 (SSH) open');
    expect(text).toMatch(/more characters\)/);
    expect(text.split('\n').pop()).toMatch(/^:hourglass: Auto-revoke <!date\^.* · `v-01TEST`$/);
    const buttons = blocks
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements.map((e: { text: { text: string } }) => e.text.text));
    expect(buttons).toEqual(['Revoke', 'Keep…']);
  });

  it('keeps the state line of a kept rule and cuts its long justification after the description', () => {
    const text: string = alertBlocks(view('d'.repeat(5000), 'j'.repeat(5000))).find(
      (b) => b.block_id === 'rule:v-01TEST',
    )!.text.text;
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
    const v = view('');
    Object.assign(v.violations[0]!, { status: 'GONE', decidedBy, decidedByName, decidedAt: DEADLINE });
    return alertBlocks(v).find((b) => b.block_id === 'rule:v-01TEST')!.text.text as string;
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
