import type { Config } from '../config/config';
import { functionLogicalId } from './operations';

/**
 * Optional customer-managed KMS key for the table, the failed-events queue and the logs (config `kms`),
 * for serverless.yml through infra/iam-from-config.js. Without `kms`, AWS-owned keys encrypt them
 * (DynamoDB's default, SSE-SQS, CloudWatch Logs' own) and no role needs any KMS permission.
 */

type Json = Record<string, unknown>;
export interface EncryptionResources {
  Resources: Record<string, { Type: string; Properties: Json }>;
  /** Changes to resources serverless.yml defines or generates (the table, the queue, the log groups). */
  extensions: Record<string, { Properties: Json }>;
}

export interface EncryptionOptions {
  stage: string;
  /** serverless.yml's function names: each has a log group `<Name>LogGroup`. */
  functions: string[];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, on purpose
const PARTITION = '${AWS::Partition}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, on purpose
const ACCOUNT = '${AWS::AccountId}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub placeholders, on purpose
const REGION = '${AWS::Region}';

/** The roles that read and write the table (all but the Slack door's). */
export const TABLE_ROLES = [
  'CloudtrailEventRole',
  'SlackWorkerRole',
  'SweeperRole',
  'IpCaptureRole',
  'ScanRole',
  'BackstopDeadLettersRole',
];
/** The roles Lambda sends a failed asynchronous invocation to the queue as (serverless.yml onError). */
export const QUEUE_ROLES = ['CloudtrailEventRole', 'SlackWorkerRole', 'SweeperRole', 'ScanRole'];

/** The key to use: the configured ARN, the created key's ARN, or none. */
export function encryptionKey(config: Config): string | { 'Fn::GetAtt': [string, string] } | null {
  if (config.kms.keyArn) return config.kms.keyArn;
  if (config.kms.create) return { 'Fn::GetAtt': ['EncryptionKey', 'Arn'] };
  return null;
}

/**
 * With a key: the key itself when created (rotated yearly; the account administers it through IAM;
 * CloudWatch Logs may use it for this account's log groups), the table, queue and log groups encrypted
 * with it, and on each role only what the services do with it on the role's behalf.
 */
export function encryptionResources(config: Config, options: EncryptionOptions): EncryptionResources {
  const key = encryptionKey(config);
  if (!key) return { Resources: {}, extensions: {} };
  const Resources: EncryptionResources['Resources'] = {};
  if (config.kms.create) {
    Resources.EncryptionKey = {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: `sg-warden ${options.stage}: the table, the failed-events queue and the logs`,
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AccountAdministersThroughIam',
              Effect: 'Allow',
              Principal: { AWS: { 'Fn::Sub': `arn:${PARTITION}:iam::${ACCOUNT}:root` } },
              Action: 'kms:*',
              Resource: '*',
            },
            {
              Sid: 'CloudWatchLogsForThisAccount',
              Effect: 'Allow',
              Principal: { Service: { 'Fn::Sub': `logs.${REGION}.amazonaws.com` } },
              Action: [
                'kms:Encrypt',
                'kms:Decrypt',
                'kms:ReEncrypt*',
                'kms:GenerateDataKey*',
                'kms:Describe*',
              ],
              Resource: '*',
              Condition: {
                ArnLike: {
                  'kms:EncryptionContext:aws:logs:arn': {
                    'Fn::Sub': `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:*`,
                  },
                },
              },
            },
          ],
        },
      },
    };
    Resources.EncryptionKeyAlias = {
      Type: 'AWS::KMS::Alias',
      Properties: { AliasName: `alias/sg-warden-${options.stage}`, TargetKeyId: { Ref: 'EncryptionKey' } },
    };
  }
  const use = (sid: string, service: string, actions: string[]) => ({
    Sid: sid,
    Effect: 'Allow',
    Action: actions,
    Resource: key,
    // Only through that service, never a direct KMS call.
    Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': `${service}.${REGION}.amazonaws.com` } } },
  });
  for (const role of TABLE_ROLES) {
    const statements = [use('TableKey', 'dynamodb', ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'])];
    if (QUEUE_ROLES.includes(role)) {
      statements.push(use('FailedEventsKey', 'sqs', ['kms:Decrypt', 'kms:GenerateDataKey']));
    }
    Resources[`${role}EncryptionKeyPolicy`] = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'encryption-key',
        Roles: [{ Ref: role }],
        PolicyDocument: { Version: '2012-10-17', Statement: statements },
      },
    };
  }
  const extensions: EncryptionResources['extensions'] = {
    StateTable: {
      Properties: { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: key } },
    },
    FailedEventsQueue: {
      // SqsManagedSseEnabled and a KMS key exclude each other.
      Properties: { SqsManagedSseEnabled: false, KmsMasterKeyId: key, KmsDataKeyReusePeriodSeconds: 3600 },
    },
  };
  const logGroups = [
    ...options.functions.map((f) => functionLogicalId(f).replace(/LambdaFunction$/, 'LogGroup')),
    'HttpApiLogGroup',
  ];
  for (const group of logGroups) extensions[group] = { Properties: { KmsKeyId: key } };
  return { Resources, extensions };
}
