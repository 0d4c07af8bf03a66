import type { Config } from '../../services/config/config';
import type { Job } from '../../services/jobs/jobs';

/** A slash command's form fields, as Slack posts them (and Bolt hands them to listeners as `command`). */
export type CommandFields = Record<string, string>;

/**
 * A signed Slack body, read the way Bolt reads it: a slash command's form, or an interaction's payload
 * (an Events API callback's JSON envelope is read as one too: `payload.type` is `event_callback`).
 */
export type SlackBody =
  | { type: 'command'; command: CommandFields }
  | { type: 'interaction'; payload: Record<string, unknown> };

/** A job as derived from a Slack request, before the worker adds when it was sent and its request ID. */
export type JobSpec = Omit<Job, 'receivedAt' | 'requestId'>;

/**
 * Derives the job one kind of Slack request asks for, from the request alone (and the config); null when
 * the request is not of that kind or asks for nothing in the background (help, a dialog with errors).
 * The door's listeners and the worker call the same sources, so both read the same job from a body.
 */
export type JobSource = (body: SlackBody, config: Config) => JobSpec | null;

const guards: JobSource[] = [];
const sources: JobSource[] = [];

/**
 * Adds a source (idempotent). A `guard` source (the workspace check) is asked before every feature's,
 * whatever the order of registration: a request it claims is never read as a feature's job.
 */
export function registerJobSource(source: JobSource, role: 'guard' | 'feature' = 'feature'): void {
  const list = role === 'guard' ? guards : sources;
  if (!list.includes(source)) list.push(source);
}

/** Reads a signed body as Bolt would; null when it is neither a slash command nor an interaction. */
export function parseSlackBody(raw: string): SlackBody | null {
  // The Events API posts JSON: an event callback is read like an interaction (its payload is the envelope).
  if (raw.trimStart().startsWith('{')) {
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
      const envelope = parsed as Record<string, unknown>;
      return envelope.type === 'event_callback' ? { type: 'interaction', payload: envelope } : null;
    } catch {
      return null;
    }
  }
  const form = new URLSearchParams(raw);
  const payload = form.get('payload');
  if (payload !== null) {
    try {
      const parsed = JSON.parse(payload) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
      return { type: 'interaction', payload: parsed as Record<string, unknown> };
    } catch {
      return null;
    }
  }
  const command = Object.fromEntries(form.entries());
  return typeof command.command === 'string' && command.command.startsWith('/')
    ? { type: 'command', command }
    : null;
}

/** The job a signed body asks for: the first source that knows the request decides; null when none does. */
export function jobFromBody(body: SlackBody, config: Config): JobSpec | null {
  for (const source of [...guards, ...sources]) {
    const spec = source(body, config);
    if (spec) return spec;
  }
  return null;
}

/** The first action of a block_actions payload with one of `actionIds` (Bolt routes on actions[0]), or null. */
export function blockAction(
  body: SlackBody,
  actionIds: readonly string[],
): { payload: Record<string, unknown>; actionId: string; value: unknown } | null {
  if (body.type !== 'interaction' || body.payload.type !== 'block_actions') return null;
  const actions = body.payload.actions;
  const first = Array.isArray(actions) ? (actions[0] as Record<string, unknown> | undefined) : undefined;
  const actionId = first?.action_id;
  if (typeof actionId !== 'string' || !actionIds.includes(actionId)) return null;
  if (!hasUser(body.payload)) return null;
  return { payload: body.payload, actionId, value: first?.value };
}

/** A view_submission payload of the dialog `callbackId`, or null. */
export function viewSubmission(body: SlackBody, callbackId: string): Record<string, unknown> | null {
  if (body.type !== 'interaction' || body.payload.type !== 'view_submission') return null;
  const view = body.payload.view as { callback_id?: unknown } | undefined;
  return view?.callback_id === callbackId && hasUser(body.payload) ? body.payload : null;
}

/** The fields of the slash command `name` (with the user who ran it), or null. */
export function slashCommand(body: SlackBody, name: string): (CommandFields & { user_id: string }) | null {
  if (body.type !== 'command' || body.command.command !== name) return null;
  const userId = body.command.user_id;
  return typeof userId === 'string' && userId !== '' ? { ...body.command, user_id: userId } : null;
}

function hasUser(payload: Record<string, unknown>): boolean {
  const user = payload.user as { id?: unknown } | undefined;
  return typeof user?.id === 'string' && user.id !== '';
}
