/**
 * The OpenFlow pipeline simulator: runs a flow key through a flow table (ir.ts flows) the way
 * ovs-vswitchd's translation does, with a persistent conntrack and learned-flow state.
 *
 * Produces a `SimResult`: the ofports the packet leaves by, packet-ins (controller actions
 * with their userdata), and the path (every table visited, flow matched, action taken) that
 * `trace` explains. Semantics follow ovs-actions(7):
 * - actions run in order; `goto_table` continues in that table after the flow's other actions;
 * - `resubmit` looks the key up in another table (optionally with another in_port, or with
 *   the 5-tuple swapped for the ct original tuple) and returns; nesting is limited to 64 and a
 *   packet to 4096 resubmits, beyond which it is dropped;
 * - `clone` runs its actions on an isolated copy of the key;
 * - `output` to the packet's own in_port is dropped unless the port is `IN_PORT`;
 * - `ct` sends the key through conntrack: with `table`, a copy carrying the ct_* metadata
 *   continues in that table (recirculation) while the original goes on after the `ct`
 *   untracked; `commit` of a +new packet creates the connection and `exec` sets its
 *   mark/label;
 * - `learn` adds a flow to the state, seen by later packets;
 * - a table miss drops (the OpenFlow 1.3 default, and fail_mode=secure).
 */
import {
  CtState,
  OfPort,
  type Action,
  type Flow,
  type FieldName,
  type FieldMatch,
  type PortNumber,
} from '../openflow/ir.js';
import { applyCtResult, clearCt, Conntrack, type CtResult } from './conntrack.js';
import { cloneKey, readSlice, writeSlice, type FlowKey } from './key.js';
import { TableIndex } from './lookup.js';

export interface SimState {
  conntrack: Conntrack;
  /** Flows added by `learn`, in the order learned. */
  learned: Flow[];
}

export function newSimState(): SimState {
  return { conntrack: new Conntrack(), learned: [] };
}

export type SimStep =
  | {
      kind: 'lookup';
      depth: number;
      table: number;
      flow: Flow | null;
      conjId?: number;
      tie: boolean;
    }
  | {
      kind: 'ct';
      depth: number;
      zone: number;
      state: number;
      commit: boolean;
      recirc?: number;
      invalid?: string;
    }
  | { kind: 'output'; depth: number; port: number | string; dropped?: string }
  | { kind: 'controller'; depth: number; cookie: bigint; userdata?: Uint8Array; paused?: boolean }
  /** A paused packet the controller resumed: the actions after `controller(pause)` run. */
  | { kind: 'resumed'; depth: number }
  | { kind: 'set'; depth: number; text: string }
  | { kind: 'learn'; depth: number; flow: Flow }
  | { kind: 'drop'; depth: number; reason: string };

export interface PacketIn {
  /** Cookie of the flow whose `controller` action sent it. */
  cookie: bigint;
  userdata?: Uint8Array;
  /** The key as it was at the `controller` action (registers, ct_* metadata): what the agent sees. */
  key: FlowKey;
}

export interface SimResult {
  /** ofports the packet leaves by, sorted, each once. */
  outputs: number[];
  /** Reserved ports output to (NORMAL, FLOOD, ALL, LOCAL). */
  special: string[];
  controller: PacketIn[];
  verdict: 'output' | 'controller' | 'drop';
  path: SimStep[];
}

const MAX_DEPTH = 64;
const MAX_RESUBMITS = 4096;

export interface SimOptions {
  /**
   * The controller's answer to a packet paused by `controller(pause)`: true resumes it (the
   * actions after the pause run, with the state it had), false drops it. Default: drop.
   */
  onPause?: (packetIn: PacketIn) => boolean;
}

interface Run {
  index: TableIndex;
  state: SimState;
  path: SimStep[];
  outputs: number[];
  special: string[];
  controller: PacketIn[];
  resubmits: number;
  /** A paused packet was not resumed: nothing more happens to it. */
  halted: boolean;
  onPause: ((packetIn: PacketIn) => boolean) | undefined;
}

function reservedName(port: number): string | null {
  for (const [name, value] of Object.entries(OfPort))
    if (value === port && name !== 'MAX') return name;
  return null;
}

function fieldMask(f: FieldMatch | undefined): bigint | undefined {
  return f?.mask;
}

