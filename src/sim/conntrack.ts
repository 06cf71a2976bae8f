/**
 * The simulator's connection tracker: a model of OVS userspace conntrack (lib/conntrack.c)
 * over flow keys, one table per zone, persistent across packets.
 *
 * Produces, for `ct(zone=…)`, the ct_* metadata OVS gives the packet: ct_state
 * (+trk with +new / +est / +rel / +rpl, or +inv), ct_zone, ct_mark, ct_label and the
 * original-direction tuple (ct_nw_src/dst or ct_ipv6_src/dst, ct_nw_proto, ct_tp_src/dst:
 * TCP/UDP ports, ICMP type/code of the request, 0 for every other protocol). For +new that
 * tuple is the packet's own; for replies and related ICMP errors the connection's.
 *
 * Connection identity: TCP/UDP by the 5-tuple (port 0 is invalid); ICMP echo / timestamp /
 * information by addresses + id + request type; ICMP errors (v4 3,4,5,11,12; v6 1-4) are
 * related to the connection of the header they quote (whose source must be the error's
 * destination), else invalid; other ICMP types are invalid; other protocols by addresses +
 * protocol. TCP: flag combinations lib/conntrack-tcp.c never accepts are invalid; SYN+ACK
 * with no connection is invalid; an ICMP reply with no connection is invalid.
 * Simplification: a packet of a committed connection is +est in both directions (no TCP
 * window or state machine), and connections never expire.
 */
import type { EmbeddedHeader } from '../model/packet.js';
import { CtState, TcpFlag } from '../openflow/ir.js';
import type { FieldValues, FlowKey } from './key.js';

interface Endpoints {
  family: 4 | 6;
  src: bigint;
  dst: bigint;
  proto: number;
  /** TCP/UDP port; ICMP (type << 16 | id); 0 otherwise. */
  srcEp: number;
  dstEp: number;
}

export interface SimConnection {
  readonly zone: number;
  readonly key: Endpoints;
  /** ct_tp_src / ct_tp_dst of the original direction. */
  readonly tpSrc: number;
  readonly tpDst: number;
  mark: bigint;
  label: bigint;
}

const ETH_IPV4 = 0x0800n;
const ETH_IPV6 = 0x86ddn;

const V4_QUERY: ReadonlyMap<number, number> = new Map([
  [8, 0],
  [13, 14],
  [15, 16],
]);
const V6_QUERY: ReadonlyMap<number, number> = new Map([[128, 129]]);
const V4_ERRORS = new Set([3, 4, 5, 11, 12]);
const V6_ERRORS = new Set([1, 2, 3, 4]);

function str(k: Endpoints): string {
  return `${k.family}|${k.src}|${k.dst}|${k.proto}|${k.srcEp}|${k.dstEp}`;
}

function rev(k: Endpoints): Endpoints {
  return {
    family: k.family,
    src: k.dst,
    dst: k.src,
    proto: k.proto,
    srcEp: k.dstEp,
    dstEp: k.srcEp,
  };
}

type Extracted =
  | { ok: false; why: string }
  | { ok: true; key: Endpoints; tpSrc: number; tpDst: number; canOpen: boolean };

function queryPair(family: 4 | 6, type: number): { request: number; reply: number } | null {
  const table = family === 4 ? V4_QUERY : V6_QUERY;
  for (const [request, reply] of table)
    if (type === request || type === reply) return { request, reply };
  return null;
}

