import { randomUUID } from 'node:crypto';

type Json = Record<string, unknown>;

export interface RuleSpec {
  ruleId?: string;
  protocol?: string;
  fromPort?: number;
  toPort?: number;
  cidr?: string;
  cidrV6?: string;
  prefixListId?: string;
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
  /** The service that made the call for the principal (userIdentity.invokedBy). */
  invokedBy?: string;
  /** The session issuer (the assumed role's own ARN, with its path); the SSO admin role unless told. */
  roleArn?: string;
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
          arn: options.roleArn ?? `arn:aws:iam::${account}:role/AWSReservedSSO_Admin_0123`,
          accountId: account,
          userName: (options.roleArn ?? 'AWSReservedSSO_Admin_0123').split('/').at(-1),
        },
        attributes: { creationDate: '2026-11-23T10:00:00Z', mfaAuthenticated: 'false' },
      },
      ...(options.invokedBy ? { invokedBy: options.invokedBy } : {}),
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
          prefixListIds: r.prefixListId ? { items: [{ prefixListId: r.prefixListId }] } : {},
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
                ...(r.prefixListId ? { prefixListId: r.prefixListId } : {}),
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

/** Who made a call, as CloudTrail's userIdentity says it (an SSO admin unless told otherwise). */
function identity(account: string, principalArn?: string, invokedBy?: string): Json {
  const arn =
    principalArn ?? `arn:aws:sts::${account}:assumed-role/AWSReservedSSO_Admin_0123/dev@example.com`;
  const role = /^arn:aws:sts::\d{12}:assumed-role\/([^/]+)\//.exec(arn)?.[1];
  return {
    type: role ? 'AssumedRole' : 'IAMUser',
    principalId: 'AROAEXAMPLE:dev@example.com',
    arn,
    accountId: account,
    accessKeyId: 'ASIAEXAMPLE',
    ...(role
      ? {
          sessionContext: {
            sessionIssuer: {
              type: 'Role',
              arn: `arn:aws:iam::${account}:role/${role}`,
              accountId: account,
              userName: role,
            },
            attributes: { creationDate: '2026-11-23T10:00:00Z', mfaAuthenticated: 'false' },
          },
        }
      : {}),
    ...(invokedBy ? { invokedBy } : {}),
  };
}

function envelopeFields(account: string, region: string, eventName: string): Json {
  return {
    eventVersion: '1.10',
    eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'ec2.amazonaws.com',
    eventName,
    awsRegion: region,
    sourceIPAddress: '198.51.100.23',
    userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22',
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
  };
}

/** A RevokeSecurityGroupIngress record by rule IDs (modelled on a real delivery). */
export function revokeIngressRecord(options: {
  groupId: string;
  ruleIds: string[];
  region?: string;
  account?: string;
  principalArn?: string;
}): Json {
  const account = options.account ?? '123456789012';
  return {
    ...envelopeFields(account, options.region ?? 'us-east-1', 'RevokeSecurityGroupIngress'),
    userIdentity: identity(account, options.principalArn),
    requestParameters: {
      groupId: options.groupId,
      securityGroupRuleIds: {
        items: options.ruleIds.map((securityGroupRuleId) => ({ securityGroupRuleId })),
      },
    },
    responseElements: { requestId: randomUUID(), _return: true },
  };
}

/** A ModifySecurityGroupRules record for one rule (PascalCase, as CloudTrail writes this call). */
export function modifyRulesRecord(options: {
  groupId: string;
  ruleId: string;
  rule: { IpProtocol: string; FromPort?: number; ToPort?: number; CidrIpv4?: string; Description?: string };
  region?: string;
  account?: string;
  principalArn?: string;
}): Json {
  const account = options.account ?? '123456789012';
  return {
    ...envelopeFields(account, options.region ?? 'us-east-1', 'ModifySecurityGroupRules'),
    userIdentity: identity(account, options.principalArn),
    requestParameters: {
      ModifySecurityGroupRulesRequest: {
        GroupId: options.groupId,
        SecurityGroupRule: { SecurityGroupRuleId: options.ruleId, SecurityGroupRule: options.rule, tag: 1 },
      },
    },
    responseElements: {
      ModifySecurityGroupRulesResponse: {
        xmlns: 'http://ec2.amazonaws.com/doc/2016-11-15/',
        requestId: randomUUID(),
        return: true,
      },
    },
  };
}

/** Who made a watched call and from where (an SSO admin from 198.51.100.23 unless told). */
interface CallerOptions {
  region?: string;
  account?: string;
  principalArn?: string;
  sourceIp?: string;
}

function watchedRecord(eventName: string, options: CallerOptions, params: Json, response: Json | null): Json {
  const account = options.account ?? '123456789012';
  return {
    ...envelopeFields(account, options.region ?? 'us-east-1', eventName),
    ...(options.sourceIp ? { sourceIPAddress: options.sourceIp } : {}),
    userIdentity: identity(account, options.principalArn),
    requestParameters: params,
    responseElements: response ?? { requestId: randomUUID(), _return: true },
  };
}

