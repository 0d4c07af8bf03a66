import { parse } from 'yaml';
import { runCli } from '../../support/cli';

describe('sg-warden slack-manifest', () => {
  it('prints the manifest with the deployed request URL in every slash command, interactivity and events', () => {
    const out = runCli(['slack-manifest', '--url', 'https://abc123.execute-api.eu-west-1.amazonaws.com']);
    expect(out.code).toBe(0);
    const manifest = parse(out.stdout);
    const url = 'https://abc123.execute-api.eu-west-1.amazonaws.com/slack/events';
    expect(
      manifest.features.slash_commands.map((c: { command: string; url: string }) => [c.command, c.url]),
    ).toEqual([
      ['/sg-whitelist', url],
      ['/sg-status', url],
      ['/sg-run', url],
    ]);
    expect(manifest.settings.interactivity).toEqual({ is_enabled: true, request_url: url });
    // The Home tab: enabled, and built on app_home_opened, delivered to the same signed door.
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions).toEqual({
      request_url: url,
      bot_events: ['app_home_opened'],
    });
    expect(manifest.oauth_config.scopes.bot).toEqual([
      'chat:write',
      'commands',
      'usergroups:read',
      'channels:history',
      'groups:history',
      'channels:read',
      'groups:read',
      'users:read',
      'users:read.email',
    ]);
    expect(out.stdout).not.toContain('sg-warden.invalid');
  });

  it('keeps a URL that already ends in /slack/events, and prints JSON on request', () => {
    const out = runCli(['slack-manifest', '--url=https://bot.example.com/slack/events/', '--json']);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).settings.interactivity.request_url).toBe(
      'https://bot.example.com/slack/events',
    );
  });

  it.each([
    [['--url', 'http://abc123.execute-api.eu-west-1.amazonaws.com'], /only calls https/],
    [['--url', 'not a url'], /is not a URL/],
    [['--url', 'https://user:pw@bot.example.com'], /user name or password/],
    [['--url', 'https://bot.example.com/?x=1'], /query string/],
    [[], /needs --url/],
    [['--url'], /--url needs a value/],
    [['--bogus'], /Unknown option --bogus/],
  ])('refuses %j with exit 2 and one sentence', (args, message) => {
    const out = runCli(['slack-manifest', ...args]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(message);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});
