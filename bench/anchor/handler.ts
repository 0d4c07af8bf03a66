import { App, AwsLambdaReceiver, LogLevel } from '@slack/bolt';

/**
 * The cold-start anchor: the smallest useful Bolt app on AWS Lambda, written the way Bolt's
 * documentation shows it (token and signing secret from the environment, AwsLambdaReceiver, one slash
 * command, one button action). `npm run bench` bundles it exactly like sg-warden's functions and measures
 * it in the same run, so the Slack door's cold start has something fair to be compared with.
 */
const receiver = new AwsLambdaReceiver({
  signingSecret: process.env.SLACK_SIGNING_SECRET ?? '',
  logLevel: LogLevel.ERROR,
});

const app = new App({
  token: process.env.SLACK_BOT_TOKEN,
  receiver,
  logLevel: LogLevel.ERROR,
  ...(process.env.SLACK_API_URL ? { clientOptions: { slackApiUrl: process.env.SLACK_API_URL } } : {}),
});

app.command('/anchor', async ({ ack }) => {
  await ack({ response_type: 'ephemeral', text: 'pong' });
});

app.action('anchor_button', async ({ ack }) => {
  await ack();
});

const lambdaHandler = receiver.toHandler();

export const handler = (event: Parameters<typeof lambdaHandler>[0], context: unknown) =>
  lambdaHandler(event, context);
