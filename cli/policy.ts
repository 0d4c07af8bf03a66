import { loadConfig } from '../services/config/config';
import { deployBlockers } from '../services/config/readiness';
import { policyWarnings } from '../services/detection/policy-check';
import { BadInputError } from '../services/shared/errors';
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
      // Valid, but still the shipped example where it matters: deployed, it would post nowhere useful.
      const blockers = deployBlockers(config);
      if (blockers.length > 0) throw new BadInputError(`${path}: ${blockers.join('; ')}`);
      const p = config.policy;
      io.stdout.write(
        `${path}: valid. ${p.adminPorts.length} admin ports, ${p.principals.length} principal rules, ${p.onlyFrom.length} only-from rules, ` +
          `${Object.keys(config.whitelist.targets).length} whitelist targets, ${Object.keys(config.runbooks.items).length} runbooks, ${config.slack.routes.length} routes; ` +
          `egress ${p.evaluateEgress ? 'evaluated' : 'not evaluated'}; dry run ${JSON.stringify(p.dryRun)}.\n`,
      );
      for (const warning of policyWarnings(config)) io.stderr.write(`sg-warden: warning: ${warning}\n`);
      exit(EXIT.ok);
    });
};
