import {
  AuthorizeSecurityGroupIngressCommand,
  type AuthorizeSecurityGroupIngressCommandOutput,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { parseCidr } from '../services/shared/cidr';

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
 * Makes the change for real: AuthorizeSecurityGroupIngress on the emulated EC2, through the sandbox's
 * AWS endpoint with the client of the chosen persona (`clientFor`), exactly as the AWS CLI would, so the
 * sandbox's trail writes and delivers its CloudTrail event. Returns the new rule IDs and the call's
 * request ID (which the trail's delivery is known by).
 */
export async function makeChange(
  clientFor: (principal: 'engineer' | 'ci') => EC2Client,
  change: ChangeRequest,
): Promise<{ ruleIds: string[]; requestId: string }> {
  const permission = permissionFor(change);
  let out: AuthorizeSecurityGroupIngressCommandOutput;
  try {
    out = await clientFor(change.principal ?? 'engineer').send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: change.groupId, IpPermissions: [permission] }),
    );
  } catch (error) {
    const { name, message } = error as Error;
    throw new ChangeError(`EC2 refused the change: ${name}: ${message}`);
  }
  const ruleIds = (out.SecurityGroupRules ?? []).map((r) => r.SecurityGroupRuleId ?? '').filter(Boolean);
  return { ruleIds, requestId: out.$metadata.requestId ?? '' };
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

/** Ports a burst opens to the world: a few admin and data ports (high), then web-ish ports (medium). */
function burstPorts(count: number): number[] {
  const admin = [22, 3389, 5432, 3306, 6379, 27017];
  const ports = admin.slice(0, Math.min(admin.length, count));
  for (let port = 8000; ports.length < count; port++) ports.push(port);
  return ports;
}

/**
 * A burst, as one `terraform apply` gone wrong makes it: a new security group and `count` world-open rules
 * on it, one AuthorizeSecurityGroupIngress each, a few at a time, by the chosen persona (so each call is
 * its own CloudTrail event). Returns the group and the rules.
 */
export async function makeBurst(
  clientFor: (principal: 'engineer' | 'ci') => EC2Client,
  options: { count: number; principal?: 'engineer' | 'ci'; name: string },
): Promise<{ groupId: string; ruleIds: string[] }> {
  const client = clientFor(options.principal ?? 'engineer');
  let groupId: string;
  try {
    const out = await client.send(
      new CreateSecurityGroupCommand({
        GroupName: options.name,
        Description: "made by the sandbox's burst button",
      }),
    );
    groupId = out.GroupId ?? '';
  } catch (error) {
    const { name, message } = error as Error;
    throw new ChangeError(`EC2 refused to create the group: ${name}: ${message}`);
  }
  const ports = burstPorts(options.count);
  const ruleIds: string[] = new Array(ports.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 5 }, async () => {
      while (next < ports.length) {
        const i = next++;
        const { ruleIds: made } = await makeChange(clientFor, {
          groupId,
          protocol: 'tcp',
          ports: String(ports[i]),
          source: '0.0.0.0/0',
          description: `burst rule ${i + 1} of ${ports.length}`,
          principal: options.principal ?? 'engineer',
        });
        ruleIds[i] = made[0] ?? '';
      }
    }),
  );
  return { groupId, ruleIds };
}
