import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FramingError, JsonStreamSplitter } from './framing.js';

const enc = new TextEncoder();

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

describe('JsonStreamSplitter', () => {
  it('returns several messages from one chunk, without separators', () => {
    const s = new JsonStreamSplitter();
    const out = s.push(enc.encode('{"id":1}{"id":2}\n[3] {"a":"}{"}'));
    expect(out).toEqual([{ id: 1 }, { id: 2 }, [3], { a: '}{' }]);
    expect(s.idle).toBe(true);
  });

  it('reassembles a message split inside a string escape and inside a UTF-8 character', () => {
    const bytes = enc.encode('{"s":"a\\"b\\\\","t":"é€😀"}');
    const s = new JsonStreamSplitter();
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...s.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual([{ s: 'a"b\\', t: 'é€😀' }]);
  });

  it('keeps its own copy of a partial message (the caller may reuse its buffer)', () => {
    const s = new JsonStreamSplitter();
    const buf = enc.encode('{"k":"abc');
    expect(s.push(buf)).toEqual([]);
    expect(s.idle).toBe(false);
    buf.fill(0x20);
    expect(s.push(enc.encode('"}'))).toEqual([{ k: 'abc' }]);
  });

  it('rejects a bare scalar at top level, naming the byte', () => {
    expect(() => new JsonStreamSplitter().push(enc.encode('42'))).toThrow(
      /expected '\{' or '\['.*0x34/,
    );
  });

  it('rejects invalid JSON and invalid UTF-8 inside a value', () => {
    expect(() => new JsonStreamSplitter().push(enc.encode('{"a":}'))).toThrow(FramingError);
    expect(() =>
      new JsonStreamSplitter().push(Uint8Array.from([0x5b, 0x22, 0xff, 0x22, 0x5d])),
    ).toThrow(/UTF-8/);
  });

  it('refuses a message above the size limit', () => {
    const s = new JsonStreamSplitter(8);
    expect(() => s.push(enc.encode('{"aaaaaaaaaa'))).toThrow(/exceeds 8 bytes/);
  });

  it('any split of a stream of JSON values gives back the same values', () => {
    const container = fc.oneof(
      fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 5 }),
      fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }),
    );
    fc.assert(
      fc.property(
        fc.array(container, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.array(fc.constantFrom('', ' ', '\n', '\r\n', '\t'), { minLength: 6, maxLength: 6 }),
        (values, cuts, seps) => {
          const text = values.map((v, i) => JSON.stringify(v) + seps[i]!).join('');
          const s = new JsonStreamSplitter();
          const out = splitAt(enc.encode(text), cuts).flatMap((c) => s.push(c));
          // Compare through JSON: -0 and 0 serialise alike, which is all the wire can carry.
          expect(JSON.stringify(out)).toBe(JSON.stringify(values));
          expect(s.idle).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
