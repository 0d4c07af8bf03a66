import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { repoRoot } from './shared/moto-server';

export interface SandboxOptions {
  /** Port of the page on 127.0.0.1 (0: any free port). */
  port: number;
  /** Port of the emulated AWS account's endpoint on 127.0.0.1 (0: any free port). */
  awsPort: number;
  /** Where state is kept between runs. */
  stateDir: string;
  /** Start from a freshly seeded account and an empty workspace. */
  reset: boolean;
  /** A YAML file merged over the sandbox's config. */
  configOverlay?: string;
  /** How often the sweeper's schedule fires. */
  sweepIntervalMs: number;
  /** The address the `me` link sees (API Gateway's sourceIp); the browser itself is on loopback. */
  publicIp: string;
}

export const USAGE = `usage: npm start -- [--port 3000] [--aws-port 3001] [--reset] [--state-dir .sg-warden] [--config overlay.yml] [--sweep-every 5s] [--public-ip 81.2.69.142]`;

/** Parses the command line; throws an Error whose message is one sentence for bad flags. */
export function parseArgs(argv: string[]): SandboxOptions | 'help' {
  let awsPort: number | undefined;
  const options: SandboxOptions = {
    port: 3000,
    awsPort: 3001,
    stateDir: join(repoRoot, '.sg-warden'),
    reset: false,
    sweepIntervalMs: 5000,
    publicIp: '81.2.69.142',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--reset':
        options.reset = true;
        break;
      case '--port': {
        const v = value();
        const port = Number(v);
        if (!/^\d+$/.test(v) || port > 65535)
          throw new Error(`--port must be a port number (0-65535), not "${v}"`);
        options.port = port;
        break;
      }
      case '--aws-port': {
        const v = value();
        const port = Number(v);
        if (!/^\d+$/.test(v) || port > 65535)
          throw new Error(`--aws-port must be a port number (0-65535), not "${v}"`);
        awsPort = port;
        break;
      }
      case '--state-dir':
        options.stateDir = resolve(value());
        break;
      case '--config': {
        const v = resolve(value());
        if (!existsSync(v)) throw new Error(`--config: no such file ${v}`);
        options.configOverlay = v;
        break;
      }
      case '--public-ip': {
        const v = value();
        if (!isIP(v)) throw new Error(`--public-ip must be an IPv4 or IPv6 address, not "${v}"`);
        options.publicIp = v;
        break;
      }
      case '--sweep-every': {
        const v = value();
        const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v);
        const ms = match ? Number(match[1]) * (match[2] === 'ms' ? 1 : 1000) : Number.NaN;
        if (!(ms >= 200 && ms <= 600_000)) {
          throw new Error(`--sweep-every must be between 200ms and 600s, such as 5s, not "${v}"`);
        }
        options.sweepIntervalMs = ms;
        break;
      }
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  // The AWS endpoint sits next to the page (3000 → 3001) unless it is given; any port when the page's is.
  options.awsPort = awsPort ?? (options.port === 0 ? 0 : options.port + 1);
  if (options.awsPort !== 0 && options.awsPort === options.port) {
    throw new Error(`--aws-port must differ from --port (${options.port})`);
  }
  return options;
}
