import type { Config, People } from '../config/config';
import type { StoredAuditEntry } from '../kernel/audit';
import type { Refusal } from '../kernel/refusal';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { type ChannelDirectory, type Directory, isListed } from '../shared/people';

/**
 * Who may read what sg-warden knows. `/sg-status` shows rules, grants (owner and address) and runs:
 * only to its readers — `status.readers` (people, user groups, and the alert channel's members unless
 * switched off) plus the revokers and approvers. The audit trail (`/sg-status audit`) is narrower: the
 * revokers and approvers, and for one item the people named in it (its owner, requester or decider).
 * A revokers or approvers list left empty means "anyone in the alert channel" (as for the buttons), so it
 * stands for the channel's members here too — never for everyone in the workspace.
 */
export interface ReaderDeps {
  config: Config;
  directory: Directory & ChannelDirectory;
  logger: Logger;
}

export const STATUS_READERS_ONLY = 'NOT_A_STATUS_READER';
export const AUDIT_READERS_ONLY = 'NOT_AN_AUDIT_READER';

/** The alert channel's members, read once per check; a channel Slack will not list grants nothing. */
function channelMembership(deps: ReaderDeps, userId: string): () => Promise<boolean> {
  let answer: Promise<boolean> | undefined;
  return () => {
    answer ??= deps.directory.channelMembers(deps.config.slack.alertChannel).then(
      (members) => members.includes(userId),
      (error: unknown) => {
        deps.logger.warn(
          { err: describeError(error) },
          'alert channel members not read; membership grants nothing',
        );
        return false;
      },
    );
    return answer;
  };
}

/** Listed, or (for a list left empty) a member of the alert channel. */
async function decides(
  people: People,
  userId: string,
  deps: ReaderDeps,
  isChannelMember: () => Promise<boolean>,
): Promise<boolean> {
  if (people.users.length === 0 && people.userGroups.length === 0) return isChannelMember();
  return isListed(people, userId, deps.directory);
}

async function isRevokerOrApprover(
  deps: ReaderDeps,
  userId: string,
  isChannelMember: () => Promise<boolean>,
): Promise<boolean> {
  const { revokers, approvers } = deps.config.decisions;
  return (
    (await decides(revokers, userId, deps, isChannelMember)) ||
    (await decides(approvers, userId, deps, isChannelMember))
  );
}

/** True when the person may see `/sg-status` (the overview and a group's rules). */
export async function mayReadStatus(deps: ReaderDeps, userId: string): Promise<boolean> {
  const readers = deps.config.status.readers;
  const isChannelMember = channelMembership(deps, userId);
  if (await isListed(readers, userId, deps.directory)) return true;
  if (readers.alertChannelMembers && (await isChannelMember())) return true;
  return isRevokerOrApprover(deps, userId, isChannelMember);
}

/** True when the person may read the audit trail: all of it, or (with `named`) one item's history. */
export async function mayReadAudit(
  deps: ReaderDeps,
  userId: string,
  named: readonly string[] = [],
): Promise<boolean> {
  if (named.includes(userId)) return true;
  return isRevokerOrApprover(deps, userId, channelMembership(deps, userId));
}

/** The Slack users one item's history names: whoever asked, owned or decided it (refused attempts do not count). */
export function peopleNamedIn(entries: readonly StoredAuditEntry[], item: object | null): string[] {
  const named = new Set<string>();
  for (const e of entries) if (e.actorType === 'slack-user' && e.result !== 'refused') named.add(e.actorId);
  for (const field of ['userId', 'requestedBy', 'decidedBy', 'approvedBy']) {
    const value = item ? (item as Record<string, unknown>)[field] : undefined;
    if (typeof value === 'string' && /^[UW][A-Z0-9]{2,}$/.test(value)) named.add(value);
  }
  return [...named];
}

function joinWords(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** The one sentence for a person who may not see the status: who may. */
export function statusRefusal(config: Config): Refusal {
  const readers = config.status.readers;
  const who = [
    ...(readers.users.length + readers.userGroups.length > 0 ? ['the people named in status.readers'] : []),
    ...(readers.alertChannelMembers ? ['members of the alert channel'] : []),
    "sg-warden's revokers and approvers",
  ];
  return {
    code: STATUS_READERS_ONLY,
    message: `Only ${joinWords(who)} may see sg-warden's status, so nothing is shown.`,
  };
}

/** The one sentence for a person who may not read the audit trail (or this item's history): who may. */
export function auditRefusal(): Refusal {
  return {
    code: AUDIT_READERS_ONLY,
    message:
      "Only sg-warden's revokers and approvers may read the audit trail; one item's history also its owner, requester and decider.",
  };
}
