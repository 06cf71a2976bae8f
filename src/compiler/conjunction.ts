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
import type { CompileContext } from './context.js';
import { gotoTable } from './context.js';
import { ruleCookie } from './cookie.js';
import { exact } from './emit.js';
import type { ConjunctiveKey, DimValue } from './rules.js';
import { Priority } from './tables.js';
import { fnv1a32 } from './cookie.js';

const PRIORITY_SLOTS = Priority.ConjunctionMax - Priority.ConjunctionMin + 1;

export interface ConjunctionSlots {
  readonly priority: ReadonlyMap<string, number>;
  readonly conjId: ReadonlyMap<string, number>;
}

/** Priorities per table and ids (unique across the bridge), for the keys that need them. */
export function assignSlots(keys: readonly ConjunctiveKey[]): ConjunctionSlots {
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
    let slot = fnv1a32(`priority|${k.id}`) % PRIORITY_SLOTS;
    while (used.has(slot)) slot = (slot + 1) % PRIORITY_SLOTS;
    used.add(slot);
    priority.set(k.id, Priority.ConjunctionMin + slot);
    let id = fnv1a32(`conj|${k.id}`);
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

export function compileConjunctions(ctx: CompileContext, keys: readonly ConjunctiveKey[]): void {
  const folded = keys.map((k) => ({ k, f: foldKey(k) }));
  const conjunctive = folded.filter((x) => x.f !== null && x.f.dims.length >= 2).map((x) => x.k);
  const slots = assignSlots(conjunctive);
  const allow = [gotoTable(ctx.t.Allow)];
  for (const { k, f } of folded) {
    if (f === null) continue;
    const keyOrigin = ruleCookie(k.ruleIds).origin;
    if (f.dims.length === 0) {
      ctx.sink.add(k.table, Priority.PlainRule, f.constant, allow, keyOrigin);
    } else if (f.dims.length === 1) {
      for (const v of f.dims[0]!) {
        ctx.sink.add(
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
          ctx.sink.add(
            k.table,
            priority,
            { ...f.constant, ...v.match },
            [{ type: 'conjunction', id, clause: i + 1, nClauses: n }],
            v.shared ? { kind: 'group', groupId: k.groupId } : ruleCookie(v.ruleIds).origin,
          );
        }
      });
      ctx.sink.add(k.table, priority, { conj_id: exact(id) }, allow, keyOrigin);
    }
  }
}