/** Conntrack's key of a (non-error) header. */
function extract(
  family: 4 | 6,
  src: bigint,
  dst: bigint,
  proto: number,
  ports: { src: number; dst: number } | null,
  icmp: { type: number; code: number; id: number } | null,
): Extracted {
  const icmpProto = family === 4 ? 1 : 58;
  if (proto === 6 || proto === 17) {
    if (!ports || ports.src === 0 || ports.dst === 0) return { ok: false, why: 'TCP/UDP port 0' };
    const key = { family, src, dst, proto, srcEp: ports.src, dstEp: ports.dst };
    return { ok: true, key, tpSrc: ports.src, tpDst: ports.dst, canOpen: true };
  }
  if (proto === icmpProto) {
    if (!icmp) return { ok: false, why: 'no ICMP header' };
    const q = queryPair(family, icmp.type);
    if (!q) return { ok: false, why: `untracked ICMP type ${icmp.type}` };
    if (icmp.code !== 0) return { ok: false, why: 'ICMP query with non-zero code' };
    const isRequest = icmp.type === q.request;
    const key = {
      family,
      src,
      dst,
      proto,
      srcEp: ((isRequest ? q.request : q.reply) << 16) | icmp.id,
      dstEp: ((isRequest ? q.reply : q.request) << 16) | icmp.id,
    };
    return { ok: true, key, tpSrc: icmp.type, tpDst: icmp.code, canOpen: isRequest };
  }
  return {
    ok: true,
    key: { family, src, dst, proto, srcEp: 0, dstEp: 0 },
    tpSrc: 0,
    tpDst: 0,
    canOpen: true,
  };
}

function tcpFlagsInvalid(f: number): boolean {
  if (f & TcpFlag.SYN) {
    if (f & (TcpFlag.RST | TcpFlag.FIN)) return true;
  } else if (!(f & (TcpFlag.ACK | TcpFlag.RST))) {
    return true;
  }
  return !(f & TcpFlag.ACK) && (f & (TcpFlag.FIN | TcpFlag.PSH | TcpFlag.URG)) !== 0;
}

export interface CtResult {
  state: number;
  conn: SimConnection | null;
  /** The tuple written into ct_nw_* / ct_tp_* (null for +inv). */
  tuple: { key: Endpoints; tpSrc: number; tpDst: number } | null;
  /** Why the packet is +inv, when it is. */
  invalid?: string;
}

/** Every zone's connections. Mutated only by `commit`. */
export class Conntrack {
  private readonly table = new Map<string, SimConnection>();

  /** Number of committed connections (in one zone, or all). */
  count(zone?: number): number {
    let n = 0;
    for (const c of this.table.values()) if (zone === undefined || c.zone === zone) n++;
    return n;
  }

  connections(): SimConnection[] {
    return [...this.table.values()];
  }

  private find(zone: number, k: Endpoints): { conn: SimConnection; reply: boolean } | null {
    const fwd = this.table.get(`${zone}#${str(k)}`);
    if (fwd) return { conn: fwd, reply: false };
    const back = this.table.get(`${zone}#${str(rev(k))}`);
    if (back) return { conn: back, reply: true };
    return null;
  }

  /** What conntrack says about the packet in `zone` (no side effect). */
  lookup(zone: number, key: FlowKey): CtResult {
    const f = key.fields;
    const inv = (why: string): CtResult => ({
      state: CtState.TRK | CtState.INV,
      conn: null,
      tuple: null,
      invalid: why,
    });
    const family = f.eth_type === ETH_IPV4 ? 4 : f.eth_type === ETH_IPV6 ? 6 : null;
    if (family === null) return inv('not IP');
    const src = family === 4 ? f.ip_src : f.ipv6_src;
    const dst = family === 4 ? f.ip_dst : f.ipv6_dst;
    const proto = Number(f.ip_proto);
    const icmpProto = family === 4 ? 1 : 58;
    const icmpType = Number(family === 4 ? f.icmp_type : f.icmpv6_type);
    const icmpCode = Number(family === 4 ? f.icmp_code : f.icmpv6_code);
    if (proto === icmpProto && (family === 4 ? V4_ERRORS : V6_ERRORS).has(icmpType)) {
      return this.lookupRelated(zone, family, dst, key.embedded, inv);
    }
    const ports = portsOf(f, proto);
    const x = extract(
      family,
      src,
      dst,
      proto,
      ports,
      proto === icmpProto ? { type: icmpType, code: icmpCode, id: key.icmpId } : null,
    );
    if (!x.ok) return inv(x.why);
    const flags = proto === 6 ? Number(f.tcp_flags) : 0;
    if (proto === 6 && tcpFlagsInvalid(flags)) return inv('invalid TCP flags');
    const found = this.find(zone, x.key);
    if (found) {
      const c = found.conn;
      return {
        state: CtState.TRK | CtState.EST | (found.reply ? CtState.RPL : 0),
        conn: c,
        tuple: { key: c.key, tpSrc: c.tpSrc, tpDst: c.tpDst },
      };
    }
    if (proto === 6 && flags & TcpFlag.SYN && flags & TcpFlag.ACK)
      return inv('SYN+ACK with no connection');
    if (!x.canOpen) return inv('ICMP reply with no connection');
    return {
      state: CtState.TRK | CtState.NEW,
      conn: null,
      tuple: { key: x.key, tpSrc: x.tpSrc, tpDst: x.tpDst },
    };
  }

