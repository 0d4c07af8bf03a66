/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Input blocks in modals: rendered, read back for a submit, and restored after a refused submit.
import { $, el, textHtml } from './dom';
import { renderPlain } from './mrkdwn';
import type { Block, InputValue } from './state';

export function renderInput(block: Block, errors: Record<string, string>): HTMLElement {
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

export function collectInputs(): Record<string, Record<string, InputValue>> {
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

export function restoreInputs(inputs: Record<string, Record<string, InputValue>>): void {
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
