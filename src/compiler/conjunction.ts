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
import { fnv1a32, ruleCookie } from './cookie.js';
import { exact, type FlowSink } from './emit.js';
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
  const f = foldKey(k);
  return f !== null && f.dims.length >= 2;
}

/** One key's flows, given the slots of the conjunctive keys. */
export function compileKeyFlows(
  t: Tables,
  sink: FlowSink,
  k: ConjunctiveKey,
  slots: ConjunctionSlots,
): void {
  const f = foldKey(k);
  if (f === null) return;
  const allow = [gotoTable(t.Allow)];
  const keyOrigin = ruleCookie(k.ruleIds).origin;
  if (f.dims.length === 0) {
    sink.add(k.table, Priority.PlainRule, f.constant, allow, keyOrigin);
  } else if (f.dims.length === 1) {
    for (const v of f.dims[0]!) {
      sink.add(
        k.table,
        Priority.PlainRule,
        { ...f.constant, ...v.match },
        allow,
        ruleCookie(v.ruleIds).origin,
      );
    }
  } else {
    const priority = slots.priority.get(k.id)!;
    const id = slots.conjId.get(k.id)!;
    const n = f.dims.length;
    f.dims.forEach((d, i) => {
      for (const v of d) {
        sink.add(
          k.table,
          priority,
          { ...f.constant, ...v.match },
          [{ type: 'conjunction', id, clause: i + 1, nClauses: n }],
          v.shared ? { kind: 'group', groupId: k.groupId } : ruleCookie(v.ruleIds).origin,
        );
      }
    });
    sink.add(k.table, priority, { conj_id: exact(id) }, allow, keyOrigin);
  }
}
