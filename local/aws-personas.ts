/** moto's account (the sandbox's). */
const ACCOUNT = '123456789012';

/**
 * Who calls the sandbox's AWS endpoint, told apart by the access key as AWS tells them apart. The
 * secret key is never checked (any value works); a key that is not here is refused as AWS refuses one.
 */
export interface Persona {
  /** The access key ID to use (AWS_ACCESS_KEY_ID). */
  accessKeyId: string;
  /** Short name, for README and logs. */
  name: string;
  /** What the persona is. */
  description: string;
  /** The ARN CloudTrail records (and STS GetCallerIdentity answers). */
  arn: string;
  /** GetCallerIdentity's UserId: the principal ID (with the session name for a role session). */
  principalId: string;
  /** The address CloudTrail records as sourceIPAddress (the sandbox is on loopback). */
  sourceIp: string;
  /** The userIdentity of a CloudTrail record, as AWS writes it for this kind of caller. */
  userIdentity: Record<string, unknown>;
  /** The Slack user this AWS principal is (decisions.principalToSlack: nobody keeps their own change). */
  slackUser?: string;
}

function roleSession(options: {
  accessKeyId: string;
  name: string;
  description: string;
  role: string;
  rolePath?: string;
  roleId: string;
  session: string;
  sourceIp: string;
  slackUser?: string;
}): Persona {
  const arn = `arn:aws:sts::${ACCOUNT}:assumed-role/${options.role}/${options.session}`;
  const principalId = `${options.roleId}:${options.session}`;
  return {
    accessKeyId: options.accessKeyId,
    name: options.name,
    description: options.description,
    arn,
    principalId,
    sourceIp: options.sourceIp,
    ...(options.slackUser ? { slackUser: options.slackUser } : {}),
    userIdentity: {
      type: 'AssumedRole',
      principalId,
      arn,
      accountId: ACCOUNT,
      accessKeyId: options.accessKeyId,
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: options.roleId,
          arn: `arn:aws:iam::${ACCOUNT}:role/${options.rolePath ?? ''}${options.role}`,
          accountId: ACCOUNT,
          userName: options.role,
        },
        webIdFederationData: {},
        attributes: { creationDate: '2026-11-23T08:00:00Z', mfaAuthenticated: 'false' },
      },
    },
  };
}

/** The sandbox's callers (README "npm start" lists them). */
export const PERSONAS: Persona[] = [
  roleSession({
    accessKeyId: 'ASIASANDBOXERIN00001',
    name: 'erin',
    description: "Erin Engineer's SSO session (PowerUser); she may not keep her own changes",
    role: 'AWSReservedSSO_PowerUser_5f3c',
    rolePath: 'aws-reserved/sso.amazonaws.com/',
    roleId: 'AROASANDBOXENGINEER',
    session: 'erin.engineer@example.com',
    sourceIp: '198.51.100.23',
    slackUser: 'U0ENGINEER',
  }),
  roleSession({
    accessKeyId: 'ASIASANDBOXALEX00001',
    name: 'alex',
    description: "Alex Approver's SSO session (SecurityAdmin); he may not keep his own changes",
    role: 'AWSReservedSSO_SecurityAdmin_9a1e',
    rolePath: 'aws-reserved/sso.amazonaws.com/',
    roleId: 'AROASANDBOXAPPROVER',
    session: 'alex.approver@example.com',
    sourceIp: '198.51.100.42',
    slackUser: 'U0APPROVER',
  }),
  roleSession({
    accessKeyId: 'ASIASANDBOXCI0000001',
    name: 'ci',
    description: 'the CI deploy role (Terraform in a pipeline): notify-only by the policy',
    role: 'platform-ci-deploy',
    roleId: 'AROASANDBOXCIDEPLOY',
    session: 'gha-run-4711',
    sourceIp: '192.0.2.10',
  }),
  {
    accessKeyId: 'AKIASANDBOXADMIN0001',
    name: 'admin',
    description: 'an IAM user with a long-term key (the account set-up uses it)',
    arn: `arn:aws:iam::${ACCOUNT}:user/sandbox-admin`,
    principalId: 'AIDASANDBOXADMIN0001',
    sourceIp: '203.0.113.10',
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDASANDBOXADMIN0001',
      arn: `arn:aws:iam::${ACCOUNT}:user/sandbox-admin`,
      accountId: ACCOUNT,
      accessKeyId: 'AKIASANDBOXADMIN0001',
      userName: 'sandbox-admin',
    },
  },
  roleSession({
    accessKeyId: 'ASIASANDBOXBOT000001',
    name: 'bot',
    description: "sg-warden's own Lambda role (the bot's calls: revokes, grants, Run Command)",
    role: 'sg-warden-sandbox-lambda',
    roleId: 'AROASANDBOXSGWARDEN',
    session: 'sg-warden',
    sourceIp: '192.0.2.80',
  }),
  roleSession({
    accessKeyId: 'ASIASANDBOXBACKSTOP1',
    name: 'backstop',
    description:
      "the backstop's execution role, as EventBridge Scheduler assumes it to run a due schedule (it may only revoke rules)",
    role: 'sg-warden-sandbox-backstop-execution',
    roleId: 'AROASANDBOXBACKSTOP',
    session: '5f2b9c0e7d4a4e1b8c3f6a9d2e5b8c1f',
    sourceIp: '192.0.2.81',
  }),
];

const BY_KEY = new Map(PERSONAS.map((p) => [p.accessKeyId, p]));

/** The persona named `name` (the sandbox's own code picks its callers by name). */
export function persona(name: 'erin' | 'alex' | 'ci' | 'admin' | 'bot' | 'backstop'): Persona {
  return PERSONAS.find((p) => p.name === name)!;
}

/** The persona that owns an access key, if any. */
export function personaOf(accessKeyId: string | null): Persona | undefined {
  return accessKeyId ? BY_KEY.get(accessKeyId) : undefined;
}

/** Credentials for the SDK as a persona (the secret is never checked). */
export function credentialsOf(name: Parameters<typeof persona>[0]): {
  accessKeyId: string;
  secretAccessKey: string;
} {
  return { accessKeyId: persona(name).accessKeyId, secretAccessKey: 'sandbox' };
}

/**
 * The access key and region of a SigV4-signed request: from the Authorization header
 * (`Credential=AKID/date/region/service/aws4_request`), or from a presigned URL's X-Amz-Credential.
 */
export function signatureScope(
  headers: Record<string, string>,
  path: string,
): { accessKeyId: string; region: string; service: string } | null {
  const auth = headers.authorization ?? '';
  let credential = /Credential=([^,\s]+)/.exec(auth)?.[1];
  if (!credential) {
    const query = new URL(path, 'http://sandbox').searchParams;
    credential = query.get('X-Amz-Credential') ?? undefined;
  }
  const [accessKeyId, , region, service] = (credential ?? '').split('/');
  if (!accessKeyId || !region || !service) return null;
  return { accessKeyId, region, service };
}

/** AWS principal → Slack user for the personas that are people (decisions.principalToSlack). */
export function personaSlackUsers(): Record<string, string> {
  return Object.fromEntries(PERSONAS.filter((p) => p.slackUser).map((p) => [p.arn, p.slackUser!]));
}
