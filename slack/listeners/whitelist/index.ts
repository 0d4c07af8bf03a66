import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import { registerJobRunner } from '../../jobs';
import { registerJobSource } from '../../jobs/sources';
import { whitelistCommand, whitelistJob } from './command';
import { extendButton, extendJob } from './extend-button';
import {
  runExtendJob,
  runGrantJob,
  runLinkJob,
  runListJob,
  runNotMeJob,
  runRefusedJob,
  runRevokeGrantJob,
  WhitelistJobs,
} from './jobs';
import { notMeButton, notMeJob } from './not-me-button';

/** `/sg-whitelist`, the Extend button on expiry warnings and Not me — revoke on a used link's notice. */
export function registerWhitelistListeners(app: App, deps: SlackDeps): void {
  app.command('/sg-whitelist', whitelistCommand(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.grantExtend, extendButton(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.grantNotMe, notMeButton(deps));
  // Also registered by registerJobs(); registering twice is harmless (a map by kind).
  registerWhitelistJobs();
}

/** The worker's runners and job sources for `/sg-whitelist` (registered without Bolt in the worker Lambda). */
export function registerWhitelistJobs(): void {
  registerJobSource(whitelistJob);
  registerJobSource(extendJob);
  registerJobSource(notMeJob);
  registerJobRunner(WhitelistJobs.grant, runGrantJob);
  registerJobRunner(WhitelistJobs.link, runLinkJob);
  registerJobRunner(WhitelistJobs.list, runListJob);
  registerJobRunner(WhitelistJobs.revoke, runRevokeGrantJob);
  registerJobRunner(WhitelistJobs.extend, runExtendJob);
  registerJobRunner(WhitelistJobs.refused, runRefusedJob);
  registerJobRunner(WhitelistJobs.notMe, runNotMeJob);
}
