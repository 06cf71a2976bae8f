/**
 * Matches on the wire: OpenFlow 1.5 `ofp_match` (OXM TLVs), written exactly as Open vSwitch
 * writes them (field order, xreg pairing of registers, VLAN TCI as vlan_vid/vlan_pcp, in_port
 * as a 32-bit port, ct_tp_* only under ct_nw_proto), and read back into the IR. Every field's
 * header, width and position come from fields.ts.
 */
import {
  FIELDS,
  FIELD_TABLE,
  OxmClass,
  fullMask,
  presentFields,
  type FieldDef,
  type OxmHeader,
} from '../fields.js';
import type { FieldMatch, FieldName, Match } from '../ir.js';
import { canonicalMatch, validateMatch } from '../text.js';
import { malformed } from '../errors.js';
import { Reader, Writer } from './buffer.js';

/** OXM 32-bit header for a field: class, field, has-mask, payload length. */
export function oxmHeader(h: OxmHeader, masked: boolean, len: number): number {
  return ((h.cls << 16) | (h.field << 9) | (masked ? 0x100 : 0) | len) >>> 0;
}

/** 16-bit OpenFlow 1.0 port → 32-bit OpenFlow 1.1+ port (reserved ports move to 0xffffffxx). */
export function port16to32(p: number): number {
  return p >= 0xff00 ? (p + 0xffff0000) >>> 0 : p;
}

export function port32to16(p: number): number {
  return p >= 0xffffff00 ? p - 0xffff0000 : p;
}

const OXM_VLAN_VID: OxmHeader = { cls: OxmClass.OPENFLOW_BASIC, field: 6 };
const OXM_VLAN_PCP: OxmHeader = { cls: OxmClass.OPENFLOW_BASIC, field: 7 };
const OXM_PACKET_TYPE: OxmHeader = { cls: OxmClass.OPENFLOW_BASIC, field: 44 };
const NXM_IP_TOS: OxmHeader = { cls: OxmClass.NXM_0, field: 5 };

function put(
  w: Writer,
  h: OxmHeader,
  bytes: number,
  value: bigint,
  mask: bigint | undefined,
): void {
  w.u32(oxmHeader(h, mask !== undefined, mask !== undefined ? bytes * 2 : bytes));
  w.uint(value, bytes);
  if (mask !== undefined) w.uint(mask, bytes);
}

/**
 * Writes `match` as raw OXM TLVs (no ofp_match header); throws FlowError on bad IR. With
 * `prerequisites: false` (packet metadata, not a flow match) only values and masks are checked.
 */
export function encodeOxmFields(
  w: Writer,
  match: Match,
  opts: { prerequisites?: boolean } = {},
): void {
  validateMatch(match, opts);
  const m = canonicalMatch(match);
  let regsDone = false;
  for (const name of presentFields(m)) {
    const f = FIELDS[name];
    if (f.name.startsWith('reg')) {
      if (!regsDone) putXregs(w, m);
      regsDone = true;
      continue;
    }
    const fm = m[name]!;
    switch (f.name) {
      case 'in_port':
        put(w, f.oxm, 4, BigInt(port16to32(Number(fm.value))), undefined);
        break;
      case 'vlan_tci':
        putVlan(w, fm);
        break;
      case 'ct_state':
        // OVS keeps 8 ct_state bits and always sends them masked (0xff = exact).
        put(w, f.oxm, 4, fm.value, fm.mask ?? 0xffn);
        break;
      case 'ct_nw_proto':
        if (fm.value !== 0n) put(w, f.oxm, 1, fm.value, undefined);
        break;
      case 'ct_tp_src':
      case 'ct_tp_dst':
        if (m.ct_nw_proto && m.ct_nw_proto.value !== 0n) put(w, f.oxm, 2, fm.value, fm.mask);
        break;
      default:
        put(w, f.oxm, f.bytes, fm.value, fm.mask);
    }
  }
}

function putVlan(w: Writer, fm: FieldMatch): void {
  const mask = fm.mask ?? 0xffffn;
  const vid = fm.value & 0x1fffn;
  const vidMask = mask & 0x1fffn;
  if (vidMask === 0x1fffn) put(w, OXM_VLAN_VID, 2, vid, undefined);
  else if (vidMask !== 0n) put(w, OXM_VLAN_VID, 2, vid, vidMask);
  if (vid !== 0n && (mask & 0xe000n) !== 0n)
    put(w, OXM_VLAN_PCP, 1, (fm.value >> 13n) & 7n, undefined);
}

/** OpenFlow 1.5 carries reg(2i) and reg(2i+1) together as the 64-bit xreg i (high, low). */
const REG_NAMES = Array.from({ length: 16 }, (_, i) => `reg${i}` as FieldName);
const XREG_HEADERS = Array.from({ length: 8 }, (_, i) => ({ cls: OxmClass.PACKET_REGS, field: i }));

