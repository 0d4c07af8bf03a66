import type { Config } from '../config/config';
import { matchesArnPattern } from './policy';

/** Names no real principal has: a pattern that matches them matches any name of that kind. */
const PROBE_NAME = 'zz-sg-warden-probe-4f1c';

/** The account a pattern names (its fifth field) when it is a literal ID; otherwise a stand-in. */
function accountOf(pattern: string): { partition: string; account: string } {
  const fields = pattern.split(':');
  const partition = fields[1] && /^aws[\w-]*$/.test(fields[1]) ? fields[1] : 'aws';
  const account = fields[4] && /^\d{12}$/.test(fields[4]) ? fields[4] : '123456789012';
  return { partition, account };
}

/** What kinds of principal a pattern matches whatever their name: users, roles, assumed-role sessions. */
export function principalsCoveredBy(pattern: string): string[] {
  const { partition, account } = accountOf(pattern);
  const probes: [string, string][] = [
    ['every IAM user', `arn:${partition}:iam::${account}:user/${PROBE_NAME}`],
    ['every role', `arn:${partition}:iam::${account}:role/${PROBE_NAME}`],
    [
      'every assumed-role session',
      `arn:${partition}:sts::${account}:assumed-role/${PROBE_NAME}/${PROBE_NAME}`,
    ],
  ];
  return probes.filter(([, arn]) => matchesArnPattern(pattern, arn)).map(([kind]) => kind);
}

/**
 * Things in a valid config that are probably not meant: principal rules whose ARN pattern covers every
 * principal of an account (each change there would be notify-only or ignored), and trusted taggers that
 * cover every principal of an account (anyone there could exempt a group by tagging it).
 */
export function policyWarnings(config: Config): string[] {
  const warnings: string[] = [];
  config.policy.principals.forEach((rule, i) => {
    if (rule.arn === undefined) return;
    const covered = principalsCoveredBy(rule.arn);
    if (covered.length === 0) return;
    const narrowed = rule.stack !== undefined ? ` (narrowed only by stack "${rule.stack}")` : '';
    warnings.push(
      `policy.principals.${i}.arn: "${rule.arn}" matches ${covered.join(', ')} of an account${narrowed}, so every change there is ${rule.action === 'ignore' ? 'ignored' : 'notify-only'}. Name the principals, e.g. arn:aws:iam::123456789012:role/payments-ci-deploy.`,
    );
  });
  config.policy.exceptions.trustedTaggers.forEach((pattern, i) => {
    const covered = principalsCoveredBy(pattern);
    if (covered.length === 0) return;
    warnings.push(
      `policy.exceptions.trustedTaggers.${i}: "${pattern}" matches ${covered.join(', ')} of an account, so anyone there can exempt a group from sg-warden by tagging it. Name the principals, e.g. arn:aws:iam::123456789012:role/network-admins.`,
    );
  });
  return warnings;
}
