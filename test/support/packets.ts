/**
 * Generated packets for the simulator/classifier cross-check: a case names a sender and a
 * receiver among ports 1..5 of one network (MAC 02:00:00:00:00:0n, 10.0.0.n, fd00::n), how
 * honest its addresses are, a protocol, ports drawn from rule edges, and whether it opens a
 * connection, answers one the receiver opened, or is an ICMP error about one.
 */
import fc from 'fast-check';
import type { IpHeader, Packet } from '../../src/model/packet.js';
import type { IpFamily } from '../../src/model/types.js';

export const mac = (n: number): bigint => 0x020000000000n + BigInt(n);
export const ip4 = (n: number): bigint => 0x0a000000n + BigInt(n);
export const ip6 = (n: number): bigint => 0xfd000000000000000000000000000000n + BigInt(n);
export const FOREIGN_MAC = 0x020000000099n;
export const BROADCAST = 0xffffffffffffn;

export const EDGE_PORTS = [
  22, 53, 79, 80, 81, 443, 999, 1000, 1999, 2000, 4999, 5000, 5100, 5101, 5432, 7999, 8000, 8999,
  9000, 40000,
];

export type Kind =
  'tcp' | 'udp' | 'icmp' | 'icmp6' | 'tcp6' | 'udp6' | 'arp' | 'gre' | 'sctp' | 'ns' | 'na';
export type Scenario = 'new' | 'reply' | 'related';

export interface Case {
  sender: number;
  receiver: number;
  dstMac: 'unicast' | 'broadcast' | 'foreign';
  srcMac: 'own' | 'foreign' | 'pair';
  srcIp: 'own' | 'pair' | 'foreign';
  kind: Kind;
  sport: number;
  dport: number;
  tcpFlags: number;
  scenario: Scenario;
}

export const caseArb: fc.Arbitrary<Case> = fc.record({
  sender: fc.constantFrom(1, 2, 3, 4, 5),
  receiver: fc.constantFrom(1, 2, 3, 4, 5),
  dstMac: fc.constantFrom('unicast', 'unicast', 'unicast', 'unicast', 'broadcast', 'foreign'),
  srcMac: fc.constantFrom('own', 'own', 'own', 'own', 'own', 'own', 'foreign', 'pair'),
  srcIp: fc.constantFrom('own', 'own', 'own', 'own', 'own', 'pair', 'foreign'),
  kind: fc.constantFrom<Kind>(
    'tcp',
    'tcp',
    'tcp',
    'udp',
    'udp',
    'icmp',
    'icmp6',
    'tcp6',
    'udp6',
    'arp',
    'gre',
    'sctp',
    'ns',
    'na',
  ),
  sport: fc.oneof(fc.constantFrom(...EDGE_PORTS), fc.integer({ min: 1, max: 65535 })),
  dport: fc.oneof(fc.constantFrom(...EDGE_PORTS), fc.integer({ min: 1, max: 65535 })),
  tcpFlags: fc.constantFrom(0x002, 0x002, 0x002, 0x010, 0x012, 0x004, 0x011),
  scenario: fc.constantFrom<Scenario>('new', 'new', 'new', 'reply', 'reply', 'related'),
});

function srcIpOf(c: Case, v6: boolean): bigint {
  if (c.srcIp === 'foreign') return v6 ? ip6(0x99) : ip4(99);
  if (c.srcIp === 'pair')
    return v6
      ? ip6(0x100 + c.sender)
      : c.sender === 2
        ? ip4(102)
        : c.sender === 5
          ? 0x0a000107n
          : ip4(c.sender);
  return v6 ? ip6(c.sender) : ip4(c.sender);
}

function ethSrcOf(c: Case): bigint {
  if (c.srcMac === 'foreign') return FOREIGN_MAC;
  if (c.srcMac === 'pair') return c.sender === 5 ? 0x020000000055n : mac(c.sender);
  return mac(c.sender);
}

function ethDstOf(c: Case, v6: boolean): bigint {
  if (c.dstMac === 'broadcast') return v6 ? 0x333300000001n : BROADCAST;
  if (c.dstMac === 'foreign') return 0x0200000000een;
  return mac(c.receiver);
}

