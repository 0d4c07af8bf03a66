import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { BadInputError } from '../services/shared/errors';
import type { CommandModule } from './program';

/** The request URL infra/slack-app-manifest.yml carries until the deployed endpoint is filled in. */
export const PLACEHOLDER_URL = 'https://sg-warden.invalid/slack/events';
/** The Slack door's route (serverless.yml: slackHttp, POST /slack/events). */
export const SLACK_EVENTS_PATH = '/slack/events';

const MANIFEST = join(__dirname, '..', 'infra', 'slack-app-manifest.yml');

/**
 * The Slack request URL for an API endpoint: `https://…` only (Slack refuses anything else), no
 * credentials, query or fragment. A bare endpoint gets the door's path; one that already ends in it
 * (serverless's SlackRequestUrl output) is kept.
 */
export function requestUrlFor(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new BadInputError(
      `"${endpoint}" is not a URL; give the API endpoint, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com`,
    );
  }
  if (url.protocol !== 'https:')
    throw new BadInputError(`Slack only calls https:// request URLs, not ${url.protocol}//.`);
  if (url.username || url.password)
    throw new BadInputError('The URL must not carry a user name or password.');
  if (url.search || url.hash) throw new BadInputError('The URL must not carry a query string or fragment.');
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path.endsWith(SLACK_EVENTS_PATH) ? path : `${path}${SLACK_EVENTS_PATH}`}`;
}

/** The manifest (parsed) with every request URL set to `requestUrl`. */
export function manifestFor(requestUrl: string, manifestPath = MANIFEST): Record<string, unknown> {
  const text = readFileSync(manifestPath, 'utf8');
  if (!text.includes(PLACEHOLDER_URL))
    throw new Error(`${manifestPath} has no ${PLACEHOLDER_URL} to fill in`);
  return parse(text.split(PLACEHOLDER_URL).join(requestUrl)) as Record<string, unknown>;
}

/** `sg-warden slack-manifest --url <endpoint> [--json]`: prints the manifest, ready for "create app from manifest". */
export const slackManifestCommand: CommandModule = (program, { io, exit }) => {
  program
    .command('slack-manifest')
    .description(
      'the Slack app manifest with the deployed request URL in every slash command, interactivity and events',
    )
    .option('--url <https endpoint>', 'the API endpoint (serverless output SlackRequestUrl, or its base)')
    .option('--json', 'JSON instead of YAML')
    .argumentsError('slack-manifest takes no arguments, only options; see sg-warden slack-manifest --help.')
    .action((options: { url?: string; json?: boolean }) => {
      if (options.url === undefined)
        throw new BadInputError(
          'slack-manifest needs --url <https endpoint>; see sg-warden slack-manifest --help.',
        );
      if (options.url === '') throw new BadInputError('--url needs a value.');
      const manifest = manifestFor(requestUrlFor(options.url));
      io.stdout.write(
        options.json ? `${JSON.stringify(manifest, null, 2)}\n` : stringify(manifest, { lineWidth: 0 }),
      );
      exit(0);
    });
};
