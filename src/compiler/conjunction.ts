/**
 * Conjunctive keys → flows (docs/pipeline.md, "Conjunctions and priorities").
 *
 * Dimensions with one value fold into the key's constant fields. A key left with no
 * dimension is one plain flow, with one dimension one plain flow per value — both at
 * `Priority.PlainRule`, where overlaps are harmless because every rule hit does the same
 * thing. A key left with n ≥ 2 dimensions becomes `conjunction(id, k/n)` clause flows plus one
 * `conj_id` flow, at a priority of its own in its table, so no two conjunctive flows of one
 * priority can match a packet (ovs-fields(7)).
 *
 * Cookies: the conj_id flow (the one with counters) names the key's rules; a clause flow of
 * ports or remote addresses names the group, one of services the rules it came from.
 *
 * Invariant: conjunction ids and priorities are FNV-1a hashes of the key's text, probed
 * linearly in the keys' canonical order, so adding or removing one key leaves every other
 * key's id and priority unchanged (unless it collided with that key's slot).
 */
import type { Match } from '../openflow/ir.js';
import { gotoTable } from './context.js';
import { fnv1a32, originText, ruleCookie, type CookieOrigin } from './cookie.js';
import { exact, matchKey, type FlowSink } from './emit.js';
import type { ConjunctiveKey, DimValue } from './rules.js';
import { Priority, type Tables } from './tables.js';

const PRIORITY_SLOTS = Priority.ConjunctionMax - Priority.ConjunctionMin + 1;

export interface ConjunctionSlots {
  readonly priority: ReadonlyMap<string, number>;
  readonly conjId: ReadonlyMap<string, number>;
}

const hashes = new Map<string, number>();

function hashOf(text: string): number {
  let h = hashes.get(text);
  if (h === undefined) {
    h = fnv1a32(text);
    if (hashes.size > 200_000) hashes.clear();
    hashes.set(text, h);
  }
  return h;
}

/** Priorities per table and ids (unique across the bridge), for the keys that need them. */
export function assignSlots(
  keys: readonly Pick<ConjunctiveKey, 'id' | 'table'>[],
): ConjunctionSlots {
  const priority = new Map<string, number>();
  const conjId = new Map<string, number>();
  const usedPriorities = new Map<number, Set<number>>();
  const usedIds = new Set<number>();
  const sorted = [...keys].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (sorted.length > PRIORITY_SLOTS) {
    throw new Error(
      `sgflow: ${sorted.length} conjunctive keys exceed the ${PRIORITY_SLOTS} priorities of a table`,
    );
  }
  for (const k of sorted) {
    let used = usedPriorities.get(k.table);
    if (!used) usedPriorities.set(k.table, (used = new Set()));
    let slot = hashOf(`priority|${k.id}`) % PRIORITY_SLOTS;
    while (used.has(slot)) slot = (slot + 1) % PRIORITY_SLOTS;
    used.add(slot);
    priority.set(k.id, Priority.ConjunctionMin + slot);
    let id = hashOf(`conj|${k.id}`);
    while (id === 0 || usedIds.has(id)) id = (id + 1) >>> 0;
    usedIds.add(id);
    conjId.set(k.id, id);
  }
  return { priority, conjId };
}

/** The key's constant plus the values of its single-valued dimensions; the rest. */
export function foldKey(
  k: ConjunctiveKey,
): { constant: Match; dims: (readonly DimValue[])[] } | null {
  if (k.dims.some((d) => d.length === 0)) return null;
  let constant: Match = { ...k.constant };
  const dims: (readonly DimValue[])[] = [];
  for (const d of k.dims) {
    if (d.length === 1) constant = { ...constant, ...d[0]!.match };
    else dims.push(d);
  }
  return { constant, dims };
}

/** Whether a key becomes conjunction flows (and so needs a priority and an id). */
export function isConjunctive(k: ConjunctiveKey): boolean {
  let c = conjunctive.get(k);
  if (c === undefined) {
    const f = foldKey(k);
    conjunctive.set(k, (c = f !== null && f.dims.length >= 2));
  }
  return c;
}

const conjunctive = new WeakMap<ConjunctiveKey, boolean>();

/**
 * A key's flows in parts: one part per dimension left after folding (one flow per value) and
 * one for a single flow (a key with no dimension left, or a conjunction's `conj_id` flow). A
 * part's `frame` is everything but its values that its flows depend on, so the incremental
 * compiler can keep a part whose frame and values are unchanged, and within a part keep the
 * flow of every value it had before.
 */
export interface KeyPart {
  /** Unique within the key. */
  readonly name: string;
  readonly frame: string;
  /** The values, one flow each; null for a single-flow part. */
  readonly values: readonly DimValue[] | null;
  /** Adds the flow of `v` (of the part, when it has no values) to `sink`. */
  emit(sink: FlowSink, v: DimValue | null): void;
}

/** The parts of one key's flows, given the slots of the conjunctive keys. */
export function keyParts(t: Tables, k: ConjunctiveKey, slots: ConjunctionSlots): KeyPart[] {
  const f = foldKey(k);
  if (f === null) return [];
  const allow = [gotoTable(t.Allow)];
  const keyOrigin = ruleCookie(k.ruleIds).origin;
  const keyText = originText(keyOrigin);
  const constant = f.constant;
  const constantText = matchKey(constant);
  const match = (v: DimValue): Match => ({ ...constant, ...v.match });
  if (f.dims.length === 0) {
    return [
      {
        name: 'flow',
        frame: `${k.table}|${Priority.PlainRule}|${constantText}|${keyText}`,
        values: null,
        emit: (sink) => sink.add(k.table, Priority.PlainRule, constant, allow, keyOrigin),
      },
    ];
  }
  if (f.dims.length === 1) {
    return [
      {
        name: 'plain',
        frame: `${k.table}|${Priority.PlainRule}|${constantText}|${keyText}`,
        values: f.dims[0]!,
        emit: (sink, v) =>
          sink.add(
            k.table,
            Priority.PlainRule,
            match(v!),
            allow,
            v!.shared ? keyOrigin : ruleCookie(v!.ruleIds).origin,
          ),
      },
    ];
  }
  const priority = slots.priority.get(k.id)!;
  const id = slots.conjId.get(k.id)!;
  const n = f.dims.length;
  const groupOrigin: CookieOrigin = { kind: 'group', groupId: k.groupId };
  const parts: KeyPart[] = f.dims.map((d, i) => {
    const clause = [{ type: 'conjunction' as const, id, clause: i + 1, nClauses: n }];
    return {
      name: `clause${i + 1}`,
      frame: `${k.table}|${priority}|${constantText}|conjunction(${id},${i + 1}/${n})|${k.groupId}`,
      values: d,
      emit: (sink: FlowSink, v: DimValue | null) =>
        sink.add(
          k.table,
          priority,
          match(v!),
          clause,
          v!.shared ? groupOrigin : ruleCookie(v!.ruleIds).origin,
        ),
    };
  });
  parts.push({
    name: 'conj_id',
    frame: `${k.table}|${priority}|conj_id=${id}|${keyText}`,
    values: null,
    emit: (sink) => sink.add(k.table, priority, { conj_id: exact(id) }, allow, keyOrigin),
  });
  return parts;
}
