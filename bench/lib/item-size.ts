/**
 * DynamoDB's size of a value, as its documentation defines it: strings by UTF-8 bytes, numbers about one
 * byte per two significant digits plus one, binary by length, booleans and null one byte, lists and maps
 * three bytes plus one per element (plus the element names, for maps).
 */
export function valueBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') {
    const digits = String(Math.abs(value))
      .replace(/e.*$/, '')
      .replace('.', '')
      .replace(/^0+/, '')
      .replace(/0+$/, '').length;
    return Math.ceil(Math.max(1, digits) / 2) + 1;
  }
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return 3 + [...value].reduce((n: number, v) => n + valueBytes(v) + 1, 0);
  if (Array.isArray(value)) return 3 + value.reduce((n: number, v) => n + valueBytes(v) + 1, 0);
  if (typeof value === 'object') {
    return (
      3 +
      Object.entries(value as Record<string, unknown>).reduce(
        (n, [k, v]) => n + Buffer.byteLength(k, 'utf8') + valueBytes(v) + 1,
        0,
      )
    );
  }
  return 0;
}

/** The size of an item: its attribute names plus their values. */
export function itemBytes(item: Record<string, unknown>): number {
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k, 'utf8') + valueBytes(v), 0);
}

/**
 * Read capacity units of one Query page: the total size of the items read, rounded up to 4 KB; a global
 * secondary index is read eventually consistently, which costs half.
 */
export function queryPageReadUnits(items: Record<string, unknown>[], consistent = false): number {
  const bytes = items.reduce((n, item) => n + itemBytes(item), 0);
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return consistent ? units : units / 2;
}
