import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { COMMANDS, main } from '../../../cli/main';
import { buildProgram } from '../../../cli/program';
import { runCli } from '../../support/cli';

const repoRoot = join(__dirname, '..', '..', '..');

/** Runs the CLI in this process (fast), with its output captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await main(argv, { stdout, stderr, stdin: new PassThrough(), env: {} });
  return { code, stdout: out, stderr: err };
}

/** Every command path that runs something (leaves of the command tree), as typed after `sg-warden`. */
function commandPaths(): string[][] {
  const program = buildProgram(COMMANDS, { io: {} as never, exit: () => {} });
  const paths: string[][] = [];
  const visit = (command: Command, path: string[]) => {
    const subs = command.commands.filter((c) => c.name() !== 'help');
    if (subs.length === 0) paths.push(path);
    for (const sub of subs) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  return paths;
}

describe('sg-warden command line (commander)', () => {
  const paths = commandPaths();

  it('knows every command', () => {
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining(['evaluate', 'policy check', 'audit export', 'slack-manifest']),
    );
  });

  it.each(paths.map((p) => [p.join(' '), p]))(
    '`%s --help` prints its usage and options on stdout and exits 0',
    async (_name, path) => {
      const out = await run([...path, '--help']);
      expect(out.code).toBe(0);
      expect(out.stderr).toBe('');
      expect(out.stdout).toContain(`Usage: sg-warden ${path.join(' ')} [options]`);
      expect(out.stdout).toMatch(/-h, --help/);
      // `help <command>` (at the level above it: `audit help export`) says the same.
      const helpCommand = [...path.slice(0, -1), 'help', path[path.length - 1]!];
      expect((await run(helpCommand)).stdout).toBe(out.stdout);
    },
  );

  it.each(paths.map((p) => [p.join(' '), p]))(
    '`%s --no-such-flag` is refused by name: exit 2, one sentence on stderr',
    async (_name, path) => {
      const out = await run([...path, '--no-such-flag']);
      expect(out.code).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toBe(
        `sg-warden: Unknown option --no-such-flag for sg-warden ${path.join(' ')}; see sg-warden ${path.join(' ')} --help.\n`,
      );
    },
  );

  it('suggests the option meant when one is misspelt', async () => {
    const out = await run(['evaluate', 'x.json', '--polcy', 'p.yml']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('Unknown option --polcy');
    expect(out.stderr).toContain('did you mean --policy?');
  });

  it('says which subcommand a command needs', async () => {
    const out = await run(['policy']);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(
      'sg-warden: sg-warden policy needs a command: check; see sg-warden policy --help.\n',
    );
  });

  it('prints the usage on stdout with exit 2 when run with nothing', async () => {
    const out = await run([]);
    expect(out.code).toBe(2);
    expect(out.stdout).toContain('Usage: sg-warden [options] [command]');
    for (const name of ['evaluate', 'policy', 'audit', 'slack-manifest']) expect(out.stdout).toContain(name);
  });

  it('prints the package version with --version (the real executable)', () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    const out = runCli(['--version']);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`${version}\n`);
    expect(out.stderr).toBe('');
  });

  it('honours --: what follows is a file name even when it looks like an option (the real executable)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-warden-cli-'));
    // The shipped config with a real channel (the example channel is refused by policy check).
    const shipped = readFileSync(join(repoRoot, 'config', 'sg-warden.yml'), 'utf8');
    writeFileSync(join(dir, '--help'), shipped.replace('C0SGWARDEN', 'C0TEST'));
    const out = runCli(['policy', 'check', '--', '--help'], { cwd: dir });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^--help: valid\./);
    // Without --, it is the help flag: usage, no file read.
    const help = runCli(['policy', 'check', '--help'], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: sg-warden policy check [options] [file]');
  });
});
