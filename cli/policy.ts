import { loadConfig } from '../services/config/config';
import { policyWarnings } from '../services/detection/policy-check';
import { DEFAULT_CONFIG } from './evaluate';
import { type CommandModule, EXIT } from './program';

/** `sg-warden policy check [file]`. */
export const policyCommand: CommandModule = (program, { io, exit }) => {
  const policy = program.command('policy').description('work with the config/policy file');
  policy
    .command('check')
    .description('validate a config/policy file; errors name the file, the field and what is wrong')
    .argument('[file]', 'the file (default: config/sg-warden.yml)')
    .argumentsError('policy check takes at most one file.')
    .addHelpText('after', '\nExit codes: 0 valid, 2 invalid or unreadable.')
    .action((file: string | undefined) => {
      const path = file ?? DEFAULT_CONFIG;
      const config = loadConfig(path);
      const p = config.policy;
      io.stdout.write(
        `${path}: valid. ${p.adminPorts.length} admin ports, ${p.principals.length} principal rules, ${p.onlyFrom.length} only-from rules, ` +
          `${Object.keys(config.whitelist.targets).length} whitelist targets, ${Object.keys(config.runbooks.items).length} runbooks; ` +
          `egress ${p.evaluateEgress ? 'evaluated' : 'not evaluated'}; dry run ${JSON.stringify(p.dryRun)}.\n`,
      );
      for (const warning of policyWarnings(config)) io.stderr.write(`sg-warden: warning: ${warning}\n`);
      exit(EXIT.ok);
    });
};
