/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The local Slack workspace page: renders the channel from the bot's Block Kit and sends every click
// to the sandbox's API, which turns it into a signed Slack request to the bot. No framework: plain DOM.
import { type MrkdwnContext, renderMrkdwn, renderPlain } from './mrkdwn';

// biome-ignore lint/suspicious/noExplicitAny: Block Kit JSON as the bot sent it.
type Block = { type: string; [key: string]: any };
type InputValue = string | string[] | null;

interface Message {
  channel: 'alerts' | 'dm';
  ts: string;
  threadTs: string | null;
  text: string;
  blocks: Block[];
  ephemeral: boolean;
  updated: number;
}
interface OpenView {
  id: string;
  parentId: string | null;
  view: Block;
}
interface Info {
  users: { id: string; name: string; realName: string; title: string }[];
  userGroups: Record<string, string>;
  channel: { id: string; name: string };
  world: {
    account: string;
    region: string;
    groups: Record<string, { groupId: string; name: string }>;
    instances: { instanceId: string; name: string; tags: Record<string, string> }[];
  };
  sweepIntervalMs: number;
  lastSweep: { at: string } | null;
  clockAheadSeconds: number;
  aws: {
    endpoint: string;
    region: string;
    keys: { name: string; accessKeyId: string; description: string }[];
  };
}
interface DoorAnswer {
  ok: boolean;
  status?: number;
  error?: string;
  errors?: Record<string, string>;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let info: Info;
let me = localStorage.getItem('sg-warden-sandbox-user') ?? 'U0ENGINEER';
let messages: Message[] = [];
/** Which conversation is shown: the alert channel or the app's direct messages. */
let conversation: 'alerts' | 'dm' = 'alerts';
let dmSeen = 0;
let shownView: { id: string; json: string; errors: Record<string, string> } | null = null;
const seenUpdates = new Map<string, number>();

/** How far the bot's clock runs ahead of this machine's ("Skip the bot's clock ahead"). */
let clockAheadMs = 0;

/** The bot's "now": relative dates ("in 5 minutes") are the bot's, as everything else on the page. */
function botNow(): Date {
  return new Date(Date.now() + clockAheadMs);
}

function ctx(): MrkdwnContext {
  const users: Record<string, string> = { UBOT: 'sg-warden' };
  for (const u of info?.users ?? []) users[u.id] = u.realName;
  return { users, userGroups: info?.userGroups ?? {}, now: botNow() };
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  html?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  // Only ever HTML produced by renderMrkdwn/renderPlain, which escape everything they are given.
  if (html !== undefined) node.innerHTML = html;
  return node;
}

function textHtml(obj: Block | undefined): string {
  if (!obj) return '';
  return obj.type === 'mrkdwn'
    ? renderMrkdwn(String(obj.text ?? ''), ctx())
    : renderPlain(String(obj.text ?? ''), obj.emoji !== false);
}

async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const data = (await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }))) as T & {
    error?: string;
  };
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

let toastTimer: number | undefined;
function toast(message: string): void {
  const node = $('toast');
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    node.hidden = true;
  }, 6000);
}

// ---- confirm dialogs -------------------------------------------------------------------------

function confirmDialog(confirm: Block): Promise<boolean> {
  return new Promise((resolve) => {
    const backdrop = el('div', { class: 'modal-backdrop' });
    const modal = el('div', {
      class: 'modal confirm',
      role: 'alertdialog',
      'aria-label': String(confirm.title?.text ?? 'Are you sure?'),
    });
    const header = el('header');
    header.append(el('h2', {}, renderPlain(String(confirm.title?.text ?? 'Are you sure?'))));
    const body = el('div', { class: 'modal-body' });
    body.append(el('div', { class: 'confirm-text' }, textHtml(confirm.text)));
    const footer = el('footer');
    const deny = el(
      'button',
      { type: 'button', class: 'btn' },
      renderPlain(String(confirm.deny?.text ?? 'Cancel')),
    );
    const ok = el(
      'button',
      { type: 'button', class: `btn ${confirm.style === 'danger' ? 'btn-danger' : 'btn-primary'}` },
      renderPlain(String(confirm.confirm?.text ?? 'Yes')),
    );
    footer.append(deny, ok);
    modal.append(header, body, footer);
    backdrop.append(modal);
    document.body.append(backdrop);
    const done = (answer: boolean) => {
      backdrop.remove();
      resolve(answer);
    };
    deny.onclick = () => done(false);
    ok.onclick = () => done(true);
    ok.focus();
  });
}

