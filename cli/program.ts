import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, type HelpContext } from 'commander';
import { BadInputError, SgWardenError } from '../services/shared/errors';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/** Exit codes other tools rely on: 0 clean, 1 violations found, 2 bad input. */
export const EXIT = { ok: 0, violations: 1, badInput: 2 } as const;

/** What a command's action gets besides its arguments: the streams, and how to set the exit code. */
export interface CommandContext {
  io: Io;
  exit(code: number): void;
}

/**
 * One CLI command: adds itself (its arguments, options, help and action) to the program. A new command
 * (scan, exposure, route…) is one more module in `COMMANDS` (cli/main.ts) and gets --help, refusal of
 * unknown options, `--` and the exit-code contract from here.
 */
export type CommandModule = (program: SgWardenCommand, context: CommandContext) => void;

/** The command path as typed, e.g. "sg-warden audit export". */
function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Commander's "(Did you mean --since?)" as "; did you mean --since?", or nothing. */
function suggestionIn(message: string): string {
  const match = /Did you mean (?:one of )?([^?]+)\?/.exec(message);
  return match ? ` (did you mean ${match[1]}?)` : '';
}

/**
 * The sentence for a command-line mistake, from commander's error code and message: names the option or
 * command, and where help is. Commands may give their own sentence for a wrong number of arguments.
 */
function usageSentence(command: SgWardenCommand, message: string, code: string | undefined): string {
  const path = pathOf(command);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'commander.unknownOption':
      return `Unknown option ${quoted} for ${path}${suggestionIn(message)}; see ${path} --help.`;
    case 'commander.optionMissingArgument':
      return `${quoted.split(/[\s,]/).find((f) => f.startsWith('--')) ?? quoted} needs a value.`;
    case 'commander.missingArgument':
    case 'commander.excessArguments':
      return command.argumentsHint ?? `${path}: ${message.replace(/^error: /, '')} See ${path} --help.`;
    case 'commander.unknownCommand':
      return `Unknown command "${quoted}"${suggestionIn(message)}; see ${path} --help.`;
    default:
      return message.replace(/^error: /, '');
  }
}

/**
 * commander's Command with sg-warden's manners: mistakes are thrown as BadInputError (one sentence,
 * exit 2) instead of being printed by commander; a command that needs a subcommand says which.
 */
export class SgWardenCommand extends Command {
  /** The sentence for a missing or extra argument (e.g. "evaluate takes exactly one file"). */
  argumentsHint: string | undefined;

  override createCommand(name?: string): SgWardenCommand {
    return new SgWardenCommand(name);
  }

  /** Sets the sentence shown when the arguments are missing or too many. */
  argumentsError(sentence: string): this {
    this.argumentsHint = sentence;
    return this;
  }

  override error(message: string, options?: { code?: string; exitCode?: number }): never {
    throw new BadInputError(usageSentence(this, message, options?.code));
  }

  override help(context?: HelpContext | ((text: string) => string)): never {
    if (typeof context === 'object' && context.error) {
      const names = this.commands.map((c) => c.name()).join(', ');
      const path = pathOf(this);
      throw new BadInputError(`${path} needs a command: ${names}; see ${path} --help.`);
    }
    return typeof context === 'function' ? super.help(context) : super.help(context);
  }
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The whole program with its commands; a fresh one per run (commander keeps parse state). */
export function buildProgram(modules: CommandModule[], context: CommandContext): SgWardenCommand {
  const program = new SgWardenCommand('sg-warden');
  program
    .description('Keeps AWS security groups safe with a human in the loop: the offline tools.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.io.stdout.write(text),
      // Errors are turned into one sentence by SgWardenCommand.error; commander prints nothing itself.
      writeErr: () => {},
      outputError: () => {},
    })
    .addHelpText('after', '\nExit codes: 0 no violations / valid, 1 violations found, 2 bad input.');
  for (const register of modules) register(program, context);
  // Every command, the ones added later included, refuses what it does not know and honours `--`.
  const visit = (command: Command) => {
    command.exitOverride().allowUnknownOption(false).allowExcessArguments(false);
    command.configureOutput(program.configureOutput());
    command.showSuggestionAfterError(true);
    command.commands.forEach(visit);
  };
  visit(program);
  return program;
}

/** Runs the CLI; returns the exit code. Known errors become one sentence on stderr and exit 2. */
export async function runProgram(argv: string[], io: Io, modules: CommandModule[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(modules, {
    io,
    exit: (c) => {
      code = c;
    },
  });
  if (argv.length === 0) {
    io.stdout.write(program.helpInformation());
    return EXIT.badInput;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end parsing with exit code 0.
      if (error.exitCode === 0) return EXIT.ok;
      io.stderr.write(`sg-warden: ${error.message.replace(/^error: /, '')}\n`);
      return EXIT.badInput;
    }
    if (error instanceof SgWardenError) {
      io.stderr.write(`sg-warden: ${error.message}\n`);
      return EXIT.badInput;
    }
    io.stderr.write(`sg-warden: unexpected error: ${(error as Error).message}\n`);
    return 3;
  }
}
