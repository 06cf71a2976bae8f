/**
 * Actions and instructions on the wire (OpenFlow 1.5 + Nicira extensions), one codec row per
 * IR action type and one decoder row per wire action type / Nicira subtype, laid out as Open
 * vSwitch 3.1 writes them for OpenFlow 1.5 (lib/ofp-actions.c): `load` and `set_field` both
 * become OFPAT_SET_FIELD (masked for partial writes), `move` becomes OFPAT_COPY_FIELD, a plain
 * `controller` becomes output:CONTROLLER, `goto_table` is an instruction and every other action
 * sits in one APPLY_ACTIONS instruction. Decoding gives the canonical IR: set_field (never
 * load), controller (never output:CONTROLLER).
 */
import { FIELDS, fullMask, type FieldDef, type OxmHeader } from '../fields.js';
import { OfPort, type Action, type FieldSlice, type LearnSpec, type PortNumber } from '../ir.js';
import { invalidFlow, malformed } from '../errors.js';
import { Reader, Writer } from './buffer.js';
import { fieldByHeader, oxmHeader, port16to32, port32to16 } from './oxm.js';

export const NX_VENDOR = 0x00002320;

/** Standard action types (OpenFlow 1.5). */
export const OFPAT = {
  OUTPUT: 0,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  SET_FIELD: 25,
  COPY_FIELD: 28,
  METER: 29,
  EXPERIMENTER: 0xffff,
} as const;

/** Nicira action subtypes (nicira-ext.h NXAST_*). */
export const NXAST = {
  RESUBMIT: 1,
  REG_MOVE: 6,
  REG_LOAD: 7,
  NOTE: 8,
  RESUBMIT_TABLE: 14,
  OUTPUT_REG: 15,
  LEARN: 16,
  CONTROLLER: 20,
  CONJUNCTION: 34,
  CT: 35,
  CONTROLLER2: 37,
  CLONE: 42,
  CT_CLEAR: 43,
  RESUBMIT_TABLE_CT: 44,
  LEARN2: 45,
} as const;

/** Instruction types. */
export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
} as const;

const NAMED_PORT32: Record<Exclude<PortNumber, number>, number> = {
  IN_PORT: OfPort.IN_PORT,
  NORMAL: OfPort.NORMAL,
  FLOOD: OfPort.FLOOD,
  ALL: OfPort.ALL,
  LOCAL: OfPort.LOCAL,
  CONTROLLER: OfPort.CONTROLLER,
};
const PORT32_NAME = new Map<number, Exclude<PortNumber, number>>(
  Object.entries(NAMED_PORT32).map(([k, v]) => [v, k as Exclude<PortNumber, number>]),
);

/** 32-bit port number of an IR port. */
export function portToWire(p: PortNumber): number {
  return typeof p === 'number' ? p : NAMED_PORT32[p];
}

export function portFromWire(p: number): PortNumber {
  return PORT32_NAME.get(p) ?? p;
}

// ---------------------------------------------------------------------------------------------
// Field references inside actions

/** Header (and payload size) OVS uses for a field in OpenFlow 1.5 set_field / copy_field. */
function actionHeader(f: FieldDef): { h: OxmHeader; bytes: number } {
  // MFF_IN_PORT is the 16-bit field; its only header is NXM_OF_IN_PORT.
  return f.name === 'in_port' ? { h: f.nxm, bytes: 2 } : { h: f.oxm, bytes: f.bytes };
}

/** Header OVS uses for a field inside Nicira actions (the version-0 NXM header). */
function nxmRef(f: FieldDef): number {
  return oxmHeader(f.nxm, false, f.name === 'in_port' ? 2 : f.bytes);
}

function fieldOfHeader(header: number, what: string): FieldDef {
  const f = fieldByHeader(header >>> 16, (header >>> 9) & 0x7f);
  if (!f) throw malformed(what, `unsupported field header 0x${header.toString(16)}`);
  return f;
}

function ofsNbits(s: FieldSlice): number {
  return (s.ofs << 6) | (s.nBits - 1);
}

function sliceOf(f: FieldDef, ofsNbitsValue: number): FieldSlice {
  return { field: f.name, ofs: ofsNbitsValue >> 6, nBits: (ofsNbitsValue & 0x3f) + 1 };
}

