/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Interactive elements in messages and modals: a click (after its confirm dialog) goes to /api/action.
import { api, el, textHtml, toast } from './dom';
import { collectInputs } from './inputs';
import { renderPlain } from './mrkdwn';
import { type Block, type DoorAnswer, page } from './state';

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

export type Where = { kind: 'message'; ts: string } | { kind: 'view'; viewId: string };

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
        ? {
            user: page.me,
            channel: page.conversation,
            ts: where.ts,
            blockId,
            actionId: element.action_id,
            value,
          }
        : {
            user: page.me,
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

export function renderElement(element: Block, blockId: string, where: Where): HTMLElement {
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