  private lookupRelated(
    zone: number,
    family: 4 | 6,
    outerDst: bigint,
    e: EmbeddedHeader | null,
    inv: (why: string) => CtResult,
  ): CtResult {
    if (!e) return inv('ICMP error without quoted header');
    if (e.src !== outerDst) return inv('quoted source is not the error destination');
    const icmpProto = family === 4 ? 1 : 58;
    if (e.proto === icmpProto && (!e.icmp || !queryPair(family, e.icmp.type)))
      return inv('ICMP error quoting an ICMP error');
    const x = extract(family, e.src, e.dst, e.proto, e.l4 ?? null, e.icmp ?? null);
    if (!x.ok) return inv(`quoted header: ${x.why}`);
    const found = this.find(zone, rev(x.key));
    if (!found) return inv('ICMP error for no known connection');
    const c = found.conn;
    return {
      state: CtState.TRK | CtState.REL | (found.reply ? CtState.RPL : 0),
      conn: c,
      tuple: { key: c.key, tpSrc: c.tpSrc, tpDst: c.tpDst },
    };
  }

  /** Commits the +new connection `r` was computed for; returns it. */
  commit(zone: number, r: CtResult): SimConnection | null {
    if (r.conn) return r.conn;
    if (!(r.state & CtState.NEW) || !r.tuple) return null;
    const conn: SimConnection = {
      zone,
      key: r.tuple.key,
      tpSrc: r.tuple.tpSrc,
      tpDst: r.tuple.tpDst,
      mark: 0n,
      label: 0n,
    };
    this.table.set(`${zone}#${str(conn.key)}`, conn);
    return conn;
  }
}

function portsOf(f: FieldValues, proto: number): { src: number; dst: number } | null {
  if (proto === 6) return { src: Number(f.tcp_src), dst: Number(f.tcp_dst) };
  if (proto === 17) return { src: Number(f.udp_src), dst: Number(f.udp_dst) };
  return null;
}

/** Writes a conntrack result into the key's ct_* fields, as OVS does after `ct`. */
export function applyCtResult(f: FieldValues, zone: number, r: CtResult): void {
  f.ct_state = BigInt(r.state);
  f.ct_zone = BigInt(zone);
  f.ct_mark = r.conn?.mark ?? 0n;
  f.ct_label = r.conn?.label ?? 0n;
  f.ct_nw_src = 0n;
  f.ct_nw_dst = 0n;
  f.ct_ipv6_src = 0n;
  f.ct_ipv6_dst = 0n;
  f.ct_nw_proto = 0n;
  f.ct_tp_src = 0n;
  f.ct_tp_dst = 0n;
  if (!r.tuple) return;
  const k = r.tuple.key;
  if (k.family === 4) {
    f.ct_nw_src = k.src;
    f.ct_nw_dst = k.dst;
  } else {
    f.ct_ipv6_src = k.src;
    f.ct_ipv6_dst = k.dst;
  }
  f.ct_nw_proto = BigInt(k.proto);
  f.ct_tp_src = BigInt(r.tuple.tpSrc);
  f.ct_tp_dst = BigInt(r.tuple.tpDst);
}

/** `ct_clear` and the untracked state the non-recirculated fork of `ct` continues with. */
export function clearCt(f: FieldValues): void {
  for (const n of [
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
  ] as const) {
    f[n] = 0n;
  }
}