function sameMatch(a: Flow, b: Flow): boolean {
  const ka = Object.keys(a.match).sort();
  const kb = Object.keys(b.match).sort();
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) => {
    const x = a.match[k as FieldName]!;
    const y = b.match[k as FieldName]!;
    return x.value === y.value && fieldMask(x) === fieldMask(y);
  });
}

/** Runs a lookup in `table` and the matched flow's actions. */
function runTable(run: Run, key: FlowKey, table: number, depth: number): void {
  if (run.halted) return;
  if (depth > MAX_DEPTH) {
    run.path.push({ kind: 'drop', depth, reason: `resubmit nesting deeper than ${MAX_DEPTH}` });
    return;
  }
  const hit = run.index.lookup(table, key.fields);
  run.path.push({
    kind: 'lookup',
    depth,
    table,
    flow: hit?.flow ?? null,
    ...(hit?.conjId !== undefined ? { conjId: hit.conjId } : {}),
    tie: hit?.tie ?? false,
  });
  if (!hit) return;
  runActions(run, key, hit.flow.actions, depth, hit.flow);
}

function output(run: Run, key: FlowKey, port: PortNumber, depth: number, flow: Flow): void {
  const inPort = Number(key.fields.in_port);
  let p: number | string = port;
  if (typeof p === 'number') p = reservedName(p) ?? p;
  if (p === 'IN_PORT') p = inPort;
  if (p === 'CONTROLLER') {
    run.controller.push({ cookie: flow.cookie, key: cloneKey(key) });
    run.path.push({ kind: 'controller', depth, cookie: flow.cookie });
    return;
  }
  if (typeof p === 'string') {
    run.special.push(p);
    run.path.push({ kind: 'output', depth, port: p });
    return;
  }
  if (p === inPort && port !== 'IN_PORT' && port !== OfPort.IN_PORT) {
    run.path.push({
      kind: 'output',
      depth,
      port: p,
      dropped: 'output to the packet’s own in_port',
    });
    return;
  }
  run.outputs.push(p);
  run.path.push({ kind: 'output', depth, port: p });
}

function setField(key: FlowKey, field: FieldName, value: bigint, mask?: bigint): void {
  const f = key.fields;
  f[field] = mask === undefined ? value : (f[field] & ~mask) | (value & mask);
}

function learnFlow(key: FlowKey, a: Extract<Action, { type: 'learn' }>): Flow {
  const match: Partial<Record<FieldName, FieldMatch>> = {};
  const actions: Action[] = [];
  const addMatch = (dst: { field: FieldName; ofs: number; nBits: number }, value: bigint): void => {
    const sliceMask = ((1n << BigInt(dst.nBits)) - 1n) << BigInt(dst.ofs);
    const prev = match[dst.field];
    const prevMask = prev ? (prev.mask ?? -1n) : 0n;
    const prevValue = prev ? prev.value : 0n;
    const mask = prevMask | sliceMask;
    match[dst.field] = {
      value: (prevValue & ~sliceMask) | ((value << BigInt(dst.ofs)) & sliceMask),
      mask,
    };
  };
  for (const s of a.specs) {
    switch (s.kind) {
      case 'match-field':
        addMatch(s.dst, readSlice(key.fields, s.src));
        break;
      case 'match-value':
        addMatch(s.dst, s.value);
        break;
      case 'load-field':
        actions.push({ type: 'load', dst: s.dst, value: readSlice(key.fields, s.src) });
        break;
      case 'load-value':
        actions.push({ type: 'load', dst: s.dst, value: s.value });
        break;
      case 'output':
        actions.push({ type: 'output', port: Number(readSlice(key.fields, s.src)) });
        break;
    }
  }
  return {
    table: a.table,
    priority: a.priority ?? 32768,
    cookie: a.cookie ?? 0n,
    match,
    actions,
    ...(a.idleTimeout !== undefined ? { idleTimeout: a.idleTimeout } : {}),
    ...(a.hardTimeout !== undefined ? { hardTimeout: a.hardTimeout } : {}),
  };
}

