import { JsonUnitScanner, MAX_UNIT_BYTES, type UnitSink } from '../../../../cli/input/json-units';
import { BadInputError } from '../../../../services/shared/errors';

type Seen = ['unit', unknown, string, number, number, number] | ['empty', number];

/** Feeds `chunks` to a scanner; returns what the sink saw, or the error's sentence. */
function scan(chunks: Buffer[]): { seen: Seen[]; error?: string; scanner: JsonUnitScanner } {
  const seen: Seen[] = [];
  const sink: UnitSink = {
    unit: (value, { kind, depth, record, offset }) => seen.push(['unit', value, kind, depth, record, offset]),
    emptyContainer: (depth) => seen.push(['empty', depth]),
  };
  const scanner = new JsonUnitScanner(sink);
  try {
    for (const chunk of chunks) scanner.push(chunk);
    scanner.end();
    return { seen, scanner };
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
    return { seen, error: error.message, scanner };
  }
}

/** The same text cut in two at every byte, and one byte at a time: each must read exactly like the whole. */
function expectSameAtEverySplit(text: string): ReturnType<typeof scan> {
  const bytes = Buffer.from(text);
  const whole = scan([bytes]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const split = scan([bytes.subarray(0, cut), bytes.subarray(cut)]);
    expect({ cut, seen: split.seen, error: split.error }).toEqual({
      cut,
      seen: whole.seen,
      error: whole.error,
    });
  }
  const byByte = scan([...bytes].map((b) => Buffer.from([b])));
  expect({ seen: byByte.seen, error: byByte.error }).toEqual({ seen: whole.seen, error: whole.error });
  return whole;
}

const values = (seen: Seen[]) => seen.filter((s) => s[0] === 'unit').map((s) => s[1]);

const record = (n: number) => ({
  eventName: 'AuthorizeSecurityGroupIngress',
  eventID: `e-${n}`,
  requestParameters: { note: 'braces } ] { [ , : and "quotes" and \\ and é and 💥', n },
});