// ---- actions ---------------------------------------------------------------------------------

type Where = { kind: 'message'; ts: string } | { kind: 'view'; viewId: string };

async function act(
  where: Where,
  blockId: string,
  element: Block,
  value: string | null,
  control?: HTMLElement,
) {
  if (element.confirm && !(await confirmDialog(element.confirm))) return;
  if (control instanceof HTMLButtonElement) control.disabled = true;
  try {
    const body =
      where.kind === 'message'
        ? { user: me, channel: conversation, ts: where.ts, blockId, actionId: element.action_id, value }
        : {
            user: me,
            viewId: where.viewId,
            blockId,
            actionId: element.action_id,
            value,
            inputs: collectInputs(),
          };
    const answer = await api<DoorAnswer>('/api/action', body);
    if (!answer.ok) toast(answer.error ?? 'sg-warden did not take that.');
  } catch (error) {
    toast((error as Error).message);
  } finally {
    if (control instanceof HTMLButtonElement) control.disabled = false;
  }
}

function renderElement(element: Block, blockId: string, where: Where): HTMLElement {
  switch (element.type) {
    case 'button': {
      const style =
        element.style === 'primary' ? 'btn-primary' : element.style === 'danger' ? 'btn-danger' : '';
      const button = el(
        'button',
        { type: 'button', class: `btn ${style}`, 'data-action-id': String(element.action_id) },
        renderPlain(String(element.text?.text ?? '')),
      );
      if (element.url) {
        button.onclick = () => window.open(String(element.url), '_blank', 'noopener');
        return button;
      }
      button.onclick = () => void act(where, blockId, element, element.value ?? null, button);
      return button;
    }
    case 'static_select': {
      const select = el('select', { 'data-action-id': String(element.action_id) });
      select.append(el('option', { value: '' }, renderPlain(String(element.placeholder?.text ?? 'Select…'))));
      for (const option of element.options ?? []) {
        select.append(
          el('option', { value: String(option.value) }, renderPlain(String(option.text?.text ?? ''))),
        );
      }
      if (element.initial_option) select.value = String(element.initial_option.value);
      select.onchange = () => void act(where, blockId, element, select.value || null);
      return select;
    }
    case 'overflow': {
      const wrap = el('span', { class: 'overflow' });
      const button = el('button', { type: 'button', class: 'btn', 'aria-label': 'More actions' }, '⋯');
      button.onclick = () => {
        const existing = wrap.querySelector('.overflow-menu');
        if (existing) return existing.remove();
        const menu = el('div', { class: 'overflow-menu', role: 'menu' });
        for (const option of element.options ?? []) {
          const item = el(
            'button',
            { type: 'button', role: 'menuitem' },
            renderPlain(String(option.text?.text ?? '')),
          );
          item.onclick = () => {
            menu.remove();
            void act(where, blockId, element, String(option.value));
          };
          menu.append(item);
        }
        wrap.append(menu);
      };
      wrap.append(button);
      return wrap;
    }
    case 'image':
      return el('span', { class: 'b-unknown' }, renderPlain(`[image: ${element.alt_text ?? ''}]`));
    default:
      return el('span', { class: 'b-unknown' }, renderPlain(`[${element.type}]`));
  }
}

// ---- inputs (modals) -------------------------------------------------------------------------

