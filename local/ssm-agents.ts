import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer, readBody } from './shared/loopback-http';
import type { InvocationStep, SsmEmulator } from './shared/ssm-emulator';

/** Canned answers for the commands the sandbox's runbooks send (nothing runs on this machine). */
const CANNED: [RegExp, (instance: string) => string][] = [
  [
    /^df\b/,
    () => 'Filesystem      Size  Used Avail Use% Mounted on\n/dev/nvme0n1p1   30G   11G   19G  37% /',
  ],
  [/^systemctl is-active\b/, () => 'active'],
  [/^systemctl (restart|reload|start|stop)\b/, () => ''],
  [/^uptime\b/, () => ' 10:42:01 up 23 days,  4:17,  0 users,  load average: 0.08, 0.05, 0.01'],
  [/^hostname\b/, (instance) => `ip-10-40-1-${(instance.charCodeAt(instance.length - 1) % 200) + 10}`],
];

/** What an instance "prints" for a script: each command echoed, then its canned output. */
export function simulatedOutput(instance: string, commands: string[]): string {
  const lines: string[] = [];
  for (const command of commands) {
    lines.push(`$ ${command}`);
    const canned = CANNED.find(([pattern]) => pattern.test(command.trim()));
    const out = canned ? canned[1](instance) : '(simulated: the sandbox ran nothing)';
    if (out) lines.push(out);
  }
  return lines.join('\n');
}

/**
 * The agents on the sandbox's instances: a front for the SSM emulator that, just before each
 * SendCommand reaches it, scripts every target instance to go InProgress and then succeed with the
 * commands' canned output. Nothing is executed on this machine: runbooks such as "restart nginx"
 * are meant for servers, not for the laptop the sandbox runs on.
 */
export class SimulatedAgents {
  private readonly http = new LoopbackServer(
    (req, res) => this.handle(req, res),
    (error, res) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ __type: 'InternalServerError', message: error.message }));
    },
  );
  url = '';

  constructor(private readonly ssm: SsmEmulator) {}

  async start(): Promise<this> {
    this.url = await this.http.listen();
    return this;
  }

  async stop(): Promise<void> {
    await this.http.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (String(req.headers['x-amz-target'] ?? '') === 'AmazonSSM.SendCommand') {
      try {
        const input = JSON.parse(body.toString('utf8')) as {
          InstanceIds?: string[];
          Parameters?: { commands?: string[] };
        };
        const commands = input.Parameters?.commands ?? [];
        for (const instance of input.InstanceIds ?? []) {
          const steps: InvocationStep[] = [
            { status: 'InProgress' },
            { status: 'Success', exitCode: 0, stdout: simulatedOutput(instance, commands) },
          ];
          this.ssm.script(instance, steps);
        }
      } catch {
        // Not JSON: the emulator answers it as SSM would.
      }
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !['host', 'connection', 'content-length'].includes(name)) {
        headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
    }
    const method = req.method ?? 'POST';
    const out = await fetch(`${this.ssm.url}${req.url ?? '/'}`, {
      method,
      headers,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
    });
    const answer: Record<string, string> = {};
    out.headers.forEach((value, name) => {
      if (!['connection', 'transfer-encoding', 'content-length', 'content-encoding'].includes(name)) {
        answer[name] = value;
      }
    });
    res.writeHead(out.status, answer);
    res.end(Buffer.from(await out.arrayBuffer()));
  }
}