/** A CreateTags / DeleteTags record (the shape of test/fixtures/cloudtrail/create_tags_*.json). */
export function tagsRecord(
  options: CallerOptions & {
    eventName: 'CreateTags' | 'DeleteTags';
    resourceIds: string[];
    tags: { key: string; value?: string }[];
    errorCode?: string;
  },
): Json {
  const record = watchedRecord(
    options.eventName,
    options,
    {
      resourcesSet: { items: options.resourceIds.map((resourceId) => ({ resourceId })) },
      tagSet: { items: options.tags },
    },
    null,
  );
  return options.errorCode
    ? {
        ...record,
        errorCode: options.errorCode,
        errorMessage: 'You are not authorized to perform this operation.',
        responseElements: null,
      }
    : record;
}

/** A ModifyManagedPrefixList record adding entries (test/fixtures/cloudtrail/modify_managed_prefix_list_add_world.json). */
export function modifyPrefixListRecord(
  options: CallerOptions & { prefixListId: string; addCidrs: string[]; version?: number },
): Json {
  return watchedRecord(
    'ModifyManagedPrefixList',
    options,
    {
      ModifyManagedPrefixListRequest: {
        PrefixListId: options.prefixListId,
        CurrentVersion: options.version ?? 1,
        AddEntry: options.addCidrs.map((Cidr, i) => ({ Cidr, tag: i + 1 })),
      },
    },
    {
      ModifyManagedPrefixListResponse: {
        requestId: randomUUID(),
        prefixList: { prefixListId: options.prefixListId, state: 'modify-in-progress' },
      },
    },
  );
}

/** A CreateSecurityGroup record (the shape of the corpus's Terraform event). */
export function createGroupRecord(
  options: CallerOptions & { groupId: string; groupName: string; vpcId?: string },
): Json {
  return watchedRecord(
    'CreateSecurityGroup',
    options,
    {
      groupName: options.groupName,
      groupDescription: options.groupName,
      ...(options.vpcId ? { vpcId: options.vpcId } : {}),
    },
    { requestId: randomUUID(), _return: true, groupId: options.groupId },
  );
}

/** An UpdateSecurityGroupRuleDescriptionsIngress record by rule ID. */
export function ruleDescriptionsRecord(
  options: CallerOptions & { groupId: string; descriptions: { ruleId: string; description: string }[] },
): Json {
  return watchedRecord(
    'UpdateSecurityGroupRuleDescriptionsIngress',
    options,
    {
      groupId: options.groupId,
      securityGroupRuleDescriptionSet: {
        items: options.descriptions.map((d) => ({
          securityGroupRuleId: d.ruleId,
          description: d.description,
        })),
      },
    },
    null,
  );
}

/** Wraps a record the way EventBridge delivers it to the detection Lambda (the sandbox's own wrapper). */
export { eventBridgeEvent } from '../../local/cloudtrail-records';

/**
 * A CloudTrail record of a call that can change what a group exposes (#20), shaped as the fixtures in
 * test/fixtures/cloudtrail/exposure/ (AWS documentation shapes): any service, its request and response.
 */
export function exposureChangeRecord(options: {
  eventName: string;
  eventSource?: string;
  requestParameters: Json;
  responseElements?: Json | null;
  region?: string;
  account?: string;
  eventId?: string;
  /** Default: an SSO admin session as authorizeIngressRecord's; the name people read is the session. */
  principalArn?: string;
  errorCode?: string;
}): Json {
  const account = options.account ?? '123456789012';
  const principalArn = options.principalArn ?? `arn:aws:sts::${account}:assumed-role/Admin/alice`;
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'AssumedRole',
      principalId: 'AROAEXAMPLE:alice',
      arn: principalArn,
      accountId: account,
      accessKeyId: 'ASIAEXAMPLE',
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: 'AROAEXAMPLE',
          arn: `arn:aws:iam::${account}:role/Admin`,
          accountId: account,
          userName: 'Admin',
        },
        attributes: { creationDate: '2026-11-23T10:00:00Z', mfaAuthenticated: 'false' },
      },
    },
    eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: options.eventSource ?? 'ec2.amazonaws.com',
    eventName: options.eventName,
    awsRegion: options.region ?? 'us-east-1',
    sourceIPAddress: '198.51.100.23',
    userAgent: 'aws-cli/2.22.4 Python/3.12.6 Linux/6.1 exe/x86_64',
    requestParameters: options.requestParameters,
    responseElements: options.errorCode
      ? null
      : (options.responseElements ?? { requestId: randomUUID(), _return: true }),
    ...(options.errorCode ? { errorCode: options.errorCode, errorMessage: 'refused by EC2' } : {}),
    requestID: randomUUID(),
    eventID: options.eventId ?? randomUUID(),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
  };
}