function putXregs(w: Writer, m: Match): void {
  for (let i = 0; i < 8; i++) {
    const hi = m[REG_NAMES[2 * i]!];
    const lo = m[REG_NAMES[2 * i + 1]!];
    if (!hi && !lo) continue;
    const value = ((hi?.value ?? 0n) << 32n) | (lo?.value ?? 0n);
    const mask =
      ((hi ? (hi.mask ?? 0xffffffffn) : 0n) << 32n) | (lo ? (lo.mask ?? 0xffffffffn) : 0n);
    put(w, XREG_HEADERS[i]!, 8, value, mask === 0xffffffffffffffffn ? undefined : mask);
  }
}

/** Writes an `ofp_match` (type OXM, length, TLVs, padding to 8). */
export function encodeMatch(w: Writer, match: Match): void {
  const start = w.length;
  w.u16(1).u16(0);
  encodeOxmFields(w, match);
  w.setU16(start + 2, w.length - start);
  w.pad8(start);
}

const BY_HEADER = new Map<number, FieldDef>();
for (const f of FIELD_TABLE) {
  for (const h of [f.nxm, f.oxm]) BY_HEADER.set((h.cls << 16) | h.field, f);
}

/** The field a header (class, field) names, in matches or Nicira actions. */
export function fieldByHeader(cls: number, field: number): FieldDef | undefined {
  return BY_HEADER.get((cls << 16) | field);
}

/** Reads raw OXM TLVs until `r` ends. */
export function decodeOxmFields(r: Reader): Match {
  const out: Partial<Record<FieldName, FieldMatch>> = {};
  let vlan: { value: bigint; mask: bigint } | undefined;
  while (r.remaining > 0) {
    const header = r.u32();
    const cls = header >>> 16;
    const field = (header >>> 9) & 0x7f;
    const hasMask = (header & 0x100) !== 0;
    let len = header & 0xff;
    if (cls === 0xffff) {
      r.skip(4);
      len -= 4;
    }
    if (hasMask && len % 2 !== 0) throw malformed('match', `masked field with odd length ${len}`);
    const n = hasMask ? len / 2 : len;
    const value = r.uint(n);
    const mask = hasMask ? r.uint(n) : undefined;
    if (cls === OxmClass.PACKET_REGS) {
      const m64 = mask ?? 0xffffffffffffffffn;
      const pairs: [FieldName, bigint, bigint][] = [
        [`reg${2 * field}` as FieldName, value >> 32n, m64 >> 32n],
        [`reg${2 * field + 1}` as FieldName, value & 0xffffffffn, m64 & 0xffffffffn],
      ];
      for (const [name, v, mk] of pairs) if (mk !== 0n) out[name] = { value: v, mask: mk };
      continue;
    }
    if (cls === OXM_VLAN_VID.cls && field === OXM_VLAN_VID.field) {
      vlan ??= { value: 0n, mask: 0n };
      vlan.value |= value & 0x1fffn;
      vlan.mask |= mask ?? 0x1fffn;
      continue;
    }
    if (cls === OXM_VLAN_PCP.cls && field === OXM_VLAN_PCP.field) {
      vlan ??= { value: 0n, mask: 0n };
      vlan.value |= value << 13n;
      vlan.mask |= 0xe000n;
      continue;
    }
    if (cls === OXM_PACKET_TYPE.cls && field === OXM_PACKET_TYPE.field) {
      if (value !== 0n)
        throw malformed('match', `packet_type ${value.toString(16)} is not Ethernet`);
      continue;
    }
    if (cls === NXM_IP_TOS.cls && field === NXM_IP_TOS.field) {
      out.ip_dscp = { value: value >> 2n };
      continue;
    }
    const f = fieldByHeader(cls, field);
    if (!f)
      throw malformed('match', `unsupported field class 0x${cls.toString(16)} field ${field}`);
    const expected = f.name === 'in_port' ? (cls === OxmClass.OPENFLOW_BASIC ? 4 : 2) : f.bytes;
    if (n !== expected) throw malformed('match', `${f.name} has ${n} bytes, expected ${expected}`);
    if (f.name === 'in_port') {
      out.in_port = { value: BigInt(n === 4 ? port32to16(Number(value)) : Number(value)) };
      continue;
    }
    out[f.name] = mask === undefined ? { value: value & fullMask(f) } : { value, mask };
  }
  if (vlan) out.vlan_tci = vlan;
  return canonicalMatch(out);
}

/** Reads an `ofp_match` (with its padding). */
export function decodeMatch(r: Reader): Match {
  const start = r.pos;
  const type = r.u16();
  const length = r.u16();
  if (type !== 1) throw malformed('match', `type ${type} is not OXM (1)`);
  if (length < 4) throw malformed('match', `length ${length} < 4`);
  const m = decodeOxmFields(r.sub(length - 4, 'match'));
  r.pos = start + Math.ceil(length / 8) * 8;
  return m;
}

export { FIELDS };
