import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';

/**
 * The Slack app manifest asks for exactly the bot scopes the code needs: every Slack Web API method the
 * Lambda code calls (handlers/, services/, slack/) is mapped to the scopes Slack requires for it, and the
 * union must equal the manifest's bot scopes. A new method must be mapped here first, on purpose.
 */

const root = join(__dirname, '..', '..', '..');

/** Slack Web API method → the bot scopes it needs ([] when it needs none). */
const SCOPES_BY_METHOD: Record<string, string[]> = {
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.delete': ['chat:write'],
  // Permalinks, modals: no scope.
  'chat.getPermalink': [],
  'views.open': [],
  'views.update': [],
  'views.push': [],
  // The Home tab: no scope (the app_home_opened event and the tab are in the manifest's features).
  'views.publish': [],
  'usergroups.users.list': ['usergroups:read'],
  'usergroups.list': ['usergroups:read'],
  // The alert channel is a public or a private channel, never a DM.
  'conversations.history': ['channels:history', 'groups:history'],
  'conversations.replies': ['channels:history', 'groups:history'],
  // Who may read /sg-status: the alert channel's members.
  'conversations.members': ['channels:read', 'groups:read'],
  'users.info': ['users:read'],
  // A change's author by the e-mail their AWS identity is named: users:read.email comes only with users:read.
  'users.lookupByEmail': ['users:read', 'users:read.email'],
};

/** Families of Web API methods; `users` is matched only with its method names (`people.users` is data). */
const CALL =
  /\.((?:chat|views|conversations|usergroups|reactions|files|team|auth|pins|bookmarks|apps|dnd|emoji|search|reminders|stars|dialog|canvases|bots)\.[a-zA-Z]+(?:\.[a-zA-Z]+)?|users\.(?:info|list|lookupByEmail|getPresence|conversations|profile\.get))\(/g;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? walk(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every Web API method called in the Lambda code, with the first file that calls it. */
function methodsCalled(): Map<string, string> {
  const methods = new Map<string, string>();
  for (const file of ['handlers', 'services', 'slack'].flatMap((d) => walk(join(root, d)))) {
    const text = readFileSync(file, 'utf8');
    if (/\bapiCall\(/.test(text)) throw new Error(`${relative(root, file)}: map its apiCall() here`);
    for (const m of text.matchAll(CALL)) {
      if (!methods.has(m[1]!)) methods.set(m[1]!, relative(root, file));
    }
  }
  return methods;
}

describe('Slack app manifest scopes', () => {
  const manifest = parse(readFileSync(join(root, 'infra', 'slack-app-manifest.yml'), 'utf8')) as {
    features: { slash_commands?: unknown[] };
    oauth_config: { scopes: { bot: string[]; user?: string[] } };
  };

  it('finds the Web API calls the code makes', () => {
    // The scan itself must see the calls every feature makes, or the next test proves nothing.
    expect([...methodsCalled().keys()]).toEqual(
      expect.arrayContaining(['chat.postMessage', 'chat.update', 'views.open', 'conversations.history']),
    );
  });

  it('asks for exactly the bot scopes of the methods called, plus commands for the slash commands', () => {
    const needed = new Set<string>();
    for (const [method, file] of methodsCalled()) {
      const scopes = SCOPES_BY_METHOD[method];
      expect({ method, file, mapped: scopes !== undefined }).toEqual({ method, file, mapped: true });
      for (const s of scopes ?? []) needed.add(s);
    }
    if ((manifest.features.slash_commands ?? []).length > 0) needed.add('commands');
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
  });
});
