import { BadInputError } from '../../services/shared/errors';

/**
 * An incremental reader of JSON text (UTF-8 bytes, in chunks of any size) that never holds more than one
 * record: it walks the containers that hold records itself (the top level, arrays, and the `Records` or
 * `Events` array of a wrapper object) and hands each value inside them, parsed, to a sink. Everything
 * else is one value at a time, buffered and checked by JSON.parse, so every byte is validated either here
 * or there. The shapes are those of extractRecords (services/detection/cloudtrail.ts): arrays are walked
 * only down to its depth limit, deeper ones are single values; an object whose first `Records` or `Events`
 * member is an array is a wrapper (members before it are validated, those after it are skipped).
 * Structural bytes are ASCII and never occur inside a multi-byte UTF-8 sequence, so scanning bytes is exact.
 */

/** Where a value sits: a record position (`item`) or an entry of a lookup-events `Events` array. */
export type UnitKind = 'item' | 'lookup';

export interface UnitSink {
  /** One value at a record position (or one lookup entry), parsed; `record` counts from 1. */
  unit(value: unknown, info: { kind: UnitKind; depth: number; record: number; offset: number }): void;
  /** An empty array, or an `Events` wrapper, at `depth`: extractRecords counts these as recognised. */
  emptyContainer(depth: number): void;
}

/** extractRecords looks no deeper than this; deeper arrays are read as one value. */
const MAX_WALK_DEPTH = 3;
/** A single value (one CloudTrail record is at most a few hundred KB) may not exceed this. */
export const MAX_UNIT_BYTES = 32 * 1024 * 1024;

type Frame =
  | { type: 'top' }
  | {
      type: 'array';
      depth: number;
      items: number;
      state: 'first' | 'value' | 'after';
      lookup: boolean;
      offset: number;
    }
  | { type: 'wrapper'; depth: number; state: 'after' | 'key' | 'colon' | 'value'; offset: number };

type BufferedKind = UnitKind | 'skip' | 'key';

interface Unit {
  kind: BufferedKind;
  depth: number;
  offset: number;
  parts: Buffer[];
  size: number;
  /** Nesting inside the value; 0 for a scalar. */
  nest: number;
  inString: boolean;
  escape: boolean;
  /** A number or literal: ends at the first delimiter, which is not part of it. */
  scalar: boolean;
  /** An object at a record position: watched for a `Records`/`Events` array member. */
  probe: boolean;
  expectKey: boolean;
  key: number[] | null;
  /** After a `Records`/`Events` key: 1 waits for the colon, 2 for the value. */
  await: 0 | 1 | 2;
  wrapperKey: 'Records' | 'Events' | null;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const RECORDS = [...Buffer.from('Records')];
const EVENTS = [...Buffer.from('Events')];

const sameBytes = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const shown = (b: number) =>
  b >= 0x20 && b < 0x7f ? `"${String.fromCharCode(b)}"` : `byte 0x${b.toString(16).padStart(2, '0')}`;
const at = (offset: number) => `byte ${offset.toLocaleString('en-US')}`;

export class JsonUnitScanner {
  private readonly frames: Frame[] = [{ type: 'top' }];
  private unit: Unit | null = null;
  /** Bytes read before the current chunk. */
  private consumed = 0;
  private records = 0;
  private values = 0;
  /** The largest value held at once, in bytes (for the bound's tests). */
  maxBuffered = 0;

  constructor(private readonly sink: UnitSink) {}

  /** Values completed at the top level (more than one: NDJSON or concatenated JSON). */
  get topLevelValues(): number {
    return this.values;
  }

  /** Records handed to the sink so far. */
  get recordCount(): number {
    return this.records;
  }

