import type { RecordedAwsCall } from './iam-calls';

/**
 * What IAM authorizes for one recorded AWS call: each action with the resource ARN it is judged on and
 * the request's context keys (tags on the resources it names, tags it adds, region…), as the Service
 * Authorization Reference describes the call. One call may need several (a transaction is authorized
 * per item; an authorize that tags the new rule is also a CreateTags on it).
 */
export interface AuthorizationRequest {
  action: string;
  resource: string;
  /** The account that owns the resource. */
  account: string;
  context: Record<string, string | string[]>;
}

/** The account and partition the call ran in (a member account when it ran with the member role). */
export interface CallAccount {
  account: string;
  partition: string;
}

type Json = Record<string, unknown>;

function tagContext(
  prefix: 'aws:ResourceTag' | 'ec2:ResourceTag' | 'aws:RequestTag',
  tags: Record<string, string>,
) {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));
}

function resourceTags(tags: Record<string, string> | undefined): Record<string, string> {
  return { ...tagContext('aws:ResourceTag', tags ?? {}), ...tagContext('ec2:ResourceTag', tags ?? {}) };
}

/** `Tag.1.Key=…&Tag.1.Value=…` or `TagSpecification.1.Tag.1.Key=…` into a map. */
function formTags(form: URLSearchParams, prefix: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [key, value] of form) {
    const m = new RegExp(`^${prefix.replace(/\./g, '\\.')}(\\d+)\\.Key$`).exec(key);
    if (m) tags[value] = form.get(`${prefix}${m[1]}.Value`) ?? '';
  }
  return tags;
}

function formList(form: URLSearchParams, name: string): string[] {
  return [...form].filter(([key]) => new RegExp(`^${name}\\.\\d+$`).test(key)).map(([, value]) => value);
}

function ec2Requests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  const form = new URLSearchParams(call.body);
  const action = form.get('Action') ?? '';
  const arn = (type: string, id: string) =>
    `arn:${at.partition}:ec2:${call.region}:${at.account}:${type}/${id}`;
  const base = { account: at.account };
  const region = { 'ec2:Region': call.region };
  const group = (id: string) => {
    const known = call.groups?.[id];
    return {
      ...base,
      resource: arn('security-group', id),
      context: {
        ...region,
        ...resourceTags(known?.tags),
        'ec2:SecurityGroupID': id,
        ...(known?.vpcId ? { 'ec2:Vpc': arn('vpc', known.vpcId) } : {}),
      },
    };
  };
  switch (action) {
    case 'RevokeSecurityGroupIngress':
    case 'RevokeSecurityGroupEgress':
    case 'UpdateSecurityGroupRuleDescriptionsIngress':
    case 'UpdateSecurityGroupRuleDescriptionsEgress': {
      const groupId = form.get('GroupId') ?? Object.values(call.rules ?? {})[0]?.groupId;
      if (!groupId) throw new Error(`${action} names no group: ${call.body}`);
      return [{ action: `ec2:${action}`, ...group(groupId) }];
    }
    case 'AuthorizeSecurityGroupIngress':
    case 'AuthorizeSecurityGroupEgress': {
      const groupId = form.get('GroupId');
      if (!groupId) throw new Error(`${action} names no group: ${call.body}`);
      const requests: AuthorizationRequest[] = [{ action: `ec2:${action}`, ...group(groupId) }];
      const tags = formTags(form, 'TagSpecification.1.Tag.');
      if (Object.keys(tags).length > 0) {
        // The new rule is a resource of the call too, and tagging it as it is created is a CreateTags.
        const created = {
          ...base,
          resource: arn('security-group-rule', '*'),
          context: { ...region, ...tagContext('aws:RequestTag', tags), 'aws:TagKeys': Object.keys(tags) },
        };
        requests.push({ action: `ec2:${action}`, ...created });
        requests.push({
          action: 'ec2:CreateTags',
          ...created,
          context: { ...created.context, 'ec2:CreateAction': action },
        });
      }
      return requests;
    }
    case 'CreateTags': {
      const tags = formTags(form, 'Tag.');
      return formList(form, 'ResourceId').map((id) => ({
        action: 'ec2:CreateTags',
        ...base,
        resource: id.startsWith('sgr-') ? arn('security-group-rule', id) : arn('security-group', id),
        context: {
          ...region,
          ...resourceTags((id.startsWith('sgr-') ? call.rules : call.groups)?.[id]?.tags),
          ...tagContext('aws:RequestTag', tags),
          'aws:TagKeys': Object.keys(tags),
        },
      }));
    }
    case 'GetManagedPrefixListEntries':
    case 'GetManagedPrefixListAssociations': {
      // Judged on the list itself (resource type prefix-list).
      const listId = form.get('PrefixListId');
      if (!listId) throw new Error(`${action} names no prefix list: ${call.body}`);
      return [{ action: `ec2:${action}`, ...base, resource: arn('prefix-list', listId), context: region }];
    }
    default:
      // Describe* and the like: no resource-level permissions.
      return [{ action: `ec2:${action}`, ...base, resource: '*', context: region }];
  }
}

