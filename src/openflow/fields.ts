/**
 * The match-field table: one row per IR field, read by every codec (ovs-ofctl text in
 * text.ts, OpenFlow 1.5 + Nicira wire format in wire/). Nothing else hard-codes a field's
 * width, header, prerequisites or text form.
 *
 * Invariant: the rows are listed in the order Open vSwitch itself puts fields on the wire
 * (lib/nx-match.c `nx_put_raw`), and `textRank` is the order ovs-ofctl prints them
 * (lib/match.c `match_format`), so one flow has one byte string and one text form, both
 * equal to what OVS produces for it.
 */
import { FIELD_NAMES, type FieldMatch, type FieldName, type Match } from './ir.js';

/** OXM/NXM header classes. */
export const OxmClass = {
  NXM_0: 0x0000,
  NXM_1: 0x0001,
  OPENFLOW_BASIC: 0x8000,
  PACKET_REGS: 0x8001,
} as const;

/** A 32-bit NXM/OXM header without the length and has-mask bits. */
export interface OxmHeader {
  readonly cls: number;
  readonly field: number;
}

/**
 * Prerequisites (ovs-fields(7) "Prerequisites"): what a match must also constrain before it
 * may constrain a field. `ct` = a ct_state that implies a valid connection (+trk with -inv,
 * or one of new/est/rel/rpl/snat/dnat), as OVS's `is_ct_valid`.
 */
export type Prerequisite =
  | 'none'
  | 'arp'
  | 'ipv4'
  | 'ipv6'
  | 'ip'
  | 'tcp'
  | 'udp'
  | 'sctp'
  | 'icmpv4'
  | 'icmpv6'
  | 'nd'
  | 'nd_ns'
  | 'nd_na'
  | 'ct'
  /** ct valid and ct_nw_proto matched (OVS encodes ct_tp_* only under ct_nw_proto). */
  | 'ct_proto';

/** How ovs-ofctl writes a field's value (and mask). */
export type TextFormat =
  /** `0x1f` / `0x10/0xf0` (registers, ct_mark, metadata, tun_id); zero prints as `0`. */
  | 'hex'
  /** Decimal value, hex mask: `80`, `0x50/0xfff0` prints `80/0xfff0` (ports). */
  | 'decimal'
  /** `aa:bb:cc:dd:ee:ff[/mask]`. */
  | 'mac'
  /** Dotted quad, `/prefixlen` for CIDR masks, `/a.b.c.d` otherwise. */
  | 'ipv4'
  /** RFC 5952 text, `/prefixlen` or `/mask`. */
  | 'ipv6'
  /** `+trk-inv` flags (`new|est` when every flag is matched). */
  | 'ct_state'
  /** `+syn-ack` flags (`syn|ack` when every flag is matched). */
  | 'tcp_flags'
  /** `no`, `yes`, `first`, `later`, `not_later`. */
  | 'frag'
  /** A port number or LOCAL, CONTROLLER, ... */
  | 'port'
  /** `0x0800` (four hex digits). */
  | 'ethertype'
  /** `0x00005` (five hex digits). */
  | 'flowlabel'
  /** ip_dscp, printed as the 8-bit `nw_tos` (dscp << 2). */
  | 'tos'
  /** vlan_tci, printed as dl_vlan/dl_vlan_pcp where OVS does. */
  | 'vlan';

export interface FieldDef {
  readonly name: FieldName;
  /** Other names ovs-ofctl accepts for it (ovs-fields(7) "aka", legacy names). */
  readonly aliases: readonly string[];
  /** Value width in bits (the IR value is a bigint below 2**bits). */
  readonly bits: number;
  /** Bytes on the wire. */
  readonly bytes: number;
  readonly maskable: boolean;
  readonly prereq: Prerequisite;
  /** Header in OpenFlow 1.5 matches and set_field/copy_field (OVS's choice for OF1.5). */
  readonly oxm: OxmHeader;
  /** Header in Nicira actions and learn specs (OVS's version-0 header), with its name. */
  readonly nxm: OxmHeader;
  readonly nxmName: string;
  readonly text: TextFormat;
  /** The name ovs-ofctl prints in a match (dump-flows, ofp-print). */
  readonly printName: string;
  /** OVS's primary field name, printed in set_field and learn (ovs-fields(7) "Name"). */
  readonly mfName: string;
  /** Position in ovs-ofctl's printed match (lower first). */
  readonly textRank: number;
}

