/**
 * `trace`: a simulation explained in words — every table visited (by name when a name map is
 * given), the flow that matched (priority, match, cookie origin), what it did, and the final
 * verdict, naming the security-group rule(s) behind an allow or why the packet was dropped.
 *
 * Produces lines of text. Cookie origins come from the compiler's cookie map; any object with
 * a `kind` and an `id` / `ids` (or a string) is understood.
 */
import { CtState, type Action, type FieldName, type Flow, type Match } from '../openflow/ir.js';
import type { SimResult, SimStep } from './simulate.js';

export interface TraceOptions {
  /** Table number → name (e.g. from the compiler's table layout). */
  tableNames?: ReadonlyMap<number, string>;
}

const CT_BITS: [number, string][] = [
  [CtState.NEW, 'new'],
  [CtState.EST, 'est'],
  [CtState.REL, 'rel'],
  [CtState.RPL, 'rpl'],
  [CtState.INV, 'inv'],
  [CtState.TRK, 'trk'],
];

export function formatCtState(state: number): string {
  const parts = CT_BITS.filter(([bit]) => state & bit).map(([, n]) => `+${n}`);
  return parts.length === 0 ? '(untracked)' : parts.join('');
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** A compact, readable form of a match (not necessarily ovs-ofctl's exact spelling). */
export function describeMatch(m: Match): string {
  const parts: string[] = [];
  for (const name of Object.keys(m).sort() as FieldName[]) {
    const f = m[name];
    if (!f) continue;
    if (name === 'ct_state' && f.mask !== undefined) {
      const on = CT_BITS.filter(([b]) => BigInt(b) & f.mask! & f.value).map(([, n]) => `+${n}`);
      const off = CT_BITS.filter(([b]) => BigInt(b) & f.mask! & ~f.value).map(([, n]) => `-${n}`);
      parts.push(`ct_state=${[...on, ...off].join('')}`);
      continue;
    }
    parts.push(
      f.mask === undefined ? `${name}=${f.value}` : `${name}=${hex(f.value)}/${hex(f.mask)}`,
    );
  }
  return parts.length === 0 ? '(any)' : parts.join(',');
}

export function describeAction(a: Action): string {
  switch (a.type) {
    case 'output':
      return `output:${a.port}`;
    case 'output_reg':
      return `output:${a.src.field}[${a.src.ofs}..${a.src.ofs + a.src.nBits - 1}]`;
    case 'controller':
      return a.userdata
        ? `controller(userdata=${[...a.userdata].map((b) => b.toString(16).padStart(2, '0')).join('.')})`
        : 'controller';
    case 'goto_table':
      return `goto_table:${a.table}`;
    case 'resubmit':
      return `resubmit(${a.port ?? ''},${a.table}${a.ct ? ',ct' : ''})`;
    case 'set_field':
      return `set_field:${hex(a.value)}${a.mask === undefined ? '' : `/${hex(a.mask)}`}->${a.field}`;
    case 'load':
      return `load:${hex(a.value)}->${a.dst.field}[${a.dst.ofs}..${a.dst.ofs + a.dst.nBits - 1}]`;
    case 'move':
      return `move:${a.src.field}->${a.dst.field}`;
    case 'ct': {
      const args: string[] = [];
      if (a.commit) args.push('commit');
      if (a.zone !== undefined)
        args.push(`zone=${typeof a.zone === 'number' ? a.zone : a.zone.field}`);
      if (a.table !== undefined) args.push(`table=${a.table}`);
      if (a.exec?.length) args.push(`exec(${a.exec.map(describeAction).join(',')})`);
      return `ct(${args.join(',')})`;
    }
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'clone':
      return `clone(${a.actions.map(describeAction).join(',')})`;
    case 'learn':
      return `learn(table=${a.table})`;
    case 'push_vlan':
      return `push_vlan:0x${a.ethertype.toString(16)}`;
    default:
      return a.type;
  }
}

/** Words for a cookie-map origin (`{kind:'rule', id}`, `{kind:'rules', ids}`, a string, …). */
export function describeOrigin(origin: unknown): string {
  if (typeof origin === 'string') return origin;
  if (origin && typeof origin === 'object') {
    const o = origin as { kind?: unknown; id?: unknown; ids?: unknown; ruleIds?: unknown };
    const kind = typeof o.kind === 'string' ? o.kind : 'origin';
    const ids = Array.isArray(o.ids)
      ? o.ids
      : Array.isArray(o.ruleIds)
        ? o.ruleIds
        : o.id !== undefined
          ? [o.id]
          : [];
    return ids.length === 0 ? kind : `${kind} ${ids.map(String).join(', ')}`;
  }
  return 'unknown origin';
}

function originOf(cookies: ReadonlyMap<bigint, unknown>, flow: Flow): string | null {
  const o = cookies.get(flow.cookie);
  return o === undefined ? null : describeOrigin(o);
}

function tableLabel(table: number, names?: ReadonlyMap<number, string>): string {
  const n = names?.get(table);
  return n === undefined ? `table ${table}` : `${n} (table ${table})`;
}

function stepLines(
  step: SimStep,
  cookies: ReadonlyMap<bigint, unknown>,
  opts: TraceOptions,
): string[] {
  const pad = '  '.repeat(step.depth);
  switch (step.kind) {
    case 'lookup': {
      const where = tableLabel(step.table, opts.tableNames);
      if (!step.flow) return [`${pad}${where}: no flow matches: drop`];
      const origin = originOf(cookies, step.flow);
      const lines = [
        `${pad}${where}: priority ${step.flow.priority}, ${describeMatch(step.flow.match)}` +
          (step.conjId !== undefined ? ` (conjunction ${step.conjId})` : '') +
          (origin ? ` [${origin}]` : ''),
        `${pad}  actions: ${step.flow.actions.length === 0 ? 'drop' : step.flow.actions.map(describeAction).join(',')}`,
      ];
      if (step.tie) lines.push(`${pad}  warning: another flow of the same priority also matches`);
      return lines;
    }
    case 'ct':
      return [
        `${pad}conntrack zone ${step.zone}: ${formatCtState(step.state)}${step.invalid ? ` (${step.invalid})` : ''}${step.commit ? ', committed' : ''}` +
          (step.recirc !== undefined ? ` → ${tableLabel(step.recirc, opts.tableNames)}` : ''),
      ];
    case 'output':
      return [`${pad}output to ${step.port}${step.dropped ? ` skipped: ${step.dropped}` : ''}`];
    case 'controller': {
      const origin = cookies.get(step.cookie);
      return [
        `${pad}sent to the controller${origin === undefined ? '' : ` for ${describeOrigin(origin)}`}`,
      ];
    }
    case 'set':
      return [`${pad}${step.text}`];
    case 'learn':
      return [
        `${pad}learned: table ${step.flow.table}, priority ${step.flow.priority}, ${describeMatch(step.flow.match)}`,
      ];
    case 'drop':
      return [`${pad}drop: ${step.reason}`];
  }
}

/** Why the packet went nowhere: the last thing that stopped it. */
function dropReason(result: SimResult, opts: TraceOptions): string {
  for (let i = result.path.length - 1; i >= 0; i--) {
    const s = result.path[i]!;
    if (s.kind === 'lookup' && !s.flow)
      return `no flow matches in ${tableLabel(s.table, opts.tableNames)}`;
    if (s.kind === 'drop') return s.reason;
    if (s.kind === 'ct' && s.state & CtState.INV)
      return `conntrack marks it invalid${s.invalid ? ` (${s.invalid})` : ''}`;
    if (s.kind === 'output' && s.dropped) return s.dropped;
  }
  return 'no output action';
}

/** The rule origins of every flow the packet matched, deduplicated, in path order. */
export function matchedOrigins(result: SimResult, cookies: ReadonlyMap<bigint, unknown>): string[] {
  const out: string[] = [];
  for (const s of result.path) {
    if (s.kind !== 'lookup' || !s.flow) continue;
    const o = cookies.get(s.flow.cookie);
    if (o === undefined) continue;
    const kind = typeof o === 'object' && o !== null ? (o as { kind?: unknown }).kind : undefined;
    if (kind !== 'rule' && kind !== 'rules') continue;
    const text = describeOrigin(o);
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

export function trace(
  result: SimResult,
  cookies: ReadonlyMap<bigint, unknown>,
  opts: TraceOptions = {},
): string[] {
  const lines: string[] = [];
  for (const step of result.path) lines.push(...stepLines(step, cookies, opts));
  const rules = matchedOrigins(result, cookies);
  const by = rules.length > 0 ? ` (allowed by ${rules.join('; ')})` : '';
  if (result.verdict === 'output') {
    const to = [...result.outputs.map(String), ...result.special];
    lines.push(`verdict: output to ${to.join(', ')}${by}`);
  } else if (result.verdict === 'controller') {
    const why = result.controller.map((c) =>
      describeOrigin(cookies.get(c.cookie) ?? `cookie 0x${c.cookie.toString(16)}`),
    );
    lines.push(`verdict: sent to the controller (${why.join('; ')}): the agent judges it`);
  } else {
    lines.push(`verdict: drop: ${dropReason(result, opts)}`);
  }
  return lines;
}
