// The Bolt peer (../shared/peers/bolt-js/app.js) in Socket Mode, for the side-by-side benchmark.
// Same handler: ack() every block_actions click; with REPLY=1 also answer the clicker with
// chat.postEphemeral. apps.connections.open and the Web API go to SLACK_API_URL (the local
// fake Slack), which hands out a ws://127.0.0.1 Socket Mode URL. Copied next to app.js (so
// that it finds @slack/bolt) by bench/side-by-side.sh.
// Env: REPLY=1, SLACK_API_URL, SLACK_BOT_TOKEN, SLACK_APP_TOKEN, LOG_LEVEL (default error).
const { App } = require('@slack/bolt');

const SLACK_API_URL = process.env.SLACK_API_URL || 'http://127.0.0.1:3999/api/';
const clientOptions = { slackApiUrl: SLACK_API_URL, retryConfig: { retries: 0 } };
const app = new App({
  token: process.env.SLACK_BOT_TOKEN,
  appToken: process.env.SLACK_APP_TOKEN,
  socketMode: true,
  botId: 'B00000000',
  botUserId: 'U00000000',
  tokenVerificationEnabled: false, // no auth.test at start-up
  clientOptions,
  installerOptions: { clientOptions },
  logLevel: process.env.LOG_LEVEL || 'error',
});

const REPLY = process.env.REPLY === '1';
app.action(/.*/, async ({ ack, body, client }) => {
  await ack();
  if (REPLY) {
    await client.chat.postEphemeral({
      channel: body.channel && body.channel.id, user: body.user.id, text: 'There is no such rotation.',
    });
  }
});

app.error(async (err) => {
  console.error('bolt error:', err && err.message);
});

(async () => {
  await app.start();
  console.log(`bolt-js ${require('@slack/bolt/package.json').version} socket mode pid=${process.pid}`);
})();
