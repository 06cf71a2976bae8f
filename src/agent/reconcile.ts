/**
 * The reconciler: desired flow table vs the table the switch holds → the smallest set of
 * flow mods that turns one into the other. Flows are identified by content — (table,
 * priority, match) — as OpenFlow identifies them for strict modify/delete; a flow whose
 * identity stays but whose actions, cookie or timeouts change is re-added (an OFPFC_ADD of
 * an existing flow replaces it in place, so inside one bundle no packet sees it missing).
 *
 * Invariant: applying `diffFlows(installed, desired)` to `installed` yields exactly
 * `desired`; `diffFlows(t, t)` is empty.
 */
import type { FieldMatch, Flow, FlowTable, Match } from '../openflow/ir.js';

export type FlowMod =
  | { readonly command: 'add'; readonly flow: Flow }
  | { readonly command: 'delete_strict'; readonly flow: Flow };

function matchKey(match: Match): string {
  const keys = Object.keys(match);
  if (keys.length > 1) keys.sort();
  let out = '';
  for (const k of keys) {
    const m = match[k as keyof Match] as FieldMatch;
    out +=
      m.mask === undefined
        ? `${k}=${m.value.toString(16)},`
        : `${k}=${m.value.toString(16)}/${m.mask.toString(16)},`;
  }
  return out;
}

// Flows are immutable values, so their keys are computed once per flow object: the table the
// agent keeps installed is diffed again and again against each new compile.
const identities = new WeakMap<Flow, string>();
const bodies = new WeakMap<Flow, string>();

/** What identifies a flow in a table (OpenFlow strict identity). */
export function flowIdentity(flow: Flow): string {
  let id = identities.get(flow);
  if (id === undefined) {
    id = `${flow.table}/${flow.priority}/${matchKey(flow.match)}`;
    identities.set(flow, id);
  }
  return id;
}

/** A compact canonical text of plain data (bigints, byte arrays, arrays, objects). */
function serialize(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return `0x${v.toString(16)}`;
    case 'string':
      return JSON.stringify(v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'u';
    default:
      break;
  }
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `b${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return `[${v.map(serialize).join(',')}]`;
  const o = v as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(o)) {
    if (o[k] === undefined) continue;
    out += `${k}:${serialize(o[k])},`;
  }
  return `${out}}`;
}

/** Everything a switch keeps for a flow beyond its identity. */
export function flowBody(flow: Flow): string {
  let body = bodies.get(flow);
  if (body === undefined) {
    body = serialize([
      flow.cookie,
      flow.actions,
      flow.idleTimeout ?? 0,
      flow.hardTimeout ?? 0,
      flow.flags ?? [],
    ]);
    bodies.set(flow, body);
  }
  return body;
}

export function indexFlows(table: FlowTable): Map<string, Flow> {
  const byId = new Map<string, Flow>();
  for (const f of table) byId.set(flowIdentity(f), f);
  return byId;
}

/** Deletions first, then additions/replacements: the order a bundle applies them in. */
export function diffFlows(installed: FlowTable, desired: FlowTable): FlowMod[] {
  return diffIndexed(indexFlows(installed), indexFlows(desired));
}

/** `diffFlows` for tables already indexed by identity (the agent keeps them so). */
export function diffIndexed(
  have: ReadonlyMap<string, Flow>,
  want: ReadonlyMap<string, Flow>,
): FlowMod[] {
  const mods: FlowMod[] = [];
  for (const [id, flow] of have) {
    if (!want.has(id)) mods.push({ command: 'delete_strict', flow });
  }
  for (const [id, flow] of want) {
    const old = have.get(id);
    if (old === undefined || flowBody(old) !== flowBody(flow)) mods.push({ command: 'add', flow });
  }
  return mods;
}

/** The table that results from applying `mods` to `installed` (what the switch then holds). */
export function applyFlowMods(installed: FlowTable, mods: readonly FlowMod[]): Flow[] {
  const table = indexFlows(installed);
  for (const m of mods) {
    const id = flowIdentity(m.flow);
    if (m.command === 'delete_strict') table.delete(id);
    else table.set(id, m.flow);
  }
  return [...table.values()];
}

/**
 * A `FlowCompiler` (agent.ts) made of a function that compiles the whole table each time:
 * the difference is the reconciler's diff of the previous table and the new one. For stand-in
 * compilers in tests, and any compiler that is not incremental.
 */
export class WholeTableCompiler<I> {
  private table = new Map<string, Flow>();
  private started = false;

  constructor(
    private readonly compile: (input: I) => { flows: FlowTable; warnings: readonly string[] },
  ) {}

  update(input: I): {
    change: { removed: Flow[]; added: Flow[] };
    fresh: boolean;
    warnings: readonly string[];
  } {
    const r = this.compile(input);
    const want = indexFlows(r.flows);
    const removed: Flow[] = [];
    const added: Flow[] = [];
    for (const m of diffIndexed(this.table, want)) {
      if (m.command === 'delete_strict') removed.push(m.flow);
      else added.push(m.flow);
    }
    const fresh = !this.started;
    this.table = want;
    this.started = true;
    return { change: { removed, added }, fresh, warnings: r.warnings };
  }

  flows(): Flow[] {
    return [...this.table.values()];
  }

  get size(): number {
    return this.table.size;
  }
}
