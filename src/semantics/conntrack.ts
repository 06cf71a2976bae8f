/**
 * The reference connection tracker: connections identified the way OVS userspace conntrack
 * identifies them (docs/pipeline.md), one table per zone (= port), written for clarity.
 *
 * Produces `ConnLookup` for a packet: `invalid` (conntrack would mark it +inv), `new` (no
 * connection; the packet may open one), `established` / `related` (a committed connection,
 * with its original-direction tuple and whether the packet travels in the reply direction).
 * Invariant: only `commit` creates a connection; lookups never do.
 *
 * Facts (lib/conntrack.c): TCP and UDP by the 5-tuple (port 0 is invalid); ICMP echo /
 * timestamp / information by (addresses, id, request type), the reply type mapping back; ICMP
 * errors are 'related' to the connection of the header they quote (whose source must be the
 * error's destination), looked up reversed; other ICMP types are invalid; every other
 * protocol by (addresses, protocol). TCP flags that are never valid, and a SYN+ACK with no
 * connection, are invalid; an ICMP reply with no connection is invalid.
 */
import {
  ICMPV4_ERROR_TYPES,
  ICMPV4_REQUEST_REPLY,
  ICMPV6_ERROR_TYPES,
  ICMPV6_REQUEST_REPLY,
  TcpFlags as TCP_FLAG,
  type EmbeddedHeader,
  type Packet,
} from '../model/packet.js';
import { IpProto, type IpFamily } from '../model/types.js';

/** One direction of a connection, as conntrack keys it. */
export interface ConnKey {
  family: IpFamily;
  src: bigint;
  dst: bigint;
  proto: number;
  /** TCP/UDP ports; ICMP: (type << 16 | id) of this end's message; other protocols 0. */
  srcEp: number;
  dstEp: number;
}

/** The original direction of a committed connection, as the rules see it. */
export interface Connection {
  key: ConnKey;
  /** ICMP connections: the request's type and code (ct_tp_src / ct_tp_dst). */
  icmpType: number | null;
  icmpCode: number | null;
}

export type ConnLookup =
  | { state: 'invalid'; reason: string }
  | { state: 'new'; conn: Connection }
  | { state: 'established' | 'related'; conn: Connection; reply: boolean };

function reverseKey(k: ConnKey): ConnKey {
  return { ...k, src: k.dst, dst: k.src, srcEp: k.dstEp, dstEp: k.srcEp };
}

export function keyString(k: ConnKey): string {
  return `${k.family}|${k.src}|${k.dst}|${k.proto}|${k.srcEp}|${k.dstEp}`;
}

function icmpTables(family: IpFamily): {
  reqReply: ReadonlyMap<number, number>;
  errors: readonly number[];
} {
  return family === 4
    ? { reqReply: ICMPV4_REQUEST_REPLY, errors: ICMPV4_ERROR_TYPES }
    : { reqReply: ICMPV6_REQUEST_REPLY, errors: ICMPV6_ERROR_TYPES };
}

/** The request type an ICMP query/reply type belongs to, or null when it is neither. */
function requestTypeOf(family: IpFamily, type: number): number | null {
  const { reqReply } = icmpTables(family);
  if (reqReply.has(type)) return type;
  for (const [req, rep] of reqReply) if (rep === type) return req;
  return null;
}

type KeyResult =
  { ok: true; key: ConnKey; conn: Connection; canOpen: boolean } | { ok: false; reason: string };

/** Key of a (non-error) header: the outer packet, or the header an ICMP error quotes. */
function headerKey(
  family: IpFamily,
  src: bigint,
  dst: bigint,
  proto: number,
  l4: { src: number; dst: number } | undefined,
  icmp: { type: number; code: number; id: number } | undefined,
): KeyResult {
  const icmpProto = family === 4 ? IpProto.ICMP : IpProto.ICMPV6;
  const base = { family, src, dst, proto };
  if (proto === IpProto.TCP || proto === IpProto.UDP) {
    if (!l4 || l4.src === 0 || l4.dst === 0) return { ok: false, reason: 'port 0' };
    const key = { ...base, srcEp: l4.src, dstEp: l4.dst };
    return { ok: true, key, conn: { key, icmpType: null, icmpCode: null }, canOpen: true };
  }
  if (proto === icmpProto) {
    if (!icmp) return { ok: false, reason: 'malformed ICMP' };
    const req = requestTypeOf(family, icmp.type);
    if (req === null) return { ok: false, reason: `ICMP type ${icmp.type} is not tracked` };
    if (icmp.code !== 0) return { ok: false, reason: 'ICMP query with a non-zero code' };
    const reply = icmpTables(family).reqReply.get(req)!;
    const isRequest = icmp.type === req;
    const key = {
      ...base,
      srcEp: ((isRequest ? req : reply) << 16) | icmp.id,
      dstEp: ((isRequest ? reply : req) << 16) | icmp.id,
    };
    return {
      ok: true,
      key,
      conn: { key, icmpType: icmp.type, icmpCode: icmp.code },
      canOpen: isRequest,
    };
  }
  const key = { ...base, srcEp: 0, dstEp: 0 };
  return { ok: true, key, conn: { key, icmpType: null, icmpCode: null }, canOpen: true };
}

