import type { Config } from '../config/config';
import { matchesPattern } from '../detection/policy';
import type { Actor } from '../shared/model';

/**
 * Who a change's principal is in Slack, from what AWS recorded (pure). Two ways, in this order:
 * `decisions.principalToSlack` (an ARN pattern → a Slack user), and the principal's own name when AWS set
 * it to an e-mail address that sg-warden then looks up: the session name of an IAM Identity Center role
 * (IAM Identity Center sets it to the user's name there; the role lives under `aws-reserved/sso.amazonaws.com/`,
 * a path no one can create a role under), or an IAM user's name. Any other role's session name is chosen by
 * whoever assumes the role, so it is never believed.
 */

/** An IAM Identity Center permission-set role: only AWS makes roles on this path. */
const IDENTITY_CENTER_ROLE =
  /^arn:aws[\w-]*:iam::\d{12}:role\/aws-reserved\/sso\.amazonaws\.com\/(?:[\w-]+\/)?AWSReservedSSO_[\w+=,.@-]+$/;
const ASSUMED_ROLE_SESSION = /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/AWSReservedSSO_[\w+=,.@-]+\/([^/]+)$/;
const IAM_USER = /^arn:aws[\w-]*:iam::\d{12}:user\/(?:[^/]+\/)*([^/]+)$/;
/** An e-mail address as IAM names allow it (letters, digits and +=,.@_-): one @, a dotted domain. */
const EMAIL = /^[\w+=,.-]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$/;

/** The Slack user `decisions.principalToSlack` maps the principal (or its role) to, or null. */
export function mappedSlackUser(config: Pick<Config, 'decisions'>, actor: Actor): string | null {
  const names = [actor.arn, actor.roleArn].filter((n): n is string => !!n);
  for (const [pattern, user] of Object.entries(config.decisions.principalToSlack)) {
    if (names.some((n) => matchesPattern(pattern, n))) return user;
  }
  return null;
}

/** The e-mail address the principal's name is (lower-cased), when AWS set that name; else null. */
export function actorEmail(actor: Actor): string | null {
  const session = ASSUMED_ROLE_SESSION.exec(actor.arn);
  const name = session
    ? actor.roleArn && IDENTITY_CENTER_ROLE.test(actor.roleArn)
      ? session[1]
      : undefined
    : IAM_USER.exec(actor.arn)?.[1];
  if (!name || name.length > 254 || !EMAIL.test(name)) return null;
  return name.toLowerCase();
}
