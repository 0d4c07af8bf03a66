// Bolt's App and Lambda receiver from their own modules: '@slack/bolt' itself also loads the Express
// receiver (express, body-parser, mime-db and more: ~0.6 MiB of bundle), which the door never uses.
import App, { LogLevel } from '@slack/bolt/dist/App';
import AwsLambdaReceiver from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import type { SlackDeps } from './deps';
import { registerListeners } from './listeners';

export interface SlackDoor {
  receiver: AwsLambdaReceiver;
  app: App;
}

/**
 * Builds Bolt's App on its Lambda receiver with every listener. The App's own client must answer fast
 * (it opens modals within the 3-second trigger window), so it fails on rate limits instead of waiting.
 */
export function createSlackApp(options: {
  signingSecret: string;
  botToken: string;
  slackApiUrl?: string;
  deps: SlackDeps;
}): SlackDoor {
  const receiver = new AwsLambdaReceiver({ signingSecret: options.signingSecret, logLevel: LogLevel.ERROR });
  const botToken = options.botToken;
  const app = new App({
    // A plain authorize: Bolt's single-token mode would call auth.test on the first request (cold start).
    authorize: async () => ({ botToken }),
    ignoreSelf: false,
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions: {
      ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      timeout: 2500,
    },
  });
  registerListeners(app, options.deps);
  return { receiver, app };
}