describe('JsonUnitScanner', () => {
  describe('the shapes records come in, split at every chunk boundary', () => {
    it('hands on each item of a top-level array, with its record number and byte offset', () => {
      const text = `[${JSON.stringify(record(1))}, ${JSON.stringify(record(2))}]`;
      const { seen, error } = expectSameAtEverySplit(text);
      expect(error).toBeUndefined();
      expect(values(seen)).toEqual([record(1), record(2)]);
      expect(seen.map((s) => s.slice(2))).toEqual([
        ['item', 1, 1, 1],
        ['item', 1, 2, Buffer.byteLength(`[${JSON.stringify(record(1))}, `)],
      ]);
    });

    it('walks the Records array of an S3 log file (members before and after it validated, not handed on)', () => {
      const text = ` {"version": {"a": [1]}, "Records" : [${JSON.stringify(record(1))},${JSON.stringify(record(2))}], "after": [{"x": 1}]}\n`;
      const { seen, error } = expectSameAtEverySplit(text);
      expect(error).toBeUndefined();
      expect(seen.map((s) => s.slice(1, 4))).toEqual([
        [record(1), 'item', 2],
        [record(2), 'item', 2],
      ]);
    });

    it('hands on each lookup-events entry as such, and counts the Events wrapper as recognised', () => {
      const entry = { EventId: 'x', CloudTrailEvent: JSON.stringify(record(1)) };
      const text = `{"Events": [${JSON.stringify(entry)}], "NextToken": "abc"}`;
      const { seen } = expectSameAtEverySplit(text);
      expect(seen).toEqual([
        ['empty', 0],
        ['unit', entry, 'lookup', 2, 1, 12],
      ]);
    });

    it('reads NDJSON and concatenated JSON values as items of one list', () => {
      const text = `${JSON.stringify(record(1))}\n${JSON.stringify(record(2))}\r\n\n{"Records":[${JSON.stringify(record(3))}]}{"a":1}`;
      const { seen, scanner } = expectSameAtEverySplit(text);
      expect(values(seen)).toEqual([record(1), record(2), record(3), { a: 1 }]);
      expect(scanner.topLevelValues).toBe(4);
    });

    it('walks nested arrays down to the depth extractRecords looks at, and reads deeper ones whole', () => {
      const { seen } = expectSameAtEverySplit('[[], [[{"a": 1}]], [[[ [2] ]]], 3, "s", true, null]');
      expect(seen).toEqual([
        ['empty', 1],
        ['unit', { a: 1 }, 'item', 3, 1, 7],
        ['unit', [2], 'item', 4, 2, 23],
        ['unit', 3, 'item', 1, 3, 32],
        ['unit', 's', 'item', 1, 4, 35],
        ['unit', true, 'item', 1, 5, 40],
        ['unit', null, 'item', 1, 6, 46],
      ]);
    });

    it('reads a lone scalar, a lone record and an empty array', () => {
      expect(expectSameAtEverySplit(' 42 ').seen).toEqual([['unit', 42, 'item', 0, 1, 1]]);
      expect(values(expectSameAtEverySplit(JSON.stringify(record(7))).seen)).toEqual([record(7)]);
      expect(expectSameAtEverySplit('[ ]').seen).toEqual([['empty', 0]]);
    });

    it('does not take an escaped or longer name, or a Records that is not an array, for a wrapper', () => {
      const text =
        '[{"Rec\\u006frds": [1]}, {"Recordsx": [2]}, {"Records": {"a": [3]}}, {"x": {"Records": [4]}}]';
      const { seen } = expectSameAtEverySplit(text);
      expect(values(seen)).toEqual([
        { Records: [1] },
        { Recordsx: [2] },
        { Records: { a: [3] } },
        { x: { Records: [4] } },
      ]);
    });
  });

  describe('bad input: one sentence saying where, at every split', () => {
    it.each([
      [
        'a value that does not parse',
        '[{"a": 1}, {"b": }]',
        /record 2, which starts at byte 11, does not parse/,
      ],
      [
        'a missing comma',
        '[{"a": 1} {"b": 2}]',
        /byte 10 is "\{" where "," or "]" should be \(after record 1\)/,
      ],
      ['a trailing comma', '[{"a": 1},]', /byte 10 is "]" where a value should be/],
      [
        'a truncated record',
        '{"Records": [{"a": 1}, {"b": [2',
        /ends inside record 2, which starts at byte 23/,
      ],
      [
        'a truncated array',
        '{"Records": [{"a": 1}',
        /ends before the array that starts at byte 12 is closed, after record 1/,
      ],
      ['an unclosed wrapper', '{"Records": []', /ends before the object that starts at byte 0 is closed/],
      [
        'a wrapper whose leading members do not parse',
        '{"x": [1,,2], "Records": []}',
        /object that starts at byte 0 does not parse before its "Records"/,
      ],
      [
        'a member after the array that does not parse',
        '{"Records": [], "x": tru}',
        /a value, which starts at byte 21, does not parse/,
      ],
      [
        'a member name that is not a string',
        '{"Records": [], x: 1}',
        /byte 16 is "x" where a member name should be/,
      ],
      ['text that is not JSON', 'hello: world', /not valid JSON/],
      ['nothing at all', ' \n ', /not valid JSON: it is empty/],
    ])('%s', (_name, text, message) => {
      const { error } = expectSameAtEverySplit(text);
      expect(error).toMatch(/^The input is not valid JSON/);
      expect(error).toMatch(message);
    });

    it('refuses a single value larger than the limit, before holding more of it', () => {
      const scanner = new JsonUnitScanner({ unit: () => {}, emptyContainer: () => {} });
      scanner.push(Buffer.from('[{"a": "'));
      const mib = Buffer.alloc(1024 * 1024, 0x61);
      expect(() => {
        for (let i = 0; i <= MAX_UNIT_BYTES / mib.length; i++) scanner.push(mib);
      }).toThrow(/^Record 1, which starts at byte 1, is larger than 32 MiB/);
      expect(scanner.maxBuffered).toBeLessThanOrEqual(MAX_UNIT_BYTES + mib.length);
    });
  });

  describe('memory', () => {
    it('never holds more than one record, however many stream through', () => {
      const one = Buffer.from(JSON.stringify(record(0)));
      let handed = 0;
      const scanner = new JsonUnitScanner({ unit: () => handed++, emptyContainer: () => {} });
      // 100,000 records in 64 KiB chunks, cut wherever the chunk ends, never the whole text at once.
      let pending: Buffer[] = [Buffer.from('{"Records": [')];
      let size = pending[0]!.length;
      const flush = (all: boolean) => {
        const joined = Buffer.concat(pending);
        let at = 0;
        for (; joined.length - at >= 65536; at += 65536) scanner.push(joined.subarray(at, at + 65536));
        if (all && at < joined.length) scanner.push(joined.subarray(at));
        pending = all ? [] : [joined.subarray(at)];
        size = all ? 0 : joined.length - at;
      };
      for (let i = 0; i < 100_000; i++) {
        pending.push(i === 0 ? one : Buffer.concat([Buffer.from(',\n'), one]));
        size += one.length + 2;
        if (size >= 65536) flush(false);
      }
      pending.push(Buffer.from(']}'));
      flush(true);
      scanner.end();
      expect(handed).toBe(100_000);
      expect(scanner.recordCount).toBe(100_000);
      expect(scanner.maxBuffered).toBe(one.length);
    });
  });
});
