import type { ViolationItem } from '../../../../services/violations/items';

/**
 * #19 case 9, "text from AWS stays text": hostile values for every field that reaches a message, and the
 * checks every builder's output must pass (shared by the builders' unit tests).
 */

/** A bare URL, as a rule description, a group name or a tag might carry it. */
export const URL = 'https://evil.example/login';
/** A bare domain and an address: Slack links these too when it parses text. */
export const DOMAIN = 'evil.example';
/** A newline and a tab that would start a fake line ("*Who*") if they reached mrkdwn raw. */
export const BREAKOUT = 'ok\n*Who* root\tx';
/** How BREAKOUT must read outside a code span: the controls as visible escapes in their own code span. */
export const BREAKOUT_SHOWN = 'ok`\\n`*Who* root`\\t`x';
/** How BREAKOUT must read inside a code span: one span, controls as visible escapes. */
export const BREAKOUT_IN_CODE = '`ok\\n*Who* root\\tx`';
/** Other C0 and C1 controls and a bidi override. */
export const OTHER_CONTROLS = 'a\u0007b\u0085c\u202ed';
export const OTHER_CONTROLS_SHOWN = 'a`\\x07`b`\\x85`c`\\u202e`d';

export const now = new Date('2026-11-23T12:00:00.000Z');
export const actor = {
  arn: `arn:aws:sts::111122223333:assumed-role/Admin/${BREAKOUT}`,
  type: 'AssumedRole',
  roleArn: null,
  invokedBy: null,
  sourceIp: `ec2.amazonaws.com ${URL}`,
  userAgent: `aws-cli/2 ${BREAKOUT}`,
};
export const rule = {
  groupId: 'sg-0123456789abcdef0',
  ruleId: 'sgr-0123456789abcdef0',
  direction: 'ingress' as const,
  protocol: 'tcp',
  fromPort: 22,
  toPort: 22,
  source: '0.0.0.0/0',
  sourceKind: 'ipv4' as const,
  description: `see ${URL} ${BREAKOUT} ${OTHER_CONTROLS}`,
};

export function hostileViolation(overrides: Partial<ViolationItem> = {}): ViolationItem {
  return {
    pk: 'VIOLATION#v-1',
    sk: 'VIOLATION',
    type: 'violation',
    status: 'PENDING',
    version: 1,
    violationId: 'v-1',
    alertId: 'e-1',
    eventId: 'e-1',
    region: 'eu-west-1',
    account: '111122223333',
    groupId: rule.groupId,
    groupName: `web ${DOMAIN}`,
    rule,
    severity: 'high',
    reasons: [`made by ${actor.arn}`],
    action: 'alert',
    dryRun: false,
    actor,
    eventTime: now.toISOString(),
    createdAt: now.toISOString(),
    deadline: '2026-11-23T12:15:00.000Z',
    revokeAttempts: 0,
    ...overrides,
  };
}

interface TextObject {
  type: string;
  text: string;
  verbatim?: boolean;
}

/** Every text object (mrkdwn and plain_text) in blocks, a view or a message, depth first. */
export function textObjects(value: unknown): TextObject[] {
  if (Array.isArray(value)) return value.flatMap(textObjects);
  if (!value || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  const own =
    (record.type === 'mrkdwn' || record.type === 'plain_text') && typeof record.text === 'string'
      ? [record as unknown as TextObject]
      : [];
  return [...own, ...Object.values(record).flatMap(textObjects)];
}

/** Every mrkdwn text object is verbatim (no automatic links), and there is at least one. */
export function expectVerbatim(value: unknown): void {
  const mrkdwn = textObjects(value).filter((t) => t.type === 'mrkdwn');
  expect(mrkdwn.length).toBeGreaterThan(0);
  for (const t of mrkdwn)
    expect({ text: t.text, verbatim: t.verbatim }).toEqual({ text: t.text, verbatim: true });
}

/** All the text of a builder's output, joined. */
export function allText(value: unknown): string {
  return textObjects(value)
    .map((t) => t.text)
    .join('\n');
}

/** A bare URL is never turned into a Slack link token by sg-warden itself. */
export function expectNoLinkTo(value: unknown, url = URL): void {
  expect(allText(value)).not.toContain(`<${url}`);
}
