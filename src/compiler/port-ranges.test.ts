import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isProvenMinimal,
  matchesAny,
  portRangeToMasks,
  prefixSplit,
  type ValueMask,
} from './port-ranges.js';

/** Every value in [0, 2^w) matched by the entries is in [min, max], and every such value is. */
function coversExactly(
  entries: readonly ValueMask[],
  min: number,
  max: number,
  w: number,
): boolean {
  for (let x = 0; x < 2 ** w; x++)
    if (matchesAny(entries, x) !== (x >= min && x <= max)) return false;
  return true;
}

/**
 * Independent brute-force optimum: all value/mask entries inside the range, keep the maximal
 * ones, then try every combination of k of them for k = 1, 2, ... until one covers it.
 */
function bruteForceOptimum(min: number, max: number, w: number): number {
  const full = 2 ** w - 1;
  const inside: { set: bigint; value: number; mask: number }[] = [];
  for (let mask = 0; mask <= full; mask++) {
    for (let value = 0; value <= full; value++) {
      if ((value & mask) !== value) continue;
      const lo = value;
      const hi = value | (~mask & full);
      if (lo < min || hi > max) continue;
      let set = 0n;
      for (let x = lo; x <= hi; x++) if ((x & mask) === value) set |= 1n << BigInt(x);
      inside.push({ set, value, mask });
    }
  }
  const maximal = inside.filter(
    (a) => !inside.some((b) => b.set !== a.set && (a.set & b.set) === a.set),
  );
  let target = 0n;
  for (let x = min; x <= max; x++) target |= 1n << BigInt(x);
  const sets = [...new Set(maximal.map((m) => m.set))];
  const tryK = (k: number, start: number, acc: bigint): boolean => {
    if (acc === target) return true;
    if (k === 0) return false;
    for (let i = start; i < sets.length; i++) if (tryK(k - 1, i + 1, acc | sets[i]!)) return true;
    return false;
  };
  for (let k = 1; ; k++) if (tryK(k, 0, 0n)) return k;
}

describe('portRangeToMasks', () => {
  it('gives one exact entry for a single port and one wildcard for the whole space', () => {
    expect(portRangeToMasks(80, 80)).toEqual([{ value: 80, mask: 0xffff }]);
    expect(portRangeToMasks(0, 65535)).toEqual([{ value: 0, mask: 0 }]);
    expect(portRangeToMasks(1024, 2047)).toEqual([{ value: 1024, mask: 0xfc00 }]);
  });

  it('beats prefix splitting with non-prefix masks ([1, 2^w-2] takes w entries, not 2w-2)', () => {
    expect(prefixSplit(1, 14, 4)).toHaveLength(6);
    expect(portRangeToMasks(1, 14, 4)).toHaveLength(4);
    expect(prefixSplit(1, 65534)).toHaveLength(30);
    const r = portRangeToMasks(1, 65534);
    expect(r).toHaveLength(16);
    for (const x of [0, 1, 2, 255, 32768, 65533, 65534, 65535]) {
      expect(matchesAny(r, x)).toBe(x >= 1 && x <= 65534);
    }
  });

  it('matches the brute-force optimum for every range over 6 bits', () => {
    const w = 6;
    for (let min = 0; min < 2 ** w; min++) {
      for (let max = min; max < 2 ** w; max++) {
        const got = portRangeToMasks(min, max, w);
        expect(coversExactly(got, min, max, w), `[${min}, ${max}] exact`).toBe(true);
        expect(got.length, `[${min}, ${max}] minimal`).toBe(bruteForceOptimum(min, max, w));
      }
    }
  });

  it('covers every 8-bit range exactly, never with more entries than prefix splitting, proven minimal', () => {
    const w = 8;
    let better = 0;
    for (let min = 0; min < 2 ** w; min++) {
      for (let max = min; max < 2 ** w; max++) {
        const got = portRangeToMasks(min, max, w);
        const prefix = prefixSplit(min, max, w);
        if (!coversExactly(got, min, max, w)) throw new Error(`[${min}, ${max}] not exact`);
        if (got.length > prefix.length) throw new Error(`[${min}, ${max}] worse than prefix`);
        if (!isProvenMinimal(min, max, w)) throw new Error(`[${min}, ${max}] not proven minimal`);
        if (got.length < prefix.length) better++;
      }
    }
    expect(better).toBeGreaterThan(1000);
  });

  it('16-bit ranges: exact cover, never more entries than prefix splitting', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        (a, b) => {
          const [min, max] = a <= b ? [a, b] : [b, a];
          const got = portRangeToMasks(min, max);
          expect(got.length).toBeLessThanOrEqual(prefixSplit(min, max).length);
          // Exactness on the boundaries and a spread of points (the full scan is 65536 values).
          const probes = [0, min - 1, min, min + 1, max - 1, max, max + 1, 65535];
          for (let x = 0; x < 65536; x += 257) probes.push(x);
          for (const x of probes) {
            if (x < 0 || x > 65535) continue;
            expect(matchesAny(got, x)).toBe(x >= min && x <= max);
          }
        },
      ),
      { numRuns: 100, seed: 20261121 },
    );
  });

  it('typical 16-bit ranges are proven minimal', () => {
    for (const [min, max] of [
      [1024, 65535],
      [8000, 8999],
      [32768, 60999],
      [1, 65534],
      [1, 1023],
      [5000, 5100],
      [30000, 40000],
      [49152, 65535],
      [6000, 6063],
    ] as const) {
      expect(isProvenMinimal(min, max), `[${min}, ${max}]`).toBe(true);
    }
  });

  it('a full scan of some typical 16-bit ranges is exact', () => {
    for (const [min, max] of [
      [1024, 65535],
      [8000, 8999],
      [32768, 60999],
      [1, 65534],
      [49152, 65535],
    ] as const) {
      expect(coversExactly(portRangeToMasks(min, max), min, max, 16)).toBe(true);
    }
  });

  it('rejects bad ranges with a clear error', () => {
    expect(() => portRangeToMasks(10, 5)).toThrow(/minimum 10 is greater than its maximum 5/);
    expect(() => portRangeToMasks(0, 70000)).toThrow(/max 70000 is invalid/);
    expect(() => portRangeToMasks(-1, 5)).toThrow(/min -1 is invalid/);
  });
});