function renderInput(block: Block, errors: Record<string, string>): HTMLElement {
  const element = block.element ?? {};
  const id = `in-${block.block_id}-${element.action_id}`;
  const wrap = el('div', {
    class: `b-input${errors[block.block_id] ? ' has-error' : ''}`,
    'data-block-id': String(block.block_id),
  });
  const label = el('label', { for: id, class: 'b-label' }, renderPlain(String(block.label?.text ?? '')));
  if (block.optional) label.append(el('span', { class: 'optional' }, ' (optional)'));
  wrap.append(label);
  const data = { 'data-block': String(block.block_id), 'data-action': String(element.action_id), id };
  switch (element.type) {
    case 'plain_text_input': {
      const input = element.multiline
        ? el('textarea', { ...data, 'data-kind': 'text' })
        : el('input', { ...data, type: 'text', 'data-kind': 'text' });
      if (element.placeholder) input.setAttribute('placeholder', String(element.placeholder.text ?? ''));
      if (element.max_length) input.setAttribute('maxlength', String(element.max_length));
      input.value = String(element.initial_value ?? '');
      wrap.append(input);
      break;
    }
    case 'number_input': {
      const input = el('input', { ...data, type: 'number', 'data-kind': 'text' });
      input.value = String(element.initial_value ?? '');
      wrap.append(input);
      break;
    }
    case 'static_select': {
      const select = el('select', { ...data, 'data-kind': 'select' });
      select.append(el('option', { value: '' }, renderPlain(String(element.placeholder?.text ?? 'Select…'))));
      for (const option of element.options ?? []) {
        select.append(
          el('option', { value: String(option.value) }, renderPlain(String(option.text?.text ?? ''))),
        );
      }
      if (element.initial_option) select.value = String(element.initial_option.value);
      wrap.append(select);
      break;
    }
    case 'radio_buttons':
    case 'checkboxes': {
      const group = el('div', { ...data, 'data-kind': element.type, role: 'group' });
      const initial = new Set<string>(
        element.type === 'radio_buttons'
          ? element.initial_option
            ? [String(element.initial_option.value)]
            : []
          : (element.initial_options ?? []).map((o: Block) => String(o.value)),
      );
      for (const option of element.options ?? []) {
        const choice = el('label', { class: 'choice' });
        const box = el('input', {
          type: element.type === 'radio_buttons' ? 'radio' : 'checkbox',
          name: id,
          value: String(option.value),
        });
        box.checked = initial.has(String(option.value));
        choice.append(box, document.createTextNode(' '));
        choice.append(el('span', {}, textHtml(option.text)));
        group.append(choice);
      }
      wrap.append(group);
      break;
    }
    default:
      wrap.append(el('div', { class: 'b-unknown' }, renderPlain(`[${element.type} input]`)));
  }
  if (block.hint) wrap.append(el('div', { class: 'b-hint' }, renderPlain(String(block.hint.text ?? ''))));
  if (errors[block.block_id])
    wrap.append(el('div', { class: 'b-error', role: 'alert' }, renderPlain(errors[block.block_id]!)));
  return wrap;
}

