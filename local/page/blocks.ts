/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Block Kit blocks rendered as the Slack client shows them.
import { renderElement, type Where } from './actions';
import { el, textHtml } from './dom';
import { renderInput } from './inputs';
import { renderPlain } from './mrkdwn';
import type { Block } from './state';

export function renderBlocks(
  blocks: Block[],
  where: Where,
  errors: Record<string, string> = {},
): HTMLElement {
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