/** The packet the case describes (sender → receiver). */
export function packetOf(c: Case): Packet {
  const v6 =
    c.kind === 'icmp6' ||
    c.kind === 'tcp6' ||
    c.kind === 'udp6' ||
    c.kind === 'ns' ||
    c.kind === 'na';
  const ethSrc = ethSrcOf(c);
  const ethDst = ethDstOf(c, v6);
  if (c.kind === 'arp') {
    return {
      ethSrc,
      ethDst,
      ethType: 0x0806,
      arp: {
        op: c.tcpFlags === 0x002 ? 1 : 2,
        sha: ethSrc,
        spa: srcIpOf(c, false),
        tha: 0n,
        tpa: ip4(c.receiver),
      },
    };
  }
  const src = srcIpOf(c, v6);
  const dst = c.dstMac === 'broadcast' && !v6 ? ip4(255) : v6 ? ip6(c.receiver) : ip4(c.receiver);
  const family: IpFamily = v6 ? 6 : 4;
  const ip = (proto: number): IpHeader => ({
    family,
    src,
    dst,
    proto,
    ttl: v6 && (c.kind === 'ns' || c.kind === 'na') ? 255 : 64,
  });
  switch (c.kind) {
    case 'tcp':
    case 'tcp6':
      return {
        ethSrc,
        ethDst,
        ethType: v6 ? 0x86dd : 0x0800,
        ip: ip(6),
        l4: { src: c.sport, dst: c.dport, tcpFlags: c.tcpFlags },
      };
    case 'udp':
    case 'udp6':
      return {
        ethSrc,
        ethDst,
        ethType: v6 ? 0x86dd : 0x0800,
        ip: ip(17),
        l4: { src: c.sport, dst: c.dport },
      };
    case 'sctp':
      return { ethSrc, ethDst, ethType: 0x0800, ip: ip(132), l4: { src: c.sport, dst: c.dport } };
    case 'gre':
      return { ethSrc, ethDst, ethType: 0x0800, ip: ip(47) };
    case 'icmp':
      return {
        ethSrc,
        ethDst,
        ethType: 0x0800,
        ip: ip(1),
        icmp: { type: 8, code: 0, id: c.sport },
      };
    case 'icmp6':
      return {
        ethSrc,
        ethDst,
        ethType: 0x86dd,
        ip: ip(58),
        icmp: { type: 128, code: 0, id: c.sport },
      };
    case 'ns':
      return {
        ethSrc,
        ethDst,
        ethType: 0x86dd,
        ip: ip(58),
        icmp: { type: 135, code: 0, id: 0, nd: { target: ip6(c.receiver), sll: ethSrc, tll: 0n } },
      };
    case 'na':
      return {
        ethSrc,
        ethDst,
        ethType: 0x86dd,
        ip: ip(58),
        icmp: { type: 136, code: 0, id: 0, nd: { target: src, sll: 0n, tll: ethSrc } },
      };
  }
  throw new Error(`unknown kind ${c.kind as string}`);
}

/** A packet from the receiver that the case's packet answers (reply / related). */
export function openerOf(c: Case, p: Packet): Packet | null {
  if (c.scenario === 'new' || !p.ip) return null;
  const rev: Packet = {
    ...p,
    ethSrc: p.ethDst === BROADCAST ? mac(c.receiver) : p.ethDst,
    ethDst: p.ethSrc,
  };
  rev.ip = { ...p.ip, src: p.ip.dst, dst: p.ip.src };
  if (p.l4) rev.l4 = { src: p.l4.dst, dst: p.l4.src, tcpFlags: 0x002 };
  if (p.icmp && (p.icmp.type === 8 || p.icmp.type === 128)) rev.icmp = { ...p.icmp };
  return rev;
}

/** Turn the case's packet into the reply / related error to `opener`. */
export function answerOf(c: Case, p: Packet, opener: Packet): Packet {
  if (c.scenario === 'reply') {
    if (p.icmp && (p.icmp.type === 8 || p.icmp.type === 128)) {
      return { ...p, icmp: { ...p.icmp, type: p.icmp.type === 8 ? 0 : 129 } };
    }
    if (p.l4 && p.ip?.proto === 6) return { ...p, l4: { ...p.l4, tcpFlags: 0x012 } };
    return p;
  }
  // related: an ICMP error quoting the opener.
  const v6 = p.ip!.family === 6;
  const emb = opener.ip!;
  return {
    ethSrc: p.ethSrc,
    ethDst: p.ethDst,
    ethType: p.ethType,
    ip: { ...p.ip!, proto: v6 ? 58 : 1 },
    icmp: {
      type: v6 ? 1 : 3,
      code: v6 ? 4 : 3,
      id: 0,
      embedded: {
        src: emb.src,
        dst: emb.dst,
        proto: emb.proto,
        ...(opener.l4 ? { l4: { src: opener.l4.src, dst: opener.l4.dst } } : {}),
        ...(opener.icmp
          ? { icmp: { type: opener.icmp.type, code: opener.icmp.code, id: opener.icmp.id } }
          : {}),
      },
    },
  };
}
