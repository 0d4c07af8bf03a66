import { canonicalCidr, parseCidr } from '../shared/cidr';
import { END_SESSIONS_MARK, PARAMETER_PATTERNS } from './document';

/**
 * Which sessions one end-sessions command closes: established TCP connections to a local port in
 * [fromPort, toPort] from a peer inside `address` (a canonical CIDR), or from anyone (`any`: the rule was
 * open to 0.0.0.0/0 or ::/0).
 */
export interface SessionScope {
  address: string;
  fromPort: number;
  toPort: number;
}

/** What the command is asked to end, as the grant or the revoked rule says it. */
export interface SessionSource {
  /** A CIDR (a grant's /32 or /128, or a revoked rule's source). */
  cidr: string;
  /** tcp, udp, icmp, icmpv6, all, or a protocol number. */
  protocol: string;
  /** First and last port; null for all ports. */
  fromPort: number | null;
  toPort: number | null;
}

const CIDR_TEXT = /^[0-9a-fA-F:.]{2,45}\/[0-9]{1,3}$/;
const isPort = (n: unknown): n is number =>
  Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535;

/**
 * The scope of the command for a grant or a rule, or why there is none. Everything is checked as what it
 * claims to be (ipaddr.js for the address, integers for ports): a value that is not one is refused and never
 * reaches SSM. Only TCP has connections `ss -K` can end.
 */
export function sessionScope(source: SessionSource): { scope: SessionScope } | { refused: string } {
  const protocol = String(source.protocol);
  if (protocol !== 'tcp' && protocol !== 'all' && protocol !== '6' && protocol !== '-1')
    return { refused: `only TCP connections can be ended, and this allows ${protocol}` };
  const parsed = CIDR_TEXT.test(source.cidr) ? parseCidr(source.cidr) : null;
  if (!parsed) return { refused: `"${source.cidr}" is not an IPv4 or IPv6 CIDR` };
  const allPorts =
    protocol === 'all' || protocol === '-1' || (source.fromPort === null && source.toPort === null);
  const fromPort = allPorts ? 0 : source.fromPort;
  const toPort = allPorts ? 65535 : source.toPort;
  if (!isPort(fromPort) || !isPort(toPort) || fromPort > toPort)
    return { refused: `ports ${String(source.fromPort)}–${String(source.toPort)} are not a port range` };
  const address = parsed.prefix === 0 ? 'any' : canonicalCidr(parsed);
  // What SSM will accept is checked here too, so a value it would refuse is never sent.
  if (!new RegExp(PARAMETER_PATTERNS.address).test(address))
    return { refused: `"${source.cidr}" is not an IPv4 or IPv6 CIDR` };
  return { scope: { address, fromPort, toPort } };
}

/** The document's parameters for a scope (SSM takes every value as a list of strings). */
export function documentParameters(scope: SessionScope): Record<string, string[]> {
  return {
    address: [scope.address],
    fromPort: [String(scope.fromPort)],
    toPort: [String(scope.toPort)],
  };
}

/** "port 22", "ports 1000–2000" or "every port". */
export function describePorts(scope: Pick<SessionScope, 'fromPort' | 'toPort'>): string {
  if (scope.fromPort === 0 && scope.toPort === 65535) return 'every port';
  return scope.fromPort === scope.toPort
    ? `port ${scope.fromPort}`
    : `ports ${scope.fromPort}–${scope.toPort}`;
}

/** "203.0.113.7/32" or "any address". */
export function describePeer(scope: Pick<SessionScope, 'address'>): string {
  return scope.address === 'any' ? 'any address' : scope.address;
}

/** What one instance's command printed: how many sessions it ended and how many are still established. */
export type EndedCount = { ended: number; remaining: number } | { error: string };

/**
 * Reads the script's result line (`sg-warden-end-sessions ended=N remaining=M`, or `error=…`) from the
 * command's standard output; null when there is none (the command did not run to its end).
 */
export function parseEndSessionsOutput(stdout: string): EndedCount | null {
  const lines = stdout.split('\n').filter((l) => l.startsWith(`${END_SESSIONS_MARK} `));
  const last = lines.at(-1);
  if (!last) return null;
  const error = /\berror=([a-z-]+)/.exec(last);
  if (error) return { error: error[1]! };
  const counts = /\bended=(\d{1,9}) remaining=(\d{1,9})\s*$/.exec(last);
  if (!counts) return null;
  return { ended: Number(counts[1]), remaining: Number(counts[2]) };
}

/** What the script's error codes mean, for people. */
export const SCRIPT_ERRORS: Readonly<Record<string, string>> = {
  'bad-port': 'the instance refused the ports as invalid',
  'bad-address': 'the instance refused the address as invalid',
  'no-ss': 'the instance has no ss (iproute2)',
  'ss-failed': 'ss -K failed on the instance (is the kernel built with CONFIG_INET_DIAG_DESTROY?)',
};

/** AWS's default TCP established timeout for connection tracking on most instance types. */
export const TCP_ESTABLISHED_TIMEOUT_SECONDS = 432_000;

/** Said wherever a grant's sessions are not ended: what happens to an open connection, and for how long. */
export const STAYS_UNTIL_IDLE =
  'An open connection is not cut when the rule is removed: it stays until it has been idle for AWS’s connection-tracking timeout — for TCP, 5 days (432,000 s) by default on most instance types.';
