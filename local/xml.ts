/** An element of an AWS query-protocol XML answer (EC2, STS): its name, text and child elements. */
export interface XmlElement {
  name: string;
  text: string;
  children: XmlElement[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number(entity.slice(1)));
    return ENTITIES[entity] ?? whole;
  });
}

/**
 * Parses the XML AWS's query APIs answer with (elements and text; attributes, comments and the
 * declaration are skipped). Enough for EC2's and STS's answers; not a general XML parser.
 */
export function parseXml(xml: string): XmlElement | null {
  const root: XmlElement = { name: '#root', text: '', children: [] };
  const stack: XmlElement[] = [root];
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)/g;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    const [, closing, name, selfClosing, text] = m;
    const top = stack[stack.length - 1]!;
    if (text !== undefined) {
      top.text += decode(text);
    } else if (name && closing) {
      if (stack.length > 1) stack.pop();
    } else if (name) {
      const element: XmlElement = { name, text: '', children: [] };
      top.children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  return root.children[0] ?? null;
}

/** The first child named `name`. */
export function child(element: XmlElement | null | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name);
}

/** The trimmed text of the first child named `name`. */
export function childText(element: XmlElement | null | undefined, name: string): string | undefined {
  const found = child(element, name);
  return found ? found.text.trim() : undefined;
}

/** The `<item>` children of the child named `name` (EC2's list shape). */
export function items(element: XmlElement | null | undefined, name: string): XmlElement[] {
  return child(element, name)?.children.filter((c) => c.name === 'item') ?? [];
}
