/**
 * OpenFlow 1.5 messages (with the Nicira extensions sgflow uses) as typed values: encode one
 * to bytes, decode bytes to one. Flow-mods carry an IR Flow; flow-stats replies decode back
 * into IR Flows. Layouts follow the OpenFlow 1.5.1 spec and Open vSwitch's encodings of them.
 */
import type { Action, Flow, Match, PortNumber } from '../ir.js';
import { OfPort } from '../ir.js';
import { invalidFlow, malformed } from '../errors.js';
import { Reader, Writer } from './buffer.js';
import { decodeMatch, encodeMatch, decodeOxmFields, encodeOxmFields } from './oxm.js';
import {
  decodeActionList,
  decodeInstructions,
  encodeActionList,
  encodeInstructions,
  portFromWire,
  portToWire,
  NX_VENDOR,
} from './actions.js';
import { errorNames } from './errors.js';

export const OFP_VERSION = 0x06;

/** Message types (OpenFlow 1.5). */
export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
  BUNDLE_CONTROL: 33,
  BUNDLE_ADD_MESSAGE: 34,
} as const;

const OFPMP = { FLOW_DESC: 1, AGGREGATE_STATS: 2, PORT_DESC: 13 } as const;
const NXT = { SET_PACKET_IN_FORMAT: 16, RESUME: 28, PACKET_IN2: 30 } as const;

/** NXT_PACKET_IN2 / NXT_RESUME property types (nicira-ext.h `enum nx_packet_in2_prop_type`). */
const NXPINT = {
  PACKET: 0,
  FULL_LEN: 1,
  BUFFER_ID: 2,
  TABLE_ID: 3,
  COOKIE: 4,
  REASON: 5,
  METADATA: 6,
  USERDATA: 7,
  CONTINUATION: 8,
} as const;

export const FLOW_MOD_COMMANDS = [
  'add',
  'modify',
  'modify_strict',
  'delete',
  'delete_strict',
] as const;
export type FlowModCommand = (typeof FLOW_MOD_COMMANDS)[number];

/** OFPFF_* flags by name, in bit order. */
export const FLOW_FLAGS = [
  'send_flow_rem',
  'check_overlap',
  'reset_counts',
  'no_packet_counts',
  'no_byte_counts',
] as const;

/** All tables (flow-mod delete, stats requests). */
export const OFPTT_ALL = 0xff;
const NO_BUFFER = 0xffffffff;
/** The cookie of a packet-in that no flow sent (OVS_BE64_MAX). */
const NO_COOKIE = 0xffffffffffffffffn;
const OFPG_ANY = 0xffffffff;

export interface FlowMod {
  readonly command: FlowModCommand;
  /** For delete/modify: table (OFPTT_ALL = all tables for non-strict delete), priority, match, cookie. */
  readonly flow: Flow;
  /** Cookie mask for modify/delete (0 = cookie ignored). */
  readonly cookieMask?: bigint;
  /** Delete only flows that output to this port. */
  readonly outPort?: PortNumber;
  readonly outGroup?: number;
  readonly bufferId?: number;
  readonly importance?: number;
}

/** Which flows a stats request selects. */
export interface FlowFilter {
  readonly table?: number;
  readonly match?: Match;
  readonly cookie?: bigint;
  readonly cookieMask?: bigint;
  readonly outPort?: PortNumber;
}

export interface FlowStats {
  readonly flow: Flow;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly idleAgeSec?: number;
}

export type PacketInReason =
  'no_match' | 'action' | 'invalid_ttl' | 'action_set' | 'group' | 'packet_out';
const PACKET_IN_REASONS: readonly PacketInReason[] = [
  'no_match',
  'action',
  'invalid_ttl',
  'action_set',
  'group',
  'packet_out',
];

export interface PacketIn {
  readonly bufferId: number;
  readonly totalLen: number;
  readonly reason: PacketInReason;
  readonly table: number;
  /** The cookie of the flow that punted (all ones for none, e.g. a miss without a flow). */
  readonly cookie: bigint;
  /** Pipeline metadata at the time of the punt (in_port, registers, ct_*...). */
  readonly match: Match;
  readonly data: Uint8Array;
  /** From controller(userdata=...) (NXT_PACKET_IN2 only). */
  readonly userdata?: Uint8Array;
  /**
   * Present when the packet was paused by `controller(pause)` (NXT_PACKET_IN2 only): the
   * NXPINT_CONTINUATION payload, i.e. the frozen pipeline (bridge, stack, conntrack flag,
   * remaining actions and action set) as NXCPT_* properties. Private to ovs-vswitchd: echo it
   * unchanged in NXT_RESUME (`OpenFlowConnection.resume`), which runs the rest of the actions.
   */
  readonly continuation?: Uint8Array;
}

