/**
 * `trace`: a simulation explained in words — every table visited (by name when a name map is
 * given), the flow that matched (priority, match, cookie origin), what it did, and the final
 * verdict, naming the security-group rule(s) behind an allow or why the packet was dropped.
 *
 * Produces lines of text. Cookie origins come from the compiler's cookie map; any object with
 * a `kind` and an `id` / `ids` (or a string) is understood.
 */
import { CtState, type Flow } from '../openflow/ir.js';
import { formatActions, formatMatch } from '../openflow/text.js';
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

/**
 * Words for a cookie-map origin: the compiler's `{kind:'rule', ruleId}`, `{kind:'rules',
 * ruleIds}`, `{kind:'group', groupId}`, `{kind:'port', portId}`, `{kind:'network', networkId}`,
 * `{kind:'pipeline'}`, or any object with a `kind` and an `id` / `ids`, or a string.
 */
export function describeOrigin(origin: unknown): string {
  if (typeof origin === 'string') return origin;
  if (origin && typeof origin === 'object') {
    const o = origin as Record<string, unknown>;
    const kind = typeof o['kind'] === 'string' ? o['kind'] : 'origin';
    const ids: unknown[] = [];
    for (const k of ['ids', 'ruleIds']) if (Array.isArray(o[k])) ids.push(...(o[k] as unknown[]));
    for (const k of ['id', 'ruleId', 'groupId', 'portId', 'networkId'])
      if (o[k] !== undefined) ids.push(o[k]);
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
        `${pad}${where}: priority ${step.flow.priority}, ${formatMatch(step.flow.match) || '(any)'}` +
          (step.conjId !== undefined ? ` (conjunction ${step.conjId})` : '') +
          (origin ? ` [${origin}]` : ''),
        `${pad}  actions: ${step.flow.actions.length === 0 ? 'drop' : formatActions(step.flow.actions)}`,
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
        `${pad}${step.paused ? 'paused at' : 'sent to'} the controller${origin === undefined ? '' : ` for ${describeOrigin(origin)}`}`,
      ];
    }
    case 'resumed':
      return [`${pad}resumed by the controller`];
    case 'set':
      return [`${pad}${step.text}`];
    case 'learn':
      return [
        `${pad}learned: table ${step.flow.table}, priority ${step.flow.priority}, ${formatMatch(step.flow.match) || '(any)'}`,
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
