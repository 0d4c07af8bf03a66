import type { WebClient } from '@slack/web-api';
import { mapSettled } from '../../../services/kernel/sweep';
import { type StatusRequest, showStatus } from '../../../services/status/status';
import type { ViolationItem } from '../../../services/violations/items';
import { MAX_LIST_LINES } from '../../blocks/grant';
import type { SlackMessage } from '../../blocks/kit';
import { auditMessage, groupMessage, overviewMessage, statusRefusedMessage } from '../../blocks/status';
import type { JobRunner } from '../../jobs';
import { personOf } from '../payload';
import { answeringRefusals } from '../whitelist/jobs';

export const StatusJobs = { status: 'status.show' } as const;

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 100 ? value : null;
}

/** Links to the alert messages of the violations the screen shows (chat.getPermalink, a few at a time). */
async function permalinks(client: WebClient, violations: ViolationItem[]): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  const shown = violations.slice(0, MAX_LIST_LINES).filter((v) => v.channel && v.ts);
  await mapSettled(shown, 4, async (v) => {
    const out = await client.chat.getPermalink({ channel: v.channel!, message_ts: v.ts! });
    if (out.permalink) links.set(v.violationId, out.permalink);
  });
  return links;
}

/** The request a job's arguments (plain JSON that crossed a Lambda invoke) stand for. */
function requestOf(args: Record<string, unknown>): StatusRequest {
  if (args.view === 'group')
    return {
      view: 'group',
      ref: {
        groupId: stringOrNull(args.groupId),
        alias: stringOrNull(args.alias),
        region: stringOrNull(args.region),
      },
    };
  if (args.view === 'audit') return { view: 'audit', subjectId: stringOrNull(args.subjectId) };
  return { view: 'overview' };
}

/** `/sg-status` in its forms; reads only, and only for those who may read (services/status/readers.ts). */
export const runStatusJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  // One group's exposure is looked up for `/sg-status <group>` (once, for this job only).
  const exposure = deps.newExposureLookup?.();
  const answer = await showStatus(
    exposure ? { ...deps, exposure } : deps,
    personOf(job),
    requestOf(job.args),
    deps.homeRegion ?? 'us-east-1',
  );
  let message: SlackMessage;
  switch (answer.view) {
    case 'refused':
      message = statusRefusedMessage(answer.refusal);
      break;
    case 'group':
      message = groupMessage(answer.group);
      break;
    case 'audit':
      message = auditMessage(answer.audit);
      break;
    case 'overview': {
      const links = await permalinks(await deps.slack(), answer.overview.violations).catch(
        () => new Map<string, string>(),
      );
      message = overviewMessage(answer.overview, links, deps.config.accounts.aliases);
    }
  }
  await reply.ephemeral(message.text, message.blocks);
});