const B = OxmClass.OPENFLOW_BASIC;
const N0 = OxmClass.NXM_0;
const N1 = OxmClass.NXM_1;

type Row = Omit<FieldDef, 'bytes' | 'nxm' | 'nxmName' | 'printName' | 'mfName' | 'aliases'> & {
  mfName?: string;
  bytes?: number;
  nxm?: OxmHeader;
  nxmName: string;
  printName?: string;
  aliases?: readonly string[];
};

function row(r: Row): FieldDef {
  return {
    ...r,
    aliases: r.aliases ?? [],
    bytes: r.bytes ?? Math.ceil(r.bits / 8),
    nxm: r.nxm ?? r.oxm,
    printName: r.printName ?? r.name,
    mfName: r.mfName ?? r.name,
  };
}

function reg(i: number): FieldDef {
  return row({
    name: `reg${i}` as FieldName,
    bits: 32,
    maskable: true,
    prereq: 'none',
    oxm: { cls: N1, field: i },
    nxmName: `NXM_NX_REG${i}`,
    text: 'hex',
    textRank: 300 + i,
  });
}

/** The field table, in OVS's wire order. */
export const FIELD_TABLE: readonly FieldDef[] = [
  row({
    name: 'conj_id',
    bits: 32,
    maskable: false,
    prereq: 'none',
    oxm: { cls: N1, field: 37 },
    nxmName: 'NXM_NX_CONJ_ID',
    text: 'decimal',
    textRank: 10,
  }),
  row({
    name: 'in_port',
    bits: 16,
    bytes: 4,
    maskable: false,
    prereq: 'none',
    oxm: { cls: B, field: 0 },
    nxm: { cls: N0, field: 0 },
    nxmName: 'NXM_OF_IN_PORT',
    text: 'port',
    textRank: 500,
  }),
  row({
    name: 'eth_src',
    aliases: ['dl_src'],
    bits: 48,
    maskable: true,
    prereq: 'none',
    oxm: { cls: B, field: 4 },
    nxm: { cls: N0, field: 2 },
    nxmName: 'NXM_OF_ETH_SRC',
    text: 'mac',
    printName: 'dl_src',
    textRank: 600,
  }),
  row({
    name: 'eth_dst',
    aliases: ['dl_dst'],
    bits: 48,
    maskable: true,
    prereq: 'none',
    oxm: { cls: B, field: 3 },
    nxm: { cls: N0, field: 1 },
    nxmName: 'NXM_OF_ETH_DST',
    text: 'mac',
    printName: 'dl_dst',
    textRank: 601,
  }),
  row({
    name: 'eth_type',
    aliases: ['dl_type'],
    bits: 16,
    maskable: false,
    prereq: 'none',
    oxm: { cls: B, field: 5 },
    nxm: { cls: N0, field: 3 },
    nxmName: 'NXM_OF_ETH_TYPE',
    text: 'ethertype',
    printName: 'dl_type',
    textRank: 602,
  }),
  row({
    name: 'vlan_tci',
    bits: 16,
    maskable: true,
    prereq: 'none',
    oxm: { cls: N0, field: 4 },
    nxmName: 'NXM_OF_VLAN_TCI',
    text: 'vlan',
    textRank: 550,
  }),
  row({
    name: 'ip_src',
    aliases: ['nw_src'],
    bits: 32,
    maskable: true,
    prereq: 'ipv4',
    oxm: { cls: B, field: 11 },
    nxm: { cls: N0, field: 7 },
    nxmName: 'NXM_OF_IP_SRC',
    text: 'ipv4',
    printName: 'nw_src',
    textRank: 700,
  }),
  row({
    name: 'ip_dst',
    aliases: ['nw_dst'],
    bits: 32,
    maskable: true,
    prereq: 'ipv4',
    oxm: { cls: B, field: 12 },
    nxm: { cls: N0, field: 8 },
    nxmName: 'NXM_OF_IP_DST',
    text: 'ipv4',
    printName: 'nw_dst',
    textRank: 701,
  }),
  row({
    name: 'ipv6_src',
    bits: 128,
    maskable: true,
    prereq: 'ipv6',
    oxm: { cls: B, field: 26 },
    nxm: { cls: N1, field: 19 },
    nxmName: 'NXM_NX_IPV6_SRC',
    text: 'ipv6',
    textRank: 690,
  }),
  row({
    name: 'ipv6_dst',
    bits: 128,
    maskable: true,
    prereq: 'ipv6',
    oxm: { cls: B, field: 27 },
    nxm: { cls: N1, field: 20 },
    nxmName: 'NXM_NX_IPV6_DST',
    text: 'ipv6',
    textRank: 691,
  }),
  row({
    name: 'ip_frag',
    aliases: ['nw_frag'],
    bits: 8,
    maskable: true,
    prereq: 'ip',
    oxm: { cls: N1, field: 26 },
    nxmName: 'NXM_NX_IP_FRAG',
    text: 'frag',
    printName: 'nw_frag',
    textRank: 900,
  }),
  row({
    name: 'ip_dscp',
    bits: 6,
    maskable: false,
    prereq: 'ip',
    oxm: { cls: B, field: 8 },
    nxmName: 'OXM_OF_IP_DSCP',
    text: 'tos',
    printName: 'nw_tos',
    textRank: 800,
  }),
  row({
    name: 'nw_ttl',
    bits: 8,
    maskable: false,
    prereq: 'ip',
    oxm: { cls: N1, field: 29 },
    nxmName: 'NXM_NX_IP_TTL',
    text: 'decimal',
    textRank: 810,
  }),
  row({
    name: 'ipv6_label',
    bits: 20,
    bytes: 4,
    maskable: true,
    prereq: 'ipv6',
    oxm: { cls: B, field: 28 },
    nxm: { cls: N1, field: 27 },
    nxmName: 'NXM_NX_IPV6_LABEL',
    text: 'flowlabel',
    textRank: 692,
  }),
  row({
    name: 'ip_proto',
    aliases: ['nw_proto'],
    bits: 8,
    maskable: false,
    prereq: 'ip',
    oxm: { cls: B, field: 10 },
    nxm: { cls: N0, field: 6 },
    nxmName: 'NXM_OF_IP_PROTO',
    text: 'decimal',
    printName: 'nw_proto',
    mfName: 'nw_proto',
    textRank: 750,
  }),
  row({
    name: 'tcp_src',
    bits: 16,
    maskable: true,
    prereq: 'tcp',
    oxm: { cls: B, field: 13 },
    nxm: { cls: N0, field: 9 },
    nxmName: 'NXM_OF_TCP_SRC',
    text: 'decimal',
    printName: 'tp_src',
    textRank: 1000,
  }),
  row({
    name: 'tcp_dst',
    bits: 16,
    maskable: true,
    prereq: 'tcp',
    oxm: { cls: B, field: 14 },
    nxm: { cls: N0, field: 10 },
    nxmName: 'NXM_OF_TCP_DST',
    text: 'decimal',
    printName: 'tp_dst',
    textRank: 1001,
  }),
  row({
    name: 'tcp_flags',
    bits: 12,
    bytes: 2,
    maskable: true,
    prereq: 'tcp',
    oxm: { cls: B, field: 42 },
    nxm: { cls: N1, field: 34 },
    nxmName: 'NXM_NX_TCP_FLAGS',
    text: 'tcp_flags',
    textRank: 1100,
  }),
  row({
    name: 'udp_src',
    bits: 16,
    maskable: true,
    prereq: 'udp',
    oxm: { cls: B, field: 15 },
    nxm: { cls: N0, field: 11 },
    nxmName: 'NXM_OF_UDP_SRC',
    text: 'decimal',
    printName: 'tp_src',
    textRank: 1000,
  }),
  row({
    name: 'udp_dst',
    bits: 16,
    maskable: true,
    prereq: 'udp',
    oxm: { cls: B, field: 16 },
    nxm: { cls: N0, field: 12 },
    nxmName: 'NXM_OF_UDP_DST',
    text: 'decimal',
    printName: 'tp_dst',
    textRank: 1001,
  }),
  row({
    name: 'sctp_src',
    bits: 16,
    maskable: true,
    prereq: 'sctp',
    oxm: { cls: B, field: 17 },
    nxmName: 'OXM_OF_SCTP_SRC',
    text: 'decimal',
    printName: 'tp_src',
    textRank: 1000,
  }),
  row({
    name: 'sctp_dst',
    bits: 16,
    maskable: true,
    prereq: 'sctp',
    oxm: { cls: B, field: 18 },
    nxmName: 'OXM_OF_SCTP_DST',
    text: 'decimal',
    printName: 'tp_dst',
    textRank: 1001,
  }),
  row({
    name: 'icmp_type',
    bits: 8,
    maskable: false,
    prereq: 'icmpv4',
    oxm: { cls: B, field: 19 },
    nxm: { cls: N0, field: 13 },
    nxmName: 'NXM_OF_ICMP_TYPE',
    text: 'decimal',
    textRank: 1000,
  }),
  row({
    name: 'icmp_code',
    bits: 8,
    maskable: false,
    prereq: 'icmpv4',
    oxm: { cls: B, field: 20 },
    nxm: { cls: N0, field: 14 },
    nxmName: 'NXM_OF_ICMP_CODE',
    text: 'decimal',
    textRank: 1001,
  }),
  row({
    name: 'icmpv6_type',
    bits: 8,
    maskable: false,
    prereq: 'icmpv6',
    oxm: { cls: B, field: 29 },
    nxm: { cls: N1, field: 21 },
    nxmName: 'NXM_NX_ICMPV6_TYPE',
    text: 'decimal',
    printName: 'icmp_type',
    textRank: 1000,
  }),
  row({
    name: 'icmpv6_code',
    bits: 8,
    maskable: false,
    prereq: 'icmpv6',
    oxm: { cls: B, field: 30 },
    nxm: { cls: N1, field: 22 },
    nxmName: 'NXM_NX_ICMPV6_CODE',
    text: 'decimal',
    printName: 'icmp_code',
    textRank: 1001,
  }),
  row({
    name: 'nd_target',
    bits: 128,
    maskable: true,
    prereq: 'nd',
    oxm: { cls: B, field: 31 },
    nxm: { cls: N1, field: 23 },
    nxmName: 'NXM_NX_ND_TARGET',
    text: 'ipv6',
    textRank: 1010,
  }),
  row({
    name: 'nd_sll',
    bits: 48,
    maskable: true,
    prereq: 'nd_ns',
    oxm: { cls: B, field: 32 },
    nxm: { cls: N1, field: 24 },
    nxmName: 'NXM_NX_ND_SLL',
    text: 'mac',
    textRank: 1011,
  }),
  row({
    name: 'nd_tll',
    bits: 48,
    maskable: true,
    prereq: 'nd_na',
    oxm: { cls: B, field: 33 },
    nxm: { cls: N1, field: 25 },
    nxmName: 'NXM_NX_ND_TLL',
    text: 'mac',
    textRank: 1012,
  }),
  row({
    name: 'arp_op',
    bits: 16,
    maskable: false,
    prereq: 'arp',
    oxm: { cls: B, field: 21 },
    nxm: { cls: N0, field: 15 },
    nxmName: 'NXM_OF_ARP_OP',
    text: 'decimal',
    textRank: 760,
  }),
  row({
    name: 'arp_spa',
    bits: 32,
    maskable: true,
    prereq: 'arp',
    oxm: { cls: B, field: 22 },
    nxm: { cls: N0, field: 16 },
    nxmName: 'NXM_OF_ARP_SPA',
    text: 'ipv4',
    textRank: 700,
  }),
  row({
    name: 'arp_tpa',
    bits: 32,
    maskable: true,
    prereq: 'arp',
    oxm: { cls: B, field: 23 },
    nxm: { cls: N0, field: 17 },
    nxmName: 'NXM_OF_ARP_TPA',
    text: 'ipv4',
    textRank: 701,
  }),
  row({
    name: 'arp_sha',
    bits: 48,
    maskable: true,
    prereq: 'arp',
    oxm: { cls: B, field: 24 },
    nxm: { cls: N1, field: 17 },
    nxmName: 'NXM_NX_ARP_SHA',
    text: 'mac',
    textRank: 770,
  }),
  row({
    name: 'arp_tha',
    bits: 48,
    maskable: true,
    prereq: 'arp',
    oxm: { cls: B, field: 25 },
    nxm: { cls: N1, field: 18 },
    nxmName: 'NXM_NX_ARP_THA',
    text: 'mac',
    textRank: 771,
  }),
  row({
    name: 'tun_id',
    aliases: ['tunnel_id'],
    bits: 64,
    maskable: true,
    prereq: 'none',
    oxm: { cls: B, field: 38 },
    nxm: { cls: N1, field: 16 },
    nxmName: 'NXM_NX_TUN_ID',
    text: 'hex',
    textRank: 400,
  }),
  ...Array.from({ length: 16 }, (_, i) => reg(i)),
  row({
    name: 'ct_state',
    bits: 8,
    bytes: 4,
    maskable: true,
    prereq: 'none',
    oxm: { cls: N1, field: 105 },
    nxmName: 'NXM_NX_CT_STATE',
    text: 'ct_state',
    textRank: 100,
  }),
  row({
    name: 'ct_zone',
    bits: 16,
    maskable: false,
    prereq: 'none',
    oxm: { cls: N1, field: 106 },
    nxmName: 'NXM_NX_CT_ZONE',
    text: 'decimal',
    textRank: 101,
  }),
  row({
    name: 'ct_mark',
    bits: 32,
    maskable: true,
    prereq: 'none',
    oxm: { cls: N1, field: 107 },
    nxmName: 'NXM_NX_CT_MARK',
    text: 'hex',
    textRank: 102,
  }),
  row({
    name: 'ct_label',
    bits: 128,
    maskable: true,
    prereq: 'none',
    oxm: { cls: N1, field: 108 },
    nxmName: 'NXM_NX_CT_LABEL',
    text: 'hex',
    textRank: 103,
  }),
  row({
    name: 'ct_nw_src',
    bits: 32,
    maskable: true,
    prereq: 'ct',
    oxm: { cls: N1, field: 120 },
    nxmName: 'NXM_NX_CT_NW_SRC',
    text: 'ipv4',
    textRank: 110,
  }),
  row({
    name: 'ct_ipv6_src',
    bits: 128,
    maskable: true,
    prereq: 'ct',
    oxm: { cls: N1, field: 122 },
    nxmName: 'NXM_NX_CT_IPV6_SRC',
    text: 'ipv6',
    textRank: 111,
  }),
  row({
    name: 'ct_nw_dst',
    bits: 32,
    maskable: true,
    prereq: 'ct',
    oxm: { cls: N1, field: 121 },
    nxmName: 'NXM_NX_CT_NW_DST',
    text: 'ipv4',
    textRank: 112,
  }),
  row({
    name: 'ct_ipv6_dst',
    bits: 128,
    maskable: true,
    prereq: 'ct',
    oxm: { cls: N1, field: 123 },
    nxmName: 'NXM_NX_CT_IPV6_DST',
    text: 'ipv6',
    textRank: 113,
  }),
  row({
    name: 'ct_nw_proto',
    bits: 8,
    maskable: false,
    prereq: 'ct',
    oxm: { cls: N1, field: 119 },
    nxmName: 'NXM_NX_CT_NW_PROTO',
    text: 'decimal',
    textRank: 120,
  }),
  row({
    name: 'ct_tp_src',
    bits: 16,
    maskable: true,
    prereq: 'ct_proto',
    oxm: { cls: N1, field: 124 },
    nxmName: 'NXM_NX_CT_TP_SRC',
    text: 'decimal',
    textRank: 121,
  }),
  row({
    name: 'ct_tp_dst',
    bits: 16,
    maskable: true,
    prereq: 'ct_proto',
    oxm: { cls: N1, field: 125 },
    nxmName: 'NXM_NX_CT_TP_DST',
    text: 'decimal',
    textRank: 122,
  }),
  row({
    name: 'metadata',
    bits: 64,
    maskable: true,
    prereq: 'none',
    oxm: { cls: B, field: 2 },
    nxmName: 'OXM_OF_METADATA',
    text: 'hex',
    textRank: 450,
  }),
];

