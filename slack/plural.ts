/** "1 rule", "2 rules", "1,024 rules": a count with its noun, digits grouped as people read them. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}
