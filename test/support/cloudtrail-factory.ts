import { randomUUID } from 'node:crypto';

type Json = Record<string, unknown>;

export interface RuleSpec {
  ruleId?: string;
  protocol?: string;
  fromPort?: number;
  toPort?: number;
  cidr?: string;
  cidrV6?: string;
  description?: string;
}

/** A realistic AuthorizeSecurityGroupIngress record (modelled on real CloudTrail deliveries). */
export function authorizeIngressRecord(options: {
  groupId: string;
  rules: RuleSpec[];
  region?: string;
  account?: string;
  eventId?: string;
  principalArn?: string;
  sourceIp?: string;
  withRuleIds?: boolean;
  eventName?: 'AuthorizeSecurityGroupIngress' | 'AuthorizeSecurityGroupEgress';
}): Json {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '123456789012';
  const isEgress = options.eventName === 'AuthorizeSecurityGroupEgress';
  const principalArn =
    options.principalArn ?? `arn:aws:sts::${account}:assumed-role/AWSReservedSSO_Admin_0123/dev@example.com`;
  return {
    eventVersion: '1.10',
    userIdentity: {
      type: 'AssumedRole',
      principalId: 'AROAEXAMPLE:dev@example.com',
      arn: principalArn,
      accountId: account,
      accessKeyId: 'ASIAEXAMPLE',
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: 'AROAEXAMPLE',
          arn: `arn:aws:iam::${account}:role/AWSReservedSSO_Admin_0123`,
          accountId: account,
          userName: 'AWSReservedSSO_Admin_0123',
        },
        attributes: { creationDate: '2026-11-23T10:00:00Z', mfaAuthenticated: 'false' },
      },
    },
    eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'ec2.amazonaws.com',
    eventName: options.eventName ?? 'AuthorizeSecurityGroupIngress',
    awsRegion: region,
    sourceIPAddress: options.sourceIp ?? '198.51.100.23',
    userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22',
    requestParameters: {
      groupId: options.groupId,
      ipPermissions: {
        items: options.rules.map((r) => ({
          ipProtocol: r.protocol ?? 'tcp',
          fromPort: r.fromPort,
          toPort: r.toPort ?? r.fromPort,
          groups: {},
          ipRanges: r.cidr
            ? { items: [{ cidrIp: r.cidr, ...(r.description ? { description: r.description } : {}) }] }
            : {},
          ipv6Ranges: r.cidrV6 ? { items: [{ cidrIpv6: r.cidrV6 }] } : {},
          prefixListIds: {},
        })),
      },
    },
    responseElements: {
      requestId: randomUUID(),
      _return: true,
      ...(options.withRuleIds === false
        ? {}
        : {
            securityGroupRuleSet: {
              items: options.rules.map((r) => ({
                groupOwnerId: account,
                groupId: options.groupId,
                securityGroupRuleId: r.ruleId,
                isEgress,
                ipProtocol: r.protocol ?? 'tcp',
                fromPort: r.fromPort ?? -1,
                toPort: r.toPort ?? r.fromPort ?? -1,
                ...(r.cidr ? { cidrIpv4: r.cidr } : {}),
                ...(r.cidrV6 ? { cidrIpv6: r.cidrV6 } : {}),
                ...(r.description ? { description: r.description } : {}),
              })),
            },
          }),
    },
    requestID: randomUUID(),
    eventID: options.eventId ?? randomUUID(),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
  };
}

/** Wraps a record the way EventBridge delivers it to the detection Lambda. */
export function eventBridgeEvent(record: Json): Json {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.ec2',
    account: record.recipientAccountId,
    time: record.eventTime,
    region: record.awsRegion,
    resources: [],
    detail: record,
  };
}
