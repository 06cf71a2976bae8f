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
  const values = entries.map((e) => e.value);
  const masks = entries.map((e) => e.mask);
  for (let x = 0; x < 2 ** w; x++) {
    let hit = false;
    for (let i = 0; i < values.length && !hit; i++) hit = (x & masks[i]!) >>> 0 === values[i];
    if (hit !== (x >= min && x <= max)) return false;
  }
  return true;
}

/**
 * Independent exhaustive search: the fewest value/mask entries whose union is exactly [min, max]
 * (w ≤ 8 bits), or `limit` when no cover has fewer. Every entry inside the range is enumerated,
 * the maximal ones kept (any cover can use those instead), then covers are searched by
 * branching on the uncovered point with the fewest entries, pruned by a lower bound: uncovered
 * points no two of which share an entry each need their own.
 */
function fewestEntries(min: number, max: number, w: number, limit: number): number {
  const full = 2 ** w - 1;
  const entries: number[][] = []; // the points (as offsets from min) of each maximal entry
  for (let mask = full; mask >= 0; mask--) {
    const free = ~mask & full;
    // The values of entries with this mask are the submasks of it, visited in falling order.
    for (let value = mask; value >= min; value = (value - 1) & mask) {
      const inside = (v: number, extra: number): boolean => v >= min && v + free + extra <= max;
      let maximal = inside(value, 0);
      for (let bit = 1; bit <= mask && maximal; bit <<= 1) {
        if (mask & bit && inside(value & ~bit, bit)) maximal = false;
      }
      if (maximal) {
        const points: number[] = [];
        for (let x = value; x <= value + free; x++) if ((x & mask) === value) points.push(x - min);
        entries.push(points);
      }
      if (value === 0) break;
    }
  }
  const size = max - min + 1;
  const options: number[][] = Array.from({ length: size }, () => []);
  entries.forEach((points, i) => points.forEach((p) => options[p]!.push(i)));
  const order = [...options.keys()].sort((x, y) => options[x]!.length - options[y]!.length);
  const covered = new Int32Array(size);
  const taken = new Int32Array(entries.length);
  let round = 0;
  const lowerBound = (): number => {
    round++;
    let bound = 0;
    for (const p of order) {
      if (covered[p] || options[p]!.some((i) => taken[i] === round)) continue;
      bound++;
      for (const i of options[p]!) taken[i] = round;
    }
    return bound;
  };
  let best = limit;
  const search = (used: number): void => {
    const pick = order.find((p) => covered[p] === 0);
    if (pick === undefined) {
      best = used;
      return;
    }
    if (used + lowerBound() >= best) return;
    for (const i of options[pick]!) {
      for (const p of entries[i]!) covered[p]!++;
      search(used + 1);
      for (const p of entries[i]!) covered[p]!--;
    }
  };
  search(0);
  return best;
}