function runCt(run: Run, key: FlowKey, a: Extract<Action, { type: 'ct' }>, depth: number): void {
  const zone =
    a.zone === undefined
      ? 0
      : typeof a.zone === 'number'
        ? a.zone
        : Number(readSlice(key.fields, a.zone));
  let r: CtResult = run.state.conntrack.lookup(zone, key);
  if (a.commit && !(r.state & CtState.INV)) {
    const conn = run.state.conntrack.commit(zone, r);
    if (conn) {
      for (const x of a.exec ?? []) {
        if (x.type === 'set_field' && (x.field === 'ct_mark' || x.field === 'ct_label')) {
          const cur = x.field === 'ct_mark' ? conn.mark : conn.label;
          const v = x.mask === undefined ? x.value : (cur & ~x.mask) | (x.value & x.mask);
          if (x.field === 'ct_mark') conn.mark = v;
          else conn.label = v;
        } else if (x.type === 'load' && (x.dst.field === 'ct_mark' || x.dst.field === 'ct_label')) {
          const tmp = { ct_mark: conn.mark, ct_label: conn.label } as Record<FieldName, bigint>;
          writeSlice(tmp, x.dst, x.value);
          conn.mark = tmp.ct_mark;
          conn.label = tmp.ct_label;
        }
      }
      r = { ...r, conn };
    }
  }
  run.path.push({
    kind: 'ct',
    depth,
    zone,
    state: r.state,
    commit: a.commit === true,
    ...(a.table !== undefined ? { recirc: a.table } : {}),
    ...(r.invalid !== undefined ? { invalid: r.invalid } : {}),
  });
  if (a.table !== undefined) {
    const copy = cloneKey(key);
    applyCtResult(copy.fields, zone, r);
    runTable(run, copy, a.table, depth + 1);
  }
  clearCt(key.fields);
}

function runActions(
  run: Run,
  key: FlowKey,
  actions: readonly Action[],
  depth: number,
  flow: Flow,
): void {
  let gotoTable: number | null = null;
  if (actions.length === 0 || (actions.length === 1 && actions[0]!.type === 'drop')) {
    run.path.push({ kind: 'drop', depth, reason: 'flow drops the packet' });
    return;
  }
  for (const a of actions) {
    if (run.halted) return;
    switch (a.type) {
      case 'output':
        output(run, key, a.port, depth, flow);
        break;
      case 'output_reg':
        output(run, key, Number(readSlice(key.fields, a.src)), depth, flow);
        break;
      case 'controller': {
        const pi: PacketIn = {
          cookie: flow.cookie,
          key: cloneKey(key),
          ...(a.userdata ? { userdata: a.userdata } : {}),
        };
        run.controller.push(pi);
        run.path.push({
          kind: 'controller',
          depth,
          cookie: flow.cookie,
          ...(a.userdata ? { userdata: a.userdata } : {}),
          ...(a.pause ? { paused: true } : {}),
        });
        if (a.pause) {
          if (!(run.onPause?.(pi) ?? false)) {
            run.halted = true;
            run.path.push({ kind: 'drop', depth, reason: 'paused at the controller, not resumed' });
            return;
          }
          run.path.push({ kind: 'resumed', depth });
        }
        break;
      }
      case 'goto_table':
        gotoTable = a.table;
        break;
      case 'resubmit': {
        if (++run.resubmits > MAX_RESUBMITS) {
          run.path.push({ kind: 'drop', depth, reason: `more than ${MAX_RESUBMITS} resubmits` });
          return;
        }
        const saved = key.fields.in_port;
        if (a.port !== undefined) key.fields.in_port = BigInt(a.port);
        if (a.ct) {
          // Only the lookup sees the swapped tuple; the actions act on the packet itself.
          const lookupKey = cloneKey(key);
          swapWithCtTuple(lookupKey);
          const hit = run.index.lookup(a.table, lookupKey.fields);
          run.path.push({
            kind: 'lookup',
            depth: depth + 1,
            table: a.table,
            flow: hit?.flow ?? null,
            tie: hit?.tie ?? false,
          });
          if (hit) runActions(run, key, hit.flow.actions, depth + 1, hit.flow);
        } else {
          runTable(run, key, a.table, depth + 1);
        }
        if (a.port !== undefined) key.fields.in_port = saved;
        break;
      }
      case 'set_field':
        setField(key, a.field, a.value, a.mask);
        run.path.push({ kind: 'set', depth, text: `${a.field} := 0x${a.value.toString(16)}` });
        break;
      case 'load':
        writeSlice(key.fields, a.dst, a.value);
        run.path.push({
          kind: 'set',
          depth,
          text: `${a.dst.field}[${a.dst.ofs}..${a.dst.ofs + a.dst.nBits - 1}] := 0x${a.value.toString(16)}`,
        });
        break;
      case 'move':
        writeSlice(key.fields, a.dst, readSlice(key.fields, a.src));
        run.path.push({ kind: 'set', depth, text: `${a.dst.field} := ${a.src.field}` });
        break;
      case 'ct':
        runCt(run, key, a, depth);
        break;
      case 'ct_clear':
        clearCt(key.fields);
        break;
      case 'clone':
        runActions(run, cloneKey(key), a.actions, depth, flow);
        break;
      case 'learn': {
        const learned = learnFlow(key, a);
        const i = run.state.learned.findIndex(
          (f) =>
            f.table === learned.table && f.priority === learned.priority && sameMatch(f, learned),
        );
        if (i >= 0) run.state.learned[i] = learned;
        else run.state.learned.push(learned);
        run.path.push({ kind: 'learn', depth, flow: learned });
        break;
      }
      case 'push_vlan':
        key.fields.vlan_tci = key.fields.vlan_tci | 0x1000n;
        break;
      case 'pop_vlan':
        key.fields.vlan_tci = 0n;
        break;
      case 'drop':
        run.path.push({ kind: 'drop', depth, reason: 'drop action' });
        return;
      case 'conjunction':
      case 'note':
      case 'meter':
        break;
    }
  }
  if (gotoTable !== null && !run.halted) runTable(run, key, gotoTable, depth + 1);
}

