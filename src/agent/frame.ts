/**
 * An Ethernet frame's bytes (a packet-in's data) → the abstract `Packet` the reference
 * semantics judges: Ethernet (one 802.1Q tag), ARP, IPv4, IPv6 (past hop-by-hop, routing,
 * destination-options, fragment and AH headers), and the first bytes of the transport header —
 * ports (TCP, UDP, SCTP, DCCP, UDP-Lite; TCP also its flags) or ICMP/ICMPv6 type, code and id.
 *
 * Invariant: only what the frame really carries is reported; a truncated header ends the parse
 * where it is cut (an IP packet without its ports has no `l4`), a non-first fragment has no
 * transport header, and a frame that is not even Ethernet gives null.
 */
import {
  ETH_TYPE_ARP,
  ETH_TYPE_IPV4,
  ETH_TYPE_IPV6,
  PORTED_PROTOCOLS,
  type Packet,
} from '../model/packet.js';

const VLAN_TPIDS = new Set([0x8100, 0x88a8]);
const IPV6_EXTENSIONS = new Set([0, 43, 44, 51, 60]);
const ICMP_WITH_ID = new Set([0, 8, 13, 14, 15, 16]);
const ICMPV6_WITH_ID = new Set([128, 129]);

function mac(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 0; i < 6; i++) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

function uint(b: Uint8Array, at: number, bytes: number): bigint {
  let v = 0n;
  for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;

export function parseFrame(b: Uint8Array): Packet | null {
  if (b.length < 14) return null;
  const p: Packet = { ethDst: mac(b, 0), ethSrc: mac(b, 6), ethType: u16(b, 12) };
  let at = 14;
  if (VLAN_TPIDS.has(p.ethType)) {
    if (b.length < 18) return p;
    p.vlan = u16(b, 14) & 0x0fff;
    p.ethType = u16(b, 16);
    at = 18;
  }
  if (p.ethType === ETH_TYPE_ARP) {
    if (b.length >= at + 28) {
      p.arp = {
        op: u16(b, at + 6),
        sha: mac(b, at + 8),
        spa: uint(b, at + 14, 4),
        tha: mac(b, at + 18),
        tpa: uint(b, at + 24, 4),
      };
    }
    return p;
  }
  let proto: number;
  let l4: number;
  let first = true;
  if (p.ethType === ETH_TYPE_IPV4) {
    if (b.length < at + 20) return p;
    const ihl = (b[at]! & 0x0f) * 4;
    proto = b[at + 9]!;
    p.ip = {
      family: 4,
      src: uint(b, at + 12, 4),
      dst: uint(b, at + 16, 4),
      proto,
      ttl: b[at + 8]!,
    };
    first = (u16(b, at + 6) & 0x1fff) === 0;
    l4 = at + ihl;
  } else if (p.ethType === ETH_TYPE_IPV6) {
    if (b.length < at + 40) return p;
    proto = b[at + 6]!;
    const ttl = b[at + 7]!;
    const src = uint(b, at + 8, 16);
    const dst = uint(b, at + 24, 16);
    l4 = at + 40;
    while (IPV6_EXTENSIONS.has(proto)) {
      if (b.length < l4 + 8) {
        proto = -1;
        break;
      }
      const nextHeader = b[l4]!;
      if (proto === 44) {
        first = (u16(b, l4 + 2) & 0xfff8) === 0;
        l4 += 8;
      } else if (proto === 51) {
        l4 += (b[l4 + 1]! + 2) * 4;
      } else {
        l4 += (b[l4 + 1]! + 1) * 8;
      }
      proto = nextHeader;
    }
    if (proto < 0) return p;
    p.ip = { family: 6, src, dst, proto, ttl };
  } else {
    return p;
  }
  if (!first) return p;
  if (PORTED_PROTOCOLS.includes(proto)) {
    if (b.length < l4 + 4) return p;
    p.l4 = { src: u16(b, l4), dst: u16(b, l4 + 2) };
    if (proto === 6 && b.length >= l4 + 14) p.l4.tcpFlags = ((b[l4 + 12]! & 1) << 8) | b[l4 + 13]!;
    return p;
  }
  const icmp = (p.ip.family === 4 && proto === 1) || (p.ip.family === 6 && proto === 58);
  if (icmp && b.length >= l4 + 4) {
    const type = b[l4]!;
    const withId = (p.ip.family === 4 ? ICMP_WITH_ID : ICMPV6_WITH_ID).has(type);
    p.icmp = {
      type,
      code: b[l4 + 1]!,
      id: withId && b.length >= l4 + 6 ? u16(b, l4 + 4) : 0,
    };
  }
  return p;
}