  /** Where the reading is, for a sentence about a failure below this reader (e.g. damaged gzip data). */
  where(): string {
    if (this.unit?.kind === 'item' || this.unit?.kind === 'lookup') {
      return `inside record ${this.records + 1}, which starts at ${at(this.unit.offset)} of the decompressed text`;
    }
    return `after record ${this.records}`;
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.unit) {
        i = this.scanUnit(chunk, i);
        continue;
      }
      const b = chunk[i]!;
      if (WS.has(b)) {
        i++;
        continue;
      }
      i = this.structural(chunk, i, b);
    }
    this.consumed += n;
  }

  /** The input has ended: finishes a trailing scalar, or says what was left open. */
  end(): void {
    const unit = this.unit;
    if (unit?.scalar && unit.nest === 0) this.complete(Buffer.alloc(0), 0, 0);
    if (this.unit) {
      throw new BadInputError(
        `The input is not valid JSON: it ends inside ${this.describe(this.unit)}, which starts at ${at(this.unit.offset)} (is it truncated?).`,
      );
    }
    const open = this.frames[this.frames.length - 1]!;
    if (open.type !== 'top') {
      const what = open.type === 'array' ? 'the array' : 'the object';
      throw new BadInputError(
        `The input is not valid JSON: it ends before ${what} that starts at ${at(open.offset)} is closed, after record ${this.records} (is it truncated?).`,
      );
    }
    if (this.values === 0) throw new BadInputError('The input is not valid JSON: it is empty.');
  }

  private describe(unit: Unit): string {
    if (unit.kind === 'item' || unit.kind === 'lookup') return `record ${this.records + 1}`;
    return unit.kind === 'key' ? 'a member name' : 'a value';
  }

  private unexpected(b: number, offset: number, expected: string): never {
    throw new BadInputError(
      `The input is not valid JSON: ${at(offset)} is ${shown(b)} where ${expected} should be (after record ${this.records}).`,
    );
  }

  /** One byte outside any buffered value: moves the frames along, or starts a value. */
  private structural(chunk: Buffer, i: number, b: number): number {
    const offset = this.consumed + i;
    const frame = this.frames[this.frames.length - 1]!;
    if (frame.type === 'top') return this.startValue(chunk, i, 'item', 0);
    if (frame.type === 'array') {
      if (frame.state === 'after') {
        if (b === COMMA) frame.state = 'value';
        else if (b === CLOSE_ARRAY) this.closeFrame();
        else this.unexpected(b, offset, '"," or "]"');
        return i + 1;
      }
      if (frame.state === 'first' && b === CLOSE_ARRAY) {
        this.sink.emptyContainer(frame.depth);
        this.closeFrame();
        return i + 1;
      }
      frame.items++;
      return this.startValue(chunk, i, frame.lookup ? 'lookup' : 'item', frame.depth + 1);
    }
    switch (frame.state) {
      case 'after':
        if (b === COMMA) frame.state = 'key';
        else if (b === CLOSE_OBJECT) this.closeFrame();
        else this.unexpected(b, offset, '"," or "}"');
        return i + 1;
      case 'key':
        if (b !== QUOTE) this.unexpected(b, offset, 'a member name');
        return this.startValue(chunk, i, 'key', frame.depth);
      case 'colon':
        if (b !== COLON) this.unexpected(b, offset, '":"');
        frame.state = 'value';
        return i + 1;
      default:
        return this.startValue(chunk, i, 'skip', frame.depth);
    }
  }

  private closeFrame(): void {
    this.frames.pop();
    this.valueDone();
  }

  /** A value just ended in the current frame. */
  private valueDone(): void {
    const frame = this.frames[this.frames.length - 1]!;
    if (frame.type === 'top') this.values++;
    else if (frame.type === 'array') frame.state = 'after';
    else frame.state = frame.state === 'key' ? 'colon' : 'after';
  }

  private startValue(chunk: Buffer, i: number, kind: BufferedKind, depth: number): number {
    const b = chunk[i]!;
    const offset = this.consumed + i;
    if (b === CLOSE_ARRAY || b === CLOSE_OBJECT || b === COMMA || b === COLON) {
      this.unexpected(b, offset, 'a value');
    }
    const walkable = kind === 'item' && depth <= MAX_WALK_DEPTH;
    if (b === OPEN_ARRAY && walkable) {
      this.frames.push({ type: 'array', depth, items: 0, state: 'first', lookup: false, offset });
      return i + 1;
    }
    this.unit = {
      kind,
      depth,
      offset,
      parts: [],
      size: 0,
      nest: 0,
      inString: false,
      escape: false,
      scalar: b !== QUOTE && b !== OPEN_ARRAY && b !== OPEN_OBJECT,
      probe: b === OPEN_OBJECT && walkable,
      expectKey: false,
      key: null,
      await: 0,
      wrapperKey: null,
    };
    return this.scanUnit(chunk, i);
  }

  /** Scans a buffered value from `start`; returns where the chunk continues. */
  private scanUnit(chunk: Buffer, start: number): number {
    const u = this.unit!;
    const n = chunk.length;
    let i = start;
    for (; i < n; i++) {
      if (u.inString && !u.escape && u.key === null) {
        // Most bytes are inside strings: jump to the next quote, and tell by the run of backslashes
        // before it whether it ends the string.
        const q = chunk.indexOf(QUOTE, i);
        const stop = q === -1 ? n : q;
        let k = stop;
        while (k > i && chunk[k - 1] === BACKSLASH) k--;
        const escaped = (stop - k) % 2 === 1;
        if (q === -1) {
          u.escape = escaped;
          i = n;
          break;
        }
        if (escaped) {
          i = q;
          continue;
        }
        i = q;
      }
      const b = chunk[i]!;
      if (u.inString) {
        if (u.escape) u.escape = false;
        else if (b === BACKSLASH) {
          u.escape = true;
          // An escaped name is never taken for "Records" or "Events".
          u.key?.push(b);
        } else if (b === QUOTE) {
          u.inString = false;
          if (u.key) this.keyEnded(u);
          if (u.nest === 0) return this.complete(chunk, start, i + 1);
        } else if (u.key && u.key.length <= RECORDS.length) u.key.push(b);
        continue;
      }
      if (u.scalar) {
        if (WS.has(b) || b === COMMA || b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
          return this.complete(chunk, start, i);
        }
        continue;
      }
      if (u.await !== 0) {
        if (WS.has(b)) continue;
        if (u.await === 1 && b === COLON) {
          u.await = 2;
          continue;
        }
        if (u.await === 2 && b === OPEN_ARRAY) return this.becomeWrapper(chunk, start, i);
        u.await = 0;
        u.wrapperKey = null;
      }
      switch (b) {
        case QUOTE:
          u.inString = true;
          if (u.probe && u.nest === 1 && u.expectKey) {
            u.expectKey = false;
            u.key = [];
          }
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          u.nest++;
          if (u.nest === 1) u.expectKey = true;
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          u.nest--;
          if (u.nest <= 0) return this.complete(chunk, start, i + 1);
          break;
        case COMMA:
          if (u.nest === 1) u.expectKey = true;
          break;
      }
    }
    this.hold(chunk.subarray(start, n));
    return n;
  }

  private keyEnded(u: Unit): void {
    const key = u.key!;
    u.key = null;
    if (sameBytes(key, RECORDS)) u.wrapperKey = 'Records';
    else if (sameBytes(key, EVENTS)) u.wrapperKey = 'Events';
    if (u.wrapperKey) u.await = 1;
  }

  private hold(part: Buffer): void {
    const u = this.unit!;
    if (part.length === 0) return;
    u.parts.push(part);
    u.size += part.length;
    if (u.size > this.maxBuffered) this.maxBuffered = u.size;
    if (u.size > MAX_UNIT_BYTES) {
      throw new BadInputError(
        `${this.describe(u)[0]!.toUpperCase()}${this.describe(u).slice(1)}, which starts at ${at(u.offset)}, is larger than ${MAX_UNIT_BYTES / 1024 / 1024} MiB: no CloudTrail record is that big.`,
      );
    }
  }

  private textOf(u: Unit): string {
    return (u.parts.length === 1 ? u.parts[0]! : Buffer.concat(u.parts, u.size)).toString('utf8');
  }

  /** The buffered value ends at `end` (exclusive) in this chunk: parse it and hand it on. */
  private complete(chunk: Buffer, start: number, end: number): number {
    this.hold(chunk.subarray(start, end));
    const u = this.unit!;
    this.unit = null;
    let value: unknown;
    try {
      value = JSON.parse(this.textOf(u));
    } catch {
      throw new BadInputError(
        `The input is not valid JSON: ${this.describe(u)}, which starts at ${at(u.offset)}, does not parse.`,
      );
    }
    if (u.kind === 'item' || u.kind === 'lookup') {
      this.records++;
      this.sink.unit(value, { kind: u.kind, depth: u.depth, record: this.records, offset: u.offset });
    }
    this.valueDone();
    return end;
  }

  /** The object being read has a `Records`/`Events` array: read that array's items one by one instead. */
  private becomeWrapper(chunk: Buffer, start: number, i: number): number {
    this.hold(chunk.subarray(start, i));
    const u = this.unit!;
    this.unit = null;
    try {
      // The members before the array, with a stand-in value, must be valid JSON too.
      JSON.parse(`${this.textOf(u)}null}`);
    } catch {
      throw new BadInputError(
        `The input is not valid JSON: the object that starts at ${at(u.offset)} does not parse before its "${u.wrapperKey}".`,
      );
    }
    const offset = this.consumed + i;
    const lookup = u.wrapperKey === 'Events';
    this.frames.push({ type: 'wrapper', depth: u.depth, state: 'after', offset: u.offset });
    this.frames.push({ type: 'array', depth: u.depth + 1, items: 0, state: 'first', lookup, offset });
    if (lookup) this.sink.emptyContainer(u.depth);
    return i + 1;
  }
}
