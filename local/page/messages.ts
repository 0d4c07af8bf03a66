/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The conversation: messages, their threads, and which ones changed since the last render.
import { renderBlocks } from './blocks';
import { $, el } from './dom';
import { renderMrkdwn } from './mrkdwn';
import { ctx, type Message, page } from './state';

const seenUpdates = new Map<string, number>();

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

export function renderMessages(force = false): void {
  const list = $('messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  if (force) rendered.clear();
  const dms = page.messages.filter((m) => m.channel === 'dm');
  if (page.conversation === 'dm') page.dmSeen = dms.length;
  const unread = dms.length - page.dmSeen;
  $('dm-count').hidden = unread <= 0;
  $('dm-count').textContent = String(unread);
  const shown = page.messages.filter((m) => m.channel === page.conversation);
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
        page.conversation === 'dm'
          ? 'sg-warden writes here when it has something for you alone.'
          : page.conversation === 'alerts'
            ? 'No alerts yet. Make a risky change on the right (for example SSH from 0.0.0.0/0), or type /sg-status below.'
            : 'No alerts for this team yet: a change to one of its groups (tag team) is posted here.',
      ),
    );
  }
  const keep = new Set<string>();
  for (const message of tops) {
    const thread = replies.get(message.ts) ?? [];
    const key = `${page.conversation}/${message.ts}`;
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