function collectInputs(): Record<string, Record<string, InputValue>> {
  const values: Record<string, Record<string, InputValue>> = {};
  const root = $('modal-root');
  for (const node of root.querySelectorAll<HTMLElement>('[data-block][data-action]')) {
    const block = node.dataset.block!;
    const action = node.dataset.action!;
    let value: InputValue = null;
    const kind = node.dataset.kind;
    if (kind === 'text' || kind === 'select') value = (node as HTMLInputElement).value || null;
    if (kind === 'radio_buttons')
      value = node.querySelector<HTMLInputElement>('input:checked')?.value ?? null;
    if (kind === 'checkboxes')
      value = [...node.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
    values[block] ??= {};
    values[block]![action] = value;
  }
  return values;
}

// ---- blocks ----------------------------------------------------------------------------------

function renderBlocks(blocks: Block[], where: Where, errors: Record<string, string> = {}): HTMLElement {
  const root = el('div', { class: 'blocks' });
  for (const block of blocks) {
    switch (block.type) {
      case 'header':
        root.append(
          el('div', { class: 'b-header', role: 'heading', 'aria-level': '3' }, textHtml(block.text)),
        );
        break;
      case 'section': {
        const section = el('div', { class: 'b-section', 'data-block-id': String(block.block_id) });
        const main = el('div', { class: 'b-main' });
        if (block.text) main.append(el('div', { class: 'b-text' }, textHtml(block.text)));
        if (Array.isArray(block.fields)) {
          const fields = el('div', { class: 'b-fields' });
          for (const field of block.fields) fields.append(el('div', { class: 'b-field' }, textHtml(field)));
          main.append(fields);
        }
        section.append(main);
        if (block.accessory) section.append(renderElement(block.accessory, String(block.block_id), where));
        root.append(section);
        break;
      }
      case 'context': {
        const context = el('div', { class: 'b-context' });
        for (const element of block.elements ?? []) {
          context.append(
            element.type === 'image'
              ? el('span', {}, renderPlain(`[${element.alt_text ?? 'image'}]`))
              : el('span', {}, textHtml(element)),
          );
        }
        root.append(context);
        break;
      }
      case 'divider':
        root.append(el('hr', { class: 'b-divider' }));
        break;
      case 'actions': {
        const actions = el('div', { class: 'b-actions', 'data-block-id': String(block.block_id) });
        for (const element of block.elements ?? [])
          actions.append(renderElement(element, String(block.block_id), where));
        root.append(actions);
        break;
      }
      case 'input':
        root.append(renderInput(block, errors));
        break;
      case 'rich_text':
        root.append(
          el('div', { class: 'fallback' }, renderPlain(JSON.stringify(block.elements ?? []).slice(0, 200))),
        );
        break;
      default:
        root.append(el('div', { class: 'b-unknown' }, renderPlain(`[unsupported block: ${block.type}]`)));
    }
  }
  return root;
}

// ---- messages --------------------------------------------------------------------------------

function tsTime(ts: string): string {
  const d = new Date(Number(ts) * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function renderMessage(message: Message): HTMLElement {
  const node = el('div', {
    class: `message${message.ephemeral ? ' ephemeral' : ''}`,
    'data-ts': message.ts,
    'data-testid': 'message',
  });
  const previous = seenUpdates.get(message.ts);
  if (previous !== undefined && previous !== message.updated) node.classList.add('flash');
  seenUpdates.set(message.ts, message.updated);
  node.append(el('div', { class: 'avatar' }, 'sg'));
  const body = el('div', { class: 'body' });
  if (message.ephemeral) body.append(el('div', { class: 'only-you' }, '👁 Only visible to you'));
  const meta = el('div', { class: 'meta' });
  meta.append(el('span', { class: 'author' }, 'sg-warden'), el('span', { class: 'app-badge' }, 'APP'));
  meta.append(el('span', { class: 'ts', title: message.ts }, tsTime(message.ts)));
  if (message.updated > Number(message.ts) * 1000 + 1500)
    meta.append(el('span', { class: 'edited' }, '(edited)'));
  body.append(meta);
  if (message.blocks.length > 0)
    body.append(renderBlocks(message.blocks, { kind: 'message', ts: message.ts }));
  else body.append(el('div', { class: 'fallback' }, renderMrkdwn(message.text, ctx())));
  node.append(body);
  return node;
}

/** Rendered messages by conversation and ts, with what they were rendered from: unchanged ones are kept. */
const rendered = new Map<string, { signature: string; node: HTMLElement }>();

function renderMessages(force = false): void {
  const list = $('messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  if (force) rendered.clear();
  const dms = messages.filter((m) => m.channel === 'dm');
  if (conversation === 'dm') dmSeen = dms.length;
  const unread = dms.length - dmSeen;
  $('dm-count').hidden = unread <= 0;
  $('dm-count').textContent = String(unread);
  const shown = messages.filter((m) => m.channel === conversation);
  const replies = new Map<string, Message[]>();
  for (const m of shown) {
    if (m.threadTs && m.threadTs !== m.ts) replies.set(m.threadTs, [...(replies.get(m.threadTs) ?? []), m]);
  }
  const tops = shown.filter(
    (m) => !m.threadTs || m.threadTs === m.ts || !shown.some((p) => p.ts === m.threadTs),
  );
  const nodes: HTMLElement[] = [];
  if (tops.length === 0) {
    nodes.push(
      el(
        'div',
        { class: 'empty' },
        conversation === 'dm'
          ? 'sg-warden writes here when it has something for you alone.'
          : 'No alerts yet. Make a risky change on the right (for example SSH from 0.0.0.0/0), or type /sg-status below.',
      ),
    );
  }
  const keep = new Set<string>();
  for (const message of tops) {
    const thread = replies.get(message.ts) ?? [];
    const key = `${conversation}/${message.ts}`;
    const signature = [message, ...thread].map((m) => `${m.ts}:${m.updated}`).join(',');
    keep.add(key);
    const cached = rendered.get(key);
    // Re-rendering only what changed keeps a button under the mouse the same element.
    if (cached && cached.signature === signature) {
      nodes.push(cached.node);
      continue;
    }
    const node = renderMessage(message);
    if (thread.length > 0) {
      const box = el('div', { class: 'thread', 'data-thread': message.ts });
      box.append(
        el('div', { class: 'thread-label' }, `${thread.length} ${thread.length === 1 ? 'reply' : 'replies'}`),
      );
      for (const reply of thread) box.append(renderMessage(reply));
      node.querySelector('.body')!.append(box);
    }
    rendered.set(key, { signature, node });
    nodes.push(node);
  }
  for (const key of rendered.keys()) if (!keep.has(key)) rendered.delete(key);
  const current = [...list.children];
  if (current.length !== nodes.length || current.some((child, i) => child !== nodes[i])) {
    list.replaceChildren(...nodes);
  }
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

// ---- modals ----------------------------------------------------------------------------------

function renderModal(views: OpenView[]): void {
  const root = $('modal-root');
  // The top of the stack: a view no other open view was pushed on.
  const top = views.filter((v) => !views.some((o) => o.parentId === v.id)).at(-1);
  if (!top) {
    shownView = null;
    root.replaceChildren();
    return;
  }
  const json = JSON.stringify(top.view);
  if (shownView && shownView.id === top.id && shownView.json === json) return;
  shownView = { id: top.id, json, errors: shownView?.id === top.id ? shownView.errors : {} };
  drawModal(top);
}

function drawModal(top: OpenView): void {
  const root = $('modal-root');
  const { view } = top;
  const backdrop = el('div', { class: 'modal-backdrop' });
  const modal = el('form', {
    class: 'modal',
    role: 'dialog',
    'aria-modal': 'true',
    'aria-label': String(view.title?.text ?? 'Dialog'),
    'data-view-id': top.id,
  });
  const header = el('header');
  header.append(el('h2', {}, renderPlain(String(view.title?.text ?? ''))));
  const x = el('button', { type: 'button', class: 'close-x', 'aria-label': 'Close' }, '×');
  header.append(x);
  const body = el('div', { class: 'modal-body' });
  body.append(renderBlocks(view.blocks ?? [], { kind: 'view', viewId: top.id }, shownView?.errors ?? {}));
  const footer = el('footer');
  const close = el(
    'button',
    { type: 'button', class: 'btn' },
    renderPlain(String(view.close?.text ?? 'Cancel')),
  );
  footer.append(close);
  if (view.submit)
    footer.append(
      el(
        'button',
        { type: 'submit', class: 'btn btn-primary' },
        renderPlain(String(view.submit.text ?? 'Submit')),
      ),
    );
  modal.append(header, body, footer);
  backdrop.append(modal);
  root.replaceChildren(backdrop);
  const closeIt = async () => {
    try {
      await api('/api/view/close', { user: me, viewId: top.id });
    } catch (error) {
      toast((error as Error).message);
    }
    await refresh();
  };
  x.onclick = () => void closeIt();
  close.onclick = () => void closeIt();
  modal.onsubmit = async (event) => {
    event.preventDefault();
    const submit = modal.querySelector<HTMLButtonElement>('button[type=submit]');
    if (submit) submit.disabled = true;
    try {
      const inputs = collectInputs();
      const answer = await api<DoorAnswer>('/api/view/submit', { user: me, viewId: top.id, inputs });
      if (answer.errors) {
        shownView = { id: top.id, json: shownView?.json ?? '', errors: answer.errors };
        drawModal(top);
        restoreInputs(inputs);
        return;
      }
      if (!answer.ok) toast(answer.error ?? 'sg-warden did not take that.');
    } catch (error) {
      toast((error as Error).message);
    } finally {
      if (submit) submit.disabled = false;
    }
    await refresh();
  };
  modal.querySelector<HTMLElement>('input, textarea, select')?.focus();
}

function restoreInputs(inputs: Record<string, Record<string, InputValue>>): void {
  for (const node of $('modal-root').querySelectorAll<HTMLElement>('[data-block][data-action]')) {
    const value = inputs[node.dataset.block!]?.[node.dataset.action!];
    if (value === undefined || value === null) continue;
    const kind = node.dataset.kind;
    if (kind === 'text' || kind === 'select') (node as HTMLInputElement).value = String(value);
    else {
      const chosen = new Set(Array.isArray(value) ? value : [value]);
      for (const box of node.querySelectorAll<HTMLInputElement>('input')) box.checked = chosen.has(box.value);
    }
  }
}

// ---- AWS panel -------------------------------------------------------------------------------

interface Group {
  groupId: string;
  name: string;
  description: string;
  rules: { ruleId: string; protocol: string; ports: string; source: string; description: string }[];
}

async function refreshAws(): Promise<void> {
  const { groups } = await api<{ groups: Group[] }>('/api/aws');
  const select = $<HTMLSelectElement>('change-group');
  const chosen = select.value;
  select.replaceChildren(
    ...groups.map((g) => el('option', { value: g.groupId }, renderPlain(`${g.name} (${g.groupId})`, false))),
  );
  if (chosen && groups.some((g) => g.groupId === chosen)) select.value = chosen;
  const list = $('groups');
  list.replaceChildren(
    ...groups.map((g) => {
      const box = el('div', { class: 'group', 'data-group-id': g.groupId });
      box.append(el('div', { class: 'group-name' }, renderPlain(`${g.name}`, false)));
      box.append(el('div', { class: 'muted small' }, renderPlain(`${g.groupId} · ${g.description}`, false)));
      const table = el('table');
      if (g.rules.length === 0) table.append(el('tr', {}, '<td class="muted">no inbound rules</td>'));
      for (const r of g.rules) {
        const open = r.source === '0.0.0.0/0' || r.source === '::/0';
        const row = el('tr', {
          class: open && !(r.protocol === 'tcp' && (r.ports === '443' || r.ports === '80')) ? 'open' : '',
          'data-rule-id': r.ruleId,
        });
        row.append(
          el('td', {}, renderPlain(`${r.protocol}/${r.ports}`, false)),
          el('td', {}, renderPlain(r.source, false)),
          el('td', { class: 'muted' }, renderPlain(r.description, false)),
          el('td', { class: 'rule-id' }, renderPlain(r.ruleId, false)),
        );
        table.append(row);
      }
      box.append(table);
      return box;
    }),
  );
}

function showClock(aheadSeconds: number): void {
  if (aheadSeconds * 1000 !== clockAheadMs) {
    clockAheadMs = aheadSeconds * 1000;
    renderMessages(true);
  }
  const h = Math.floor(aheadSeconds / 3600);
  const m = Math.round((aheadSeconds % 3600) / 60);
  $('clock-line').textContent =
    aheadSeconds > 0
      ? `The bot's clock runs ${h > 0 ? `${h} h ` : ''}${m} min ahead (the sweeper has run at that time).`
      : "The bot's clock is the real time.";
}

// ---- wiring ----------------------------------------------------------------------------------

async function refresh(): Promise<void> {
  const state = await api<{ messages: Message[]; views: OpenView[] }>(
    `/api/state?user=${encodeURIComponent(me)}`,
  );
  messages = state.messages;
  renderMessages();
  renderModal(state.views);
  openPermalink();
}

/** The message a permalink (/archives/<channel>/p<ts>) names: shown and scrolled to, once it exists. */
let permalink = /^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d+)$/.exec(location.pathname);
function openPermalink(): void {
  if (!permalink) return;
  const [, channel, seconds, micros] = permalink;
  const conversationOf = channel === info.channel.id ? 'alerts' : 'dm';
  if (conversation !== conversationOf) $(conversationOf === 'alerts' ? 'go-alerts' : 'go-dm').click();
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
  me = id;
  dmSeen = 0;
  localStorage.setItem('sg-warden-sandbox-user', id);
  shownView = null;
  $('modal-root').replaceChildren();
  const people = $('people');
  people.replaceChildren(
    ...info.users.map((u) =>
      el(
        'li',
        { class: u.id === me ? 'current' : '' },
        renderPlain(`${u.realName} (${u.title})${u.id === me ? ' · you' : ''}`, false),
      ),
    ),
  );
  void refresh();
}

async function start(): Promise<void> {
  info = await api<Info>('/api/info');
  const userSelect = $<HTMLSelectElement>('user');
  for (const u of info.users) {
    userSelect.append(el('option', { value: u.id }, renderPlain(`${u.realName} (${u.title})`, false)));
  }
  if (!info.users.some((u) => u.id === me)) me = info.users[0]!.id;
  userSelect.value = me;
  userSelect.onchange = () => setUser(userSelect.value);
  $('account-line').textContent = `account ${info.world.account} (sandbox) · ${info.world.region} · moto`;
  // Your own tools (AWS CLI, Terraform, any SDK) work against the same account: the endpoint and keys.
  $('aws-endpoint').textContent = info.aws.endpoint;
  $('aws-keys').replaceChildren(
    ...info.aws.keys.map((k) =>
      el(
        'li',
        {},
        `<code>${renderPlain(k.accessKeyId, false)}</code> ${renderPlain(`${k.name}: ${k.description}`, false)}`,
      ),
    ),
  );
  $('instances').replaceChildren(
    ...info.world.instances.map((i) =>
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
  $('sweep-line').textContent = `runs by itself every ${info.sweepIntervalMs / 1000}s`;
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
  const show = (which: 'alerts' | 'dm') => {
    conversation = which;
    $('go-alerts').classList.toggle('active', which === 'alerts');
    $('go-dm').classList.toggle('active', which === 'dm');
    $('channel-title').textContent = which === 'alerts' ? `# ${info.channel.name}` : 'sg-warden';
    $('channel-topic').textContent =
      which === 'alerts'
        ? 'Security-group alerts from sg-warden · everything here is emulated on this machine'
        : 'Messages from the app to you alone';
    renderMessages();
  };
  $('go-alerts').onclick = () => show('alerts');
  $('go-dm').onclick = () => show('dm');
  setUser(me);
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
        user: me,
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

  $<HTMLButtonElement>('sweep').onclick = async () => {
    try {
      await api('/api/sweep', {});
      $('sweep-line').textContent = `swept at ${new Date().toLocaleTimeString()}`;
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
  showClock(info.clockAheadSeconds);
  // Dates such as "in 4 minutes" move on by themselves.
  window.setInterval(() => {
    if (!shownView) renderMessages(true);
  }, 20_000);
}

void start().catch((error) => {
  $('status').textContent = `could not load: ${(error as Error).message}`;
});