/**
 * NXT_RESUME: a paused packet sent back to continue its pipeline. Carries the packet-in's
 * packet, table, cookie, reason and metadata (which the controller may change, e.g. registers)
 * and its continuation unchanged; never userdata (ofp-packet.c `ofputil_encode_resume`).
 */
export type Resume = Omit<PacketIn, 'userdata' | 'bufferId' | 'continuation'> & {
  readonly continuation: Uint8Array;
};

export const FLOW_REMOVED_REASONS = [
  'idle_timeout',
  'hard_timeout',
  'delete',
  'group_delete',
  'meter_delete',
  'eviction',
] as const;

export interface FlowRemoved {
  readonly flow: Flow;
  readonly reason: (typeof FLOW_REMOVED_REASONS)[number] | 'unknown';
  readonly durationSec: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
}

export const BUNDLE_CTYPES = [
  'open_request',
  'open_reply',
  'close_request',
  'close_reply',
  'commit_request',
  'commit_reply',
  'discard_request',
  'discard_reply',
] as const;
export type BundleCtype = (typeof BUNDLE_CTYPES)[number];

/**
 * Async-config masks (OpenFlow 1.4+ properties): bit n = reason n is sent. `Master` is what
 * ovs-ofctl prints as "primary" (roles master/equal), `Slave` as "secondary".
 */
export interface AsyncConfig {
  readonly packetInMaster?: number;
  readonly packetInSlave?: number;
  readonly portStatusMaster?: number;
  readonly portStatusSlave?: number;
  readonly flowRemovedMaster?: number;
  readonly flowRemovedSlave?: number;
  readonly roleStatusMaster?: number;
  readonly roleStatusSlave?: number;
  readonly tableStatusMaster?: number;
  readonly tableStatusSlave?: number;
  readonly requestForwardMaster?: number;
  readonly requestForwardSlave?: number;
}
/** Property type = index (openflow-1.4 `ofp14_async_config_prop_type`, OFPACPT_*). */
const ASYNC_PROPS: readonly (keyof AsyncConfig)[] = [
  'packetInSlave',
  'packetInMaster',
  'portStatusSlave',
  'portStatusMaster',
  'flowRemovedSlave',
  'flowRemovedMaster',
  'roleStatusSlave',
  'roleStatusMaster',
  'tableStatusSlave',
  'tableStatusMaster',
  'requestForwardSlave',
  'requestForwardMaster',
];

export interface MeterBand {
  readonly type: 'drop';
  /** kbps, or packets/s with flags.pktps. */
  readonly rate: number;
  readonly burst: number;
}

export type OfMessage =
  | {
      readonly type: 'hello';
      /** The version bitmap element, if the HELLO carries one. */
      readonly versions?: readonly number[];
      /** The header's version: the sender's highest version (default OFP_VERSION). */
      readonly version?: number;
    }
  | {
      readonly type: 'error';
      readonly errType: number;
      readonly errCode: number;
      readonly typeName: string;
      readonly codeName: string;
      /** The start of the request that failed (header included, when the switch sent it). */
      readonly data: Uint8Array;
    }
  | { readonly type: 'echo_request'; readonly data?: Uint8Array }
  | { readonly type: 'echo_reply'; readonly data?: Uint8Array }
  | { readonly type: 'features_request' }
  | {
      readonly type: 'features_reply';
      readonly datapathId: bigint;
      readonly nBuffers: number;
      readonly nTables: number;
      readonly capabilities: number;
    }
  | ({ readonly type: 'flow_mod' } & FlowMod)
  | { readonly type: 'barrier_request' }
  | { readonly type: 'barrier_reply' }
  | { readonly type: 'flow_stats_request'; readonly filter: FlowFilter }
  | { readonly type: 'aggregate_request'; readonly filter: FlowFilter }
  | {
      readonly type: 'flow_stats_reply';
      readonly more: boolean;
      readonly flows: readonly FlowStats[];
    }
  | {
      readonly type: 'aggregate_reply';
      readonly flowCount: number;
      readonly packetCount: bigint;
      readonly byteCount: bigint;
    }
  | ({ readonly type: 'packet_in' } & PacketIn)
  | ({ readonly type: 'resume' } & Resume)
  | {
      readonly type: 'packet_out';
      readonly bufferId?: number;
      readonly inPort: PortNumber;
      readonly actions: readonly Action[];
      readonly data: Uint8Array;
    }
  | ({ readonly type: 'flow_removed' } & FlowRemoved)
  | {
      readonly type: 'bundle_control';
      readonly bundleId: number;
      readonly ctype: BundleCtype;
      readonly atomic?: boolean;
      readonly ordered?: boolean;
    }
  | {
      readonly type: 'bundle_add';
      readonly bundleId: number;
      readonly atomic?: boolean;
      readonly ordered?: boolean;
      readonly message: OfMessage;
      /** xid of the inner message (errors of a failed commit name it). */
      readonly innerXid: number;
    }
  | { readonly type: 'set_async'; readonly config: AsyncConfig }
  | { readonly type: 'get_async_reply'; readonly config: AsyncConfig }
  | { readonly type: 'get_async_request' }
  | {
      readonly type: 'meter_mod';
      readonly command: 'add' | 'modify' | 'delete';
      readonly meterId: number;
      readonly pktps?: boolean;
      readonly burst?: boolean;
      readonly stats?: boolean;
      readonly bands: readonly MeterBand[];
    }
  | {
      readonly type: 'set_packet_in_format';
      readonly format: 'standard' | 'nxt_packet_in' | 'nxt_packet_in2';
    }
  | { readonly type: 'other'; readonly ofType: number; readonly body: Uint8Array };

