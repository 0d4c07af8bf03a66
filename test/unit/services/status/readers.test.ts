import { parseConfig } from '../../../../services/config/config';
import type { StoredAuditEntry } from '../../../../services/kernel/audit';
import { silentLogger } from '../../../../services/shared/logger';
import {
  auditRefusal,
  mayReadAudit,
  mayReadStatus,
  peopleNamedIn,
  type ReaderDeps,
  statusRefusal,
} from '../../../../services/status/readers';

const CHANNEL = 'C0ALERTS';
const MEMBER = 'U0MEMBER';
const STRANGER = 'U0STRANGER';
const APPROVER = 'U0APPROVER';
const REVOKER = 'U0REVOKER';
const LISTED = 'U0LISTED';
const IN_GROUP = 'U0INGROUP';

function deps(
  lines: string[],
  options: { channelFails?: boolean } = {},
): ReaderDeps & { channelReads: number } {
  const config = parseConfig(['slack:', `  alertChannel: ${CHANNEL}`, ...lines].join('\n'), 'test.yml');
  const state = { channelReads: 0 };
  return Object.assign(state, {
    config,
    logger: silentLogger,
    directory: {
      membersOf: async (group: string) => (group === 'S0READERS' ? [IN_GROUP] : []),
      channelMembers: async (channel: string) => {
        state.channelReads++;
        if (options.channelFails) throw new Error('channel_not_found');
        return channel === CHANNEL ? [MEMBER] : [];
      },
    },
  });
}

const NAMED_DECIDERS = [
  'decisions:',
  `  revokers: { users: [${REVOKER}] }`,
  `  approvers: { users: [${APPROVER}] }`,
];

describe('who may read /sg-status (case 6)', () => {
  it('by default: the alert channel’s members, the revokers and the approvers, and nobody else', async () => {
    const d = deps(NAMED_DECIDERS);
    expect(await mayReadStatus(d, MEMBER)).toBe(true);
    expect(await mayReadStatus(d, REVOKER)).toBe(true);
    expect(await mayReadStatus(d, APPROVER)).toBe(true);
    expect(await mayReadStatus(d, STRANGER)).toBe(false);
  });

  it('status.readers adds people and user groups; alertChannelMembers: false leaves the channel out', async () => {
    const d = deps([
      ...NAMED_DECIDERS,
      'status:',
      `  readers: { users: [${LISTED}], userGroups: [S0READERS], alertChannelMembers: false }`,
    ]);
    expect(await mayReadStatus(d, LISTED)).toBe(true);
    expect(await mayReadStatus(d, IN_GROUP)).toBe(true);
    expect(await mayReadStatus(d, APPROVER)).toBe(true);
    expect(await mayReadStatus(d, MEMBER)).toBe(false);
  });

  it('empty revokers and approvers stand for the alert channel’s members, never for everyone', async () => {
    const d = deps(['status:', '  readers: { alertChannelMembers: false }']);
    expect(await mayReadStatus(d, MEMBER)).toBe(true);
    expect(await mayReadStatus(d, STRANGER)).toBe(false);
  });

  it('a channel Slack will not list grants nothing', async () => {
    const d = deps(NAMED_DECIDERS, { channelFails: true });
    expect(await mayReadStatus(d, MEMBER)).toBe(false);
    expect(await mayReadStatus(d, APPROVER)).toBe(true);
  });

  it('reads the channel at most once per check', async () => {
    const d = deps([]);
    await mayReadStatus(d, STRANGER);
    expect(d.channelReads).toBe(1);
  });

  it('the refusal says who may, in one sentence with a stable code', () => {
    expect(statusRefusal(deps([]).config)).toEqual({
      code: 'NOT_A_STATUS_READER',
      message:
        "Only members of the alert channel and sg-warden's revokers and approvers may see sg-warden's status, so nothing is shown.",
    });
    const listed = deps(['status:', `  readers: { users: [${LISTED}], alertChannelMembers: false }`]);
    expect(statusRefusal(listed.config).message).toBe(
      "Only the people named in status.readers and sg-warden's revokers and approvers may see sg-warden's status, so nothing is shown.",
    );
  });
});

describe('who may read the audit trail (#12.5)', () => {
  it('revokers and approvers read it all; a channel member does not', async () => {
    const d = deps(NAMED_DECIDERS);
    expect(await mayReadAudit(d, REVOKER)).toBe(true);
    expect(await mayReadAudit(d, APPROVER)).toBe(true);
    expect(await mayReadAudit(d, MEMBER)).toBe(false);
    expect(auditRefusal().code).toBe('NOT_AN_AUDIT_READER');
  });

  it('one item’s history also to the people named in it', async () => {
    const d = deps(NAMED_DECIDERS);
    expect(await mayReadAudit(d, STRANGER, [STRANGER])).toBe(true);
    expect(await mayReadAudit(d, MEMBER, [STRANGER])).toBe(false);
  });
});

describe('peopleNamedIn', () => {
  const entry = (actorId: string, result: StoredAuditEntry['result'], actorType = 'slack-user') =>
    ({ actorId, actorType, result }) as StoredAuditEntry;

  it('names who asked, owned or decided, from the entries and the item; refused attempts name nobody', () => {
    const named = peopleNamedIn(
      [
        entry('U0ASKED', 'ok'),
        entry('U0FAILED', 'error'),
        entry('U0REFUSED', 'refused'),
        entry('sweeper', 'ok', 'system'),
      ],
      { userId: 'U0OWNER', requestedBy: 'U0REQUESTER', decidedBy: 'timeout', approvedBy: 'U0DECIDER' },
    );
    expect(named.sort()).toEqual(['U0ASKED', 'U0DECIDER', 'U0FAILED', 'U0OWNER', 'U0REQUESTER']);
  });
});