/** Rows by IR name. */
export const FIELDS: Readonly<Record<FieldName, FieldDef>> = Object.fromEntries(
  FIELD_TABLE.map((f) => [f.name, f]),
) as Record<FieldName, FieldDef>;

/** Wire position of each field (index in FIELD_TABLE). */
export const WIRE_RANK: Readonly<Record<FieldName, number>> = Object.fromEntries(
  FIELD_TABLE.map((f, i) => [f.name, i]),
) as Record<FieldName, number>;

const BY_TEXT_NAME = new Map<string, FieldDef>();
for (const f of FIELD_TABLE) {
  for (const n of [f.name, ...f.aliases, f.nxmName]) BY_TEXT_NAME.set(n.toLowerCase(), f);
}

/** A field by any name ovs-ofctl accepts for it (IR name, alias, NXM/OXM name); case-insensitive. */
export function fieldByName(name: string): FieldDef | undefined {
  return BY_TEXT_NAME.get(name.toLowerCase());
}

const FULL_MASKS = new Map<FieldName, bigint>(
  FIELD_TABLE.map((f) => [f.name, (1n << BigInt(f.bits)) - 1n]),
);

/** All bits of a field set. */
export function fullMask(f: FieldDef): bigint {
  return FULL_MASKS.get(f.name)!;
}