export type OfMessageType = OfMessage['type'];

// ---------------------------------------------------------------------------------------------
// Encoding

function header(w: Writer, type: number, xid: number): void {
  w.u8(OFP_VERSION).u8(type).u16(0).u32(xid);
}

function encodeFlowMod(w: Writer, m: FlowMod): void {
  const f = m.flow;
  const cmd = FLOW_MOD_COMMANDS.indexOf(m.command);
  if (cmd < 0)
    throw invalidFlow(
      'command',
      `'${String(m.command)}'; allowed: ${FLOW_MOD_COMMANDS.join(', ')}`,
    );
  if (f.table < 0 || f.table > 255)
    throw invalidFlow('table', `${f.table} must be 0..254 (255 = all, for delete)`);
  if (f.priority < 0 || f.priority > 65535)
    throw invalidFlow('priority', `${f.priority} must be 0..65535`);
  let flags = 0;
  for (const fl of f.flags ?? []) flags |= 1 << FLOW_FLAGS.indexOf(fl);
  w.u64(f.cookie).u64(m.cookieMask ?? 0n);
  w.u8(f.table)
    .u8(cmd)
    .u16(f.idleTimeout ?? 0)
    .u16(f.hardTimeout ?? 0)
    .u16(f.priority);
  w.u32(m.bufferId ?? NO_BUFFER).u32(m.outPort === undefined ? OfPort.ANY : portToWire(m.outPort));
  w.u32(m.outGroup ?? OFPG_ANY)
    .u16(flags)
    .u16(m.importance ?? 0);
  encodeMatch(w, f.match);
  if (m.command === 'add' || m.command === 'modify' || m.command === 'modify_strict')
    encodeInstructions(w, f.actions);
}

function encodeFilter(w: Writer, f: FlowFilter): void {
  w.u8(f.table ?? OFPTT_ALL).zeros(3);
  w.u32(f.outPort === undefined ? OfPort.ANY : portToWire(f.outPort))
    .u32(OFPG_ANY)
    .zeros(4);
  w.u64(f.cookie ?? 0n).u64(f.cookieMask ?? 0n);
  encodeMatch(w, f.match ?? {});
}

