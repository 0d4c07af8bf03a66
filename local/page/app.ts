/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The local Slack workspace page: renders the channel from the bot's Block Kit and sends every click
// to the sandbox's API, which turns it into a signed Slack request to the bot. No framework: plain DOM.
import { refreshAws, showClock } from './aws-panel';
import { renderBlocks } from './blocks';
import { $, api, el, toast } from './dom';
import { renderMessages } from './messages';
import { renderModal } from './modals';
import { renderPlain } from './mrkdwn';
import {
  type Conversation,
  type DoorAnswer,
  type HomeTab,
  type Info,
  type Message,
  type OpenView,
  page,
} from './state';

/** The app's Home tab, as the bot last published it to this person, with working buttons. */
function renderHome(): void {
  const pane = $('home');
  pane.replaceChildren(
    page.home
      ? renderBlocks(page.home.view.blocks ?? [], { kind: 'view', viewId: page.home.id })
      : el('div', { class: 'empty' }, 'Opening the Home tab…'),
  );
}

async function refresh(): Promise<void> {
  const state = await api<{ messages: Message[]; views: OpenView[]; home: HomeTab | null }>(
    `/api/state?user=${encodeURIComponent(page.me)}`,
  );
  page.messages = state.messages;
  page.home = state.home;
  renderMessages();
  if (page.conversation === 'home') renderHome();
  renderModal(state.views, refresh);
  openPermalink();
}

/** The message a permalink (/archives/<channel>/p<ts>) names: shown and scrolled to, once it exists. */
let permalink = /^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d+)$/.exec(location.pathname);
function openPermalink(): void {
  if (!permalink) return;
  const [, channel, seconds, micros] = permalink;
  const team = page.info.teamChannels.find((c) => c.id === channel);
  const conversationOf = channel === page.info.channel.id ? 'alerts' : team ? team.id : 'dm';
  if (page.conversation !== conversationOf)
    $(conversationOf === 'alerts' ? 'go-alerts' : team ? `go-${team.id}` : 'go-dm').click();
  const node = document.querySelector<HTMLElement>(`[data-testid=message][data-ts="${seconds}.${micros}"]`);
  if (!node) return;
  permalink = null;
  node.scrollIntoView({ block: 'center' });
  node.classList.add('flash', 'linked');
}

let refreshTimer: number | undefined;
function scheduleRefresh(): void {
  clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => {
    void refresh().catch((error) => toast((error as Error).message));
    void refreshAws().catch(() => {});
  }, 60);
}

function connect(): void {
  const events = new EventSource('/api/events');
  events.addEventListener('hello', () => {
    $('status').textContent = 'connected to the local bot';
    scheduleRefresh();
  });
  events.addEventListener('change', scheduleRefresh);
  events.onerror = () => {
    $('status').textContent = 'disconnected: is npm start still running? retrying…';
  };
}

function setUser(id: string): void {
  page.me = id;
  page.dmSeen = 0;
  localStorage.setItem('sg-warden-sandbox-user', id);
  page.shownView = null;
  page.home = null;
  $('modal-root').replaceChildren();
  // Another person on the Home tab: Slack tells the bot they opened it.
  if (page.conversation === 'home') void api('/api/home/open', { user: id }).catch(() => {});
  const people = $('people');
  people.replaceChildren(
    ...page.info.users.map((u) =>
      el(
        'li',
        { class: u.id === page.me ? 'current' : '' },
        renderPlain(`${u.realName} (${u.title})${u.id === page.me ? ' · you' : ''}`, false),
      ),
    ),
  );
  void refresh();
}

