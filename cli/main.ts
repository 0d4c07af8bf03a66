import { auditCommand } from './audit-export';
import { evaluateCommand } from './evaluate';
import { exposureCliCommand } from './exposure';
import { policyCommand } from './policy';
import { type CommandModule, EXIT, type Io, runProgram } from './program';
import { routeCommand } from './route';
import { scanCliCommand } from './scan';
import { slackManifestCommand } from './slack-manifest';

export { EXIT, type Io };

/** The CLI's commands, in the order `sg-warden --help` lists them. */
export const COMMANDS: CommandModule[] = [
  evaluateCommand,
  policyCommand,
  routeCommand,
  auditCommand,
  exposureCliCommand,
  scanCliCommand,
  slackManifestCommand,
];

/** Runs the CLI; returns the exit code. Known errors become one sentence on stderr and exit 2. */
export function main(argv: string[], io: Io): Promise<number> {
  return runProgram(argv, io, COMMANDS);
}