/** The effective mask of a field match (absent = all bits). */
export function maskOf(f: FieldDef, m: FieldMatch): bigint {
  return m.mask ?? fullMask(f);
}

/** The fields `m` constrains, in wire (table) order; throws nothing, ignores unknown keys. */
export function presentFields(m: Match): FieldName[] {
  const out: FieldName[] = [];
  const ranks: number[] = [];
  for (const k in m) {
    const r = RANK.get(k);
    if (r === undefined || m[k as FieldName] === undefined) continue;
    // Insertion sort: matches hold a handful of fields.
    let i = out.length;
    out.push(k as FieldName);
    ranks.push(r);
    while (i > 0 && ranks[i - 1]! > r) {
      out[i] = out[i - 1]!;
      ranks[i] = ranks[i - 1]!;
      i--;
    }
    out[i] = k as FieldName;
    ranks[i] = r;
  }
  return out;
}

const RANK = new Map<string, number>(FIELD_TABLE.map((f, i) => [f.name, i]));

export const EthType = { IPV4: 0x0800n, ARP: 0x0806n, RARP: 0x8035n, IPV6: 0x86ddn } as const;
export const IpProto = { ICMP: 1n, TCP: 6n, UDP: 17n, SCTP: 132n, ICMPV6: 58n } as const;

