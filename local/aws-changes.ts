import {
  AuthorizeSecurityGroupIngressCommand,
  type AuthorizeSecurityGroupIngressCommandOutput,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { parseCidr } from '../services/shared/cidr';
import { authorizeIngressRecord, eventBridgeEvent, type RuleSpec } from '../test/support/cloudtrail-factory';
import { ENGINEER_PRINCIPAL } from './sandbox-config';
import { ACCOUNT, REGION } from './seed-account';

/** What the "make a change" panel asks for. */
export interface ChangeRequest {
  groupId: string;
  protocol: 'tcp' | 'udp' | 'icmp' | 'all';
  /** "22", "8000-8100"; ignored for icmp and all. */
  ports?: string;
  source: string;
  description?: string;
  /** Who makes the change in AWS: an engineer's SSO session, or the CI deploy role (notify-only by policy). */
  principal?: 'engineer' | 'ci';
}

/** A change the panel cannot make, in one sentence. */
export class ChangeError extends Error {}

const PRINCIPALS = {
  engineer: {
    arn: ENGINEER_PRINCIPAL,
    role: 'AWSReservedSSO_PowerUser_5f3c',
    principalId: 'AROASANDBOXENGINEER:erin.engineer@example.com',
    sourceIp: '198.51.100.23',
    userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22',
  },
  ci: {
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/platform-ci-deploy/gha-run-4711`,
    role: 'platform-ci-deploy',
    principalId: 'AROASANDBOXCIDEPLOY:gha-run-4711',
    sourceIp: '192.0.2.10',
    userAgent: 'APN/1.0 HashiCorp/1.0 Terraform/1.9.5',
  },
} as const;

function parsePorts(text: string | undefined): [number, number] {
  const match = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text ?? '');
  if (!match) throw new ChangeError('Ports must be a number such as 22 or a range such as 8000-8100.');
  const from = Number(match[1]);
  const to = Number(match[2] ?? match[1]);
  if (from > 65535 || to > 65535 || from > to) {
    throw new ChangeError('Ports must be between 0 and 65535, the first not above the last.');
  }
  return [from, to];
}

/** The IpPermission for a change request (validated: clear sentences for bad input). */
export function permissionFor(change: ChangeRequest): IpPermission {
  const cidr = parseCidr(change.source ?? '');
  if (!cidr || !change.source.includes('/')) {
    throw new ChangeError(`"${change.source}" is not a CIDR such as 0.0.0.0/0, 203.0.113.7/32 or ::/0.`);
  }
  if (!['tcp', 'udp', 'icmp', 'all'].includes(change.protocol)) {
    throw new ChangeError('The protocol must be tcp, udp, icmp or all.');
  }
  const description = change.description?.trim() || undefined;
  const range =
    cidr.kind === 'ipv4'
      ? { IpRanges: [{ CidrIp: change.source.trim(), Description: description }] }
      : { Ipv6Ranges: [{ CidrIpv6: change.source.trim(), Description: description }] };
  if (change.protocol === 'all') return { IpProtocol: '-1', ...range };
  if (change.protocol === 'icmp') {
    return { IpProtocol: cidr.kind === 'ipv4' ? 'icmp' : 'icmpv6', FromPort: -1, ToPort: -1, ...range };
  }
  const [from, to] = parsePorts(change.ports);
  return { IpProtocol: change.protocol, FromPort: from, ToPort: to, ...range };
}

/**
 * Makes the change for real (AuthorizeSecurityGroupIngress on the emulated EC2) and returns the
 * EventBridge event CloudTrail would deliver for it, built from EC2's answer (rule IDs included).
 */
export async function makeChange(
  ec2: EC2Client,
  change: ChangeRequest,
): Promise<{ ruleIds: string[]; event: Record<string, unknown> }> {
  const permission = permissionFor(change);
  let out: AuthorizeSecurityGroupIngressCommandOutput;
  try {
    out = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: change.groupId, IpPermissions: [permission] }),
    );
  } catch (error) {
    const { name, message } = error as Error;
    throw new ChangeError(`EC2 refused the change: ${name}: ${message}`);
  }
  const rules: RuleSpec[] = (out.SecurityGroupRules ?? []).map((r) => ({
    ...(r.SecurityGroupRuleId ? { ruleId: r.SecurityGroupRuleId } : {}),
    protocol: r.IpProtocol ?? '-1',
    ...(r.FromPort !== undefined && r.FromPort !== -1 ? { fromPort: r.FromPort } : {}),
    ...(r.ToPort !== undefined && r.ToPort !== -1 ? { toPort: r.ToPort } : {}),
    ...(r.CidrIpv4 ? { cidr: r.CidrIpv4 } : {}),
    ...(r.CidrIpv6 ? { cidrV6: r.CidrIpv6 } : {}),
    ...(r.Description ? { description: r.Description } : {}),
  }));
  const who = PRINCIPALS[change.principal ?? 'engineer'];
  const record = authorizeIngressRecord({
    groupId: change.groupId,
    rules,
    region: REGION,
    account: ACCOUNT,
    principalArn: who.arn,
    sourceIp: who.sourceIp,
  });
  const identity = record.userIdentity as Record<string, unknown> & {
    sessionContext: { sessionIssuer: Record<string, unknown> };
  };
  identity.principalId = who.principalId;
  identity.sessionContext.sessionIssuer = {
    ...identity.sessionContext.sessionIssuer,
    arn: `arn:aws:iam::${ACCOUNT}:role/${who.role}`,
    userName: who.role,
    principalId: who.principalId.split(':')[0],
  };
  record.userAgent = who.userAgent;
  return { ruleIds: rules.map((r) => r.ruleId ?? '').filter(Boolean), event: eventBridgeEvent(record) };
}

/** The emulated account's security groups and their ingress rules, for the page's AWS panel. */
export async function describeAccount(ec2: EC2Client): Promise<
  {
    groupId: string;
    name: string;
    description: string;
    rules: { ruleId: string; protocol: string; ports: string; source: string; description: string }[];
  }[]
> {
  const groups = await ec2.send(new DescribeSecurityGroupsCommand({}));
  const result = [];
  for (const group of groups.SecurityGroups ?? []) {
    if (group.GroupName === 'default') continue;
    const rules = await ec2.send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [group.GroupId!] }] }),
    );
    result.push({
      groupId: group.GroupId!,
      name: group.GroupName ?? '',
      description: group.Description ?? '',
      rules: (rules.SecurityGroupRules ?? [])
        .filter((r) => !r.IsEgress)
        .map((r) => ({
          ruleId: r.SecurityGroupRuleId ?? '',
          protocol: r.IpProtocol === '-1' ? 'all' : (r.IpProtocol ?? ''),
          ports:
            r.FromPort === undefined || r.FromPort === -1
              ? 'all'
              : r.FromPort === r.ToPort
                ? String(r.FromPort)
                : `${r.FromPort}-${r.ToPort}`,
          source: r.CidrIpv4 ?? r.CidrIpv6 ?? r.ReferencedGroupInfo?.GroupId ?? r.PrefixListId ?? '',
          description: r.Description ?? '',
        })),
    });
  }
  return result.sort((a, b) => a.name.localeCompare(b.name));
}