/** resubmit(…,ct): the lookup sees the ct original tuple in place of the packet's 5-tuple. */
function swapWithCtTuple(key: FlowKey): void {
  const f = key.fields;
  if (f.eth_type === 0x0800n) {
    f.ip_src = f.ct_nw_src;
    f.ip_dst = f.ct_nw_dst;
  } else {
    f.ipv6_src = f.ct_ipv6_src;
    f.ipv6_dst = f.ct_ipv6_dst;
  }
  f.ip_proto = f.ct_nw_proto;
  if (f.ct_nw_proto === 6n) {
    f.tcp_src = f.ct_tp_src;
    f.tcp_dst = f.ct_tp_dst;
  } else if (f.ct_nw_proto === 17n) {
    f.udp_src = f.ct_tp_src;
    f.udp_dst = f.ct_tp_dst;
  }
}

/** Indexes are pure functions of the (immutable) flow array: build each once. */
const INDEXES = new WeakMap<readonly Flow[], TableIndex>();

function indexOf(flows: readonly Flow[]): TableIndex {
  let index = INDEXES.get(flows);
  if (!index) {
    index = new TableIndex(flows);
    INDEXES.set(flows, index);
  }
  return index;
}

/**
 * Runs `key` (entering on `inPort`) through `flows` from table `startTable` (default 0),
 * updating `state` (conntrack, learned flows).
 */
export function simulate(
  flows: readonly Flow[],
  state: SimState,
  inPort: number,
  key: FlowKey,
  startTable = 0,
  options: SimOptions = {},
): SimResult {
  const index =
    state.learned.length === 0 ? indexOf(flows) : new TableIndex([...flows, ...state.learned]);
  const run: Run = {
    index,
    state,
    path: [],
    outputs: [],
    special: [],
    controller: [],
    resubmits: 0,
    halted: false,
    onPause: options.onPause,
  };
  const k = cloneKey(key);
  k.fields.in_port = BigInt(inPort);
  runTable(run, k, startTable, 0);
  const outputs = [...new Set(run.outputs)].sort((a, b) => a - b);
  // A packet the controller resumed and that then went nowhere was dropped, not punted.
  const resumed = run.path.some((s) => s.kind === 'resumed');
  const verdict =
    outputs.length > 0 || run.special.length > 0
      ? 'output'
      : run.halted || (run.controller.length > 0 && !resumed)
        ? 'controller'
        : 'drop';
  return { outputs, special: run.special, controller: run.controller, verdict, path: run.path };
}