function tcpFlagsNeverValid(f: number): boolean {
  if (f & TCP_FLAG.SYN) {
    if (f & (TCP_FLAG.RST | TCP_FLAG.FIN)) return true;
  } else if (!(f & (TCP_FLAG.ACK | TCP_FLAG.RST))) {
    return true;
  }
  return !(f & TCP_FLAG.ACK) && (f & (TCP_FLAG.FIN | TCP_FLAG.PSH | TCP_FLAG.URG)) !== 0;
}

/** One zone's committed connections. */
export class ConnTable {
  private readonly conns = new Map<string, Connection>();

  get size(): number {
    return this.conns.size;
  }

  /** Classifies `p` against this zone's connections (no side effect). */
  lookup(p: Packet): ConnLookup {
    const ip = p.ip;
    if (!ip) return { state: 'invalid', reason: 'not IP' };
    const icmpProto = ip.family === 4 ? IpProto.ICMP : IpProto.ICMPV6;
    if (ip.proto === icmpProto && p.icmp && icmpTables(ip.family).errors.includes(p.icmp.type)) {
      return this.lookupRelated(ip.family, ip.dst, p.icmp.embedded);
    }
    const k = headerKey(ip.family, ip.src, ip.dst, ip.proto, p.l4, p.icmp);
    if (!k.ok) return { state: 'invalid', reason: k.reason };
    const flags = ip.proto === IpProto.TCP ? (p.l4?.tcpFlags ?? 0) : 0;
    if (ip.proto === IpProto.TCP && tcpFlagsNeverValid(flags)) {
      return { state: 'invalid', reason: 'invalid TCP flags' };
    }
    const fwd = this.conns.get(keyString(k.key));
    if (fwd) return { state: 'established', conn: fwd, reply: false };
    const rev = this.conns.get(keyString(reverseKey(k.key)));
    if (rev) return { state: 'established', conn: rev, reply: true };
    if (ip.proto === IpProto.TCP && flags & TCP_FLAG.SYN && flags & TCP_FLAG.ACK) {
      return { state: 'invalid', reason: 'TCP SYN+ACK with no connection' };
    }
    if (!k.canOpen) return { state: 'invalid', reason: 'ICMP reply with no connection' };
    return { state: 'new', conn: k.conn };
  }

  private lookupRelated(
    family: IpFamily,
    outerDst: bigint,
    e: EmbeddedHeader | undefined,
  ): ConnLookup {
    if (!e) return { state: 'invalid', reason: 'ICMP error without a quoted header' };
    if (e.src !== outerDst)
      return {
        state: 'invalid',
        reason: 'ICMP error quoting a packet not sent by its destination',
      };
    const icmpProto = family === 4 ? IpProto.ICMP : IpProto.ICMPV6;
    if (e.proto === icmpProto && (!e.icmp || requestTypeOf(family, e.icmp.type) === null)) {
      return { state: 'invalid', reason: 'ICMP error quoting an untracked ICMP message' };
    }
    const k = headerKey(family, e.src, e.dst, e.proto, e.l4, e.icmp);
    if (!k.ok)
      return { state: 'invalid', reason: `ICMP error quoting an invalid header (${k.reason})` };
    // The quoted header travelled opposite to the error: look the error up reversed.
    const key = reverseKey(k.key);
    const fwd = this.conns.get(keyString(key));
    if (fwd) return { state: 'related', conn: fwd, reply: false };
    const rev = this.conns.get(keyString(reverseKey(key)));
    if (rev) return { state: 'related', conn: rev, reply: true };
    return { state: 'invalid', reason: 'ICMP error for no known connection' };
  }

  /** Commits a new connection (no-op when one exists). */
  commit(conn: Connection): void {
    const s = keyString(conn.key);
    if (!this.conns.has(s) && !this.conns.has(keyString(reverseKey(conn.key))))
      this.conns.set(s, conn);
  }
}