function dynamoDbRequests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  const operation = (call.target ?? '').split('.')[1] ?? '';
  const body = JSON.parse(call.body) as Json;
  const table = (name: unknown, index?: unknown) =>
    `arn:${at.partition}:dynamodb:${call.region}:${at.account}:table/${String(name)}${index ? `/index/${String(index)}` : ''}`;
  const leading = (key: unknown): Record<string, string[]> => {
    const pk = (key as { pk?: { S?: string } } | undefined)?.pk?.S;
    return pk ? { 'dynamodb:LeadingKeys': [pk] } : {};
  };
  const one = (action: string, item: Json): AuthorizationRequest => ({
    action: `dynamodb:${action}`,
    account: at.account,
    resource: table(item.TableName, item.IndexName),
    context: {
      ...leading(item.Key ?? item.Item),
      ...(typeof item.ReturnValues === 'string' ? { 'dynamodb:ReturnValues': item.ReturnValues } : {}),
      ...(typeof item.Select === 'string' ? { 'dynamodb:Select': item.Select } : {}),
    },
  });
  if (operation === 'TransactWriteItems') {
    // Authorized per item, each as its own operation.
    const kinds: Record<string, string> = {
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      ConditionCheck: 'ConditionCheckItem',
    };
    return ((body.TransactItems as Json[]) ?? []).flatMap((entry) =>
      Object.entries(entry).map(([kind, item]) => one(kinds[kind] ?? kind, item as Json)),
    );
  }
  if (operation === 'BatchGetItem') {
    // One request naming every key: judged as each key read by BatchGetItem.
    const tables = (body.RequestItems as Record<string, { Keys?: Json[] }>) ?? {};
    return Object.entries(tables).flatMap(([name, { Keys }]) =>
      (Keys ?? []).map((key) => one('BatchGetItem', { TableName: name, Key: key })),
    );
  }
  if (operation === 'TransactGetItems') {
    return ((body.TransactItems as { Get: Json }[]) ?? []).map((entry) => one('GetItem', entry.Get));
  }
  return [one(operation, body)];
}

function ssmRequests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  const operation = (call.target ?? '').split('.')[1] ?? '';
  const body = JSON.parse(call.body) as Json;
  const base = { account: at.account, context: {} };
  switch (operation) {
    case 'GetParameters':
    case 'GetParameter': {
      const names = (body.Names as string[] | undefined) ?? [String(body.Name)];
      return names.map((name) => ({
        action: `ssm:${operation}`,
        ...base,
        resource: `arn:${at.partition}:ssm:${call.region}:${at.account}:parameter${name.startsWith('/') ? '' : '/'}${name}`,
      }));
    }
    case 'SendCommand': {
      const document = String(body.DocumentName);
      // AWS-owned documents have no account in their ARN; a document ARN given as such is used as it is.
      const documentArn = document.startsWith('arn:')
        ? document
        : `arn:${at.partition}:ssm:${call.region}:${document.startsWith('AWS-') ? '' : at.account}:document/${document}`;
      const instances = (body.InstanceIds as string[] | undefined) ?? [];
      return [
        { action: 'ssm:SendCommand', ...base, resource: documentArn },
        ...instances.map((id) => {
          const tags = call.instances?.[id]?.tags ?? {};
          return {
            action: 'ssm:SendCommand',
            account: at.account,
            resource: `arn:${at.partition}:ec2:${call.region}:${at.account}:instance/${id}`,
            context: {
              ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`ssm:resourceTag/${k}`, v])),
              ...tagContext('aws:ResourceTag', tags),
            },
          };
        }),
      ];
    }
    default:
      // GetCommandInvocation, DescribeInstanceInformation, ListCommandInvocations: no resource type.
      return [{ action: `ssm:${operation}`, ...base, resource: '*' }];
  }
}

