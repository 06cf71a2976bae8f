/**
 * Port ranges as bitwise matches: `portRangeToMasks(min, max)` returns a MINIMUM set of
 * value/mask pairs whose union is exactly [min, max], built in O(width) steps with no search.
 *
 * Masks need not be prefixes: [1, 65534] takes 30 prefix entries but 16 ternary ones
 * ("bit i set and bit i-1 clear", cyclically). The minimum DNF of an interval is known to be
 * computable in linear time (Schieber, Geist, Zaks, Discrete Applied Mathematics 149, 2005);
 * the construction here is derived from the structure below, and every result comes with a
 * certificate of minimality that `isProvenMinimal` checks (see "Minimality").
 *
 * Entries. Write a = min, b = max; the bits above the highest bit where they differ are fixed
 * in every entry. "x ≥ a" is monotone in the bits of x (setting a bit never lowers x), so an
 * entry inside it lies inside Lift(z) = "bit z set and every 1 of a above z set", for some 0
 * bit z of a, or inside Lift(none) = "every 1 of a set". Likewise an entry inside "x ≤ b" lies
 * inside some Keep(o) = "bit o clear and every 0 of b above o clear" (o a 1 bit of b) or
 * Keep(none). So every entry inside [a, b] lies inside some Lift(z) ∧ Keep(o), and a minimum
 * cover can be made of such pairs (`pairEntry`). Reading the bits below the fixed ones from the
 * top:
 *
 * - the turn t: the highest bit where a has 1 and b has 0 (there may be none);
 * - the splits s_0 > s_1 > … > s_{K-1}: the bits above t where a has 0 and b has 1;
 * - the common bits: the bits above t where a and b agree; one below s_k is at level k.
 *
 * Name a point of the range by the set of splits it sets. The pair (s_i, s_j) is the entry
 * "s_i set, s_j clear" (and nothing else but the bits a and b share above it): it holds the
 * points that set s_i and not s_j. Seen as arcs i → j of a digraph on the splits, the split
 * pairs leave uncovered exactly the points whose set of splits is closed under the arcs.
 *
 * With a turn, the cover is:
 * 1. a chain s_k → s_{k+1} (K-1 entries), which leaves uncovered only the points that clear
 *    some first splits and set the rest;
 * 2. if a has a 1 below t or b has a 0 below t, points may set any mix of splits and then leave
 *    through the turn, which only split pairs can cover: the chain is closed into a ring by
 *    s_{K-1} → s_0;
 * 3. for each common 0 p, Lift(p) ∧ Keep(s_0); for each common 1 p at level k, Lift(s_k) ∧
 *    Keep(p): the points that follow a and b down to p and then leave there;
 * 4. Lift(z) ∧ Keep(s_0) for each 0 z of a below t and above a's lowest 1, and Lift(none) ∧
 *    Keep(s_0); Lift(s_{K-1}) ∧ Keep(o) for each 1 o of b below t and above b's lowest 0, and
 *    Lift(s_{K-1}) ∧ Keep(none): the points that clear (set) every split and stay on a's (b's)
 *    side of the turn.
 *
 * Without a turn, Lift(none) ∧ Keep(none) (the common bits fixed, the splits free) holds every
 * point that leaves at no common bit. If the lowest common bit is a 0, the common 0s with no
 * common 1 below them share Lift(none) ∧ Keep(s_0), the chain runs s_0 → … down to the lowest
 * common bit's level and the other common bits are covered as in 3. If it is a 1, the mirror
 * image: the common 1s with no common 0 below share Lift(s_0) ∧ Keep(none), the chain runs
 * upwards (s_{k+1} → s_k), a common 0 p at level k takes Lift(p) ∧ Keep(s_k) and a common 1
 * above a common 0 takes Lift(s_0) ∧ Keep(p).
 *
 * Minimality. `minimalityWitnesses` picks as many points of the range as the cover has entries,
 * no two of which lie in one entry inside the range (the smallest entry holding both already
 * reaches outside it), so every cover needs at least that many entries. They mirror the
 * construction: for each split s_i, "every split set but s_i, then leave at the turn (or at the
 * lowest common bit)", which only an entry clearing s_i holds (mirrored: "only s_i set", which
 * only an entry setting s_i holds); for each common bit p, "follow a
 * and b down to p, then flip it", which only Lift(p) or Keep(p) holds; below the turn, "follow a
 * down to z, then set it", and a and b themselves. `isProvenMinimal` checks the certificate
 * pairwise; the tests check it for every range of up to 10 bits and for random 16- and 24-bit
 * ranges, and search exhaustively for a smaller cover of every range of up to 8 bits.
 */
