import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Held in memory up to this much text; beyond it, in a temporary file (removed by `dispose`). */
const IN_MEMORY_BYTES = 8 * 1024 * 1024;

/** Writes, waiting for the stream to drain when it asks to. */
async function write(stream: NodeJS.WritableStream, data: string | Buffer): Promise<void> {
  if (!stream.write(data)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

/**
 * The items of a JSON report's list, collected while the input is still being read, so that the report is
 * written only once all of it was read (nothing on stdout that looks complete when the input is not) and
 * with memory bounded however many items there are. `writeReport` prints exactly what
 * `JSON.stringify({ [countKey]: count, [listKey]: items }, null, 2)` would, plus a newline.
 */
export class ReportSpool {
  private readonly memory: string[] = [];
  private memoryBytes = 0;
  private dir: string | null = null;
  private fd: number | null = null;
  private items = 0;

  /** Adds one item (any JSON value). */
  add(item: unknown): void {
    const text = `${this.items === 0 ? '' : ',\n'}    ${JSON.stringify(item, null, 2).replace(/\n/g, '\n    ')}`;
    this.items++;
    if (this.fd === null && this.memoryBytes + text.length <= IN_MEMORY_BYTES) {
      this.memory.push(text);
      this.memoryBytes += text.length;
      return;
    }
    if (this.fd === null) {
      this.dir = mkdtempSync(join(tmpdir(), 'sg-warden-report-'));
      this.fd = openSync(join(this.dir, 'items.json'), 'w+');
      for (const held of this.memory.splice(0)) writeSync(this.fd, held);
    }
    writeSync(this.fd, text);
  }

  get count(): number {
    return this.items;
  }

  /** Prints `{"<countKey>": count, "<listKey>": [items]}`, indented as JSON.stringify(…, null, 2) does. */
  async writeReport(
    stream: NodeJS.WritableStream,
    countKey: string,
    count: number,
    listKey: string,
  ): Promise<void> {
    const head = `{\n  ${JSON.stringify(countKey)}: ${count},\n  ${JSON.stringify(listKey)}: [`;
    if (this.items === 0) {
      await write(stream, `${head}]\n}\n`);
      return;
    }
    await write(stream, `${head}\n`);
    if (this.fd === null) {
      await write(stream, this.memory.join(''));
    } else {
      for await (const chunk of createReadStream('', { fd: this.fd, start: 0, autoClose: false })) {
        await write(stream, chunk as Buffer);
      }
    }
    await write(stream, '\n  ]\n}\n');
  }

  /** Removes the temporary file, if one was made. */
  dispose(): void {
    if (this.fd !== null) closeSync(this.fd);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.fd = null;
    this.dir = null;
  }
}
