// Slack's Block Kit limits, checked by the Slack emulator (`invalid_blocks`) and by block tests.

/** Slack's Block Kit limits that sg-warden's messages come near (documented per block and element). */
const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionElements: 25,
  buttonText: 75,
  buttonValue: 2000,
};

type JsonBlock = Record<string, unknown> & { type?: string };

function textOf(value: unknown): string {
  return typeof value === 'object' && value !== null ? String((value as { text?: unknown }).text ?? '') : '';
}

/** Why Slack would refuse a call's blocks (`invalid_blocks`), as JSON-pointer-like notes; empty when fine. */
export function blockKitProblems(method: string, args: Record<string, unknown>): string[] {
  const isView = method.startsWith('views.');
  const blocks = isView ? (args.view as { blocks?: unknown } | undefined)?.blocks : args.blocks;
  if (!Array.isArray(blocks)) return [];
  const problems: string[] = [];
  const max = isView ? LIMITS.viewBlocks : LIMITS.messageBlocks;
  if (blocks.length > max) problems.push(`must be less than ${max + 1} items [/blocks]`);
  (blocks as JsonBlock[]).forEach((block, i) => {
    const at = `/blocks/${i}`;
    if (block.type === 'section') {
      if (textOf(block.text).length > LIMITS.sectionText)
        problems.push(`must be less than ${LIMITS.sectionText + 1} characters [${at}/text]`);
      const fields = Array.isArray(block.fields) ? block.fields : [];
      if (fields.length > LIMITS.sectionFields)
        problems.push(`must be less than ${LIMITS.sectionFields + 1} items [${at}/fields]`);
      fields.forEach((f, j) => {
        if (textOf(f).length > LIMITS.fieldText)
          problems.push(`must be less than ${LIMITS.fieldText + 1} characters [${at}/fields/${j}]`);
      });
    }
    if (block.type === 'header' && textOf(block.text).length > LIMITS.headerText)
      problems.push(`must be less than ${LIMITS.headerText + 1} characters [${at}/text]`);
    if (
      block.type === 'context' &&
      Array.isArray(block.elements) &&
      block.elements.length > LIMITS.contextElements
    )
      problems.push(`must be less than ${LIMITS.contextElements + 1} items [${at}/elements]`);
    if (block.type === 'actions' && Array.isArray(block.elements)) {
      if (block.elements.length > LIMITS.actionElements)
        problems.push(`must be less than ${LIMITS.actionElements + 1} items [${at}/elements]`);
      (block.elements as JsonBlock[]).forEach((e, j) => {
        if (e.type !== 'button') return;
        if (textOf(e.text).length > LIMITS.buttonText)
          problems.push(`must be less than ${LIMITS.buttonText + 1} characters [${at}/elements/${j}/text]`);
        if (String(e.value ?? '').length > LIMITS.buttonValue)
          problems.push(`must be less than ${LIMITS.buttonValue + 1} characters [${at}/elements/${j}/value]`);
      });
    }
  });
  return problems;
}
