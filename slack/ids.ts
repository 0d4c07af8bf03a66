/** Every action_id, callback_id and block_id sg-warden uses, in one place. */
export const ActionIds = {
  revoke: 'violation_revoke',
  keep: 'violation_keep',
  revokeAll: 'alert_revoke_all',
  keepAll: 'alert_keep_all',
  grantExtend: 'grant_extend',
  grantNotMe: 'grant_not_me',
  grantRevoke: 'grant_revoke',
  runApprove: 'run_approve',
  runReject: 'run_reject',
  runShowCommand: 'run_show_command',
  /** In the direct message to a change's author. */
  actorRevoke: 'actor_revoke',
  actorNeed: 'actor_need',
} as const;

export const CallbackIds = {
  keepModal: 'keep_modal',
  runCommandModal: 'run_command_modal',
  actorNeedModal: 'actor_need_modal',
} as const;

export const BlockIds = {
  keepJustification: 'keep_justification',
  keepDuration: 'keep_duration',
  keepSummary: 'keep_summary',
  violationActions: (violationId: string) => `actions:${violationId}`,
  alertActions: 'alert_actions',
  runActions: 'run_actions',
  actorActions: 'actor_actions',
  actorNeedReason: 'actor_need_reason',
} as const;

export const InputActionIds = {
  justification: 'justification_input',
  duration: 'duration_select',
} as const;