function encodeBody(w: Writer, msg: OfMessage): number {
  switch (msg.type) {
    case 'hello': {
      const versions = msg.versions ?? [OFP_VERSION];
      let bitmap = 0;
      for (const v of versions) bitmap |= 1 << v;
      w.u16(1).u16(8).u32(bitmap);
      return OFPT.HELLO;
    }
    case 'error':
      w.u16(msg.errType).u16(msg.errCode).bytes(msg.data);
      return OFPT.ERROR;
    case 'echo_request':
    case 'echo_reply':
      if (msg.data) w.bytes(msg.data);
      return msg.type === 'echo_request' ? OFPT.ECHO_REQUEST : OFPT.ECHO_REPLY;
    case 'features_request':
      return OFPT.FEATURES_REQUEST;
    case 'features_reply':
      w.u64(msg.datapathId)
        .u32(msg.nBuffers)
        .u8(msg.nTables)
        .u8(0)
        .u16(0)
        .u32(msg.capabilities)
        .u32(0);
      return OFPT.FEATURES_REPLY;
    case 'flow_mod':
      encodeFlowMod(w, msg);
      return OFPT.FLOW_MOD;
    case 'barrier_request':
      return OFPT.BARRIER_REQUEST;
    case 'barrier_reply':
      return OFPT.BARRIER_REPLY;
    case 'flow_stats_request':
    case 'aggregate_request':
      w.u16(msg.type === 'flow_stats_request' ? OFPMP.FLOW_DESC : OFPMP.AGGREGATE_STATS)
        .u16(0)
        .zeros(4);
      encodeFilter(w, msg.filter);
      return OFPT.MULTIPART_REQUEST;
    case 'flow_stats_reply':
      w.u16(OFPMP.FLOW_DESC)
        .u16(msg.more ? 1 : 0)
        .zeros(4);
      for (const s of msg.flows) encodeFlowDesc(w, s);
      return OFPT.MULTIPART_REPLY;
    case 'aggregate_reply':
      w.u16(OFPMP.AGGREGATE_STATS).u16(0).zeros(4);
      encodeStats(w, [
        [OXS.FLOW_COUNT, 4, BigInt(msg.flowCount)],
        [OXS.PACKET_COUNT, 8, msg.packetCount],
        [OXS.BYTE_COUNT, 8, msg.byteCount],
      ]);
      return OFPT.MULTIPART_REPLY;
    case 'packet_in': {
      w.u32(msg.bufferId)
        .u16(msg.totalLen)
        .u8(PACKET_IN_REASONS.indexOf(msg.reason))
        .u8(msg.table)
        .u64(msg.cookie);
      encodeMatch(w, msg.match);
      w.zeros(2).bytes(msg.data);
      return OFPT.PACKET_IN;
    }
    case 'packet_out': {
      w.u32(msg.bufferId ?? NO_BUFFER);
      const lenAt = w.length;
      w.u16(0).u16(0);
      const inPort =
        msg.inPort === 'CONTROLLER'
          ? 0xfffd
          : typeof msg.inPort === 'number'
            ? msg.inPort
            : portToWire(msg.inPort) - 0xffff0000;
      encodeMatch(w, { in_port: { value: BigInt(inPort) } });
      const actStart = w.length;
      encodeActionList(w, msg.actions);
      w.setU16(lenAt, w.length - actStart);
      w.bytes(msg.data);
      return OFPT.PACKET_OUT;
    }
    case 'flow_removed': {
      const f = msg.flow;
      w.u8(f.table)
        .u8(
          Math.max(
            0,
            FLOW_REMOVED_REASONS.indexOf(msg.reason as (typeof FLOW_REMOVED_REASONS)[number]),
          ),
        )
        .u16(f.priority);
      w.u16(f.idleTimeout ?? 0)
        .u16(f.hardTimeout ?? 0)
        .u64(f.cookie);
      encodeMatch(w, f.match);
      encodeStats(w, [
        [OXS.DURATION, 8, BigInt(msg.durationSec) << 32n],
        [OXS.PACKET_COUNT, 8, msg.packetCount],
        [OXS.BYTE_COUNT, 8, msg.byteCount],
      ]);
      return OFPT.FLOW_REMOVED;
    }
    case 'bundle_control':
      w.u32(msg.bundleId)
        .u16(BUNDLE_CTYPES.indexOf(msg.ctype))
        .u16((msg.atomic ? 1 : 0) | (msg.ordered ? 2 : 0));
      return OFPT.BUNDLE_CONTROL;
    case 'bundle_add':
      w.u32(msg.bundleId)
        .u16(0)
        .u16((msg.atomic ? 1 : 0) | (msg.ordered ? 2 : 0));
      w.bytes(encodeMessage(msg.message, msg.innerXid));
      return OFPT.BUNDLE_ADD_MESSAGE;
    case 'set_async':
    case 'get_async_reply':
      ASYNC_PROPS.forEach((k, i) => {
        const v = msg.config[k];
        if (v !== undefined) w.u16(i).u16(8).u32(v);
      });
      return msg.type === 'set_async' ? OFPT.SET_ASYNC : OFPT.GET_ASYNC_REPLY;
    case 'get_async_request':
      return OFPT.GET_ASYNC_REQUEST;
    case 'meter_mod': {
      const cmd = ['add', 'modify', 'delete'].indexOf(msg.command);
      const flags = (msg.pktps ? 2 : 1) | (msg.burst ? 4 : 0) | (msg.stats ? 8 : 0);
      w.u16(cmd).u16(flags).u32(msg.meterId);
      for (const b of msg.bands) w.u16(1).u16(16).u32(b.rate).u32(b.burst).zeros(4);
      return OFPT.METER_MOD;
    }
    case 'resume':
      w.u32(NX_VENDOR).u32(NXT.RESUME);
      encodeResumeProps(w, msg);
      return OFPT.EXPERIMENTER;
    case 'set_packet_in_format':
      w.u32(NX_VENDOR).u32(NXT.SET_PACKET_IN_FORMAT);
      w.u32(['standard', 'nxt_packet_in', 'nxt_packet_in2'].indexOf(msg.format));
      return OFPT.EXPERIMENTER;
    case 'other':
      w.bytes(msg.body);
      return msg.ofType;
  }
}

/** An OpenFlow property (ofp-prop.c): type, length without padding, body, zeros to 8 bytes. */
function prop(w: Writer, type: number, body: (w: Writer) => void): void {
  const start = w.length;
  w.u16(type).u16(0);
  body(w);
  w.setU16(start + 2, w.length - start);
  w.pad8(start);
}

