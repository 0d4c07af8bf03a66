import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { ActionIds, CallbackIds } from '../../ids';
import { registerJobRunner } from '../../jobs';
import { DecisionJobs } from './common';
import { keepButton, keepSubmission, runKeepJob, runKeepPrepareJob } from './keep';
import { revokeButton, runRevokeJob } from './revoke';

/** Revoke / Keep buttons on alerts, the Keep dialog, and the worker jobs behind them. */
export function registerDecisionListeners(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(ActionIds.revoke, revokeButton(deps, 'one'));
  app.action<BlockAction<ButtonAction>>(ActionIds.revokeAll, revokeButton(deps, 'all'));
  app.action<BlockAction<ButtonAction>>(ActionIds.keep, keepButton(deps, 'one'));
  app.action<BlockAction<ButtonAction>>(ActionIds.keepAll, keepButton(deps, 'all'));
  app.view<ViewSubmitAction>(
    { callback_id: CallbackIds.keepModal, type: 'view_submission' },
    keepSubmission(deps),
  );
}

/** The worker's runners (the worker Lambda registers them without building Bolt). */
export function registerDecisionJobs(): void {
  registerJobRunner(DecisionJobs.revoke, runRevokeJob);
  registerJobRunner(DecisionJobs.keep, runKeepJob);
  registerJobRunner(DecisionJobs.keepPrepare, runKeepPrepareJob);
}
