/**
 * Micro-benchmark of `portRangeToMasks` (src/compiler/port-ranges.ts) on 16-bit port ranges.
 *
 *   npx tsx bench/compile/port-ranges.ts                # 20,000 ranges
 *   npx tsx bench/compile/port-ranges.ts --ranges 5000
 *
 * Ranges are drawn from a fixed-seed generator: two thirds as two uniform ports, one third as
 * a port and a span below 1024 (the short ranges rules usually carry). Each range is timed on
 * its own: the mean of a batch of calls (so the clock's resolution does not dominate), the
 * best of a few batches (so a busy machine's pauses do not pass for the range's cost). Prefix
 * splitting, timed the same way in the same run, is the baseline. It prints the average,
 * median, 99th percentile and worst time per range, the worst range, one pass over all ranges
 * (what compiling that many rules spends here), the entries against prefix splitting, and how
 * many covers carried a valid minimality certificate (`isProvenMinimal`).
 */
import { isProvenMinimal, portRangeToMasks, prefixSplit } from '../../src/compiler/port-ranges.js';

const arg = process.argv.indexOf('--ranges');
const RANGES = arg > 0 ? Number(process.argv[arg + 1]) : 20_000;
/** Calls per batch (the batch's mean is one timing) and batches per range (the best counts). */
const CALLS = 16;
const BATCHES = 5;

function randomPorts(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) & 0xffff;
  };
}

function ranges(n: number): [number, number][] {
  const next = randomPorts(20261121);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const a = next();
    const b = i % 3 === 0 ? Math.min(65535, a + (next() & 0x3ff)) : next();
    out.push(a <= b ? [a, b] : [b, a]);
  }
  return out;
}

interface Timing {
  readonly perRangeUs: number[];
  readonly entries: number;
  /** One call per range, all ranges, back to back. */
  readonly passMs: number;
}

function timeEach(
  rs: readonly [number, number][],
  f: (min: number, max: number) => unknown[],
): Timing {
  for (const [min, max] of rs.slice(0, 2000)) f(min, max); // warm-up
  const perRangeUs: number[] = [];
  let entries = 0;
  for (const [min, max] of rs) {
    let best = Infinity;
    for (let batch = 0; batch < BATCHES; batch++) {
      const t0 = performance.now();
      for (let k = 0; k < CALLS; k++) f(min, max);
      best = Math.min(best, ((performance.now() - t0) * 1000) / CALLS);
    }
    perRangeUs.push(best);
    entries += f(min, max).length;
  }
  const t0 = performance.now();
  for (const [min, max] of rs) f(min, max);
  return { perRangeUs, entries, passMs: performance.now() - t0 };
}

function summary(t: Timing): { avg: number; p50: number; p99: number; worst: number } {
  const sorted = [...t.perRangeUs].sort((x, y) => x - y);
  const avg = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { avg, p50: at(0.5), p99: at(0.99), worst: sorted[sorted.length - 1]! };
}

const rs = ranges(RANGES);
const ours = timeEach(rs, portRangeToMasks);
const prefix = timeEach(rs, prefixSplit);
const o = summary(ours);
const p = summary(prefix);
const worstIndex = ours.perRangeUs.indexOf(o.worst);
const certified = rs.filter(([min, max]) => isProvenMinimal(min, max)).length;

const us = (x: number) => `${x.toFixed(2)} µs`;
console.log(
  `portRangeToMasks over ${RANGES} random 16-bit ranges (best of ${BATCHES} × ${CALLS} calls each)`,
);
console.log('');
console.log('|                  | avg | median | p99 | worst | entries |');
console.log('|------------------|-----|--------|-----|-------|---------|');
console.log(
  `| minimum cover    | ${us(o.avg)} | ${us(o.p50)} | ${us(o.p99)} | ${us(o.worst)} | ${ours.entries} |`,
);
console.log(
  `| prefix splitting | ${us(p.avg)} | ${us(p.p50)} | ${us(p.p99)} | ${us(p.worst)} | ${prefix.entries} |`,
);
console.log('');
console.log(`time ratio to prefix splitting: avg ${(o.avg / p.avg).toFixed(2)}×`);
console.log(
  `one pass over all ${RANGES} ranges: ${ours.passMs.toFixed(1)} ms (prefix splitting ${prefix.passMs.toFixed(1)} ms)`,
);
console.log(`worst range: [${rs[worstIndex]![0]}, ${rs[worstIndex]![1]}]`);
console.log(
  `entries: ${ours.entries} vs ${prefix.entries} prefix (${((100 * ours.entries) / prefix.entries).toFixed(1)}%)`,
);
console.log(`minimality certificate valid: ${certified} / ${RANGES}`);
