import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as s3 from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import { AUDIT_KEY_PREFIX } from '../../../services/aws/dynamodb-store';
import { ARCHIVE_PREFIX, AUDIT_ARCHIVE_CODE } from '../../../services/deploy/audit-archive';
import { motoUrl, uniqueName } from '../../support/aws';
import { packageDeploy } from '../../support/package-deploy';

// #12.4 the optional archive of the audit trail (audit.archiveBucket): `serverless package` with it
// (template.test.ts packages without it), and the archive function's own code against moto's S3.

const root = join(__dirname, '..', '..', '..');
const ARCHIVE_CONFIG = `slack:
  alertChannel: C0ALERTS
audit:
  archiveBucket: sg-warden-audit-archive-test
  archiveRetentionDays: 2555
  archiveMode: COMPLIANCE
`;

type Json = Record<string, unknown>;
type Resource = { Type: string; Properties: Json; DeletionPolicy?: string; Metadata?: Json };
let template: { Resources: Record<string, Resource>; Outputs: Json };
let templatePath: string;

beforeAll(() => {
  // One package at a time across test files (they share the service's build folder).
  const packaged = packageDeploy(ARCHIVE_CONFIG, { prefix: 'sg-warden-archive' });
  templatePath = packaged.templatePath;
  template = packaged.template as typeof template;
}, 180_000);

function statementsOf(roleId: string): { Sid: string; Action: string[]; Resource: unknown }[] {
  const role = template.Resources[roleId]!;
  return (role.Properties.Policies as { PolicyDocument: { Statement: never[] } }[]).flatMap(
    (p) => p.PolicyDocument.Statement,
  );
}

describe('#12.4 the audit archive (audit.archiveBucket)', () => {
  it('turns on the table stream with old and new images', () => {
    expect(template.Resources.StateTable!.Properties.StreamSpecification).toEqual({
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    });
  });

  it('creates the bucket with Object Lock (the configured mode and days), versioned, private, kept', () => {
    const bucket = template.Resources.AuditArchiveBucket!;
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      BucketName: 'sg-warden-audit-archive-test',
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    const policy = template.Resources.AuditArchiveBucketPolicy!.Properties.PolicyDocument as {
      Statement: { Sid: string; Effect: string }[];
    };
    expect(policy.Statement.map((s) => `${s.Effect} ${s.Sid}`)).toEqual([
      'Deny TlsOnly',
      'Deny OnlyTheArchiveWrites',
    ]);
  });

  it('lets the archive function read the stream and add objects, nothing more', () => {
    const statements = statementsOf('AuditArchiveRole');
    expect(statements.map((s) => [s.Sid, [...s.Action].sort()])).toEqual([
      ['Logs', ['logs:CreateLogStream', 'logs:PutLogEvents']],
      ['ReadTheStream', ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator']],
      ['ListStreams', ['dynamodb:ListStreams']],
      ['Archive', ['s3:PutObject']],
    ]);
    expect(statements[1]!.Resource).toEqual({ 'Fn::GetAtt': ['StateTable', 'StreamArn'] });
    expect(statements[3]!.Resource).toEqual({ 'Fn::Sub': `\${AuditArchiveBucket.Arn}/${ARCHIVE_PREFIX}*` });
    // The functions' own roles gain nothing from the archive.
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type !== 'AWS::IAM::Role' || id === 'AuditArchiveRole') continue;
      const actions = statementsOf(id).flatMap((s) => s.Action);
      expect({
        id,
        archive: actions.filter(
          (a) =>
            a.startsWith('s3:') ||
            /^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)$/.test(a),
        ),
      }).toEqual({
        id,
        archive: [],
      });
    }
  });

  it('feeds it only the audit items of the stream, never skipping a record', () => {
    const mapping = template.Resources.AuditArchiveStreamMapping!.Properties;
    expect(mapping).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['StateTable', 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      MaximumRetryAttempts: -1,
      BisectBatchOnFunctionError: true,
    });
    const filters = (mapping.FilterCriteria as { Filters: { Pattern: string }[] }).Filters;
    expect(filters.map((f) => JSON.parse(f.Pattern))).toEqual([
      { dynamodb: { Keys: { pk: { S: [{ prefix: AUDIT_KEY_PREFIX }] } } } },
    ]);
    expect(template.Resources.AuditArchiveBehindAlarm!.Properties).toMatchObject({
      MetricName: 'IteratorAge',
      Threshold: 15 * 60 * 1000,
    });
    expect(template.Resources.AuditArchiveLogGroup!.Properties.RetentionInDays).toBe(90);
  });

  it('passes cfn-lint and checkov as npm test runs them on the template without the archive', () => {
    const venv = join(root, '.cache', 'venv', 'bin');
    const lint = spawnSync(join(venv, 'cfn-lint'), ['--ignore-checks', 'W3005', '--', templatePath], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect({ status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ status: 0, out: '' });
    const checkov = spawnSync(join(venv, 'checkov'), ['--config-file', '.checkov.yml', '-f', templatePath], {
      cwd: root,
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect({ status: checkov.status, out: checkov.status === 0 ? '' : checkov.stdout }).toEqual({
      status: 0,
      out: '',
    });
  }, 180_000);

  it('archives an audit entry into a locked object, which cannot be deleted (moto S3)', async () => {
    const bucket = uniqueName('audit-archive').toLowerCase();
    const client = new s3.S3Client({
      region: 'us-east-1',
      endpoint: motoUrl(),
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await client.send(new s3.CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    await client.send(
      new s3.PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
        },
      }),
    );
    // The function's code as the template holds it, with its S3 client pointed at moto.
    const shim = (name: string) =>
      name === '@aws-sdk/client-s3'
        ? {
            ...s3,
            S3Client: class extends s3.S3Client {
              constructor() {
                super({
                  region: 'us-east-1',
                  endpoint: motoUrl(),
                  forcePathStyle: true,
                  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
                });
              }
            },
          }
        : require(name);
    const mod = { exports: {} as { handler: (event: unknown) => Promise<{ archived: number }> } };
    new Function('require', 'module', 'exports', AUDIT_ARCHIVE_CODE)(shim, mod, mod.exports);
    const item = {
      pk: `${AUDIT_KEY_PREFIX}v-0123456789ab`,
      sk: '2026-11-23T10:00:00.000Z#01JDEXAMPLE',
      type: 'audit',
      action: 'revoke',
      result: 'ok',
    };
    const record = {
      eventID: 'e1',
      eventName: 'INSERT',
      dynamodb: { Keys: marshall({ pk: item.pk, sk: item.sk }), NewImage: marshall(item) },
    };
    process.env.ARCHIVE_BUCKET = bucket;
    try {
      expect(await mod.exports.handler({ Records: [record] })).toEqual({ archived: 1 });
    } finally {
      delete process.env.ARCHIVE_BUCKET;
    }
    const listed = await client.send(new s3.ListObjectVersionsCommand({ Bucket: bucket }));
    expect(listed.Versions?.map((v) => v.Key)).toEqual([
      `${ARCHIVE_PREFIX}2026-11-23/${encodeURIComponent(item.pk)}/${encodeURIComponent(item.sk)}/INSERT-e1.json`,
    ]);
    const [version] = listed.Versions!;
    const object = await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: version!.Key! }));
    expect(JSON.parse(await object.Body!.transformToString())).toEqual(record);
    expect(object.ObjectLockMode).toBe('GOVERNANCE');
    await expect(
      client.send(
        new s3.DeleteObjectCommand({ Bucket: bucket, Key: version!.Key!, VersionId: version!.VersionId! }),
      ),
    ).rejects.toThrow();
  });
});
