/**
 * An abstract Ethernet packet: the headers sgflow's decisions depend on, as plain values.
 * The reference semantics judges it, the simulator turns it into an OpenFlow flow key, tests
 * and `sgflow trace` build it.
 *
 * Invariant: a packet carries at most one of `arp` / `ip`; `l4` only for TCP, UDP, SCTP, DCCP
 * and UDP-Lite; `icmp` only for ICMP (IPv4, proto 1) and ICMPv6 (proto 58). Addresses are
 * bigints (MAC 48 bits, IPv4 32, IPv6 128), ports and types plain numbers.
 */
import type { IpFamily } from './types.js';

export const ArpOp = { REQUEST: 1, REPLY: 2 } as const;

export interface ArpHeader {
  op: number;
  sha: bigint;
  spa: bigint;
  tha: bigint;
  tpa: bigint;
}

export interface IpHeader {
  family: IpFamily;
  src: bigint;
  dst: bigint;
  /** IP protocol number (IPv6: the upper-layer protocol after extension headers). */
  proto: number;
  ttl: number;
}

/** TCP, UDP, SCTP, DCCP, UDP-Lite ports (TCP also its flags, `TcpFlag` bits). */
export interface L4Header {
  src: number;
  dst: number;
  tcpFlags?: number;
}

/** IPv6 neighbour discovery fields (NS: target + sll, NA: target + tll); 0 = option absent. */
export interface NdFields {
  target: bigint;
  sll: bigint;
  tll: bigint;
}

/**
 * The header of the packet an ICMP error quotes (RFC 792 / 4443): enough to find the
 * connection the error belongs to ("related").
 */
export interface EmbeddedHeader {
  src: bigint;
  dst: bigint;
  proto: number;
  /** TCP/UDP/SCTP/... ports of the quoted packet. */
  l4?: { src: number; dst: number };
  /** When the quoted packet is itself ICMP (e.g. an echo request). */
  icmp?: { type: number; code: number; id: number };
}

export interface IcmpHeader {
  type: number;
  code: number;
  /** Echo / timestamp / information identifier (0 when the type has none). */
  id: number;
  /** ICMP errors: the quoted original header. */
  embedded?: EmbeddedHeader;
  /** ICMPv6 NS / NA. */
  nd?: NdFields;
}

export interface Packet {
  ethSrc: bigint;
  ethDst: bigint;
  /** 802.1Q VLAN id when tagged. */
  vlan?: number;
  ethType: number;
  arp?: ArpHeader;
  ip?: IpHeader;
  l4?: L4Header;
  icmp?: IcmpHeader;
}

/** TCP flag bits (the same bits as OpenFlow's tcp_flags). */
export const TcpFlags = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
} as const;

export const ETH_TYPE_IPV4 = 0x0800;
export const ETH_TYPE_ARP = 0x0806;
export const ETH_TYPE_IPV6 = 0x86dd;

/** The IP protocols whose headers carry 16-bit source/destination ports. */
export const PORTED_PROTOCOLS: readonly number[] = [6, 17, 33, 132, 136];

/** ICMP types conntrack treats as requests that open a connection, with their reply type. */
export const ICMPV4_REQUEST_REPLY: ReadonlyMap<number, number> = new Map([
  [8, 0],
  [13, 14],
  [15, 16],
]);
export const ICMPV6_REQUEST_REPLY: ReadonlyMap<number, number> = new Map([[128, 129]]);

/** ICMP error types whose payload quotes the packet that caused them (conntrack 'related'). */
export const ICMPV4_ERROR_TYPES: readonly number[] = [3, 4, 5, 11, 12];
export const ICMPV6_ERROR_TYPES: readonly number[] = [1, 2, 3, 4];

/** The IP protocol number of ICMP for a family. */
export function icmpProtoOf(family: IpFamily): number {
  return family === 4 ? 1 : 58;
}

/** A copy of `p` travelling the other way: MACs, addresses and ports swapped. */
export function reversePacket(p: Packet): Packet {
  const r: Packet = { ...p, ethSrc: p.ethDst, ethDst: p.ethSrc };
  if (p.ip) r.ip = { ...p.ip, src: p.ip.dst, dst: p.ip.src };
  if (p.l4) r.l4 = { ...p.l4, src: p.l4.dst, dst: p.l4.src };
  return r;
}
