/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// DOM and API helpers for the sandbox page.
import { renderMrkdwn, renderPlain } from './mrkdwn';
import { type Block, ctx } from './state';

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(
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

export function textHtml(obj: Block | undefined): string {
  if (!obj) return '';
  return obj.type === 'mrkdwn'
    ? renderMrkdwn(String(obj.text ?? ''), ctx())
    : renderPlain(String(obj.text ?? ''), obj.emoji !== false);
}

export async function api<T>(path: string, body?: unknown): Promise<T> {
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
export function toast(message: string): void {
  const node = $('toast');
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    node.hidden = true;
  }, 6000);
}