/** A deterministic stream of 16-bit values (xorshift), so the samples are reproducible. */
function randomPorts(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) & 0xffff;
  };
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

  it('the exhaustive search itself finds known optima below prefix splitting', () => {
    const optimum = (min: number, max: number, w: number) =>
      fewestEntries(min, max, w, prefixSplit(min, max, w).length);
    expect(optimum(1, 14, 4)).toBe(4);
    expect(optimum(1, 254, 8)).toBe(8);
    expect(optimum(0, 255, 8)).toBe(1);
    expect(optimum(3, 12, 4)).toBe(4);
    expect(optimum(5, 250, 8)).toBe(9);
  });

  it('is exact, and no cover has fewer entries, for every range of 1 to 8 bits', () => {
    for (let w = 1; w <= 8; w++) {
      for (let min = 0; min < 2 ** w; min++) {
        for (let max = min; max < 2 ** w; max++) {
          const got = portRangeToMasks(min, max, w);
          if (!coversExactly(got, min, max, w)) throw new Error(`w=${w} [${min}, ${max}] inexact`);
          const fewer = fewestEntries(min, max, w, got.length);
          if (fewer < got.length) {
            throw new Error(`w=${w} [${min}, ${max}]: ${got.length} entries, ${fewer} suffice`);
          }
        }
      }
    }
  });

  it('certifies its minimality for every range of 1 to 10 bits', () => {
    for (let w = 1; w <= 10; w++) {
      for (let min = 0; min < 2 ** w; min++) {
        for (let max = min; max < 2 ** w; max++) {
          if (!isProvenMinimal(min, max, w)) throw new Error(`w=${w} [${min}, ${max}] not proven`);
        }
      }
    }
  });

  it('covers 16-bit ranges exactly (all 65536 values scanned) and certifies them minimal', () => {
    const ranges: [number, number][] = [
      [0, 65535],
      [1, 65535],
      [0, 65534],
      [1, 65534],
      [1024, 65535],
      [0, 1023],
      [49152, 65535],
      [32768, 60999],
      [8000, 8999],
      [1, 17792],
      [0, 0],
      [65535, 65535],
      [80, 80],
      [443, 443],
    ];
    // Power-of-two-aligned blocks of every size: one entry each.
    for (let k = 0; k <= 16; k++) {
      const size = 2 ** k;
      const blocks = 65536 / size;
      for (const m of [0, 1 % blocks, blocks - 1, 12345 % blocks]) {
        expect(portRangeToMasks(m * size, m * size + size - 1)).toHaveLength(1);
        ranges.push([m * size, m * size + size - 1]);
      }
    }
    const next = randomPorts(20261121);
    for (let i = 0; i < 200; i++) {
      const a = next();
      const b = i % 3 === 0 ? Math.min(65535, a + (next() & 0x3ff)) : next();
      ranges.push(a <= b ? [a, b] : [b, a]);
    }
    for (const [min, max] of ranges) {
      const got = portRangeToMasks(min, max);
      if (!coversExactly(got, min, max, 16)) throw new Error(`[${min}, ${max}] inexact`);
      if (!isProvenMinimal(min, max)) throw new Error(`[${min}, ${max}] not proven minimal`);
    }
  });

  it('16-bit ranges: never more entries than prefix splitting, exact on probes, proven minimal', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        (a, b) => {
          const [min, max] = a <= b ? [a, b] : [b, a];
          const got = portRangeToMasks(min, max);
          if (got.length > prefixSplit(min, max).length) return false;
          if (!isProvenMinimal(min, max)) return false;
          const probes = [0, min - 1, min, min + 1, max - 1, max, max + 1, 65535];
          for (let x = 0; x < 65536; x += 257) probes.push(x);
          return probes.every(
            (x) => x < 0 || x > 65535 || matchesAny(got, x) === (x >= min && x <= max),
          );
        },
      ),
      { numRuns: 1000, seed: 20261121 },
    );
  });

  it('works for wider fields (24 bits)', () => {
    for (const [min, max] of [
      [1, 2 ** 24 - 2],
      [3, 12_000_000],
      [0x123456, 0xfedcba],
    ] as const) {
      const got = portRangeToMasks(min, max, 24);
      expect(got.length).toBeLessThanOrEqual(prefixSplit(min, max, 24).length);
      expect(isProvenMinimal(min, max, 24)).toBe(true);
      for (const x of [0, min - 1, min, max, max + 1, 2 ** 24 - 1, (min + max) >>> 1]) {
        if (x < 0 || x >= 2 ** 24) continue;
        expect(matchesAny(got, x)).toBe(x >= min && x <= max);
      }
    }
    expect(portRangeToMasks(1, 2 ** 24 - 2, 24)).toHaveLength(24);
  });

  it('gives the same entries in ascending (value, mask) order on every call', () => {
    const next = randomPorts(7);
    for (let i = 0; i < 200; i++) {
      const a = next();
      const b = next();
      const [min, max] = a <= b ? [a, b] : [b, a];
      const first = portRangeToMasks(min, max);
      for (let k = 1; k < first.length; k++) {
        const p = first[k - 1]!;
        const q = first[k]!;
        expect(p.value < q.value || (p.value === q.value && p.mask < q.mask)).toBe(true);
      }
      const copy = first.map((e) => ({ ...e }));
      first.reverse();
      expect(portRangeToMasks(min, max)).toEqual(copy);
    }
  });

  it('rejects bad ranges with a clear error', () => {
    expect(() => portRangeToMasks(10, 5)).toThrow(/minimum 10 is greater than its maximum 5/);
    expect(() => portRangeToMasks(0, 70000)).toThrow(/max 70000 is invalid/);
    expect(() => portRangeToMasks(-1, 5)).toThrow(/min -1 is invalid/);
    expect(() => portRangeToMasks(0, 5, 25)).toThrow(/width/);
  });
});