/** NXT_RESUME properties in the order OVS writes them (`ofputil_put_packet_in`). */
function encodeResumeProps(w: Writer, m: Resume): void {
  prop(w, NXPINT.PACKET, (x) => x.bytes(m.data));
  if (m.totalLen !== m.data.length) prop(w, NXPINT.FULL_LEN, (x) => x.u32(m.totalLen));
  prop(w, NXPINT.TABLE_ID, (x) => x.u8(m.table));
  if (m.cookie !== NO_COOKIE) prop(w, NXPINT.COOKIE, (x) => x.zeros(4).u64(m.cookie));
  prop(w, NXPINT.REASON, (x) => x.u8(PACKET_IN_REASONS.indexOf(m.reason)));
  // Pipeline state, not a flow match: no prerequisites apply (ct_nw_src without eth_type...).
  prop(w, NXPINT.METADATA, (x) => encodeOxmFields(x, m.match, { prerequisites: false }));
  // A nested property: its body starts 8-aligned (ofpprop_start_nested).
  prop(w, NXPINT.CONTINUATION, (x) => x.zeros(4).bytes(m.continuation));
}

/** One message as bytes, with the given transaction id. */
export function encodeMessage(msg: OfMessage, xid: number): Uint8Array {
  const w = new Writer(msg.type === 'flow_mod' ? 256 : 64);
  header(w, 0, xid);
  const type = encodeBody(w, msg);
  const bytes = w.finish();
  if (bytes.length > 0xffff)
    throw invalidFlow('message', `${bytes.length} bytes exceeds the 65535-byte OpenFlow limit`);
  bytes[1] = type;
  if (msg.type === 'hello' && msg.version !== undefined) bytes[0] = msg.version;
  bytes[2] = bytes.length >> 8;
  bytes[3] = bytes.length & 0xff;
  return bytes;
}

/** A flow-mod that adds `flow`. */
export function encodeFlowAdd(flow: Flow, xid: number): Uint8Array {
  return encodeMessage({ type: 'flow_mod', command: 'add', flow }, xid);
}

// ---------------------------------------------------------------------------------------------
// OXS statistics (OpenFlow 1.5 ofp_stats)

const OXS = { DURATION: 0, IDLE_TIME: 1, FLOW_COUNT: 3, PACKET_COUNT: 4, BYTE_COUNT: 5 } as const;
const OXS_CLASS = 0x8002;

function encodeStats(w: Writer, fields: [number, number, bigint][]): void {
  const start = w.length;
  w.u16(0).u16(0);
  for (const [field, len, v] of fields)
    w.u32(((OXS_CLASS << 16) | (field << 9) | len) >>> 0).uint(v, len);
  w.setU16(start + 2, w.length - start);
  w.pad8(start);
}

function decodeStats(r: Reader): Map<number, bigint> {
  const start = r.pos;
  r.skip(2);
  const length = r.u16();
  const body = r.sub(length - 4, 'stats');
  const out = new Map<number, bigint>();
  while (body.remaining > 0) {
    const h = body.u32();
    const len = h & 0xff;
    out.set((h >>> 9) & 0x7f, body.uint(len));
  }
  r.pos = start + Math.ceil(length / 8) * 8;
  return out;
}

function encodeFlowDesc(w: Writer, s: FlowStats): void {
  const f = s.flow;
  const start = w.length;
  let flags = 0;
  for (const fl of f.flags ?? []) flags |= 1 << FLOW_FLAGS.indexOf(fl);
  w.u16(0)
    .u16(0)
    .u8(f.table)
    .u8(0)
    .u16(f.priority)
    .u16(f.idleTimeout ?? 0)
    .u16(f.hardTimeout ?? 0);
  w.u16(flags).u16(0).u64(f.cookie);
  encodeMatch(w, f.match);
  encodeStats(w, [
    [OXS.DURATION, 8, (BigInt(s.durationSec) << 32n) | BigInt(s.durationNsec)],
    [OXS.PACKET_COUNT, 8, s.packetCount],
    [OXS.BYTE_COUNT, 8, s.byteCount],
  ]);
  encodeInstructions(w, f.actions);
  w.setU16(start, w.length - start);
}

function flagsOf(bits: number): Flow['flags'] {
  const out = FLOW_FLAGS.filter((_, i) => bits & (1 << i));
  return out.length > 0 ? out : undefined;
}

function makeFlow(p: {
  table: number;
  priority: number;
  cookie: bigint;
  match: Match;
  actions: Action[];
  idle: number;
  hard: number;
  flags: number;
}): Flow {
  const flags = flagsOf(p.flags);
  return {
    table: p.table,
    priority: p.priority,
    cookie: p.cookie,
    match: p.match,
    actions: p.actions,
    ...(p.idle ? { idleTimeout: p.idle } : {}),
    ...(p.hard ? { hardTimeout: p.hard } : {}),
    ...(flags ? { flags } : {}),
  };
}

