/**
 * A principal's short name for people: "Role/session" for an assumed role, the user name for an IAM
 * user, "root", or the whole ARN / service name when it is none of those.
 */
export function principalName(arn: string): string {
  const match = /^arn:aws[\w-]*:(?:sts|iam)::\d{12}:(assumed-role|user|root)(?:\/(.+))?$/.exec(arn);
  if (!match) return arn;
  if (match[1] === 'root') return 'root';
  return match[1] === 'user' ? (match[2]?.split('/').at(-1) ?? arn) : (match[2] ?? arn);
}
