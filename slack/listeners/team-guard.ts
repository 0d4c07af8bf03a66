import type { AnyMiddlewareArgs, App, Middleware } from '@slack/bolt';
import type { ModalView } from '@slack/types';
import type { Config } from '../../services/config/config';
import { lazyModule } from '../../services/shared/lazy-module';
import { plainText, section } from '../blocks/kit';
import type { SlackDeps } from '../deps';
import { type JobRunner, registerJobRunner } from '../jobs';
import { type JobSpec, registerJobSource, type SlackBody } from '../jobs/sources';
import { handOff } from './handoff';
import { personOf } from './payload';

/** Job kinds of the workspace check. */
export const TeamJobs = { refused: 'request.wrong-workspace' } as const;

/**
 * The door's answer, at once; the worker's record of it says the same (services/jobs/wrong-workspace.ts),
 * loaded only there so the door's cold start does not pay for the audit code.
 */
export const WRONG_WORKSPACE =
  ':no_entry_sign: This sg-warden serves another Slack workspace, so nothing was done. (WRONG_WORKSPACE)';

const wrongWorkspace = lazyModule(
  () =>
    require('../../services/jobs/wrong-workspace') as typeof import('../../services/jobs/wrong-workspace'),
);

interface Payload {
  type?: string;
  team_id?: string;
  command?: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  response_url?: string;
  team?: { id?: string } | null;
  user?: { id?: string; username?: string; name?: string; team_id?: string };
  view?: { team_id?: string; callback_id?: string };
  actions?: { action_id?: string }[];
  channel?: { id?: string };
  /** An Events API callback's event (app_home_opened): who it is about. */
  event?: { type?: string; user?: string };
}

/** Every team a payload names: the workspace it was sent from and the acting user's own team. */
export function teamsOf(body: Payload): string[] {
  const named = [body.team_id, body.team?.id, body.user?.team_id, body.view?.team_id];
  return [...new Set(named.filter((t): t is string => typeof t === 'string' && t.length > 0))];
}

function requestName(body: Payload): string {
  if (body.command) return body.command;
  if (body.type === 'view_submission') return `view:${body.view?.callback_id ?? 'unknown'}`;
  if (body.type === 'event_callback') return `event:${body.event?.type ?? 'unknown'}`;
  return `action:${body.actions?.[0]?.action_id ?? body.type ?? 'unknown'}`;
}

/** The payload of any Slack request (a command's form fields, or an interaction). */
function payloadOf(body: SlackBody): Payload {
  return body.type === 'command' ? body.command : (body.payload as Payload);
}

/** True when the request comes from the served workspace (or no workspace is configured). */
function isServedWorkspace(body: Payload, config: Config): boolean {
  const expected = config.slack.teamId;
  const teams = teamsOf(body);
  return !expected || (teams.length > 0 && teams.every((t) => t === expected));
}

/**
 * The job source of the workspace check, registered before every feature's: a request naming any other
 * workspace than `slack.teamId` asks for one thing only, that its refusal be audited.
 */
export function wrongWorkspaceJob(body: SlackBody, config: Config): JobSpec | null {
  const payload = payloadOf(body);
  if (isServedWorkspace(payload, config)) return null;
  const teams = teamsOf(payload);
  const id = payload.user_id ?? payload.user?.id ?? payload.event?.user ?? 'unknown';
  const name = payload.user_name ?? payload.user?.username ?? payload.user?.name ?? id;
  return {
    kind: TeamJobs.refused,
    actor: { id, name, ...(teams[0] ? { teamId: teams[0] } : {}) },
    reply: payload.response_url && !payload.command ? { responseUrl: payload.response_url } : {},
    args: {
      request: requestName(payload),
      teams,
      channel: payload.channel_id ?? payload.channel?.id ?? null,
    },
  };
}

/**
 * Refuses requests from any Slack workspace but the configured one (`slack.teamId`), before any listener
 * runs: a command gets the refusal as its answer, a button press through its response_url, a dialog
 * submission in the dialog. The refusal is audited by a job (the door writes nothing itself).
 * Without `slack.teamId` every signed request passes.
 */
export function teamGuard(deps: SlackDeps): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const body = args.body as Payload;
    if (isServedWorkspace(body, deps.config)) {
      await args.next();
      return;
    }
    const ack = (args as { ack?: (response?: unknown) => Promise<void> }).ack;
    deps.logger.warn(
      {
        slackUser: body.user_id ?? body.user?.id ?? 'unknown',
        teams: teamsOf(body),
        request: requestName(body),
      },
      'request from another Slack workspace refused',
    );
    if (body.command) {
      await ack?.({ response_type: 'ephemeral', text: WRONG_WORKSPACE });
    } else if (body.type === 'view_submission') {
      await ack?.({
        response_action: 'update',
        view: {
          type: 'modal',
          title: plainText('sg-warden'),
          close: plainText('Close'),
          blocks: [section(WRONG_WORKSPACE)],
        } satisfies ModalView,
      });
    } else {
      await ack?.();
    }
    await handOff(deps, TeamJobs.refused, async () => {});
  };
}

/** Has the refusal put on record, and tells a button presser (commands were told in the ack). */
export const runWrongWorkspaceJob: JobRunner = async (job, deps, reply) => {
  const teams = Array.isArray(job.args.teams)
    ? job.args.teams.filter((t): t is string => typeof t === 'string').slice(0, 10)
    : [];
  await wrongWorkspace().recordForeignWorkspaceRequest(
    { ...deps, servedTeam: deps.config.slack.teamId ?? null },
    {
      person: personOf(job),
      request: typeof job.args.request === 'string' ? job.args.request.slice(0, 200) : 'unknown',
      teams,
      channel: typeof job.args.channel === 'string' ? job.args.channel : null,
    },
  );
  if (job.reply.responseUrl) await reply.ephemeral(WRONG_WORKSPACE);
};

/** Adds the workspace check in front of every listener. */
export function registerTeamGuard(app: App, deps: SlackDeps): void {
  app.use(teamGuard(deps));
}

/** The worker's runner for refused requests, and its job source (first of all sources). */
export function registerTeamGuardJobs(): void {
  registerJobSource(wrongWorkspaceJob, 'guard');
  registerJobRunner(TeamJobs.refused, runWrongWorkspaceJob);
}
