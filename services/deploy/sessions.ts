import type { Config } from '../config/config';
import { endSessionsDocumentContent } from '../sessions/document';
import type { CfnResources, CfnStatement } from './iam';

/**
 * Ending sessions (whitelist targets' `endSessions`, `policy.endSessionsOnRevoke`): the stack's own
 * end-sessions Command document and the IAM to use it. The worker ends sessions when a person revokes (a
 * grant, a violation); the sweeper when the clock does (expiry, a deadline) and reads every result;
 * detection when the backstop did (its revoke's CloudTrail event: the sweeper was late). Each
 * may send only that document (nothing else can run through it), to instances of this account in this
 * region; nothing at all when the config ends no sessions.
 */

// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const PARTITION = '${AWS::Partition}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const ACCOUNT = '${AWS::AccountId}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const REGION = '${AWS::Region}';

/** The function roles (serverless.yml logical IDs) that end sessions. */
export const ROLES_ENDING_SESSIONS = {
  send: ['SlackWorkerRole', 'SweeperRole', 'CloudtrailEventRole'],
  poll: ['SweeperRole'],
} as const;

/** The document's name: serverless.yml gives the functions the same (SG_WARDEN_SESSIONS_DOCUMENT). */
export function sessionsDocumentName(stage: string): string {
  return `sg-warden-${stage}-end-sessions`;
}

/** True when the config ends sessions anywhere. */
export function endsSessions(config: Config): boolean {
  return (
    config.policy.endSessionsOnRevoke || Object.values(config.whitelist.targets).some((t) => t.endSessions)
  );
}

/** Whitelist targets that end sessions but are out of the document's reach: another region. */
export function sessionsProblems(config: Config, region: string): string[] {
  return Object.entries(config.whitelist.targets)
    .filter(([, t]) => t.endSessions && t.region !== region)
    .map(
      ([alias, t]) =>
        `whitelist.targets.${alias}.endSessions: the end-sessions document is deployed in ${region} (the stack's region) only, and ${alias} is in ${t.region}`,
    );
}

/**
 * The IAM policies alone (AWS::IAM::Policy per role), for the document called `documentName`; `{}` when
 * the config ends no sessions. Named `…-from-config` like every policy the config decides.
 */
export function sessionsPolicies(config: Config, documentName: string): CfnResources {
  if (!endsSessions(config)) return { Resources: {} };
  const send: CfnStatement[] = [
    {
      Sid: 'EndSessionsSend',
      Effect: 'Allow',
      Action: ['ssm:SendCommand'],
      Resource: [
        { 'Fn::Sub': `arn:${PARTITION}:ssm:${REGION}:${ACCOUNT}:document/${documentName}` },
        { 'Fn::Sub': `arn:${PARTITION}:ec2:${REGION}:${ACCOUNT}:instance/*` },
      ],
    },
    {
      Sid: 'EndSessionsTargets',
      Effect: 'Allow',
      // Describe calls support no resource-level permissions.
      Action: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation'],
      Resource: '*',
    },
  ];
  const poll: CfnStatement[] = [
    { Sid: 'EndSessionsResults', Effect: 'Allow', Action: ['ssm:GetCommandInvocation'], Resource: '*' },
  ];
  const policy = (role: string, policyName: string, statements: CfnStatement[]) => ({
    Type: 'AWS::IAM::Policy',
    Properties: {
      PolicyName: policyName,
      Roles: [{ Ref: role }],
      PolicyDocument: { Version: '2012-10-17', Statement: statements },
    },
  });
  const Resources: CfnResources['Resources'] = {};
  for (const role of ROLES_ENDING_SESSIONS.send)
    Resources[`${role}EndSessionsPolicy`] = policy(role, 'end-sessions-from-config', send);
  for (const role of ROLES_ENDING_SESSIONS.poll)
    Resources[`${role}EndSessionsResultsPolicy`] = policy(role, 'end-sessions-results-from-config', poll);
  return { Resources };
}

/** The document and the policies, for serverless.yml's resources; `{}` when the config ends no sessions. */
export function sessionsResources(config: Config, options: { stage: string; region: string }): CfnResources {
  if (!endsSessions(config)) return { Resources: {} };
  const problems = sessionsProblems(config, options.region);
  if (problems.length > 0) throw new Error(`config/sg-warden.yml: ${problems.join('; ')}`);
  const name = sessionsDocumentName(options.stage);
  return {
    Resources: {
      EndSessionsDocument: {
        Type: 'AWS::SSM::Document',
        Properties: {
          Name: name,
          DocumentType: 'Command',
          DocumentFormat: 'JSON',
          // A named document is updated in place (a new default version), never replaced.
          UpdateMethod: 'NewVersion',
          Content: endSessionsDocumentContent(),
        },
      },
      ...sessionsPolicies(config, name).Resources,
    },
  };
}
