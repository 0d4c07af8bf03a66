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
  runRefusedJob,
  runRevokeGrantJob,
  WhitelistJobs,
} from './jobs';

/** `/sg-whitelist` and the Extend button on expiry warnings. */
export function registerWhitelistListeners(app: App, deps: SlackDeps): void {
  app.command('/sg-whitelist', whitelistCommand(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.grantExtend, extendButton(deps));
  // Also registered by registerJobs(); registering twice is harmless (a map by kind).
  registerWhitelistJobs();
}

/** The worker's runners and job sources for `/sg-whitelist` (registered without Bolt in the worker Lambda). */
export function registerWhitelistJobs(): void {
  registerJobSource(whitelistJob);
  registerJobSource(extendJob);
  registerJobRunner(WhitelistJobs.grant, runGrantJob);
  registerJobRunner(WhitelistJobs.link, runLinkJob);
  registerJobRunner(WhitelistJobs.list, runListJob);
  registerJobRunner(WhitelistJobs.revoke, runRevokeGrantJob);
  registerJobRunner(WhitelistJobs.extend, runExtendJob);
  registerJobRunner(WhitelistJobs.refused, runRefusedJob);
}
