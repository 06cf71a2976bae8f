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
import type { CookieOrigin } from './cookie.js';
import { actionsKey, matchKey, mergeFlows, type Emitted } from './emit.js';

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

const matchKeys = new WeakMap<Emitted, string>();
const actionKeys = new WeakMap<readonly unknown[], string>();

function keyOf(e: Emitted): string {
  let k = matchKeys.get(e);
  if (k === undefined) {
    k = matchKey(e.match);
    matchKeys.set(e, k);
  }
  return k;
}

function actionsText(flow: Flow): string {
  let k = actionKeys.get(flow.actions);
  if (k === undefined) {
    k = actionsKey(flow.actions);
    actionKeys.set(flow.actions, k);
  }
  return k;
}

export class MergedTable {
  private readonly entries = new Map<string, Entry>();
  private readonly dirty = new Set<Entry>();

  get size(): number {
    return this.entries.size;
  }

  /** One unit's emitted flows change from `old` to `next` (either may be empty). */
  replace(old: readonly Emitted[], next: readonly Emitted[]): void {
    if (old === next) return;
    for (const e of old) {
      const entry = this.entries.get(this.identity(e));
      if (!entry) throw new Error('sgflow compiler bug: removing a flow that was never added');
      const i = entry.items.indexOf(e);
      if (i < 0) throw new Error('sgflow compiler bug: removing a flow that was never added');
      entry.items.splice(i, 1);
      this.dirty.add(entry);
    }
    for (const e of next) {
      const id = this.identity(e);
      let entry = this.entries.get(id);
      if (!entry) {
        entry = {
          table: e.table,
          priority: e.priority,
          key: keyOf(e),
          items: [],
          flow: undefined,
          origin: undefined,
        };
        this.entries.set(id, entry);
      }
      entry.items.push(e);
      this.dirty.add(entry);
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
        (before.actions === flow.actions || actionsText(before) === actionsText(flow))
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

  private identity(e: Emitted): string {
    return `${e.table}|${e.priority}|${keyOf(e)}`;
  }
}
