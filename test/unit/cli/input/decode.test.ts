import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { readText, sniffEncoding } from '../../../../cli/input/decode';
import { BadInputError } from '../../../../services/shared/errors';

/** What readText makes of `chunks` given as standard input: the UTF-8 text, or the error's sentence. */
async function read(chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  try {
    await readText('-', Readable.from(chunks), (chunk) => out.push(chunk), { where: () => 'after record 0' });
    return Buffer.concat(out).toString('utf8');
  } catch (error) {
    if (!(error instanceof BadInputError)) throw error;
    return `ERROR ${error.message}`;
  }
}

/** Every way to cut `bytes` in two, plus one byte at a time. */
function splits(bytes: Buffer): Buffer[][] {
  const ways: Buffer[][] = [];
  for (let cut = 0; cut <= bytes.length; cut++) ways.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  ways.push([...bytes].map((b) => Buffer.from([b])));
  return ways;
}

// Two-byte, three-byte and four-byte (a surrogate pair in UTF-16) characters.
const TEXT = '{"Records": [{"eventName": "é€💥", "n": 1}]}';

describe('readText', () => {
  describe('sniffEncoding', () => {
    it.each([
      ['UTF-8', Buffer.from('[1]'), 'utf-8', 0],
      ['UTF-8 with a mark', Buffer.from('\ufeff[1]'), 'utf-8', 3],
      ['UTF-16LE with a mark (PowerShell)', Buffer.from('\ufeff[1]', 'utf16le'), 'utf-16le', 2],
      ['UTF-16BE with a mark', Buffer.from('\ufeff[1]', 'utf16le').swap16(), 'utf-16be', 2],
      ['UTF-16LE without a mark', Buffer.from('[1]', 'utf16le'), 'utf-16le', 0],
      ['UTF-16BE without a mark', Buffer.from('[1]', 'utf16le').swap16(), 'utf-16be', 0],
      ['UTF-32LE with a mark', Buffer.from([0xff, 0xfe, 0, 0, 0x5b, 0, 0, 0]), 'utf-32le', 4],
      ['UTF-32BE without a mark', Buffer.from([0, 0, 0, 0x5b]), 'utf-32be', 0],
      ['a single ASCII byte', Buffer.from('1'), 'utf-8', 0],
    ])('%s', (_name, head, encoding, bom) => {
      expect(sniffEncoding(head)).toEqual({ encoding, bom });
    });
  });

  it.each([
    ['UTF-8', Buffer.from(TEXT)],
    ['UTF-8 with a mark', Buffer.from(`\ufeff${TEXT}`)],
    ['UTF-16LE with a mark', Buffer.from(`\ufeff${TEXT}`, 'utf16le')],
    ['UTF-16BE with a mark', Buffer.from(`\ufeff${TEXT}`, 'utf16le').swap16()],
    ['UTF-16LE without a mark', Buffer.from(TEXT, 'utf16le')],
    ['UTF-16BE without a mark', Buffer.from(TEXT, 'utf16le').swap16()],
  ])('gives %s back as UTF-8, split at every byte', async (_name, bytes) => {
    for (const chunks of splits(bytes)) expect(await read(chunks)).toBe(TEXT);
  });

  it('decompresses gzip, one member or several, split at every byte', async () => {
    const two = Buffer.concat([gzipSync(TEXT.slice(0, 20)), gzipSync(Buffer.from(TEXT.slice(20), 'utf8'))]);
    for (const chunks of splits(two)) expect(await read(chunks)).toBe(TEXT);
  });

  it('says where gzip data ends early or is damaged', async () => {
    const whole = gzipSync(TEXT);
    expect(await read([whole.subarray(0, 15)])).toBe(
      'ERROR The gzip-compressed input ends early at byte 15 of the compressed data, after record 0 (is it truncated?).',
    );
    expect(await read([whole, Buffer.from('not gzip')])).toMatch(
      /^ERROR The gzip-compressed input is damaged near byte [\d,]+ of the compressed data, after record 0 \(incorrect header check\)\.$/,
    );
  });

  it('refuses UTF-32 by name', async () => {
    const utf32 = Buffer.alloc(TEXT.length * 4);
    for (const [i, c] of [...'[1]'].entries()) utf32.writeUInt32BE(c.charCodeAt(0), i * 4);
    expect(await read([utf32.subarray(0, 12)])).toBe(
      'ERROR The input is UTF-32 (big-endian) text, which sg-warden does not read: save it as UTF-8 (or UTF-16).',
    );
  });

  it('names an unreadable file', async () => {
    await expect(
      readText('/nonexistent/x.json', process.stdin, () => {}, { where: () => '' }),
    ).rejects.toThrow('Cannot read /nonexistent/x.json: no such file.');
  });
});