import { SgflowError } from '../model/errors.js';

/** A bitwise match: `(x & mask) === value`. */
export interface ValueMask {
  readonly value: number;
  readonly mask: number;
}

const DEFAULT_WIDTH = 16;

function fullMask(width: number): number {
  return width >= 32 ? 0xffffffff : (1 << width) - 1;
}

function checkRange(min: number, max: number, width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > 24) {
    throw new SgflowError('SG_INVALID_FIELD', { field: 'width', reason: `${width} is not 1-24` });
  }
  const top = fullMask(width);
  for (const [name, v] of [
    ['min', min],
    ['max', max],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > top) {
      throw new SgflowError('SG_INVALID_PORT_RANGE', {
        reason: `Port range ${name} ${v} is invalid; expected an integer from 0 to ${top}`,
      });
    }
  }
  if (min > max) {
    throw new SgflowError('SG_INVALID_PORT_RANGE', {
      reason: `Port range minimum ${min} is greater than its maximum ${max}`,
    });
  }
}

/** Classic prefix splitting (what most firewalls do): for comparison and the naive count. */
export function prefixSplit(min: number, max: number, width = DEFAULT_WIDTH): ValueMask[] {
  checkRange(min, max, width);
  const full = fullMask(width);
  const out: ValueMask[] = [];
  let lo = min;
  while (lo <= max) {
    let size = 1;
    // Grow the aligned block while it stays inside [lo, max].
    while (size * 2 <= full + 1 && lo % (size * 2) === 0 && lo + size * 2 - 1 <= max) size *= 2;
    out.push({ value: lo, mask: full & ~(size - 1) });
    lo += size;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The shape of a range: splits, common bits, turn
// ---------------------------------------------------------------------------------------

/** No bit: Lift(NONE) is "x has every 1 of a", Keep(NONE) "x has every 0 of b". */
const NONE = -1;

interface CommonBit {
  readonly bit: number;
  /** The value a and b share at this bit. */
  readonly one: boolean;
  /** Index of the lowest split above it. */
  readonly level: number;
}

interface RangeShape {
  readonly a: number;
  readonly b: number;
  readonly full: number;
  /** s_0 > s_1 > …: differing bits above the turn (a has 0, b has 1 there). */
  readonly splits: readonly number[];
  /** Bits between s_0 and the turn where a and b agree, top down. */
  readonly commons: readonly CommonBit[];
  /** The highest bit where a has 1 and b has 0, or NONE. */
  readonly turn: number;
}

function bit(x: number, i: number): boolean {
  return ((x >>> i) & 1) === 1;
}

// Fields are at most 24 bits wide (checkRange), so plain int32 bit operations are exact.

/** The bits of a `full`-wide field strictly above bit `i` (all of them for NONE). */
function bitsAbove(i: number, full: number): number {
  return i === NONE ? full : full & ~((2 << i) - 1);
}

/** The bits strictly below bit `i`. */
function bitsBelow(i: number): number {
  return (1 << i) - 1;
}

/** Lowest set bit of a non-zero `x`. */
function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Requires a < b. */
function shapeOf(a: number, b: number, full: number): RangeShape {
  const top = 31 - Math.clz32(a ^ b);
  const splits = [top];
  const commons: CommonBit[] = [];
  let turn = NONE;
  for (let i = top - 1; i >= 0 && turn === NONE; i--) {
    if (bit(a, i) === bit(b, i)) commons.push({ bit: i, one: bit(a, i), level: splits.length - 1 });
    else if (bit(b, i)) splits.push(i);
    else turn = i;
  }
  return { a, b, full, splits, commons, turn };
}

/** Lift(z) ∧ Keep(o): x ≥ a because of bit z and x ≤ b because of bit o (module header). */
function pairEntry(r: RangeShape, z: number, o: number): ValueMask {
  const ones = (z === NONE ? 0 : 1 << z) | (r.a & bitsAbove(z, r.full));
  const zeros = (o === NONE ? 0 : 1 << o) | (~r.b & bitsAbove(o, r.full));
  if ((ones & zeros) !== 0) {
    throw new Error(`port-ranges: inconsistent pair (${z}, ${o}) for [${r.a}, ${r.b}]`);
  }
  return { value: ones, mask: ones | zeros };
}

/** Facts about the bits below the turn that decide the cover's shape there. */
function belowTurn(r: RangeShape): { aHasOne: boolean; bHasZero: boolean; below: number } {
  const below = bitsBelow(r.turn);
  return { aHasOne: (r.a & below) !== 0, bHasZero: (r.b & below) !== below, below };
}

/** The 0s of a below the turn and above a's lowest 1 (each needs Lift(z)). */
function liftsBelowTurn(r: RangeShape, below: number): number[] {
  const out: number[] = [];
  const lowestOne = lowestBit(r.a & below);
  for (let z = r.turn - 1; z > lowestOne; z--) if (!bit(r.a, z)) out.push(z);
  return out;
}

/** The 1s of b below the turn and above b's lowest 0 (each needs Keep(o)). */
function keepsBelowTurn(r: RangeShape, below: number): number[] {
  const out: number[] = [];
  const lowestZero = lowestBit(~r.b & below);
  for (let o = r.turn - 1; o > lowestZero; o--) if (bit(r.b, o)) out.push(o);
  return out;
}

// ---------------------------------------------------------------------------------------
// The cover
// ---------------------------------------------------------------------------------------

/** Requires a < b. The entries of the module header, unsorted. */
function minimumCover(r: RangeShape): ValueMask[] {
  const s = r.splits;
  const last = s.length - 1;
  const out: ValueMask[] = [];
  const pair = (z: number, o: number): void => {
    out.push(pairEntry(r, z, o));
  };
  if (r.turn !== NONE) {
    for (let k = 0; k < last; k++) pair(s[k]!, s[k + 1]!);
    const { aHasOne, bHasZero, below } = belowTurn(r);
    if ((aHasOne || bHasZero) && last > 0) pair(s[last]!, s[0]!);
    for (const c of r.commons) {
      if (c.one) pair(s[c.level]!, c.bit);
      else pair(c.bit, s[0]!);
    }
    if (aHasOne) for (const z of liftsBelowTurn(r, below)) pair(z, s[0]!);
    pair(NONE, s[0]!);
    if (bHasZero) for (const o of keepsBelowTurn(r, below)) pair(s[last]!, o);
    pair(s[last]!, NONE);
    return out;
  }
  // No turn: one entry fixes the common bits; the rest catch points leaving it.
  pair(NONE, NONE);
  const lowest = r.commons[r.commons.length - 1];
  if (lowest === undefined) return out;
  // Common bits of the lowest one's kind with no bit of the other kind below them share one
  // entry; the chain runs away from it (from s_0 down if they are 0s, up to s_0 if 1s).
  const sharedIsZero = !lowest.one;
  if (sharedIsZero) pair(NONE, s[0]!);
  else pair(s[0]!, NONE);
  for (let k = 0; k < lowest.level; k++) {
    if (sharedIsZero) pair(s[k]!, s[k + 1]!);
    else pair(s[k + 1]!, s[k]!);
  }
  let otherKindBelow = false;
  for (let i = r.commons.length - 1; i >= 0; i--) {
    const c = r.commons[i]!;
    if (c.one === sharedIsZero) otherKindBelow = true;
    else if (!otherKindBelow) continue;
    if (c.one) pair(sharedIsZero ? s[c.level]! : s[0]!, c.bit);
    else pair(c.bit, sharedIsZero ? s[0]! : s[c.level]!);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The minimality certificate
// ---------------------------------------------------------------------------------------

/**
 * The point that sets the splits s_0..s_level as `setsSplit` says, follows a (and b) on the
 * common bits above `exit`, has `exitValue` at `exit` and then all 0s (exitValue 1) or all 1s.
 */
function pointLeaving(
  r: RangeShape,
  level: number,
  setsSplit: (k: number) => boolean,
  exit: number,
  exitValue: boolean,
): number {
  let x = r.a & bitsAbove(exit, r.full);
  for (let k = 0; k <= level; k++) if (setsSplit(k)) x |= 1 << r.splits[k]!;
  return exitValue ? x | (1 << exit) : x | bitsBelow(exit);
}

/** Requires a < b. As many points as `minimumCover` has entries, no two in one entry. */
function minimalityWitnesses(r: RangeShape): number[] {
  const last = r.splits.length - 1;
  const out: number[] = [];
  const everyBut = (i: number) => (k: number) => k !== i;
  const onlyOne = (i: number) => (k: number) => k === i;
  const all = (): boolean => true;
  const none = (): boolean => false;
  if (r.turn !== NONE) {
    const { aHasOne, bHasZero, below } = belowTurn(r);
    const ring = aHasOne || bHasZero;
    // Each split must be cleared by its own pair (ring) or by a pair or Lift(none) (chain).
    if (!ring || last > 0) {
      for (let i = 0; i <= last; i++) {
        out.push(pointLeaving(r, last, everyBut(i), r.turn, !ring || aHasOne));
      }
    }
    if (aHasOne) {
      for (const z of liftsBelowTurn(r, below)) out.push((r.a & bitsAbove(z, r.full)) | (1 << z));
      out.push(r.a);
    } else if (ring) out.push(r.a);
    if (bHasZero) {
      for (const o of keepsBelowTurn(r, below)) {
        out.push((r.b & bitsAbove(o, r.full)) | bitsBelow(o));
      }
    }
    out.push(r.b);
    for (const c of r.commons)
      out.push(pointLeaving(r, c.level, c.one ? all : none, c.bit, !c.one));
    return out;
  }
  const lowest = r.commons[r.commons.length - 1];
  if (lowest === undefined) return [r.a];
  for (let k = 0; k <= lowest.level; k++) {
    const sets = lowest.one ? onlyOne(k) : everyBut(k);
    out.push(pointLeaving(r, lowest.level, sets, lowest.bit, !lowest.one));
  }
  let zeroBelow = false;
  let oneBelow = false;
  for (let i = r.commons.length - 1; i >= 0; i--) {
    const c = r.commons[i]!;
    const ownEntry = c.one ? zeroBelow : oneBelow;
    if (ownEntry) out.push(pointLeaving(r, c.level, c.one ? all : none, c.bit, !c.one));
    if (c.one) oneBelow = true;
    else zeroBelow = true;
  }
  out.push(lowest.one ? r.a : r.b);
  return out;
}

/** True when no entry inside [a, b] matches both x and y (the smallest one holding both leaks). */
function apart(r: RangeShape, x: number, y: number): boolean {
  const differ = x ^ y;
  return (x & ~differ) < r.a || (x | differ) > r.b;
}

// ---------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------

/**
 * The minimum set of value/mask pairs matching exactly the values in [min, max] of a
 * `width`-bit field (16 for ports), in ascending (value, mask) order.
 */
export function portRangeToMasks(min: number, max: number, width = DEFAULT_WIDTH): ValueMask[] {
  checkRange(min, max, width);
  const full = fullMask(width);
  const result = min === max ? [{ value: min, mask: full }] : minimumCover(shapeOf(min, max, full));
  return result.sort((x, y) => x.value - y.value || x.mask - y.mask);
}

/**
 * Checks the minimality certificate of [min, max]: as many points of the range as the cover
 * has entries, no two of which any entry inside the range matches together.
 */
export function isProvenMinimal(min: number, max: number, width = DEFAULT_WIDTH): boolean {
  const entries = portRangeToMasks(min, max, width).length;
  if (min === max) return entries === 1;
  const r = shapeOf(min, max, fullMask(width));
  const points = minimalityWitnesses(r);
  if (points.length !== entries) return false;
  if (points.some((x) => x < min || x > max)) return false;
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) if (!apart(r, points[i]!, points[j]!)) return false;
  }
  return true;
}

/** True when `x` matches one of `entries` (helper for tests and the naive count). */
export function matchesAny(entries: readonly ValueMask[], x: number): boolean {
  return entries.some((e) => (x & e.mask) >>> 0 === e.value);
}
