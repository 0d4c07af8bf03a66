import { refuse } from '../../../services/grants/deps';
import { disownGrant, revokeGrant } from '../../../services/grants/expiry';
import { extendGrant } from '../../../services/grants/extend';
import { issueLink } from '../../../services/grants/links';
import { grantsOf } from '../../../services/grants/list';
import { requestGrant } from '../../../services/grants/request';
import { refusalText } from '../../../services/kernel/refusal';
import { BadInputError, SgWardenError } from '../../../services/shared/errors';
import { grantChangedMessage, grantListMessage, grantOutcomeMessage, linkMessage } from '../../blocks/grant';
import type { JobRunner } from '../../jobs';
import { escapeMrkdwn } from '../../mrkdwn';
import { personOf } from '../payload';

/** Job kinds `/sg-whitelist` and the Extend button hand to the worker. */
export const WhitelistJobs = {
  grant: 'whitelist.grant',
  link: 'whitelist.link',
  list: 'whitelist.list',
  revoke: 'whitelist.revoke',
  extend: 'whitelist.extend',
  refused: 'whitelist.refused',
  notMe: 'whitelist.not-me',
} as const;

/**
 * Answers a refusal (a sentence and its code) as a normal reply, escaped: refusals are answers, not
 * failures; anything else still goes to runJob's generic handling.
 */
export function answeringRefusals(runner: JobRunner): JobRunner {
  return async (job, deps, reply) => {
    try {
      await runner(job, deps, reply);
    } catch (error) {
      if (!(error instanceof SgWardenError)) throw error;
      deps.logger.info({ job: job.kind, code: error.code }, 'request refused');
      await reply.ephemeral(
        `:warning: ${escapeMrkdwn(refusalText({ code: error.code, message: error.message }))}`,
      );
    }
  };
}

function stringArg(args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > 100)
    throw new BadInputError(`This request has no valid ${name}.`);
  return value;
}

function numberArg(args: Record<string, unknown>, name: string): number | null {
  const value = args[name];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;
}

/**
 * A `/sg-whitelist` request the door refused while reading it (a wide range, a special address, a stray
 * word): the person was answered in the ack; this puts the refusal on record with who asked.
 */
export const runRefusedJob: JobRunner = async (job, deps) => {
  const alias = typeof job.args.alias === 'string' ? job.args.alias : null;
  const reason = typeof job.args.reason === 'string' ? job.args.reason : 'The request could not be read.';
  await refuse(
    deps,
    alias ? `target:${alias}` : 'target:unknown',
    'request',
    personOf(job),
    { code: 'BAD_INPUT', message: reason },
    { text: typeof job.args.text === 'string' ? job.args.text : '' },
  );
};

/** `/sg-whitelist <target> <ip>`: add the rule and answer with the grant. */
export const runGrantJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  const outcome = await requestGrant(deps, {
    alias: stringArg(job.args, 'alias'),
    address: stringArg(job.args, 'address'),
    port: numberArg(job.args, 'port'),
    durationSeconds: numberArg(job.args, 'durationSeconds'),
    person: personOf(job),
    via: 'address',
    ...(job.reply.channel ? { channel: job.reply.channel } : {}),
  });
  const message = grantOutcomeMessage(outcome);
  await reply.ephemeral(message.text, message.blocks);
});

/** `/sg-whitelist <target> me`: a one-time link to the bot's own page. */
export const runLinkJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  if (!deps.publicUrl) {
    await reply.ephemeral(
      ':warning: The `me` option is not set up here (SG_WARDEN_PUBLIC_URL is not set). Give your address instead: `/sg-whitelist <target> <ip>`.',
    );
    return;
  }
  const alias = stringArg(job.args, 'alias');
  const link = await issueLink(deps, deps.publicUrl, {
    alias,
    port: numberArg(job.args, 'port'),
    durationSeconds: numberArg(job.args, 'durationSeconds'),
    person: personOf(job),
    ...(job.reply.channel ? { channel: job.reply.channel } : {}),
  });
  const message = linkMessage(link.url, link.expiresAt, alias);
  await reply.ephemeral(message.text, message.blocks);
});

/** `/sg-whitelist list`: the asker's grants. */
export const runListJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  const message = grantListMessage(await grantsOf(deps, job.actor.id), deps.clock());
  await reply.ephemeral(message.text, message.blocks);
});

/** `/sg-whitelist revoke <grant>`: end it now. */
export const runRevokeGrantJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  const result = await revokeGrant(deps, stringArg(job.args, 'grantId'), personOf(job));
  const message = grantChangedMessage(
    result.grant,
    result.outcome === 'failed' ? 'revoke-failed' : 'revoked',
  );
  await reply.ephemeral(message.text, message.blocks);
});

/**
 * `/sg-whitelist extend <grant> <duration>`, and the Extend button (no duration: the target's default,
 * shortened to the target's longest).
 */
export const runExtendJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  const seconds = numberArg(job.args, 'durationSeconds');
  const grant = await extendGrant(
    deps,
    stringArg(job.args, 'grantId'),
    personOf(job),
    seconds,
    seconds === null ? { capped: true } : {},
  );
  const message = grantChangedMessage(grant, 'extended');
  await reply.ephemeral(message.text, message.blocks);
});

/** **Not me — revoke** on the notice of a used `me` link: the owner ends a grant that was not theirs. */
export const runNotMeJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  const result = await disownGrant(deps, deps.grantNotifier, stringArg(job.args, 'grantId'), personOf(job));
  const message = grantChangedMessage(
    result.grant,
    result.outcome === 'failed' ? 'revoke-failed' : 'revoked',
  );
  await reply.ephemeral(message.text, message.blocks);
});
