import { SlackEmulator } from '../../../local/shared/slack-emulator';
import type { WorkspaceChange } from '../../../local/shared/slack-emulator-types';

const TOKEN = 'xoxb-emulator-test';
let slack: SlackEmulator;

beforeAll(async () => {
  slack = await new SlackEmulator({ token: TOKEN }).start();
});

afterAll(async () => {
  await slack.stop();
});

beforeEach(() => slack.reset());

async function call(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${slack.apiUrl}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(args),
  });
  return (await res.json()) as Record<string, unknown>;
}

async function respond(url: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

describe('SlackEmulator as a workspace (the local sandbox page)', () => {
  it('applies response_url posts where Slack shows them: ephemeral, in channel, replace, delete', async () => {
    const posted = await call('chat.postMessage', { channel: 'C1', text: 'alert', blocks: [] });
    const ts = String(posted.ts);
    const url = slack.responseUrl(undefined, { channel: 'C1', user: 'U1', messageTs: ts });

    await respond(url, { text: 'only you see this' });
    await respond(url, { response_type: 'in_channel', text: 'everyone sees this' });
    const texts = [...slack.messages.values()].map((m) => [m.text, m.ephemeralTo ?? null]);
    expect(texts).toEqual([
      ['alert', null],
      ['only you see this', 'U1'],
      ['everyone sees this', null],
    ]);

    await respond(url, { replace_original: true, text: 'alert, decided' });
    expect(slack.messages.get(`C1/${ts}`)?.text).toBe('alert, decided');
    await respond(url, { delete_original: true });
    expect(slack.messages.has(`C1/${ts}`)).toBe(false);
    // The recorded posts stay as before, for tests that read them.
    expect(slack.responseUrlPosts).toHaveLength(4);
  });

  it('tells listeners about every change, and stacks views.push on the view its trigger opened', async () => {
    const changes: WorkspaceChange[] = [];
    const off = slack.onChange((c) => changes.push(c));
    const opened = await call('views.open', { trigger_id: 't1', view: { type: 'modal', title: 'A' } });
    const pushed = await call('views.push', { trigger_id: 't1', view: { type: 'modal', title: 'B' } });
    const first = (opened.view as { id: string }).id;
    const second = (pushed.view as { id: string }).id;
    expect(slack.viewInfo.get(second)).toEqual({ triggerId: 't1', parentId: first, closed: false });
    slack.closeView(second);
    off();
    expect(changes).toEqual([
      { kind: 'view', id: first },
      { kind: 'view', id: second },
      { kind: 'view', id: second },
    ]);
  });

  it('restores a snapshot into a fresh emulator, counters included', async () => {
    await call('chat.postMessage', { channel: 'C1', text: 'one' });
    const snapshot = JSON.parse(JSON.stringify(slack.snapshot()));
    const other = await new SlackEmulator({ token: TOKEN }).start();
    try {
      other.restore(snapshot);
      expect([...other.messages.values()].map((m) => m.text)).toEqual(['one']);
      expect(other.snapshot().tsCounter).toBe(snapshot.tsCounter);
    } finally {
      await other.stop();
    }
  });
});
