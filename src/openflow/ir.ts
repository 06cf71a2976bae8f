/**
 * The flow IR: what the compiler produces, the simulator executes, and the codecs (ovs-ofctl
 * text in text.ts, OpenFlow wire format in wire/) encode. A flow is content: table,
 * priority, match and actions identify it; the cookie names the policy object behind it.
 *
 * Field values are bigints in host order (a MAC is a 48-bit number, an IPv6 address a
 * 128-bit number), so matching is `(packet & mask) === value` for every field alike. The
 * per-field facts (width, OXM/NXM code, prerequisites, text format) live in one table,
 * fields.ts; nothing else hard-codes them.
 */

/** Every match field the project uses, by its ovs-ofctl (ovs-fields(7)) name. */
export const FIELD_NAMES = [
  'in_port',
  'eth_src',
  'eth_dst',
  'eth_type',
  'vlan_tci',
  'arp_op',
  'arp_spa',
  'arp_tpa',
  'arp_sha',
  'arp_tha',
  'ip_src',
  'ip_dst',
  'ipv6_src',
  'ipv6_dst',
  'ipv6_label',
  'ip_proto',
  'ip_frag',
  'ip_dscp',
  'nw_ttl',
  'tcp_src',
  'tcp_dst',
  'tcp_flags',
  'udp_src',
  'udp_dst',
  'sctp_src',
  'sctp_dst',
  'icmp_type',
  'icmp_code',
  'icmpv6_type',
  'icmpv6_code',
  'nd_target',
  'nd_sll',
  'nd_tll',
  'metadata',
  'reg0',
  'reg1',
  'reg2',
  'reg3',
  'reg4',
  'reg5',
  'reg6',
  'reg7',
  'reg8',
  'reg9',
  'reg10',
  'reg11',
  'reg12',
  'reg13',
  'reg14',
  'reg15',
  'ct_state',
  'ct_zone',
  'ct_mark',
  'ct_label',
  'ct_nw_src',
  'ct_nw_dst',
  'ct_ipv6_src',
  'ct_ipv6_dst',
  'ct_nw_proto',
  'ct_tp_src',
  'ct_tp_dst',
  'conj_id',
  'tun_id',
] as const;

export type FieldName = (typeof FIELD_NAMES)[number];

/** A field constrained to `value` under `mask` (mask absent = exact match on all bits). */
export interface FieldMatch {
  readonly value: bigint;
  readonly mask?: bigint;
}

/** A match: the fields it constrains. Absent fields are wildcarded. */
export type Match = Readonly<Partial<Record<FieldName, FieldMatch>>>;

/** A bit slice of a field, as in `NXM_NX_REG5[0..15]` (ofs = first bit, nBits = width). */
export interface FieldSlice {
  readonly field: FieldName;
  readonly ofs: number;
  readonly nBits: number;
}

export type PortNumber = number | 'IN_PORT' | 'NORMAL' | 'FLOOD' | 'ALL' | 'LOCAL' | 'CONTROLLER';

/** Standard OpenFlow port numbers (OF1.3 32-bit form). */
export const OfPort = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

/** ct_state flag bits (ovs-fields(7)). */
export const CtState = {
  NEW: 0x01,
  EST: 0x02,
  REL: 0x04,
  RPL: 0x08,
  INV: 0x10,
  TRK: 0x20,
  SNAT: 0x40,
  DNAT: 0x80,
} as const;

/** tcp_flags bits. */
export const TcpFlag = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  NS: 0x100,
} as const;

