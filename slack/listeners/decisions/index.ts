import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { ActionIds, CallbackIds } from '../../ids';
import { registerJobRunner } from '../../jobs';
import { registerJobSource } from '../../jobs/sources';
import { DecisionJobs } from './common';
import { keepButton, keepJob, keepPrepareJob, keepSubmission, runKeepJob, runKeepPrepareJob } from './keep';
import { revokeButton, revokeJob, runRevokeJob } from './revoke';

/** Revoke / Keep buttons on alerts, the Keep dialog, and the worker jobs behind them. */
export function registerDecisionListeners(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(ActionIds.revoke, revokeButton(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.revokeAll, revokeButton(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.keep, keepButton(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.keepAll, keepButton(deps));
  app.view<ViewSubmitAction>(
    { callback_id: CallbackIds.keepModal, type: 'view_submission' },
    keepSubmission(deps),
  );
}

/** The worker's runners and the job sources (the worker Lambda registers them without building Bolt). */
export function registerDecisionJobs(): void {
  registerJobSource(revokeJob);
  registerJobSource(keepPrepareJob);
  registerJobSource(keepJob);
  registerJobRunner(DecisionJobs.revoke, runRevokeJob);
  registerJobRunner(DecisionJobs.keep, runKeepJob);
  registerJobRunner(DecisionJobs.keepPrepare, runKeepPrepareJob);
}
