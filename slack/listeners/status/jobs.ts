import type { WebClient } from '@slack/web-api';
import { mapSettled } from '../../../services/kernel/sweep';
import { loadAudit, loadGroupView, loadOverview } from '../../../services/status/status';
import type { ViolationItem } from '../../../services/violations/items';
import { MAX_LIST_LINES } from '../../blocks/grant';
import { auditMessage, groupMessage, overviewMessage } from '../../blocks/status';
import type { JobRunner } from '../../jobs';
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

/** `/sg-status` in its three forms; reads only. */
export const runStatusJob: JobRunner = answeringRefusals(async (job, deps, reply) => {
  const view = job.args.view;
  let message: { text: string; blocks: Parameters<typeof reply.ephemeral>[1] };
  if (view === 'group') {
    const groupView = await loadGroupView(
      deps,
      {
        groupId: stringOrNull(job.args.groupId),
        alias: stringOrNull(job.args.alias),
        region: stringOrNull(job.args.region),
      },
      deps.homeRegion ?? 'us-east-1',
    );
    message = groupMessage(groupView);
  } else if (view === 'audit') {
    message = auditMessage(await loadAudit(deps, stringOrNull(job.args.subjectId)));
  } else {
    const overview = await loadOverview(deps);
    const links = await permalinks(await deps.slack(), overview.violations).catch(
      () => new Map<string, string>(),
    );
    message = overviewMessage(overview, links, deps.config.accounts.aliases);
  }
  await reply.ephemeral(message.text, message.blocks);
});