/** A `learn` spec line: what the learned flow matches, loads or outputs. */
export type LearnSpec =
  /** Learned flow matches `dst` against the current packet's `src` (e.g. `NXM_OF_IP_SRC[]=NXM_OF_IP_DST[]`). */
  | { readonly kind: 'match-field'; readonly dst: FieldSlice; readonly src: FieldSlice }
  /** Learned flow matches `dst` against a constant (e.g. `eth_type=0x800`). */
  | { readonly kind: 'match-value'; readonly dst: FieldSlice; readonly value: bigint }
  /** Learned flow's action: load the current packet's `src` into `dst`. */
  | { readonly kind: 'load-field'; readonly dst: FieldSlice; readonly src: FieldSlice }
  /** Learned flow's action: load a constant into `dst`. */
  | { readonly kind: 'load-value'; readonly dst: FieldSlice; readonly value: bigint }
  /** Learned flow's action: output to the port in `src`. */
  | { readonly kind: 'output'; readonly src: FieldSlice };

export type Action =
  | { readonly type: 'output'; readonly port: PortNumber; readonly maxLen?: number }
  /** Output to the port held in a register slice (NXAST_OUTPUT_REG). */
  | { readonly type: 'output_reg'; readonly src: FieldSlice; readonly maxLen?: number }
  | {
      readonly type: 'controller';
      readonly maxLen?: number;
      readonly reason?: 'no_match' | 'action' | 'invalid_ttl';
      readonly controllerId?: number;
      readonly userdata?: Uint8Array;
      readonly pause?: boolean;
      readonly meterId?: number;
    }
  | { readonly type: 'goto_table'; readonly table: number }
  /** Nicira resubmit; `port` absent = in_port unchanged. */
  | {
      readonly type: 'resubmit';
      readonly table: number;
      readonly port?: number;
      readonly ct?: boolean;
    }
  /** set_field / load: write `value` into the field (or a slice of it). */
  | {
      readonly type: 'set_field';
      readonly field: FieldName;
      readonly value: bigint;
      readonly mask?: bigint;
    }
  | { readonly type: 'load'; readonly dst: FieldSlice; readonly value: bigint }
  | { readonly type: 'move'; readonly src: FieldSlice; readonly dst: FieldSlice }
  | {
      readonly type: 'ct';
      readonly commit?: boolean;
      readonly force?: boolean;
      /** A constant zone, or the zone taken from a 16-bit register slice. */
      readonly zone?: number | FieldSlice;
      /** Recirculate into this table after conntrack; absent = no recirculation. */
      readonly table?: number;
      readonly alg?: string;
      /** Actions run on the connection (only set_field/load of ct_mark / ct_label). */
      readonly exec?: readonly Action[];
    }
  | { readonly type: 'ct_clear' }
  | {
      readonly type: 'conjunction';
      readonly id: number;
      readonly clause: number;
      readonly nClauses: number;
    }
  | {
      readonly type: 'learn';
      readonly table: number;
      readonly priority?: number;
      readonly idleTimeout?: number;
      readonly hardTimeout?: number;
      readonly finIdleTimeout?: number;
      readonly finHardTimeout?: number;
      readonly cookie?: bigint;
      readonly sendFlowRem?: boolean;
      readonly deleteLearned?: boolean;
      readonly limit?: number;
      readonly specs: readonly LearnSpec[];
    }
  | { readonly type: 'note'; readonly data: Uint8Array }
  | { readonly type: 'meter'; readonly id: number }
  | { readonly type: 'push_vlan'; readonly ethertype: number }
  | { readonly type: 'pop_vlan' }
  | { readonly type: 'clone'; readonly actions: readonly Action[] }
  | { readonly type: 'drop' };

export interface Flow {
  readonly table: number;
  readonly priority: number;
  readonly cookie: bigint;
  readonly match: Match;
  /** Empty (or a single `drop`) = drop. */
  readonly actions: readonly Action[];
  readonly idleTimeout?: number;
  readonly hardTimeout?: number;
  /** OFPFF_* flags by name. */
  readonly flags?: readonly (
    'send_flow_rem' | 'check_overlap' | 'reset_counts' | 'no_packet_counts' | 'no_byte_counts'
  )[];
}

/** A desired flow table: what the bridge must hold for the tables sgflow owns. */
export type FlowTable = readonly Flow[];
