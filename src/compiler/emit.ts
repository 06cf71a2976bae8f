/**
 * How stages hand flows to the assembler: each stage adds `Emitted` flows (content plus the
 * policy object behind it) to the `FlowSink` of the unit it compiles; `mergeFlows` turns the
 * emitted flows that share one (table, priority, match) into the one flow the switch holds.
 * table.ts keeps the merged table and its changes.
 *
 * Invariants: a merged flow is a function of the set of flows emitted for its identity, not of
 * their order; flows with equal (table, priority, match) always become one — with the union of
 * their conjunction actions, or their shared action and a cookie naming all their rules.
 * Anything else (same match, different real actions) is a compiler bug and throws.
 */
import {
  FIELD_NAMES,
  type Action,
  type FieldMatch,
  type Flow,
  type Match,
} from '../openflow/ir.js';
import { Cookie, ruleCookie, type CookieOrigin } from './cookie.js';

export interface Emitted {
  readonly table: number;
  readonly priority: number;
  readonly match: Match;
  readonly actions: readonly Action[];
  readonly origin: CookieOrigin;
  /** `table|priority|matchKey(match)`: the flow's identity in its table. */
  readonly id: string;
}

export class FlowSink {
  readonly items: Emitted[] = [];
  readonly warnings: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }

  add(
    table: number,
    priority: number,
    match: Match,
    actions: readonly Action[],
    origin: CookieOrigin,
  ): void {
    this.items.push({
      table,
      priority,
      match,
      actions,
      origin,
      id: `${table}|${priority}|${matchKey(match)}`,
    });
  }
}

/** Exact match on a value. */
export function exact(value: number | bigint): FieldMatch {
  return { value: BigInt(value) };
}

/** Masked match (value bits outside the mask must be 0). */
export function masked(value: number | bigint, mask: number | bigint): FieldMatch {
  const m = BigInt(mask);
  return { value: BigInt(value) & m, mask: m };
}

const FIELD_RANK: ReadonlyMap<string, number> = new Map(FIELD_NAMES.map((n, i) => [n, i]));

/** Canonical text of a match: fields in FIELD_NAMES order, `name=value/mask` in hex. */
export function matchKey(match: Match): string {
  const names = Object.keys(match);
  if (names.length > 1) names.sort((a, b) => FIELD_RANK.get(a)! - FIELD_RANK.get(b)!);
  let out = '';
  for (const name of names) {
    const f = match[name as keyof Match];
    if (!f) continue;
    if (out) out += ',';
    out +=
      f.mask === undefined
        ? `${name}=${f.value.toString(16)}`
        : `${name}=${f.value.toString(16)}/${f.mask.toString(16)}`;
  }
  return out;
}

/** Canonical text of actions (stable JSON with bigints and byte arrays as hex). */
export function actionsKey(actions: readonly Action[]): string {
  return JSON.stringify(actions, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `0x${v.toString(16)}`;
    if (v instanceof Uint8Array) return Buffer_hex(v);
    return v;
  });
}

function Buffer_hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function cookieOf(origin: CookieOrigin): bigint {
  switch (origin.kind) {
    case 'port':
      return Cookie.forPort(origin.portId);
    case 'group':
      return Cookie.forGroup(origin.groupId);
    case 'rule':
      return Cookie.forRule(origin.ruleId);
    case 'rules':
      return Cookie.forRules(origin.ruleIds);
    case 'network':
      return Cookie.forNetwork(origin.networkId);
    case 'pipeline':
      return Cookie.pipeline;
  }
}

function ruleIdsOf(origin: CookieOrigin): string[] | null {
  if (origin.kind === 'rule') return [origin.ruleId];
  if (origin.kind === 'rules') return [...origin.ruleIds];
  return null;
}

function mergeOrigins(origins: readonly CookieOrigin[], where: string): CookieOrigin {
  const first = origins[0]!;
  const firstKey = JSON.stringify(first);
  if (origins.every((o) => JSON.stringify(o) === firstKey)) return first;
  const ids: string[] = [];
  for (const o of origins) {
    const r = ruleIdsOf(o);
    if (!r) throw new Error(`sgflow compiler bug: flows of different origins share ${where}`);
    ids.push(...r);
  }
  return ruleCookie(ids).origin;
}

const isConjunctionOnly = (a: readonly Action[]): boolean =>
  a.length > 0 && a.every((x) => x.type === 'conjunction');

/** The one flow the switch holds for flows emitted with one identity (all share it). */
export function mergeFlows(items: readonly Emitted[]): { flow: Flow; origin: CookieOrigin } {
  const first = items[0]!;
  if (items.length === 1) {
    return {
      flow: {
        table: first.table,
        priority: first.priority,
        cookie: cookieOf(first.origin),
        match: first.match,
        actions: first.actions,
      },
      origin: first.origin,
    };
  }
  const where = `table ${first.table} priority ${first.priority} match ${matchKey(first.match)}`;
  let actions: readonly Action[];
  if (items.every((i) => isConjunctionOnly(i.actions))) {
    const byKey = new Map<string, Action>();
    for (const i of items) for (const a of i.actions) byKey.set(actionsKey([a]), a);
    actions = [...byKey.values()].sort((a, b) =>
      a.type === 'conjunction' && b.type === 'conjunction' ? a.id - b.id || a.clause - b.clause : 0,
    );
  } else {
    const ak = actionsKey(first.actions);
    if (!items.every((i) => actionsKey(i.actions) === ak)) {
      throw new Error(`sgflow compiler bug: different actions for ${where}`);
    }
    actions = first.actions;
  }
  const origin = mergeOrigins(
    items.map((i) => i.origin),
    where,
  );
  return {
    flow: {
      table: first.table,
      priority: first.priority,
      cookie: cookieOf(origin),
      match: first.match,
      actions,
    },
    origin,
  };
}
