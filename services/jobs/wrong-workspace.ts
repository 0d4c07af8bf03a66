import { type Refusal, recordRefusal } from '../kernel/refusal';
import type { StateStore } from '../kernel/state';
import type { Logger } from '../shared/logger';
import type { Person } from '../shared/people';

/** The answer to a request from a Slack workspace sg-warden does not serve (config `slack.teamId`). */
export const WRONG_WORKSPACE: Refusal = {
  code: 'WRONG_WORKSPACE',
  message: 'This sg-warden serves another Slack workspace, so nothing was done.',
};

/** A request the Slack door refused for its workspace, as the door read it. */
export interface ForeignWorkspaceRequest {
  person: Person;
  /** What was asked: the command, `action:<id>` or `view:<callback>`. */
  request: string;
  /** Every team the payload named. */
  teams: string[];
  channel: string | null;
}

/**
 * Puts a request from another workspace on the audit trail (subject: the person; result: refused) and
 * returns the refusal to answer with. Nothing else happens: the request acted on nothing.
 */
export function recordForeignWorkspaceRequest(
  deps: {
    store: Pick<StateStore, 'appendAudit'>;
    clock: () => Date;
    logger: Logger;
    servedTeam: string | null;
  },
  refused: ForeignWorkspaceRequest,
): Promise<Refusal> {
  const { person } = refused;
  return recordRefusal(deps, {
    subject: { id: person.id, type: 'request' },
    action: 'slack-request',
    by: { type: 'slack-user', id: person.id, name: person.name },
    refusal: WRONG_WORKSPACE,
    details: {
      request: refused.request,
      teams: refused.teams,
      channel: refused.channel,
      servedTeam: deps.servedTeam,
    },
  });
}