function checkSlice(s: FieldSlice, what: string): void {
  const f = FIELDS[s.field];
  if (s.ofs < 0 || s.nBits < 1 || s.ofs + s.nBits > f.bits) {
    throw invalidFlow(
      what,
      `bits ${s.ofs}..${s.ofs + s.nBits - 1} are outside ${s.field} (0..${f.bits - 1})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Encoders, one per IR action type

function nxHeader(w: Writer, subtype: number): number {
  const start = w.length;
  w.u16(OFPAT.EXPERIMENTER).u16(0).u32(NX_VENDOR).u16(subtype);
  return start;
}

/** Pads the action begun at `start` to 8 bytes and writes its length. */
function closeAction(w: Writer, start: number): void {
  w.pad8(start);
  w.setU16(start + 2, w.length - start);
}

function encodeOutputPort(w: Writer, port: number, maxLen: number): void {
  w.u16(OFPAT.OUTPUT).u16(16).u32(port).u16(maxLen).zeros(6);
}

function encodeSetField(w: Writer, f: FieldDef, value: bigint, mask: bigint | undefined): void {
  const start = w.length;
  const { h, bytes } = actionHeader(f);
  const full = fullMask(f);
  const m = mask === undefined || mask === full ? undefined : mask;
  w.u16(OFPAT.SET_FIELD).u16(0);
  w.u32(oxmHeader(h, m !== undefined, m !== undefined ? bytes * 2 : bytes));
  const v = f.name === 'in_port' ? value : m === undefined ? value : value & m;
  w.uint(v, bytes);
  if (m !== undefined) w.uint(m, bytes);
  closeAction(w, start);
}

const CONTROLLER_REASON = { no_match: 0, action: 1, invalid_ttl: 2 } as const;
const REASON_NAME = ['no_match', 'action', 'invalid_ttl'] as const;

type Enc<T extends Action['type']> = (w: Writer, a: Extract<Action, { type: T }>) => void;

const ENCODERS: { [T in Action['type']]: Enc<T> } = {
  output: (w, a) => {
    if (a.port === 'CONTROLLER') return encodeOutputPort(w, OfPort.CONTROLLER, a.maxLen ?? 0xffff);
    if (a.maxLen !== undefined) throw invalidFlow('output', 'max_len applies only to CONTROLLER');
    encodeOutputPort(w, portToWire(a.port), 0);
  },
  output_reg: (w, a) => {
    checkSlice(a.src, 'output');
    const s = nxHeader(w, NXAST.OUTPUT_REG);
    w.u16(ofsNbits(a.src))
      .u32(nxmRef(FIELDS[a.src.field]))
      .u16(a.maxLen ?? 0xffff)
      .zeros(6);
    closeAction(w, s);
  },
  controller: (w, a) => {
    const maxLen = a.maxLen ?? 0xffff;
    const reason = CONTROLLER_REASON[a.reason ?? 'action'];
    const id = a.controllerId ?? 0;
    if ((a.userdata && a.userdata.length > 0) || a.pause || a.meterId !== undefined) {
      const s = nxHeader(w, NXAST.CONTROLLER2);
      w.zeros(6);
      const prop = (type: number, body: (w: Writer) => void) => {
        const p = w.length;
        w.u16(type).u16(0);
        body(w);
        w.setU16(p + 2, w.length - p);
        w.pad8(p);
      };
      if (maxLen !== 0xffff) prop(0, (x) => x.u16(maxLen).u16(0));
      if (id !== 0) prop(1, (x) => x.u16(id).u16(0));
      if (reason !== CONTROLLER_REASON.action) prop(2, (x) => x.u8(reason));
      if (a.userdata && a.userdata.length > 0) prop(3, (x) => x.bytes(a.userdata!));
      if (a.pause) prop(4, () => undefined);
      if (a.meterId !== undefined) prop(5, (x) => x.u32(a.meterId!));
      closeAction(w, s);
    } else if (reason === CONTROLLER_REASON.action && id === 0) {
      encodeOutputPort(w, OfPort.CONTROLLER, maxLen);
    } else {
      const s = nxHeader(w, NXAST.CONTROLLER);
      w.u16(maxLen).u16(id).u8(reason).u8(0);
      closeAction(w, s);
    }
  },
  goto_table: () => {
    throw invalidFlow('goto_table', 'goto_table is an instruction; it must be the last action');
  },
  resubmit: (w, a) => {
    const s = nxHeader(w, a.ct ? NXAST.RESUBMIT_TABLE_CT : NXAST.RESUBMIT_TABLE);
    w.u16(a.port ?? 0xfff8)
      .u8(a.table)
      .zeros(3);
    closeAction(w, s);
  },
  set_field: (w, a) => encodeSetField(w, FIELDS[a.field], a.value, a.mask),
  load: (w, a) => {
    checkSlice(a.dst, 'load');
    const f = FIELDS[a.dst.field];
    const width = (1n << BigInt(a.dst.nBits)) - 1n;
    if (a.value > width)
      throw invalidFlow('load', `value ${a.value} does not fit in ${a.dst.nBits} bits`);
    const ofs = BigInt(a.dst.ofs);
    encodeSetField(w, f, a.value << ofs, width << ofs);
  },
  move: (w, a) => {
    checkSlice(a.src, 'move');
    checkSlice(a.dst, 'move');
    if (a.src.nBits !== a.dst.nBits)
      throw invalidFlow('move', 'source and destination widths differ');
    const start = w.length;
    const src = actionHeader(FIELDS[a.src.field]);
    const dst = actionHeader(FIELDS[a.dst.field]);
    w.u16(OFPAT.COPY_FIELD).u16(0).u16(a.src.nBits).u16(a.src.ofs).u16(a.dst.ofs).u16(0);
    w.u32(oxmHeader(src.h, false, src.bytes)).u32(oxmHeader(dst.h, false, dst.bytes));
    closeAction(w, start);
  },
  ct: (w, a) => {
    const s = nxHeader(w, NXAST.CT);
    w.u16((a.commit ? 1 : 0) | (a.force ? 2 : 0));
    if (a.zone !== undefined && typeof a.zone !== 'number') {
      checkSlice(a.zone, 'ct zone');
      w.u32(nxmRef(FIELDS[a.zone.field])).u16(ofsNbits(a.zone));
    } else {
      w.u32(0).u16(a.zone ?? 0);
    }
    w.u8(a.table ?? 255).zeros(3);
    w.u16(a.alg === undefined ? 0 : (ALG_PORT[a.alg] ?? Number(a.alg)));
    for (const x of a.exec ?? []) encodeAction(w, x);
    closeAction(w, s);
  },
  ct_clear: (w) => {
    const s = nxHeader(w, NXAST.CT_CLEAR);
    w.zeros(6);
    closeAction(w, s);
  },
  conjunction: (w, a) => {
    const s = nxHeader(w, NXAST.CONJUNCTION);
    w.u8(a.clause - 1)
      .u8(a.nClauses)
      .u32(a.id);
    closeAction(w, s);
  },
  learn: (w, a) => {
    const v2 = a.limit !== undefined && a.limit !== 0;
    const s = nxHeader(w, v2 ? NXAST.LEARN2 : NXAST.LEARN);
    w.u16(a.idleTimeout ?? 0)
      .u16(a.hardTimeout ?? 0)
      .u16(a.priority ?? 0x8000);
    w.u64(a.cookie ?? 0n);
    w.u16((a.sendFlowRem ? 1 : 0) | (a.deleteLearned ? 2 : 0));
    w.u8(a.table)
      .u8(0)
      .u16(a.finIdleTimeout ?? 0)
      .u16(a.finHardTimeout ?? 0);
    if (v2) w.u32(a.limit).u16(0).u16(0);
    for (const spec of a.specs) encodeLearnSpec(w, spec);
    closeAction(w, s);
  },
  note: (w, a) => {
    const s = nxHeader(w, NXAST.NOTE);
    w.bytes(a.data);
    closeAction(w, s);
  },
  meter: (w, a) => {
    w.u16(OFPAT.METER).u16(8).u32(a.id);
  },
  push_vlan: (w, a) => {
    w.u16(OFPAT.PUSH_VLAN).u16(8).u16(a.ethertype).u16(0);
  },
  pop_vlan: (w) => {
    w.u16(OFPAT.POP_VLAN).u16(8).u32(0);
  },
  clone: (w, a) => {
    const s = nxHeader(w, NXAST.CLONE);
    w.zeros(6);
    for (const x of a.actions) encodeAction(w, x);
    closeAction(w, s);
  },
  drop: () => undefined,
};

const ALG_PORT: Record<string, number> = { ftp: 21, tftp: 69 };
const ALG_NAME = new Map<number, string>([
  [21, 'ftp'],
  [69, 'tftp'],
]);

const LEARN_SRC_IMM = 0x2000;
const LEARN_DST_LOAD = 0x0800;
const LEARN_DST_OUTPUT = 0x1000;

function encodeLearnSpec(w: Writer, s: LearnSpec): void {
  const n = s.kind === 'output' ? s.src.nBits : s.dst.nBits;
  const imm = s.kind === 'match-value' || s.kind === 'load-value';
  const dstType =
    s.kind === 'output' ? LEARN_DST_OUTPUT : s.kind.startsWith('load') ? LEARN_DST_LOAD : 0;
  w.u16((imm ? LEARN_SRC_IMM : 0) | dstType | n);
  if (imm) {
    w.uint(s.value, Math.ceil(n / 16) * 2);
  } else {
    const src = s.src;
    checkSlice(src, 'learn');
    w.u32(nxmRef(FIELDS[src.field])).u16(src.ofs);
  }
  if (s.kind !== 'output') {
    checkSlice(s.dst, 'learn');
    if (s.kind === 'match-field' && s.src.nBits !== s.dst.nBits)
      throw invalidFlow('learn', 'spec widths differ');
    w.u32(nxmRef(FIELDS[s.dst.field])).u16(s.dst.ofs);
  }
}

/** Appends one action. */
export function encodeAction(w: Writer, a: Action): void {
  (ENCODERS[a.type] as Enc<typeof a.type>)(w, a);
}

/**
 * Appends the instructions for an IR action list: meter and all plain actions in one
 * APPLY_ACTIONS, then GOTO_TABLE. An empty list (or `drop`) writes nothing.
 */
export function encodeInstructions(w: Writer, actions: readonly Action[]): void {
  const gotoIdx = actions.findIndex((a) => a.type === 'goto_table');
  if (gotoIdx >= 0 && gotoIdx !== actions.length - 1) {
    throw invalidFlow('goto_table', 'goto_table must be the last action');
  }
  const plain = actions.filter((a) => a.type !== 'goto_table' && a.type !== 'drop');
  if (plain.length > 0) {
    const start = w.length;
    w.u16(OFPIT.APPLY_ACTIONS).u16(0).zeros(4);
    for (const a of plain) encodeAction(w, a);
    w.setU16(start + 2, w.length - start);
  }
  const g = actions[gotoIdx];
  if (g && g.type === 'goto_table') w.u16(OFPIT.GOTO_TABLE).u16(8).u8(g.table).zeros(3);
}

/** Encodes an action list alone (as packet-out carries it). */
export function encodeActionList(w: Writer, actions: readonly Action[]): void {
  for (const a of actions) {
    if (a.type === 'goto_table') throw invalidFlow('goto_table', 'not allowed here');
    encodeAction(w, a);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoders, one per wire type / Nicira subtype

type Dec = (r: Reader) => Action;

function decodeSetField(r: Reader): Action {
  const header = r.u32();
  const f = fieldOfHeader(header, 'set_field');
  const masked = (header & 0x100) !== 0;
  const len = header & 0xff;
  const n = masked ? len / 2 : len;
  let value = r.uint(n);
  const mask = masked ? r.uint(n) : undefined;
  if (f.name === 'in_port' && n === 4) value = BigInt(port32to16(Number(value)));
  const full = fullMask(f);
  if (mask === undefined || (mask & full) === full)
    return { type: 'set_field', field: f.name, value: value & full };
  return { type: 'set_field', field: f.name, value: value & mask, mask };
}

const STANDARD: Record<number, Dec> = {
  [OFPAT.OUTPUT]: (r) => {
    const port = r.u32();
    const maxLen = r.u16();
    if (port === OfPort.CONTROLLER)
      return maxLen === 0xffff ? { type: 'controller' } : { type: 'controller', maxLen };
    return { type: 'output', port: portFromWire(port) };
  },
  [OFPAT.PUSH_VLAN]: (r) => ({ type: 'push_vlan', ethertype: r.u16() }),
  [OFPAT.POP_VLAN]: () => ({ type: 'pop_vlan' }),
  [OFPAT.SET_FIELD]: decodeSetField,
  [OFPAT.COPY_FIELD]: (r) => {
    const nBits = r.u16();
    const srcOfs = r.u16();
    const dstOfs = r.u16();
    r.skip(2);
    const src = fieldOfHeader(r.u32(), 'copy_field');
    const dst = fieldOfHeader(r.u32(), 'copy_field');
    return {
      type: 'move',
      src: { field: src.name, ofs: srcOfs, nBits },
      dst: { field: dst.name, ofs: dstOfs, nBits },
    };
  },
  [OFPAT.METER]: (r) => ({ type: 'meter', id: r.u32() }),
};

function decodeResubmit(ct: boolean): Dec {
  return (r) => {
    const port = r.u16();
    const table = r.u8();
    return {
      type: 'resubmit',
      table,
      ...(port !== 0xfff8 ? { port } : {}),
      ...(ct ? { ct: true } : {}),
    };
  };
}

function decodeLearn(v2: boolean): Dec {
  return (r) => {
    const idle = r.u16();
    const hard = r.u16();
    const priority = r.u16();
    const cookie = r.u64();
    const flags = r.u16();
    const table = r.u8();
    r.skip(1);
    const finIdle = r.u16();
    const finHard = r.u16();
    let limit = 0;
    if (v2) {
      limit = r.u32();
      r.skip(4);
      if (flags & 4) r.skip(4);
    }
    const specs: LearnSpec[] = [];
    while (r.remaining >= 2) {
      const h = r.u16();
      if (h === 0) break;
      const n = h & 0x7ff;
      const imm = (h & LEARN_SRC_IMM) !== 0;
      const dstType = h & 0x1800;
      let value = 0n;
      let src: FieldSlice | undefined;
      if (imm) value = r.uint(Math.ceil(n / 16) * 2);
      else {
        const f = fieldOfHeader(r.u32(), 'learn');
        src = { field: f.name, ofs: r.u16(), nBits: n };
      }
      if (dstType === LEARN_DST_OUTPUT) {
        if (!src) throw malformed('learn', 'output spec with an immediate source');
        specs.push({ kind: 'output', src });
        continue;
      }
      const df = fieldOfHeader(r.u32(), 'learn');
      const dst: FieldSlice = { field: df.name, ofs: r.u16(), nBits: n };
      if (dstType === LEARN_DST_LOAD)
        specs.push(src ? { kind: 'load-field', dst, src } : { kind: 'load-value', dst, value });
      else
        specs.push(src ? { kind: 'match-field', dst, src } : { kind: 'match-value', dst, value });
    }
    return {
      type: 'learn',
      table,
      ...(priority !== 0x8000 ? { priority } : {}),
      ...(idle ? { idleTimeout: idle } : {}),
      ...(hard ? { hardTimeout: hard } : {}),
      ...(finIdle ? { finIdleTimeout: finIdle } : {}),
      ...(finHard ? { finHardTimeout: finHard } : {}),
      ...(cookie ? { cookie } : {}),
      ...(flags & 1 ? { sendFlowRem: true } : {}),
      ...(flags & 2 ? { deleteLearned: true } : {}),
      ...(limit ? { limit } : {}),
      specs,
    };
  };
}

const NICIRA: Record<number, Dec> = {
  [NXAST.RESUBMIT]: (r) => {
    const port = r.u16();
    return { type: 'resubmit', table: 255, ...(port !== 0xfff8 ? { port } : {}) };
  },
  [NXAST.RESUBMIT_TABLE]: decodeResubmit(false),
  [NXAST.RESUBMIT_TABLE_CT]: decodeResubmit(true),
  [NXAST.REG_LOAD]: (r) => {
    const on = r.u16();
    const f = fieldOfHeader(r.u32(), 'load');
    return { type: 'load', dst: sliceOf(f, on), value: r.u64() };
  },
  [NXAST.REG_MOVE]: (r) => {
    const nBits = r.u16();
    const srcOfs = r.u16();
    const dstOfs = r.u16();
    const src = fieldOfHeader(r.u32(), 'move');
    const dst = fieldOfHeader(r.u32(), 'move');
    return {
      type: 'move',
      src: { field: src.name, ofs: srcOfs, nBits },
      dst: { field: dst.name, ofs: dstOfs, nBits },
    };
  },
  [NXAST.NOTE]: (r) => ({ type: 'note', data: r.bytes(r.remaining) }),
  [NXAST.OUTPUT_REG]: (r) => {
    const on = r.u16();
    const f = fieldOfHeader(r.u32(), 'output_reg');
    const maxLen = r.u16();
    return { type: 'output_reg', src: sliceOf(f, on), ...(maxLen !== 0xffff ? { maxLen } : {}) };
  },
  [NXAST.LEARN]: decodeLearn(false),
  [NXAST.LEARN2]: decodeLearn(true),
  [NXAST.CONTROLLER]: (r) => {
    const maxLen = r.u16();
    const id = r.u16();
    const reason = r.u8();
    return {
      type: 'controller',
      ...(maxLen !== 0xffff ? { maxLen } : {}),
      ...(id ? { controllerId: id } : {}),
      ...(reason !== 1 ? { reason: REASON_NAME[reason] ?? 'action' } : {}),
    };
  },
  [NXAST.CONTROLLER2]: (r) => {
    r.skip(6);
    const a: {
      -readonly [K in keyof Extract<Action, { type: 'controller' }>]: Extract<
        Action,
        { type: 'controller' }
      >[K];
    } = {
      type: 'controller',
    };
    while (r.remaining >= 4) {
      const start = r.pos;
      const type = r.u16();
      const len = r.u16();
      if (len < 4) break;
      const body = r.sub(len - 4, 'controller property');
      if (type === 0) a.maxLen = body.u16();
      else if (type === 1) a.controllerId = body.u16();
      else if (type === 2) a.reason = REASON_NAME[body.u8()] ?? 'action';
      else if (type === 3) a.userdata = body.bytes(body.remaining);
      else if (type === 4) a.pause = true;
      else if (type === 5) a.meterId = body.u32();
      r.pos = start + Math.ceil(len / 8) * 8;
      if (r.pos > r.end) r.pos = r.end;
    }
    if (a.maxLen === 0xffff) delete a.maxLen;
    if (a.reason === 'action') delete a.reason;
    return a;
  },
  [NXAST.CONJUNCTION]: (r) => {
    const clause = r.u8();
    const n = r.u8();
    return { type: 'conjunction', id: r.u32(), clause: clause + 1, nClauses: n };
  },
  [NXAST.CT]: (r) => {
    const flags = r.u16();
    const zoneSrc = r.u32();
    const zoneVal = r.u16();
    const table = r.u8();
    r.skip(3);
    const alg = r.u16();
    const exec = decodeActionList(r);
    let zone: number | FieldSlice | undefined;
    if (zoneSrc !== 0) zone = sliceOf(fieldOfHeader(zoneSrc, 'ct zone'), zoneVal);
    else if (zoneVal !== 0) zone = zoneVal;
    return {
      type: 'ct',
      ...(flags & 1 ? { commit: true } : {}),
      ...(flags & 2 ? { force: true } : {}),
      ...(zone !== undefined ? { zone } : {}),
      ...(table !== 255 ? { table } : {}),
      ...(alg ? { alg: ALG_NAME.get(alg) ?? String(alg) } : {}),
      ...(exec.length > 0 ? { exec } : {}),
    };
  },
  [NXAST.CLONE]: (r) => {
    r.skip(6);
    return { type: 'clone', actions: decodeActionList(r) };
  },
  [NXAST.CT_CLEAR]: () => ({ type: 'ct_clear' }),
};

/** Reads actions until `r` ends. */
export function decodeActionList(r: Reader): Action[] {
  const out: Action[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const type = r.u16();
    const len = r.u16();
    if (len < 8 || len % 8 !== 0) throw malformed('action', `length ${len} at offset ${start}`);
    const body = r.sub(len - 4, 'action');
    let dec: Dec | undefined;
    if (type === OFPAT.EXPERIMENTER) {
      const vendor = body.u32();
      const subtype = body.u16();
      if (vendor !== NX_VENDOR) throw malformed('action', `experimenter 0x${vendor.toString(16)}`);
      dec = NICIRA[subtype];
      if (!dec) throw malformed('action', `unsupported Nicira action subtype ${subtype}`);
    } else {
      dec = STANDARD[type];
      if (!dec) throw malformed('action', `unsupported action type ${type}`);
    }
    out.push(dec(body));
  }
  return out;
}

/** Reads instructions until `r` ends, into one IR action list. */
export function decodeInstructions(r: Reader): Action[] {
  const head: Action[] = [];
  const body: Action[] = [];
  const tail: Action[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const type = r.u16();
    const len = r.u16();
    if (len < 8) throw malformed('instruction', `length ${len} at offset ${start}`);
    const ir = r.sub(len - 4, 'instruction');
    if (type === OFPIT.APPLY_ACTIONS) {
      ir.skip(4);
      body.push(...decodeActionList(ir));
    } else if (type === OFPIT.GOTO_TABLE) {
      tail.push({ type: 'goto_table', table: ir.u8() });
    } else if (type === OFPIT.METER) {
      head.push({ type: 'meter', id: ir.u32() });
    } else {
      throw malformed('instruction', `unsupported instruction type ${type}`);
    }
  }
  return [...head, ...body, ...tail];
}

export { port16to32 };
