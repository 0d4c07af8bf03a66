import { AUDIT_KEY_PREFIX } from '../aws/dynamodb-store';
import type { Config } from '../config/config';

/**
 * The optional audit archive (`audit.archiveBucket`), for serverless.yml (through infra/iam-from-config.js):
 * the table's stream, filtered to audit items, feeds a small function that writes each record into an S3
 * bucket with Object Lock. Everything here exists only when the config names a bucket; without one the
 * template has no stream, no bucket and no function.
 */

// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const STACK = '${AWS::StackName}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const PARTITION = '${AWS::Partition}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const REGION = '${AWS::Region}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const ACCOUNT = '${AWS::AccountId}';
const sub = (template: string) => ({ 'Fn::Sub': template });

/** Where archived records go in the bucket: `audit/<day>/<subject key>/<entry>/<event>.json`. */
export const ARCHIVE_PREFIX = 'audit/';

/**
 * The archive function's whole code (CommonJS, inline in the template: nothing to bundle). Each stream
 * record of an audit item — its creation and, should one ever happen, a change or removal with the old
 * image — becomes one object; the bucket's default retention locks it. A failure throws: Lambda retries
 * the batch from the stream, and the object keys are the same the second time.
 */
export const AUDIT_ARCHIVE_CODE = `'use strict';
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
const s3 = new S3Client({});
const safe = (text) => encodeURIComponent(String(text)).slice(0, 300);
exports.handler = async (event) => {
  for (const record of event.Records || []) {
    const keys = (record.dynamodb && record.dynamodb.Keys) || {};
    const pk = (keys.pk && keys.pk.S) || 'unknown';
    const sk = (keys.sk && keys.sk.S) || 'unknown';
    const key = '${ARCHIVE_PREFIX}' + sk.slice(0, 10) + '/' + safe(pk) + '/' + safe(sk) + '/' + safe(record.eventName) + '-' + safe(record.eventID) + '.json';
    await s3.send(new PutObjectCommand({
      Bucket: process.env.ARCHIVE_BUCKET,
      Key: key,
      Body: JSON.stringify(record),
      ContentType: 'application/json',
      ChecksumAlgorithm: 'SHA256',
    }));
  }
  return { archived: (event.Records || []).length };
};
`;

/** The stream's records older than this are behind: the archive alarm fires (the stream keeps 24 hours). */
const BEHIND_MS = 15 * 60 * 1000;

/**
 * The archive's resources, or nothing when `audit.archiveBucket` is not set. `logRetentionInDays` and
 * `alarmActions` come from the deploy's params, like the other functions' log groups and alarms.
 */