async function start(): Promise<void> {
  page.info = await api<Info>('/api/info');
  const userSelect = $<HTMLSelectElement>('user');
  for (const u of page.info.users) {
    userSelect.append(el('option', { value: u.id }, renderPlain(`${u.realName} (${u.title})`, false)));
  }
  if (!page.info.users.some((u) => u.id === page.me)) page.me = page.info.users[0]!.id;
  userSelect.value = page.me;
  userSelect.onchange = () => setUser(userSelect.value);
  $('account-line').textContent =
    `account ${page.info.world.account} (sandbox) · ${page.info.world.region} · moto`;
  // Your own tools (AWS CLI, Terraform, any SDK) work against the same account: the endpoint and keys.
  $('aws-endpoint').textContent = page.info.aws.endpoint;
  $('aws-keys').replaceChildren(
    ...page.info.aws.keys.map((k) =>
      el(
        'li',
        {},
        `<code>${renderPlain(k.accessKeyId, false)}</code> ${renderPlain(`${k.name}: ${k.description}`, false)}`,
      ),
    ),
  );
  $('instances').replaceChildren(
    ...page.info.world.instances.map((i) =>
      el(
        'li',
        {},
        renderPlain(
          `${i.name} ${i.instanceId} · ${Object.entries(i.tags)
            .filter(([k]) => !k.includes(':'))
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
          false,
        ),
      ),
    ),
  );
  $('sweep-line').textContent = `runs by itself every ${page.info.sweepIntervalMs / 1000}s`;
  showSweeper(page.info.sweeperRunning !== false);
  $('hints').innerHTML = [
    '<code>/sg-status</code>',
    '<code>/sg-whitelist bastion 81.2.69.160 for 1h</code>',
    '<code>/sg-whitelist bastion me</code>',
    '<code>/sg-run disk-usage</code>',
    '<code>/sg-run restart-web</code>',
  ].join(' · ');
  for (const hint of $('hints').querySelectorAll('code')) {
    hint.addEventListener('click', () => {
      $<HTMLInputElement>('command').value = hint.textContent ?? '';
      $<HTMLInputElement>('command').focus();
    });
  }
  // The teams' channels (slack.routes): alerts on their groups land there.
  $('team-channels').replaceChildren(
    ...page.info.teamChannels.map((c) =>
      el(
        'button',
        { type: 'button', class: 'channel-link', id: `go-${c.id}` },
        `# ${renderPlain(c.name, false)}`,
      ),
    ),
  );
  const show = (which: Conversation) => {
    page.conversation = which;
    const team = page.info.teamChannels.find((c) => c.id === which);
    $('go-alerts').classList.toggle('active', which === 'alerts');
    $('go-dm').classList.toggle('active', which === 'dm');
    $('go-home').classList.toggle('active', which === 'home');
    for (const c of page.info.teamChannels) $(`go-${c.id}`).classList.toggle('active', which === c.id);
    $('channel-title').textContent =
      which === 'alerts' ? `# ${page.info.channel.name}` : team ? `# ${team.name}` : 'sg-warden';
    $('channel-topic').textContent =
      which === 'alerts'
        ? 'Security-group alerts from sg-warden · everything here is emulated on this machine'
        : team
          ? 'Alerts routed to this team (slack.routes) · slash commands are answered in #security-alerts'
          : which === 'dm'
            ? 'Messages from the app to you alone'
            : 'Home: your alerts, grants, runs and recent actions, as the app shows them to you alone';
    $('messages').hidden = which === 'home';
    $('composer').hidden = which === 'home';
    $('home').hidden = which !== 'home';
    if (which === 'home') {
      renderHome();
      // Slack sends app_home_opened each time the tab is opened: the bot publishes the view again.
      void api<DoorAnswer>('/api/home/open', { user: page.me })
        .then((answer) => {
          if (!answer.ok && answer.error) toast(answer.error);
        })
        .catch((error) => toast((error as Error).message));
    }
    renderMessages();
  };
  $('go-alerts').onclick = () => show('alerts');
  $('go-dm').onclick = () => show('dm');
  for (const c of page.info.teamChannels) $(`go-${c.id}`).onclick = () => show(c.id);
  $('go-home').onclick = () => show('home');
  setUser(page.me);
  connect();
  void refreshAws();

  $<HTMLFormElement>('composer').onsubmit = async (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>('command');
    const line = input.value.trim();
    const match = /^(\/[a-z-]+)(?:\s+([\s\S]*))?$/.exec(line);
    if (!match) {
      toast('Type a slash command such as /sg-status: this channel is where you talk to the bot.');
      return;
    }
    input.value = '';
    try {
      const answer = await api<DoorAnswer>('/api/command', {
        user: page.me,
        command: match[1],
        text: match[2] ?? '',
      });
      if (!answer.ok && answer.error) toast(answer.error);
    } catch (error) {
      toast((error as Error).message);
    }
  };

  // Ports mean nothing for all traffic and ICMP (EC2 ignores them): the field says so by being off.
  const protocol = $<HTMLSelectElement>('change-protocol');
  const ports = $<HTMLInputElement>('change-ports');
  const syncPorts = () => {
    ports.disabled = protocol.value === 'all' || protocol.value === 'icmp';
  };
  protocol.addEventListener('change', syncPorts);
  syncPorts();

  $<HTMLFormElement>('change').onsubmit = async (event) => {
    event.preventDefault();
    const result = $('change-result');
    const submit = $<HTMLButtonElement>('change-submit');
    submit.disabled = true;
    result.className = 'result';
    result.textContent = 'calling EC2…';
    try {
      const answer = await api<{
        ok: boolean;
        error?: string;
        ruleIds?: string[];
        detection?: { violations: number };
      }>('/api/change', {
        groupId: $<HTMLSelectElement>('change-group').value,
        protocol: $<HTMLSelectElement>('change-protocol').value,
        ports: $<HTMLInputElement>('change-ports').value,
        source: $<HTMLInputElement>('change-source').value,
        description: $<HTMLInputElement>('change-description').value,
        principal: $<HTMLSelectElement>('change-principal').value,
      });
      if (!answer.ok) {
        result.className = 'result error';
        result.textContent = answer.error ?? 'The change failed.';
      } else {
        const n = answer.detection?.violations ?? 0;
        result.textContent = `Authorized ${answer.ruleIds?.join(', ')}; CloudTrail event delivered: ${n} violation${n === 1 ? '' : 's'}.`;
      }
    } catch (error) {
      result.className = 'result error';
      result.textContent = (error as Error).message;
    } finally {
      submit.disabled = false;
      void refreshAws();
    }
  };

  // A burst (one terraform apply gone wrong): 50 changes at once; their alerts come as digests.
  $<HTMLButtonElement>('burst').onclick = async () => {
    const button = $<HTMLButtonElement>('burst');
    const result = $('burst-result');
    button.disabled = true;
    result.className = 'result';
    result.textContent = 'making 50 changes…';
    try {
      const answer = await api<{ ok: boolean; error?: string; groupId?: string; ruleIds?: string[] }>(
        '/api/burst',
        { principal: $<HTMLSelectElement>('change-principal').value },
      );
      if (!answer.ok) {
        result.className = 'result error';
        result.textContent = answer.error ?? 'The burst failed.';
      } else {
        result.textContent = `Opened ${answer.ruleIds?.length ?? 0} rules on ${answer.groupId}: their alerts come as digests.`;
      }
    } catch (error) {
      result.className = 'result error';
      result.textContent = (error as Error).message;
    } finally {
      button.disabled = false;
      void refreshAws();
    }
  };

  $<HTMLButtonElement>('sweep').onclick = async () => {
    try {
      await api('/api/sweep', {});
      $('sweep-line').textContent = `swept at ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      toast((error as Error).message);
    }
  };
  $<HTMLButtonElement>('sweeper-toggle').onclick = async () => {
    const toggle = $<HTMLButtonElement>('sweeper-toggle');
    const running = toggle.getAttribute('aria-pressed') === 'true';
    try {
      const answer = await api<{ sweeperRunning: boolean }>('/api/sweeper', { running });
      showSweeper(answer.sweeperRunning);
    } catch (error) {
      toast((error as Error).message);
    }
  };
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-skip]')) {
    button.onclick = async () => {
      button.disabled = true;
      try {
        const answer = await api<{ aheadSeconds: number }>('/api/clock', {
          advanceSeconds: Number(button.dataset.skip),
        });
        showClock(answer.aheadSeconds);
      } catch (error) {
        toast((error as Error).message);
      } finally {
        button.disabled = false;
      }
    };
  }
  showClock(page.info.clockAheadSeconds);
  // Dates such as "in 4 minutes" move on by themselves.
  window.setInterval(() => {
    if (!page.shownView) renderMessages(true);
  }, 20_000);
}

/** The sweeper's state on the page: stopped, only the backstop closes due rules. */
function showSweeper(running: boolean): void {
  const toggle = $<HTMLButtonElement>('sweeper-toggle');
  toggle.setAttribute('aria-pressed', running ? 'false' : 'true');
  toggle.textContent = running ? 'Stop the sweeper' : 'Start the sweeper again';
  $('sweep-line').textContent = running
    ? 'the sweeper runs by itself'
    : 'the sweeper is stopped: only the backstop closes due rules';
}

void start().catch((error) => {
  $('status').textContent = `could not load: ${(error as Error).message}`;
});
