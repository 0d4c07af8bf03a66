import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import { registerJobRunner } from '../../jobs';
import { registerJobSource } from '../../jobs/sources';
import { runApproveJob, runDecisionButton, runDecisionJob, runRejectJob } from './approval-buttons';
import { runCommandJob, sgRunCommand, sgRunJob } from './command';
import { RunJobs } from './common';
import { runShowCommandJob, showCommandButton, showCommandJob } from './show-command';

/** The worker's runners and job sources for `/sg-run` (the worker Lambda registers them without building Bolt). */
export function registerRunJobs(): void {
  registerJobSource(sgRunJob);
  registerJobSource(runDecisionJob);
  registerJobSource(showCommandJob);
  registerJobRunner(RunJobs.command, runCommandJob);
  registerJobRunner(RunJobs.approve, runApproveJob);
  registerJobRunner(RunJobs.reject, runRejectJob);
  registerJobRunner(RunJobs.showCommand, runShowCommandJob);
}

/** `/sg-run`, its Approve / Reject / Show full command buttons, and the jobs behind them. */
export function registerRunListeners(app: App, deps: SlackDeps): void {
  app.command('/sg-run', sgRunCommand(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.runApprove, runDecisionButton(deps, 'approve'));
  app.action<BlockAction<ButtonAction>>(ActionIds.runReject, runDecisionButton(deps, 'reject'));
  app.action<BlockAction<ButtonAction>>(ActionIds.runShowCommand, showCommandButton(deps));
  registerRunJobs();
}