function decodeFlowDesc(r: Reader): FlowStats {
  const start = r.pos;
  const length = r.u16();
  const body = r.sub(length - 2, 'flow stats');
  r.pos = start + length;
  body.skip(2);
  const table = body.u8();
  body.skip(1);
  const priority = body.u16();
  const idle = body.u16();
  const hard = body.u16();
  const flags = body.u16();
  body.skip(2);
  const cookie = body.u64();
  const match = decodeMatch(body);
  const stats = decodeStats(body);
  const actions = decodeInstructions(body);
  const duration = stats.get(OXS.DURATION) ?? 0n;
  const idleTime = stats.get(OXS.IDLE_TIME);
  return {
    flow: makeFlow({ table, priority, cookie, match, actions, idle, hard, flags }),
    durationSec: Number(duration >> 32n),
    durationNsec: Number(duration & 0xffffffffn),
    packetCount: stats.get(OXS.PACKET_COUNT) ?? 0n,
    byteCount: stats.get(OXS.BYTE_COUNT) ?? 0n,
    ...(idleTime !== undefined ? { idleAgeSec: Number(idleTime >> 32n) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface Decoded {
  readonly xid: number;
  readonly msg: OfMessage;
}

/** Length of the message at the start of `buf`, or undefined if fewer than 8 bytes. */
export function messageLength(buf: Uint8Array): number | undefined {
  return buf.length < 8 ? undefined : (buf[2]! << 8) | buf[3]!;
}

/** Decodes one complete message. */
export function decodeMessage(bytes: Uint8Array): Decoded {
  const r = new Reader(bytes, 0, bytes.length);
  const version = r.u8();
  const type = r.u8();
  const length = r.u16();
  const xid = r.u32();
  if (length !== bytes.length || length < 8)
    throw malformed('message', `length field ${length} but ${bytes.length} bytes`);
  const body = new Reader(bytes, 8, length, `message type ${type}`);
  if (version !== OFP_VERSION && type !== OFPT.HELLO && type !== OFPT.ERROR) {
    throw malformed('message', `version 0x${version.toString(16)} is not OpenFlow 1.5 (0x06)`);
  }
  if (type === OFPT.HELLO) return { xid, msg: decodeHello(version, body) };
  return { xid, msg: decodeBody(type, body, bytes) };
}

function decodeHello(version: number, r: Reader): OfMessage {
  const versions: number[] = [];
  while (r.remaining >= 4) {
    const t = r.u16();
    const len = r.u16();
    const e = r.sub(Math.max(0, len - 4), 'hello element');
    if (t === 1) {
      for (let word = 0; e.remaining >= 4; word++) {
        const bm = e.u32();
        for (let b = 0; b < 32; b++) if (bm & (1 << b)) versions.push(word * 32 + b);
      }
    }
    r.pos += (8 - (len % 8)) % 8;
    if (r.pos > r.end) break;
  }
  return versions.length > 0 ? { type: 'hello', version, versions } : { type: 'hello', version };
}

function decodeBody(type: number, r: Reader, raw: Uint8Array): OfMessage {
  switch (type) {
    case OFPT.ERROR: {
      const errType = r.u16();
      const errCode = r.u16();
      const data = r.bytes(r.remaining);
      const names = errorNames(errType, errCode);
      if (errType === 0xffff && data.length >= 4) {
        // ofp_error_experimenter_msg: the code is the experimenter's; its id leads the data.
        const exp = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
        const who = exp === NX_VENDOR ? 'Nicira' : `0x${exp.toString(16)}`;
        names.codeName = `${who} experimenter code ${errCode}`;
      }
      return { type: 'error', errType, errCode, ...names, data };
    }
    case OFPT.ECHO_REQUEST:
      return { type: 'echo_request', data: r.bytes(r.remaining) };
    case OFPT.ECHO_REPLY:
      return { type: 'echo_reply', data: r.bytes(r.remaining) };
    case OFPT.FEATURES_REQUEST:
      return { type: 'features_request' };
    case OFPT.FEATURES_REPLY: {
      const datapathId = r.u64();
      const nBuffers = r.u32();
      const nTables = r.u8();
      r.skip(3);
      return { type: 'features_reply', datapathId, nBuffers, nTables, capabilities: r.u32() };
    }
    case OFPT.FLOW_MOD:
      return decodeFlowMod(r);
    case OFPT.BARRIER_REQUEST:
      return { type: 'barrier_request' };
    case OFPT.BARRIER_REPLY:
      return { type: 'barrier_reply' };
    case OFPT.MULTIPART_REQUEST:
    case OFPT.MULTIPART_REPLY: {
      const mp = r.u16();
      const flags = r.u16();
      r.skip(4);
      if (
        type === OFPT.MULTIPART_REQUEST &&
        (mp === OFPMP.FLOW_DESC || mp === OFPMP.AGGREGATE_STATS)
      ) {
        const table = r.u8();
        r.skip(3);
        const outPort = r.u32();
        r.skip(8);
        const cookie = r.u64();
        const cookieMask = r.u64();
        const match = decodeMatch(r);
        const filter: FlowFilter = {
          table,
          cookie,
          cookieMask,
          match,
          ...(outPort !== OfPort.ANY ? { outPort: portFromWire(outPort) } : {}),
        };
        return mp === OFPMP.FLOW_DESC
          ? { type: 'flow_stats_request', filter }
          : { type: 'aggregate_request', filter };
      }
      if (type === OFPT.MULTIPART_REPLY && mp === OFPMP.FLOW_DESC) {
        const flows: FlowStats[] = [];
        while (r.remaining > 0) flows.push(decodeFlowDesc(r));
        return { type: 'flow_stats_reply', more: (flags & 1) !== 0, flows };
      }
      if (type === OFPT.MULTIPART_REPLY && mp === OFPMP.AGGREGATE_STATS) {
        const s = decodeStats(r);
        return {
          type: 'aggregate_reply',
          flowCount: Number(s.get(OXS.FLOW_COUNT) ?? 0n),
          packetCount: s.get(OXS.PACKET_COUNT) ?? 0n,
          byteCount: s.get(OXS.BYTE_COUNT) ?? 0n,
        };
      }
      return { type: 'other', ofType: type, body: raw.slice(8) };
    }
    case OFPT.PACKET_IN: {
      const bufferId = r.u32();
      const totalLen = r.u16();
      const reason = PACKET_IN_REASONS[r.u8()] ?? 'action';
      const table = r.u8();
      const cookie = r.u64();
      const match = decodeMatch(r);
      r.skip(2);
      return {
        type: 'packet_in',
        bufferId,
        totalLen,
        reason,
        table,
        cookie,
        match,
        data: r.bytes(r.remaining),
      };
    }
    case OFPT.PACKET_OUT: {
      const bufferId = r.u32();
      const actionsLen = r.u16();
      r.skip(2);
      const match = decodeMatch(r);
      const actions = decodeActionList(r.sub(actionsLen, 'packet-out actions'));
      const inPort = match.in_port ? Number(match.in_port.value) : 0xfffd;
      const named: Record<number, PortNumber> = {
        0xfff8: 'IN_PORT',
        0xfffd: 'CONTROLLER',
        0xfffe: 'LOCAL',
      };
      return {
        type: 'packet_out',
        ...(bufferId !== NO_BUFFER ? { bufferId } : {}),
        inPort: named[inPort] ?? inPort,
        actions,
        data: r.bytes(r.remaining),
      };
    }
    case OFPT.FLOW_REMOVED: {
      const table = r.u8();
      const reason = r.u8();
      const priority = r.u16();
      const idle = r.u16();
      const hard = r.u16();
      const cookie = r.u64();
      const match = decodeMatch(r);
      const s = decodeStats(r);
      return {
        type: 'flow_removed',
        flow: makeFlow({ table, priority, cookie, match, actions: [], idle, hard, flags: 0 }),
        reason: FLOW_REMOVED_REASONS[reason] ?? 'unknown',
        durationSec: Number((s.get(OXS.DURATION) ?? 0n) >> 32n),
        packetCount: s.get(OXS.PACKET_COUNT) ?? 0n,
        byteCount: s.get(OXS.BYTE_COUNT) ?? 0n,
      };
    }
    case OFPT.BUNDLE_CONTROL: {
      const bundleId = r.u32();
      const ct = r.u16();
      const flags = r.u16();
      const ctype = BUNDLE_CTYPES[ct];
      if (!ctype) throw malformed('bundle control', `type ${ct}`);
      return {
        type: 'bundle_control',
        bundleId,
        ctype,
        atomic: (flags & 1) !== 0,
        ordered: (flags & 2) !== 0,
      };
    }
    case OFPT.BUNDLE_ADD_MESSAGE: {
      const bundleId = r.u32();
      r.skip(2);
      const flags = r.u16();
      const innerLen = (raw[r.pos + 2]! << 8) | raw[r.pos + 3]!;
      const inner = decodeMessage(r.bytes(innerLen));
      return {
        type: 'bundle_add',
        bundleId,
        atomic: (flags & 1) !== 0,
        ordered: (flags & 2) !== 0,
        message: inner.msg,
        innerXid: inner.xid,
      };
    }
    case OFPT.SET_ASYNC:
    case OFPT.GET_ASYNC_REPLY: {
      const config: { -readonly [K in keyof AsyncConfig]: number } = {};
      while (r.remaining > 0) {
        const start = r.pos;
        const t = r.u16();
        const len = r.u16();
        if (len < 4) throw malformed('async property', `length ${len} < 4`);
        const p = r.sub(len - 4, 'async property');
        const key = ASYNC_PROPS[t];
        // Experimenter properties (0xfffe, 0xffff) and unknown types carry nothing we use.
        if (key) config[key] = p.u32();
        r.pos = Math.min(r.end, start + Math.ceil(len / 8) * 8);
      }
      return { type: type === OFPT.SET_ASYNC ? 'set_async' : 'get_async_reply', config };
    }
    case OFPT.EXPERIMENTER: {
      const vendor = r.u32();
      const sub = r.u32();
      if (vendor === NX_VENDOR && sub === NXT.PACKET_IN2) return decodePacketIn2(r, 'packet_in');
      if (vendor === NX_VENDOR && sub === NXT.RESUME) return decodePacketIn2(r, 'resume');
      return { type: 'other', ofType: type, body: raw.slice(8) };
    }
    default:
      return { type: 'other', ofType: type, body: raw.slice(8) };
  }
}

function decodeFlowMod(r: Reader): OfMessage {
  const cookie = r.u64();
  const cookieMask = r.u64();
  const table = r.u8();
  const cmd = r.u8();
  const idle = r.u16();
  const hard = r.u16();
  const priority = r.u16();
  const bufferId = r.u32();
  const outPort = r.u32();
  const outGroup = r.u32();
  const flags = r.u16();
  const importance = r.u16();
  const match = decodeMatch(r);
  const actions = decodeInstructions(r);
  const command = FLOW_MOD_COMMANDS[cmd];
  if (!command) throw malformed('flow_mod', `command ${cmd}`);
  return {
    type: 'flow_mod',
    command,
    flow: makeFlow({ table, priority, cookie, match, actions, idle, hard, flags }),
    ...(cookieMask ? { cookieMask } : {}),
    ...(outPort !== OfPort.ANY ? { outPort: portFromWire(outPort) } : {}),
    ...(outGroup !== OFPG_ANY ? { outGroup } : {}),
    ...(bufferId !== NO_BUFFER ? { bufferId } : {}),
    ...(importance ? { importance } : {}),
  };
}

/** NXT_PACKET_IN2 or NXT_RESUME (same properties, nicira-ext.h NXPINT_*). */
function decodePacketIn2(r: Reader, as: 'packet_in' | 'resume'): OfMessage {
  let data: Uint8Array = new Uint8Array(0);
  let totalLen: number | undefined;
  let bufferId = NO_BUFFER;
  let table = 0;
  let cookie = NO_COOKIE;
  let reason: PacketInReason = 'action';
  let match: Match = {};
  let userdata: Uint8Array | undefined;
  let continuation: Uint8Array | undefined;
  while (r.remaining >= 4) {
    const start = r.pos;
    const t = r.u16();
    const len = r.u16();
    if (len < 4) throw malformed('packet-in2 property', `length ${len} < 4`);
    const p = r.sub(len - 4, 'packet-in2 property');
    if (t === NXPINT.PACKET) data = p.bytes(p.remaining);
    else if (t === NXPINT.FULL_LEN) totalLen = p.u32();
    else if (t === NXPINT.BUFFER_ID) bufferId = p.u32();
    else if (t === NXPINT.TABLE_ID) table = p.u8();
    else if (t === NXPINT.COOKIE) {
      p.skip(4);
      cookie = p.u64();
    } else if (t === NXPINT.REASON) reason = PACKET_IN_REASONS[p.u8()] ?? 'action';
    else if (t === NXPINT.METADATA) match = decodeOxmFields(p);
    else if (t === NXPINT.USERDATA) userdata = p.bytes(p.remaining);
    else if (t === NXPINT.CONTINUATION) {
      // Nested: the inner properties start 8 bytes into the property (ofpprop_parse_nested).
      p.skip(4);
      continuation = p.bytes(p.remaining);
    }
    r.pos = Math.min(r.end, start + Math.ceil(len / 8) * 8);
  }
  const common = { totalLen: totalLen ?? data.length, reason, table, cookie, match, data };
  if (as === 'resume') {
    if (!continuation) throw malformed('resume', 'no continuation property');
    return { type: 'resume', ...common, continuation };
  }
  return {
    type: 'packet_in',
    bufferId,
    ...common,
    ...(userdata ? { userdata } : {}),
    ...(continuation ? { continuation } : {}),
  };
}

/**
 * The flow as the switch will report it back: encode then decode, so `load` reads back as
 * `set_field`, output:CONTROLLER as `controller`, notes padded to 8 bytes, matches canonical.
 * Compare a desired flow with a dumped one through this, never field by field.
 */
export function canonicalFlow(flow: Flow): Flow {
  const { msg } = decodeMessage(encodeMessage({ type: 'flow_mod', command: 'add', flow }, 0));
  if (msg.type !== 'flow_mod') throw malformed('flow_mod', 'did not decode as a flow_mod');
  return msg.flow;
}
