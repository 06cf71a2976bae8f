/**
 * One OpenFlow table lookup, as OVS's classifier does it (lib/classifier.c,
 * classifier_lookup__), including conjunctive matches (ovs-fields(7), "Conjunctive Match
 * Fields").
 *
 * Produces the flow that handles the key, or none (a table miss). Rules:
 * - the highest-priority matching non-conjunctive ("hard") flow is the candidate;
 * - conjunctive flows (those with `conjunction` actions) matter only above its priority;
 *   from the highest such priority down, a conjunction id whose every clause 1..n has a
 *   matching flow at that priority triggers a second lookup with conj_id = id that ignores
 *   conjunctive flows; the first flow that lookup finds wins (as in OVS, this may be a
 *   lower-priority hard flow when the conj_id flow is missing); when it finds none, the next
 *   lower priority is tried, and finally the hard candidate;
 * - ties (two matching flows of equal priority, which OpenFlow leaves undefined) resolve to
 *   the one first in the table's input order, and are reported; completed conjunctions of one
 *   priority are tried in ascending id order.
 */
import type { Flow } from '../openflow/ir.js';
import { matchesKey, type FieldValues } from './key.js';

export interface LookupResult {
  flow: Flow;
  /** Set when the flow was reached through a conjunctive match. */
  conjId?: number;
  /** Another matching flow had the same priority. */
  tie: boolean;
}

function isConjunctive(f: Flow): boolean {
  return f.actions.some((a) => a.type === 'conjunction');
}

/** Flows of one table, highest priority first (stable: input order within a priority). */
export class TableIndex {
  private readonly tables = new Map<number, Flow[]>();

  constructor(flows: readonly Flow[]) {
    for (const f of flows) {
      const list = this.tables.get(f.table);
      if (list) list.push(f);
      else this.tables.set(f.table, [f]);
    }
    // Array.prototype.sort is stable: input order is kept within a priority.
    for (const list of this.tables.values()) list.sort((a, b) => b.priority - a.priority);
  }

  add(f: Flow): void {
    const list = this.tables.get(f.table) ?? [];
    let i = list.length;
    while (i > 0 && list[i - 1]!.priority < f.priority) i--;
    list.splice(i, 0, f);
    this.tables.set(f.table, list);
  }

  /** Replaces a flow with the same table, priority and match (learn's modify semantics). */
  replace(f: Flow, sameMatch: (a: Flow, b: Flow) => boolean): void {
    const list = this.tables.get(f.table) ?? [];
    const i = list.findIndex((g) => g.priority === f.priority && sameMatch(g, f));
    if (i >= 0) list[i] = f;
    else this.add(f);
  }

  flows(table: number): readonly Flow[] {
    return this.tables.get(table) ?? [];
  }

  lookup(table: number, fields: FieldValues): LookupResult | null {
    return lookupIn(this.flows(table), fields, true);
  }
}

function lookupIn(
  flows: readonly Flow[],
  fields: FieldValues,
  allowConjunctive: boolean,
): LookupResult | null {
  let hard: Flow | null = null;
  let tie = false;
  for (const f of flows) {
    if (hard && f.priority < hard.priority) break;
    if (isConjunctive(f) || !matchesKey(f.match, fields)) continue;
    if (hard) tie = true;
    else hard = f;
  }
  const hardResult = hard ? { flow: hard, tie } : null;
  if (!allowConjunctive) return hardResult;

  const floor = hard ? hard.priority : -1;
  const soft = flows.filter(
    (f) => f.priority > floor && isConjunctive(f) && matchesKey(f.match, fields),
  );
  const priorities = [...new Set(soft.map((f) => f.priority))].sort((a, b) => b - a);
  for (const pri of priorities) {
    const clauses = new Map<number, { n: number; seen: Set<number>; consistent: boolean }>();
    for (const f of soft) {
      if (f.priority !== pri) continue;
      for (const a of f.actions) {
        if (a.type !== 'conjunction') continue;
        const c = clauses.get(a.id) ?? { n: a.nClauses, seen: new Set<number>(), consistent: true };
        if (c.n !== a.nClauses) c.consistent = false;
        c.seen.add(a.clause);
        clauses.set(a.id, c);
      }
    }
    const complete = [...clauses.entries()]
      .filter(
        ([, c]) =>
          c.consistent && c.n >= 2 && [...Array(c.n).keys()].every((k) => c.seen.has(k + 1)),
      )
      .map(([id]) => id)
      .sort((a, b) => a - b);
    for (const id of complete) {
      const withConj = { ...fields, conj_id: BigInt(id) };
      const r = lookupIn(flows, withConj, false);
      if (r) return { flow: r.flow, conjId: id, tie: r.tie };
    }
  }
  return hardResult;
}
