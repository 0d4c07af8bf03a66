import { SlackEmulator } from '../../../local/shared/slack-emulator';

// The emulator keeps Slack's pace per method and channel, on its own clock (deterministic in tests).

let clock = 1_800_000_000_000;
let slack: SlackEmulator;

beforeAll(async () => {
  slack = await new SlackEmulator({
    now: () => clock,
    rateLimits: {
      'chat.postMessage': { calls: 1, perSeconds: 1 },
      'chat.update': { calls: 2, perSeconds: 10 },
    },
  }).start();
});

afterAll(() => slack.stop());

async function call(method: string, args: Record<string, unknown>) {
  const res = await fetch(`${slack.apiUrl}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

describe('SlackEmulator rate limits', () => {
  it('answers 429 with Retry-After beyond a method’s pace in one channel, and not in another', async () => {
    expect((await call('chat.postMessage', { channel: 'C1', text: 'a' })).status).toBe(200);
    const refused = await call('chat.postMessage', { channel: 'C1', text: 'b' });
    expect(refused).toMatchObject({
      status: 429,
      retryAfter: '1',
      body: { ok: false, error: 'ratelimited' },
    });
    expect((await call('chat.postMessage', { channel: 'C2', text: 'c' })).status).toBe(200);
    clock += 1000;
    expect((await call('chat.postMessage', { channel: 'C1', text: 'd' })).status).toBe(200);
    expect(slack.rateLimited.map((c) => c.args.text)).toEqual(['b']);
  });

  it('says how long until the window has room (updates: two in ten seconds)', async () => {
    const posted = await call('chat.postMessage', { channel: 'C3', text: 'x' });
    const ts = String(posted.body.ts);
    expect((await call('chat.update', { channel: 'C3', ts, text: '1' })).status).toBe(200);
    clock += 3000;
    expect((await call('chat.update', { channel: 'C3', ts, text: '2' })).status).toBe(200);
    const third = await call('chat.update', { channel: 'C3', ts, text: '3' });
    expect(third).toMatchObject({ status: 429, retryAfter: '7' });
    clock += 7000;
    expect((await call('chat.update', { channel: 'C3', ts, text: '4' })).status).toBe(200);
  });

  it('refuses a message text longer than Slack takes', async () => {
    clock += 5000;
    const long = await call('chat.postMessage', { channel: 'C4', text: 'x'.repeat(40_001) });
    expect(long.body).toMatchObject({ ok: false, error: 'msg_too_long' });
  });
});