function stsRequests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  const form = new URLSearchParams(call.body);
  const action = form.get('Action') ?? '';
  if (action === 'GetCallerIdentity') return [];
  const roleArn = form.get('RoleArn') ?? '*';
  return [
    {
      action: `sts:${action}`,
      account: /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)?.[1] ?? at.account,
      resource: roleArn,
      context: form.get('RoleSessionName') ? { 'sts:RoleSessionName': form.get('RoleSessionName')! } : {},
    },
  ];
}

function lambdaRequests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  const name = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(call.path)?.[1] ?? '');
  if (!name) throw new Error(`a Lambda call that is not Invoke: ${call.method} ${call.path}`);
  const arn = name.startsWith('arn:')
    ? name
    : `arn:${at.partition}:lambda:${call.region}:${at.account}:function:${name}`;
  return [{ action: 'lambda:InvokeFunction', account: at.account, resource: arn, context: {} }];
}

/** ELBv2 reads (exposure's DescribeLoadBalancers): Describe* calls have no resource-level permissions. */
function elbRequests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  const action = new URLSearchParams(call.body).get('Action') ?? '';
  if (!/^Describe/.test(action)) throw new Error(`an ELB call that is not a read: ${action}`);
  return [
    {
      action: `elasticloadbalancing:${action}`,
      account: at.account,
      resource: '*',
      context: {},
    },
  ];
}

/** The authorization requests of one recorded call, in the account it ran in. */
/**
 * EventBridge Scheduler (REST): POST /schedules/<name> creates, PUT updates, DELETE deletes (the group in
 * the body, or `groupName` in the query). Creating or updating also passes the schedule's execution role:
 * iam:PassRole on it, to scheduler.amazonaws.com.
 */
function schedulerRequests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  const [path = '', query = ''] = call.path.split('?');
  const name = decodeURIComponent(/^\/schedules\/([^/]+)$/.exec(path)?.[1] ?? '');
  const body = call.body ? (JSON.parse(call.body) as Json) : {};
  const group = String(body.GroupName ?? new URLSearchParams(query).get('groupName') ?? 'default');
  const action = {
    POST: 'CreateSchedule',
    PUT: 'UpdateSchedule',
    DELETE: 'DeleteSchedule',
    GET: 'GetSchedule',
  }[call.method.toUpperCase()];
  if (!name || !action)
    throw new Error(`map Scheduler ${call.method} ${call.path} in test/support/iam-requests.ts`);
  const requests: AuthorizationRequest[] = [
    {
      action: `scheduler:${action}`,
      account: at.account,
      resource: `arn:${at.partition}:scheduler:${call.region}:${at.account}:schedule/${group}/${name}`,
      context: {},
    },
  ];
  const roleArn = (body.Target as Json | undefined)?.RoleArn;
  if (typeof roleArn === 'string') {
    requests.push({
      action: 'iam:PassRole',
      account: at.account,
      resource: roleArn,
      context: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    });
  }
  return requests;
}

export function authorizationRequests(call: RecordedAwsCall, at: CallAccount): AuthorizationRequest[] {
  switch (call.service) {
    case 'ec2':
      return ec2Requests(call, at);
    case 'dynamodb':
      return dynamoDbRequests(call, at);
    case 'ssm':
      return ssmRequests(call, at);
    case 'sts':
      return stsRequests(call, at);
    case 'scheduler':
      return schedulerRequests(call, at);
    case 'lambda':
      return lambdaRequests(call, at);
    case 'elasticloadbalancing':
      return elbRequests(call, at);
    default:
      throw new Error(
        `no mapping to IAM for ${call.service} calls yet: add one in test/support/iam-requests.ts`,
      );
  }
}
