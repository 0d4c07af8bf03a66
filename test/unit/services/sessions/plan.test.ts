import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  END_SESSIONS_SCRIPT,
  endSessionsDocumentContent,
  PARAMETER_PATTERNS,
} from '../../../../services/sessions/document';
import {
  documentParameters,
  parseEndSessionsOutput,
  type SessionScope,
  sessionScope,
} from '../../../../services/sessions/plan';

describe('sessionScope: only values that are what they claim reach SSM', () => {
  it('takes a host, a CIDR and ports as such, in canonical form', () => {
    expect(sessionScope({ cidr: '203.0.113.7/32', protocol: 'tcp', fromPort: 22, toPort: 22 })).toEqual({
      scope: { address: '203.0.113.7/32', fromPort: 22, toPort: 22 },
    });
    expect(sessionScope({ cidr: '2001:DB8:0:0::7/128', protocol: 'tcp', fromPort: 22, toPort: 22 })).toEqual({
      scope: { address: '2001:db8::7/128', fromPort: 22, toPort: 22 },
    });
    expect(sessionScope({ cidr: '10.1.2.3/8', protocol: 'all', fromPort: null, toPort: null })).toEqual({
      scope: { address: '10.0.0.0/8', fromPort: 0, toPort: 65535 },
    });
    expect(sessionScope({ cidr: '::/0', protocol: 'tcp', fromPort: 1000, toPort: 2000 })).toEqual({
      scope: { address: 'any', fromPort: 1000, toPort: 2000 },
    });
  });

  it.each([
    ["203.0.113.7/32'; reboot; '", 'is not an IPv4 or IPv6 CIDR'],
    ['203.0.113.7', 'is not an IPv4 or IPv6 CIDR'],
    ['fe80::1%eth0/128', 'is not an IPv4 or IPv6 CIDR'],
    ['$(reboot)/32', 'is not an IPv4 or IPv6 CIDR'],
    ['300.1.1.1/32', 'is not an IPv4 or IPv6 CIDR'],
  ])('refuses the address %j', (cidr, why) => {
    const out = sessionScope({ cidr, protocol: 'tcp', fromPort: 22, toPort: 22 });
    expect('refused' in out && out.refused).toContain(why);
  });

  it('refuses ports that are not a port range, and protocols without TCP connections', () => {
    for (const [fromPort, toPort] of [
      [22, 21],
      [-1, 22],
      [22, 70000],
      [1.5, 2],
    ] as const)
      expect(sessionScope({ cidr: '203.0.113.7/32', protocol: 'tcp', fromPort, toPort })).toHaveProperty(
        'refused',
      );
    expect(sessionScope({ cidr: '203.0.113.7/32', protocol: 'udp', fromPort: 53, toPort: 53 })).toEqual({
      refused: 'only TCP connections can be ended, and this allows udp',
    });
  });

  it('gives parameters SSM’s own patterns accept', () => {
    const params = documentParameters({ address: '2001:db8::7/128', fromPort: 0, toPort: 65535 });
    for (const [name, [value]] of Object.entries(params))
      expect(value).toMatch(new RegExp(PARAMETER_PATTERNS[name as keyof typeof PARAMETER_PATTERNS]));
    const doc = endSessionsDocumentContent() as { parameters: Record<string, { allowedPattern: string }> };
    expect(Object.keys(doc.parameters).sort()).toEqual(Object.keys(params).sort());
  });
});

describe('parseEndSessionsOutput', () => {
  it('reads the count line, an error line, or nothing', () => {
    expect(parseEndSessionsOutput('noise\nsg-warden-end-sessions ended=3 remaining=0\n')).toEqual({
      ended: 3,
      remaining: 0,
    });
    expect(parseEndSessionsOutput('sg-warden-end-sessions error=no-ss\n')).toEqual({ error: 'no-ss' });
    expect(parseEndSessionsOutput('')).toBeNull();
    expect(parseEndSessionsOutput('sg-warden-end-sessions ended=x remaining=0')).toBeNull();
  });
});

/** The document's script as SSM would run it: parameters substituted, /bin/sh, a stand-in `ss` on PATH. */
function runScript(
  scope: SessionScope,
  fakeSs: string,
): { status: number | null; stdout: string; calls: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sg-warden-ss-'));
  writeFileSync(join(dir, 'ss'), fakeSs);
  chmodSync(join(dir, 'ss'), 0o755);
  const [address, fromPort, toPort] = Object.values(documentParameters(scope)).map((v) => v[0]!);
  const script = END_SESSIONS_SCRIPT.join('\n')
    .replace('{{ address }}', address!)
    .replace('{{ fromPort }}', fromPort!)
    .replace('{{ toPort }}', toPort!);
  const out = spawnSync('/bin/sh', ['-c', script], {
    encoding: 'utf8',
    env: { PATH: `${dir}:/usr/bin:/bin`, SS_LOG: join(dir, 'calls') },
  });
  const calls = spawnSync('cat', [join(dir, 'calls')], { encoding: 'utf8' }).stdout;
  return { status: out.status, stdout: out.stdout, calls };
}

describe('the end-sessions script (with a stand-in ss)', () => {
  // Logs its arguments; as `ss -K` it lists two closed sockets, as `ss` (the recount) none.
  const fake = `#!/bin/sh
echo "$@" >> "$SS_LOG"
case "$1" in -K) printf 'ESTAB 0 0 10.0.0.5:22 203.0.113.7:50000\\nESTAB 0 0 10.0.0.5:22 203.0.113.7:50001\\n';; esac
`;

  it('closes established TCP sockets to the ports from the address (IPv4 and its mapped IPv6) and prints the count', () => {
    const run = runScript({ address: '203.0.113.7/32', fromPort: 22, toPort: 22 }, fake);
    expect(run.status).toBe(0);
    expect(parseEndSessionsOutput(run.stdout)).toEqual({ ended: 2, remaining: 0 });
    expect(run.calls.split('\n')[0]).toBe(
      '-K -H -t -n state established ( sport >= :22 and sport <= :22 ) ( dst 203.0.113.7/32 or dst ::ffff:203.0.113.7/128 )',
    );
  });

  it('filters an IPv6 peer as such, and no peer at all for any', () => {
    expect(runScript({ address: '2001:db8::7/128', fromPort: 22, toPort: 22 }, fake).calls).toContain(
      '( sport >= :22 and sport <= :22 ) dst 2001:db8::7/128',
    );
    expect(runScript({ address: 'any', fromPort: 0, toPort: 65535 }, fake).calls.split('\n')[0]).toBe(
      '-K -H -t -n state established ( sport >= :0 and sport <= :65535 )',
    );
  });

  it('refuses values the document’s patterns would let through but are still wrong, before ss runs', () => {
    const run = runScript({ address: '1.2.3.4/32/1', fromPort: 22, toPort: 22 }, fake);
    expect(run.status).toBe(2);
    expect(parseEndSessionsOutput(run.stdout)).toEqual({ error: 'bad-address' });
    expect(run.calls).toBe('');
    const ports = runScript({ address: '1.2.3.4/32', fromPort: 30, toPort: 22 }, fake);
    expect(parseEndSessionsOutput(ports.stdout)).toEqual({ error: 'bad-port' });
  });

  it('says so when ss fails', () => {
    const run = runScript({ address: '1.2.3.4/32', fromPort: 22, toPort: 22 }, '#!/bin/sh\nexit 1\n');
    expect(run.status).toBe(4);
    expect(parseEndSessionsOutput(run.stdout)).toEqual({ error: 'ss-failed' });
  });
});