function exact(m: Match, name: FieldName): bigint | undefined {
  const fm = m[name];
  if (fm === undefined) return undefined;
  if (fm.mask !== undefined && fm.mask !== fullMask(FIELDS[name])) return undefined;
  return fm.value;
}

function isIp(m: Match): boolean {
  const t = exact(m, 'eth_type');
  return t === EthType.IPV4 || t === EthType.IPV6;
}

function proto(m: Match, p: bigint, ethType?: bigint): boolean {
  if (ethType !== undefined ? exact(m, 'eth_type') !== ethType : !isIp(m)) return false;
  return exact(m, 'ip_proto') === p;
}

/** OVS's `is_ct_valid`: the match pins ct_state to a tracked, valid connection. */
function ctValid(m: Match): boolean {
  const cs = m.ct_state;
  if (!cs) return false;
  const mask = cs.mask ?? 0xffffffffn;
  const valid = 0x01n | 0x02n | 0x04n | 0x08n | 0x40n | 0x80n;
  if ((cs.value & mask & valid) !== 0n) return true;
  return (cs.value & mask & 0x20n) !== 0n && (mask & 0x10n) !== 0n && (cs.value & 0x10n) === 0n;
}

/** Whether `m` satisfies the prerequisite `p`. */
export function prerequisiteMet(p: Prerequisite, m: Match): boolean {
  switch (p) {
    case 'none':
      return true;
    case 'arp':
      return exact(m, 'eth_type') === EthType.ARP || exact(m, 'eth_type') === EthType.RARP;
    case 'ipv4':
      return exact(m, 'eth_type') === EthType.IPV4;
    case 'ipv6':
      return exact(m, 'eth_type') === EthType.IPV6;
    case 'ip':
      return isIp(m);
    case 'tcp':
      return proto(m, IpProto.TCP);
    case 'udp':
      return proto(m, IpProto.UDP);
    case 'sctp':
      return proto(m, IpProto.SCTP);
    case 'icmpv4':
      return proto(m, IpProto.ICMP, EthType.IPV4);
    case 'icmpv6':
      return proto(m, IpProto.ICMPV6, EthType.IPV6);
    case 'nd_ns':
      return proto(m, IpProto.ICMPV6, EthType.IPV6) && exact(m, 'icmpv6_type') === 135n;
    case 'nd_na':
      return proto(m, IpProto.ICMPV6, EthType.IPV6) && exact(m, 'icmpv6_type') === 136n;
    case 'nd':
      return prerequisiteMet('nd_ns', m) || prerequisiteMet('nd_na', m);
    case 'ct':
      return ctValid(m);
    case 'ct_proto':
      return ctValid(m) && m.ct_nw_proto !== undefined && m.ct_nw_proto.value !== 0n;
  }
}

