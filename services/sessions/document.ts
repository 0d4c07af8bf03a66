/**
 * The one command sg-warden runs on instances to end sessions: a Command document of its own (deployed
 * with the stack, services/deploy/sessions.ts), so that the roles that send it may run nothing else. Its
 * three parameters are checked twice before they reach the shell: by sg-warden (services/sessions/plan.ts,
 * ipaddr.js) and by SSM against each parameter's `allowedPattern`; the script checks them a third time.
 *
 * What it does: `ss -K` (Linux, iproute2 ≥ 4.14, a kernel with CONFIG_INET_DIAG_DESTROY, as Amazon Linux
 * 2/2023, Ubuntu, Debian and RHEL ship) closes the established TCP sockets whose local port is in
 * [fromPort, toPort] and whose peer is inside `address` (IPv4, its IPv4-mapped IPv6 form on dual-stack
 * sockets, or IPv6); `any` drops the peer filter. It prints one line, read by `parseEndSessionsOutput`:
 * `sg-warden-end-sessions ended=<closed> remaining=<still established>`.
 */

/** The marker the script's one result line starts with. */
export const END_SESSIONS_MARK = 'sg-warden-end-sessions';

/** What SSM accepts for each parameter (the document's allowedPattern). */
export const PARAMETER_PATTERNS = {
  address: '^(any|[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}|[0-9a-fA-F:]{2,39}/[0-9]{1,3})$',
  fromPort: '^[0-9]{1,5}$',
  toPort: '^[0-9]{1,5}$',
} as const;

/**
 * The script, line by line. `{{ name }}` is SSM's substitution of a parameter that matched its pattern
 * (digits, hex digits, `.`, `:`, `/`: nothing a shell reads as syntax, and it sits inside single quotes).
 */
export const END_SESSIONS_SCRIPT: readonly string[] = [
  'set -u',
  'set -f',
  "address='{{ address }}'",
  "from='{{ fromPort }}'",
  "to='{{ toPort }}'",
  `say() { echo "${END_SESSIONS_MARK} $*"; }`,
  "case \"$from\" in ''|*[!0-9]*) say 'error=bad-port'; exit 2;; esac",
  "case \"$to\" in ''|*[!0-9]*) say 'error=bad-port'; exit 2;; esac",
  'if [ "$from" -gt "$to" ] || [ "$to" -gt 65535 ]; then say \'error=bad-port\'; exit 2; fi',
  'case "$address" in',
  "  any) peer='';;",
  "  ''|*[!0-9a-fA-F:./]*|*/*/*) say 'error=bad-address'; exit 2;;",
  "  */*:*) say 'error=bad-address'; exit 2;;",
  '  *:*/*) peer="dst $address";;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, on purpose
  '  */*) host=${address%/*}; bits=${address#*/}; peer="( dst $address or dst ::ffff:$host/$((96 + bits)) )";;',
  "  *) say 'error=bad-address'; exit 2;;",
  'esac',
  "command -v ss >/dev/null 2>&1 || { say 'error=no-ss'; exit 3; }",
  'ports="( sport >= :$from and sport <= :$to )"',
  'if ! closed=$(ss -K -H -t -n state established "$ports" $peer 2>/dev/null); then say \'error=ss-failed\'; exit 4; fi',
  'left=$(ss -H -t -n state established "$ports" $peer 2>/dev/null | grep -c . || true)',
  'say "ended=$(printf \'%s\\n\' "$closed" | grep -c . || true) remaining=$left"',
];

/** The Command document (schema 2.2) as CloudFormation's AWS::SSM::Document `Content` takes it. */
export function endSessionsDocumentContent(): Record<string, unknown> {
  return {
    schemaVersion: '2.2',
    description:
      'sg-warden: ends the established TCP connections from one address (or any) to a port range, with ss -K, and prints how many it ended.',
    parameters: {
      address: {
        type: 'String',
        description: 'The peer: a CIDR (x.x.x.x/n or an IPv6 CIDR), or any.',
        allowedPattern: PARAMETER_PATTERNS.address,
      },
      fromPort: {
        type: 'String',
        description: 'First local port.',
        allowedPattern: PARAMETER_PATTERNS.fromPort,
      },
      toPort: { type: 'String', description: 'Last local port.', allowedPattern: PARAMETER_PATTERNS.toPort },
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'endSessions',
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: { timeoutSeconds: '60', runCommand: [...END_SESSIONS_SCRIPT] },
      },
    ],
  };
}
