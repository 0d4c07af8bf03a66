import { createReadStream, openSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, type Gunzip } from 'node:zlib';
import { BadInputError } from '../../services/shared/errors';

/**
 * The bytes of an input (a file, or stdin for `-`) as UTF-8 JSON text, a chunk at a time: gzip (one member
 * or several, as `cat *.gz` makes them) is decompressed, a UTF-8 byte-order mark dropped, and UTF-16
 * (with a byte-order mark, or without one when the first characters show it: JSON starts with ASCII) is
 * transcoded. UTF-32 is refused. Memory stays at a few chunks whatever the input's size.
 */

/** The text encodings read (UTF-32 is recognised only to refuse it by name). */
export type TextEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'utf-32le' | 'utf-32be';

const CHUNK = 1024 * 1024;

/** The encoding of JSON text from its first bytes, and how many of them are a byte-order mark. */
export function sniffEncoding(head: Buffer): { encoding: TextEncoding; bom: number } {
  const [a, b, c, d] = [head[0], head[1], head[2], head[3]];
  if (a === 0xef && b === 0xbb && c === 0xbf) return { encoding: 'utf-8', bom: 3 };
  if (a === 0x00 && b === 0x00 && c === 0xfe && d === 0xff) return { encoding: 'utf-32be', bom: 4 };
  if (a === 0xff && b === 0xfe && c === 0x00 && d === 0x00) return { encoding: 'utf-32le', bom: 4 };
  if (a === 0xff && b === 0xfe) return { encoding: 'utf-16le', bom: 2 };
  if (a === 0xfe && b === 0xff) return { encoding: 'utf-16be', bom: 2 };
  // Without a mark, the zero bytes around the first (ASCII) character tell (RFC 4627, section 3).
  if (a === 0x00 && b === 0x00 && c === 0x00 && d !== undefined && d !== 0x00)
    return { encoding: 'utf-32be', bom: 0 };
  if (a !== undefined && a !== 0x00 && b === 0x00 && c === 0x00 && d === 0x00)
    return { encoding: 'utf-32le', bom: 0 };
  if (a === 0x00 && b !== undefined && b !== 0x00) return { encoding: 'utf-16be', bom: 0 };
  if (a !== undefined && a !== 0x00 && b === 0x00) return { encoding: 'utf-16le', bom: 0 };
  return { encoding: 'utf-8', bom: 0 };
}

const ENCODING_NAMES: Record<TextEncoding, string> = {
  'utf-8': 'UTF-8',
  'utf-16le': 'UTF-16 (little-endian)',
  'utf-16be': 'UTF-16 (big-endian)',
  'utf-32le': 'UTF-32 (little-endian)',
  'utf-32be': 'UTF-32 (big-endian)',
};

/** Reads the first `n` bytes (fewer at the end) and gives them back with an iterator over the rest. */
async function peek(
  source: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; rest: AsyncGenerator<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const got: Buffer[] = [];
  let size = 0;
  while (size < n) {
    const next = await it.next();
    if (next.done) break;
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    got.push(chunk);
    size += chunk.length;
  }
  const head = Buffer.concat(got);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let next = await it.next(); !next.done; next = await it.next()) {
      yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    }
  }
  return { head, rest: rest() };
}

/** UTF-16 (either order) to UTF-8, keeping code units and surrogate pairs split across chunks whole. */
async function* transcodeUtf16(source: AsyncIterable<Buffer>, bigEndian: boolean): AsyncGenerator<Buffer> {
  const decoder = new StringDecoder('utf16le');
  let carry: Buffer | null = null;
  let pending = '';
  for await (const raw of source) {
    let chunk: Buffer = carry ? Buffer.concat([carry, raw]) : raw;
    carry = null;
    if (bigEndian) {
      if (chunk.length % 2 === 1) {
        carry = chunk.subarray(chunk.length - 1);
        chunk = chunk.subarray(0, chunk.length - 1);
      }
      // swap16 works in place: copy first, the source's buffer is not ours.
      chunk = Buffer.from(chunk).swap16();
    }
    let text = pending + decoder.write(chunk);
    pending = '';
    // The decoder may give the first half of a surrogate pair whose second half is still to come.
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      pending = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (text.length > 0) yield Buffer.from(text, 'utf8');
  }
  const tail = pending + (carry ? decoder.write(carry) : '') + decoder.end();
  if (tail.length > 0) yield Buffer.from(tail, 'utf8');
}

/** Decompressed bytes to UTF-8 text, by the encoding the first bytes show. */
async function* asUtf8(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const { head, rest } = await peek(source, 4);
  const { encoding, bom } = sniffEncoding(head);
  if (encoding === 'utf-32le' || encoding === 'utf-32be') {
    throw new BadInputError(
      `The input is ${ENCODING_NAMES[encoding]} text, which sg-warden does not read: save it as UTF-8 (or UTF-16).`,
    );
  }
  let first = true;
  async function* withoutBom(): AsyncGenerator<Buffer> {
    for await (const chunk of rest) {
      yield first && bom > 0 ? chunk.subarray(bom) : chunk;
      first = false;
    }
  }
  if (encoding === 'utf-8') yield* withoutBom();
  else yield* transcodeUtf16(withoutBom(), encoding === 'utf-16be');
}

/** The raw bytes of `path`, or of stdin for `-`; an unreadable file is a BadInputError naming it. */
function openInput(path: string, stdin: NodeJS.ReadableStream): AsyncIterable<Buffer> {
  if (path === '-') return stdin as AsyncIterable<Buffer>;
  try {
    // Opened here so that a missing file is refused before anything is read.
    return createReadStream('', { fd: openSync(path, 'r'), highWaterMark: CHUNK });
  } catch (error) {
    throw unreadable(path, error);
  }
}

function unreadable(path: string, error: unknown): BadInputError {
  const code = (error as NodeJS.ErrnoException).code;
  return new BadInputError(
    `Cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}.`,
    { cause: error },
  );
}

/** What a reader of the text is told about where it is, for the sentence on a damaged gzip stream. */
export interface Progress {
  /** e.g. "after record 12" or "inside record 13" */
  where(): string;
}

/**
 * Reads `path` (or stdin) to the end, handing each chunk of UTF-8 text to `consume`; resolves when all of
 * it was read and consumed. Every failure is a BadInputError with one sentence.
 */
export async function readText(
  path: string,
  stdin: NodeJS.ReadableStream,
  consume: (chunk: Buffer) => void,
  progress: Progress,
): Promise<void> {
  const source = openInput(path, stdin);
  const sink = async (text: AsyncIterable<Buffer>) => {
    for await (const chunk of asUtf8(text)) consume(chunk);
  };
  let gunzip: Gunzip | undefined;
  try {
    const { head, rest } = await peek(source, 2);
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      gunzip = createGunzip({ chunkSize: 64 * 1024 });
      await pipeline(rest, gunzip, sink);
    } else {
      await sink(rest);
    }
  } catch (error) {
    if (error instanceof BadInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (gunzip && code.startsWith('Z_')) {
      const at = `at byte ${gunzip.bytesWritten.toLocaleString('en-US')} of the compressed data, ${progress.where()}`;
      throw new BadInputError(
        code === 'Z_BUF_ERROR'
          ? `The gzip-compressed input ends early ${at} (is it truncated?).`
          : `The gzip-compressed input is damaged near ${at.slice(3)} (${(error as Error).message}).`,
        { cause: error },
      );
    }
    throw unreadable(path, error);
  }
}
