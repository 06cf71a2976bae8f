/**
 * The desired flow table, kept merged and up to date as units of the compiler replace what
 * they emitted (incremental.ts). Every flow identity — (table, priority, match) — holds the
 * emitted flows that share it; the flow the switch must hold is `mergeFlows` of them.
 *
 * `replace(old, next)` swaps one unit's emitted flows and remembers which identities it
 * touched; `settle()` recomputes just those and returns the change: flows to remove, and flows
 * to add (new, or replacing a flow of the same identity whose actions or cookie changed).
 *
 * Invariants: after `settle()`, `flows()` equals what merging every emitted flow from scratch
 * gives, in the canonical order (table, priority descending, match); the change returned
 * turns the table before into the table after, and is empty when nothing really changed.
 */
import type { Flow } from '../openflow/ir.js';
import { originText, type CookieOrigin } from './cookie.js';
import { actionsKey, mergeFlows, type Emitted } from './emit.js';

interface Entry {
  readonly table: number;
  readonly priority: number;
  /** Canonical match text (sort key). */
  readonly key: string;
  readonly items: Emitted[];
  flow: Flow | undefined;
  origin: CookieOrigin | undefined;
}

/** What a settle changed: delete `removed` (strict), then add `added`. */
export interface TableChange {
  readonly removed: readonly Flow[];
  readonly added: readonly Flow[];
}

const actionKeys = new WeakMap<readonly unknown[], string>();

function actionsText(actions: readonly unknown[]): string {
  let k = actionKeys.get(actions);
  if (k === undefined) {
    k = actionsKey(actions as Emitted['actions']);
    actionKeys.set(actions, k);
  }
  return k;
}

/** Same flow from the same origin (the identity is already known equal). */
function sameEmitted(a: Emitted, b: Emitted): boolean {
  return (
    (a.origin === b.origin || originText(a.origin) === originText(b.origin)) &&
    (a.actions === b.actions || actionsText(a.actions) === actionsText(b.actions))
  );
}

export class MergedTable {
  private readonly entries = new Map<string, Entry>();
  private readonly dirty = new Set<Entry>();

  get size(): number {
    return this.entries.size;
  }

  /**
   * One unit's emitted flows change from `old` to `next` (either may be empty). Objects in
   * both stay where they are; a flow emitted again unchanged as a new object (same identity,
   * actions and origin) swaps in place. Only identities that really change are recomputed at
   * the next settle.
   */
  replace(old: readonly Emitted[], next: readonly Emitted[]): void {
    if (old === next) return;
    const stays = new Set<Emitted>();
    if (old.length > 0 && next.length > 0) {
      const before = new Set(old);
      for (const e of next) if (before.has(e)) stays.add(e);
    }
    // What leaves, by identity (a unit may emit two flows of one identity).
    const leaving = new Map<string, Emitted[]>();
    for (const e of old) {
      if (stays.has(e)) continue;
      const list = leaving.get(e.id);
      if (list) list.push(e);
      else leaving.set(e.id, [e]);
    }
    for (const e of next) {
      if (stays.has(e)) continue;
      const list = leaving.get(e.id);
      const j = list ? list.findIndex((o) => sameEmitted(o, e)) : -1;
      if (list && j >= 0) {
        const entry = this.entries.get(e.id)!;
        entry.items[entry.items.indexOf(list[j]!)] = e;
        list.splice(j, 1);
        continue;
      }
      let entry = this.entries.get(e.id);
      if (!entry) {
        entry = {
          table: e.table,
          priority: e.priority,
          key: e.id.slice(e.id.indexOf('|', e.id.indexOf('|') + 1) + 1),
          items: [],
          flow: undefined,
          origin: undefined,
        };
        this.entries.set(e.id, entry);
      }
      entry.items.push(e);
      this.dirty.add(entry);
    }
    for (const list of leaving.values()) {
      for (const e of list) {
        const entry = this.entries.get(e.id);
        const i = entry ? entry.items.indexOf(e) : -1;
        if (!entry || i < 0)
          throw new Error('sgflow compiler bug: removing a flow that was never added');
        entry.items.splice(i, 1);
        this.dirty.add(entry);
      }
    }
  }

  /** Recomputes the identities touched since the last settle; returns what changed. */
  settle(): TableChange {
    const removed: Flow[] = [];
    const added: Flow[] = [];
    for (const entry of this.dirty) {
      const before = entry.flow;
      if (entry.items.length === 0) {
        this.entries.delete(`${entry.table}|${entry.priority}|${entry.key}`);
        entry.flow = undefined;
        entry.origin = undefined;
        if (before) removed.push(before);
        continue;
      }
      const { flow, origin } = mergeFlows(entry.items);
      if (
        before &&
        before.cookie === flow.cookie &&
        (before.actions === flow.actions ||
          actionsText(before.actions) === actionsText(flow.actions))
      ) {
        continue;
      }
      entry.flow = flow;
      entry.origin = origin;
      added.push(flow);
    }
    this.dirty.clear();
    return { removed, added };
  }

  /** Every flow, in canonical order. */
  flows(): Flow[] {
    const list = [...this.entries.values()].filter((e) => e.flow !== undefined);
    list.sort(
      (a, b) =>
        a.table - b.table ||
        b.priority - a.priority ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    return list.map((e) => e.flow!);
  }

  /** Cookie → what produced the flows that carry it. */
  cookies(): Map<bigint, CookieOrigin> {
    const out = new Map<bigint, CookieOrigin>();
    for (const e of this.entries.values()) if (e.flow) out.set(e.flow.cookie, e.origin!);
    return out;
  }

  clear(): void {
    this.entries.clear();
    this.dirty.clear();
  }
}