const PREREQ_TEXT: Record<Prerequisite, string> = {
  none: 'nothing',
  arp: 'arp (eth_type=0x0806)',
  ipv4: 'ip (eth_type=0x0800)',
  ipv6: 'ipv6 (eth_type=0x86dd)',
  ip: 'ip or ipv6',
  tcp: 'tcp or tcp6',
  udp: 'udp or udp6',
  sctp: 'sctp or sctp6',
  icmpv4: 'icmp',
  icmpv6: 'icmp6',
  nd: 'icmp6 with icmpv6_type=135 or 136',
  nd_ns: 'icmp6 with icmpv6_type=135',
  nd_na: 'icmp6 with icmpv6_type=136',
  ct: 'a ct_state of a valid connection (e.g. +trk-inv, +est)',
  ct_proto: 'a valid ct_state and ct_nw_proto',
};

/** Words for a prerequisite, for error messages. */
export function describePrerequisite(p: Prerequisite): string {
  return PREREQ_TEXT[p];
}

/** Fields of `m` whose prerequisites `m` does not meet, with what they need. */
export function unmetPrerequisites(m: Match): { field: FieldName; needs: string }[] {
  const out: { field: FieldName; needs: string }[] = [];
  for (const name of presentFields(m)) {
    const f = FIELDS[name];
    if (f.prereq !== 'none' && !prerequisiteMet(f.prereq, m)) {
      out.push({ field: f.name, needs: describePrerequisite(f.prereq) });
    }
  }
  return out;
}

/** Every IR field has a row (checked at load: a missing row is a programming error). */
for (const n of FIELD_NAMES) {
  if (!(n in FIELDS)) throw new Error(`fields.ts: no row for ${n}`);
}
