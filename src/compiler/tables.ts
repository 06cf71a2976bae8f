/**
 * The names of the pipeline (docs/pipeline.md): tables, registers, flag bits, priorities.
 * Flow code never uses a bare table number, register or bit: it names them here.
 *
 * Invariant: table numbers are offsets from a configurable base, so sgflow can sit inside a
 * larger pipeline; `tablesAt(base)` is the one place the base is added.
 */
import type { FieldName, FieldSlice } from '../openflow/ir.js';

/** Table offsets from the base table. */
export const Table = {
  Classify: 0,
  EgressPortSecurity: 1,
  EgressState: 2,
  EgressRules: 3,
  Forward: 4,
  IngressPortSecurity: 5,
  IngressState: 6,
  IngressRules: 7,
  Output: 8,
  Allow: 9,
} as const;

export type TableName = keyof typeof Table;
export type Tables = Readonly<Record<TableName, number>>;

/** Absolute table numbers for a base table. */
export function tablesAt(base: number): Tables {
  const out = {} as Record<TableName, number>;
  for (const [name, offset] of Object.entries(Table) as [TableName, number][])
    out[name] = base + offset;
  return out;
}

/** Registers the pipeline keeps its state in. */
export const Reg = {
  /** The port whose stage runs (sender in egress, receiver in ingress): its ofport. */
  PortKey: 'reg5',
  /** Network key of the packet's network. */
  Network: 'reg6',
  /** `Flag` bits. */
  Flags: 'reg0',
} as const satisfies Record<string, FieldName>;

/** reg5[0..15]: the conntrack zone of the port (one zone per port). */
export const ZoneSlice: FieldSlice = { field: Reg.PortKey, ofs: 0, nBits: 16 };

/** Bits of `Reg.Flags`. */
export const Flag = {
  /** The pipeline is in its ingress half. */
  Ingress: 1 << 0,
  /** The reg5 port uses conntrack. */
  Stateful: 1 << 1,
  /** The state table saw a reply and judges it with the opposite direction's rules. */
  Reply: 1 << 2,
  /** The packet came in from the uplink. */
  FromUplink: 1 << 3,
  /** Egress port security: (eth_src, IP source) is a bound pair of the port (or `::`). */
  SourceChecked: 1 << 4,
  /** Egress port security: the IPv6 source is `::` (only always-allowed traffic may pass). */
  SourceUnspecified: 1 << 5,
} as const;

/** Priorities by purpose. Rules tables: plain rule flows below every conjunction. */
export const Priority = {
  Drop: 0,
  /** Egress port security. A VLAN-tagged frame from an access port: above everything. */
  Tagged: 130,
  AlwaysDropped: 110,
  BypassChecked: 100,
  SourceBinding: 90,
  SourceUnspecified: 89,
  AllowedAfterSource: 80,
  NdFailed: 70,
  ToState: 60,
  /** Ingress port security. */
  Hairpin: 120,
  AlwaysAllowedIngress: 90,
  /** State tables. */
  Track: 100,
  Invalid: 90,
  Tracked: 80,
  Stateless: 70,
  /** Rules tables. */
  ConjunctionMin: 1000,
  ConjunctionMax: 60000,
  PlainRule: 100,
  Punt: 50,
  /** Forward / classify / output / allow. */
  Specific: 100,
  Broadcast: 90,
  Default: 10,
} as const;
