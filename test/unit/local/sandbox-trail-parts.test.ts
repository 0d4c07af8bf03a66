import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { persona, signatureScope } from '../../../local/aws-personas';
import { readDetectionPattern } from '../../../local/aws-trail';
import {
  cloudTrailRecord,
  eventBridgeEvent,
  matchesPattern,
  requestParameters,
} from '../../../local/cloudtrail-records';
import { repoRoot } from '../../../local/shared/moto-server';
import { acquireStateLock, StateLockedError } from '../../../local/state-lock';
import { parseCloudTrail } from '../../../services/detection/cloudtrail';

const form = (text: string) => new URLSearchParams(text);

describe('CloudTrail records of the sandbox', () => {
  it('writes the legacy flat form (`--protocol tcp --port 22 --cidr …`) as CloudTrail does', () => {
    expect(
      requestParameters(
        'AuthorizeSecurityGroupIngress',
        form(
          'Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=0.0.0.0/0',
        ),
      ),
    ).toEqual({
      groupId: 'sg-1',
      ipProtocol: 'tcp',
      fromPort: 22,
      toPort: 22,
      cidrIp: '0.0.0.0/0',
      ipPermissions: {},
    });
  });

  it('writes ModifySecurityGroupRules in its PascalCase shape, which detection reads', () => {
    const params = form(
      'Action=ModifySecurityGroupRules&GroupId=sg-1&SecurityGroupRule.1.SecurityGroupRuleId=sgr-1' +
        '&SecurityGroupRule.1.SecurityGroupRule.IpProtocol=tcp&SecurityGroupRule.1.SecurityGroupRule.FromPort=22' +
        '&SecurityGroupRule.1.SecurityGroupRule.ToPort=22&SecurityGroupRule.1.SecurityGroupRule.CidrIpv4=0.0.0.0/0',
    );
    expect(requestParameters('ModifySecurityGroupRules', params)).toEqual({
      ModifySecurityGroupRulesRequest: {
        GroupId: 'sg-1',
        SecurityGroupRule: {
          tag: 1,
          SecurityGroupRuleId: 'sgr-1',
          SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' },
        },
      },
    });
    const record = cloudTrailRecord({
      action: 'ModifySecurityGroupRules',
      params,
      answer: {
        status: 200,
        xml: '<ModifySecurityGroupRulesResponse><return>true</return></ModifySecurityGroupRulesResponse>',
      },
      persona: persona('alex'),
      region: 'us-east-1',
      account: '123456789012',
      userAgent: 'aws-cli/2.22.0',
      requestId: 'r-1',
      at: new Date('2026-11-23T10:00:00.123Z'),
    });
    expect(record).toMatchObject({
      eventTime: '2026-11-23T10:00:00Z',
      requestID: 'r-1',
      eventVersion: '1.10',
    });
    expect(parseCloudTrail(eventBridgeEvent(record))).toEqual([
      expect.objectContaining({ kind: 'modify', groupId: 'sg-1', ruleIds: ['sgr-1'] }),
    ]);
  });

  it('knows the caller and region from a SigV4 Authorization header or a presigned URL', () => {
    expect(
      signatureScope(
        {
          authorization:
            'AWS4-HMAC-SHA256 Credential=ASIASANDBOXCI0000001/20261123/eu-west-1/ec2/aws4_request, SignedHeaders=host, Signature=ab',
        },
        '/',
      ),
    ).toEqual({ accessKeyId: 'ASIASANDBOXCI0000001', region: 'eu-west-1', service: 'ec2' });
    expect(
      signatureScope(
        {},
        '/?X-Amz-Credential=AKIASANDBOXADMIN0001%2F20261123%2Fus-east-1%2Fsts%2Faws4_request',
      ),
    ).toEqual({ accessKeyId: 'AKIASANDBOXADMIN0001', region: 'us-east-1', service: 'sts' });
    expect(signatureScope({}, '/')).toBeNull();
  });

  it('delivers what the deploy’s EventBridge rule (serverless.yml) matches, and nothing else', () => {
    const pattern = readDetectionPattern(repoRoot);
    const event = (eventName: string) =>
      eventBridgeEvent({
        eventSource: 'ec2.amazonaws.com',
        eventName,
        recipientAccountId: '1',
        eventTime: 't',
      });
    expect(matchesPattern(pattern, event('AuthorizeSecurityGroupIngress'))).toBe(true);
    expect(matchesPattern(pattern, event('RevokeSecurityGroupEgress'))).toBe(true);
    // The watched calls too: serverless.yml takes the names from the parser, and so does the sandbox.
    expect(matchesPattern(pattern, event('CreateTags'))).toBe(true);
    expect(matchesPattern(pattern, event('ModifyManagedPrefixList'))).toBe(true);
    expect(matchesPattern(pattern, event('DescribeSecurityGroups'))).toBe(false);
    expect(matchesPattern(pattern, { ...event('AuthorizeSecurityGroupIngress'), source: 'aws.rds' })).toBe(
      false,
    );
  });
});

describe('the state folder lock (one sandbox per state folder)', () => {
  it('refuses while the holder runs, and takes over the lock of a process that is gone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-lock-'));
    const held = acquireStateLock(dir);
    expect(readFileSync(held.path, 'utf8').trim()).toBe(String(process.pid));
    // Another process (another PID) is refused while this one runs.
    expect(() => acquireStateLock(dir, process.pid + 100_000)).toThrow(StateLockedError);
    expect(() => acquireStateLock(dir, process.pid + 100_000)).toThrow(
      `another sandbox (PID ${process.pid}) is running on ${dir}`,
    );
    held.release();
    expect(existsSync(held.path)).toBe(false);

    // A lock left by a process that has exited is stale.
    const gone = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    writeFileSync(join(dir, 'sandbox.lock'), `${gone}\n`);
    const taken = acquireStateLock(dir);
    expect(readFileSync(taken.path, 'utf8').trim()).toBe(String(process.pid));
    taken.release();
  });
});