export function auditArchiveResources(
  config: Config,
  options: { logRetentionInDays: number; alarmActions: string[] },
): Record<string, unknown> {
  const bucket = config.audit.archiveBucket;
  if (!bucket) return {};
  const functionName = `${STACK}-auditArchive`;
  return {
    extensions: {
      // Old images too: an audit item changed or removed by anyone is archived as it was.
      StateTable: { Properties: { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } } },
    },
    Resources: {
      AuditArchiveBucket: {
        Type: 'AWS::S3::Bucket',
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          BucketName: bucket,
          ObjectLockEnabled: true,
          ObjectLockConfiguration: {
            ObjectLockEnabled: 'Enabled',
            Rule: {
              DefaultRetention: { Mode: config.audit.archiveMode, Days: config.audit.archiveRetentionDays },
            },
          },
          VersioningConfiguration: { Status: 'Enabled' },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        },
        Metadata: {
          checkov: {
            skip: [
              {
                id: 'CKV_AWS_18',
                comment:
                  'Only the archive function writes here (bucket policy); CloudTrail records who reads.',
              },
            ],
          },
        },
      },
      AuditArchiveBucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'AuditArchiveBucket' },
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'TlsOnly',
                Effect: 'Deny',
                Principal: '*',
                Action: 's3:*',
                Resource: [
                  { 'Fn::GetAtt': ['AuditArchiveBucket', 'Arn'] },
                  sub(`\${AuditArchiveBucket.Arn}/*`),
                ],
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              },
              {
                // Nothing else can plant an entry that looks archived.
                Sid: 'OnlyTheArchiveWrites',
                Effect: 'Deny',
                Principal: '*',
                Action: 's3:PutObject',
                Resource: sub(`\${AuditArchiveBucket.Arn}/*`),
                Condition: {
                  ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': ['AuditArchiveRole', 'Arn'] } },
                },
              },
            ],
          },
        },
      },
      AuditArchiveLogGroup: {
        Type: 'AWS::Logs::LogGroup',
        Properties: {
          LogGroupName: sub(`/aws/lambda/${functionName}`),
          RetentionInDays: options.logRetentionInDays,
        },
      },
      AuditArchiveRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: sub(`${STACK}-${REGION}-auditArchive`),
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
            ],
          },
          Policies: [
            {
              PolicyName: 'audit-archive',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  {
                    Sid: 'Logs',
                    Effect: 'Allow',
                    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                    Resource: sub(
                      `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${functionName}:*`,
                    ),
                  },
                  {
                    Sid: 'ReadTheStream',
                    Effect: 'Allow',
                    // What Lambda's event source mapping reads the table's stream with.
                    Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
                    Resource: { 'Fn::GetAtt': ['StateTable', 'StreamArn'] },
                  },
                  {
                    Sid: 'ListStreams',
                    Effect: 'Allow',
                    // Lambda checks the stream with it; ListStreams has no resource to scope to.
                    Action: ['dynamodb:ListStreams'],
                    Resource: '*',
                  },
                  {
                    Sid: 'Archive',
                    Effect: 'Allow',
                    // New objects only: no retention change, no governance bypass, no delete.
                    Action: ['s3:PutObject'],
                    Resource: sub(`\${AuditArchiveBucket.Arn}/${ARCHIVE_PREFIX}*`),
                  },
                ],
              },
            },
          ],
        },
      },
      AuditArchiveLambdaFunction: {
        Type: 'AWS::Lambda::Function',
        DependsOn: ['AuditArchiveLogGroup'],
        Properties: {
          FunctionName: sub(functionName),
          Description: 'Copies every audit entry, as DynamoDB writes it, to the Object Lock bucket',
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          MemorySize: 256,
          Timeout: 60,
          Role: { 'Fn::GetAtt': ['AuditArchiveRole', 'Arn'] },
          Environment: { Variables: { ARCHIVE_BUCKET: { Ref: 'AuditArchiveBucket' } } },
          Code: { ZipFile: AUDIT_ARCHIVE_CODE },
        },
        Metadata: {
          checkov: {
            skip: [
              {
                id: 'CKV_AWS_116',
                comment:
                  'Invoked by a DynamoDB stream mapping: a failed batch is retried from the stream, never async.',
              },
            ],
          },
        },
      },
      AuditArchiveStreamMapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          EventSourceArn: { 'Fn::GetAtt': ['StateTable', 'StreamArn'] },
          FunctionName: { Ref: 'AuditArchiveLambdaFunction' },
          StartingPosition: 'TRIM_HORIZON',
          BatchSize: 100,
          // Never skip a record: a failing batch is split to find the bad record and retried until it
          // works or the stream drops it after 24 hours (the alarm below fires long before).
          MaximumRetryAttempts: -1,
          BisectBatchOnFunctionError: true,
          FilterCriteria: {
            Filters: [
              {
                Pattern: JSON.stringify({
                  dynamodb: { Keys: { pk: { S: [{ prefix: AUDIT_KEY_PREFIX }] } } },
                }),
              },
            ],
          },
        },
      },
      AuditArchiveBehindAlarm: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: sub(`${STACK}-audit-archive-behind`),
          AlarmDescription:
            'The audit archive is more than 15 minutes behind the table (its function fails or is throttled): ' +
            'see the auditArchive log. The stream keeps records 24 hours.',
          Namespace: 'AWS/Lambda',
          MetricName: 'IteratorAge',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'AuditArchiveLambdaFunction' } }],
          Statistic: 'Maximum',
          Period: 300,
          EvaluationPeriods: 1,
          Threshold: BEHIND_MS,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: options.alarmActions,
          OKActions: options.alarmActions,
        },
      },
    },
    Outputs: {
      AuditArchiveBucketName: {
        Description: 'The Object Lock bucket holding every audit entry (audit.archiveBucket)',
        Value: { Ref: 'AuditArchiveBucket' },
      },
    },
  };
}
