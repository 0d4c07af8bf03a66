/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The open modal: the top of the view stack, its close and submit sent to the sandbox's API.
import { renderBlocks } from './blocks';
import { $, api, el, toast } from './dom';
import { collectInputs, restoreInputs } from './inputs';
import { renderPlain } from './mrkdwn';
import { type DoorAnswer, type OpenView, page } from './state';

/** Shows the top open view; `refresh` reloads the page's state after the modal is closed or submitted. */
export function renderModal(views: OpenView[], refresh: () => Promise<void>): void {
  const root = $('modal-root');
  // The top of the stack: a view no other open view was pushed on.
  const top = views.filter((v) => !views.some((o) => o.parentId === v.id)).at(-1);
  if (!top) {
    page.shownView = null;
    root.replaceChildren();
    return;
  }
  const json = JSON.stringify(top.view);
  if (page.shownView && page.shownView.id === top.id && page.shownView.json === json) return;
  page.shownView = { id: top.id, json, errors: page.shownView?.id === top.id ? page.shownView.errors : {} };
  drawModal(top, refresh);
}

function drawModal(top: OpenView, refresh: () => Promise<void>): void {
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
  body.append(
    renderBlocks(view.blocks ?? [], { kind: 'view', viewId: top.id }, page.shownView?.errors ?? {}),
  );
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
      await api('/api/view/close', { user: page.me, viewId: top.id });
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
      const answer = await api<DoorAnswer>('/api/view/submit', { user: page.me, viewId: top.id, inputs });
      if (answer.errors) {
        page.shownView = { id: top.id, json: page.shownView?.json ?? '', errors: answer.errors };
        drawModal(top, refresh);
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
