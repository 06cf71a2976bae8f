/**
 * Port security, the reference reading of docs/pipeline.md "Always allowed": what a port with
 * port security may always send and receive, and what it may never send, before any rule.
 *
 * Produces a `PortSecurityVerdict`: `allow` (bypasses state and rules), `drop` (whatever the
 * rules say) or `rules` (an IP packet the state and rules decide). Every verdict has a reason.
 */
import { cidrContains } from '../model/addr.js';
import { ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, type Packet } from '../model/packet.js';
import {
  ALWAYS_ALLOWED_INGRESS_ICMPV6,
  ALWAYS_DROPPED_EGRESS_ICMPV6,
  Dhcp,
  Icmpv6Type,
  linkLocalFromMac,
} from '../model/port-security.js';
import { IpProto, type IpFamily, type NormalizedPort } from '../model/types.js';

export type PortSecurityVerdict =
  { kind: 'allow'; reason: string } | { kind: 'drop'; reason: string } | { kind: 'rules' };

/** The MACs a port may send from: its own and those of its allowed address pairs. */
export function portMacs(port: NormalizedPort): bigint[] {
  const macs = [port.mac];
  for (const b of port.addresses) if (!macs.includes(b.mac)) macs.push(b.mac);
  return macs;
}

/** Is (mac, addr) one of the port's bound source pairs (incl. its MAC's IPv6 link-local)? */
export function isBoundSource(
  port: NormalizedPort,
  mac: bigint,
  family: IpFamily,
  addr: bigint,
): boolean {
  if (family === 6 && mac === port.mac && addr === linkLocalFromMac(port.mac)) return true;
  return port.addresses.some((b) => b.mac === mac && cidrContains(b.cidr, family, addr));
}

/** Is `addr` one of the port's IPv6 addresses (any of its bindings, or its link-local)? */
function isOwnIpv6(port: NormalizedPort, addr: bigint): boolean {
  if (addr === linkLocalFromMac(port.mac)) return true;
  return port.addresses.some((b) => cidrContains(b.cidr, 6, addr));
}

function udpPorts(p: Packet): { src: number; dst: number } | null {
  return p.ip && p.ip.proto === IpProto.UDP && p.l4 ? p.l4 : null;
}

export function egressPortSecurity(port: NormalizedPort, p: Packet): PortSecurityVerdict {
  // A port with port security is an access port: 802.1Q frames are not its to send, whatever
  // they carry inside (OVS would otherwise judge them by the inner ethertype and addresses).
  if (p.vlan !== undefined) {
    return { kind: 'drop', reason: `VLAN-tagged frame (VLAN ${p.vlan}) from an access port` };
  }
  const macOk = portMacs(port).includes(p.ethSrc);
  if (p.ethType === ETH_TYPE_ARP) {
    const a = p.arp;
    if (!a) return { kind: 'drop', reason: 'malformed ARP' };
    if (macOk && a.sha === p.ethSrc && isBoundSource(port, a.sha, 4, a.spa)) {
      return { kind: 'allow', reason: 'ARP from a bound MAC and IPv4 address' };
    }
    return { kind: 'drop', reason: 'spoofed ARP (sha/spa not bound to the port)' };
  }
  if (p.ethType !== ETH_TYPE_IPV4 && p.ethType !== ETH_TYPE_IPV6) {
    return {
      kind: 'drop',
      reason: `ethertype 0x${p.ethType.toString(16)} not allowed from a port`,
    };
  }
  const ip = p.ip;
  if (!ip) return { kind: 'drop', reason: 'malformed IP packet' };
  if (!macOk) return { kind: 'drop', reason: 'spoofed source MAC' };
  const udp = udpPorts(p);
  if (ip.family === 4) {
    if (udp && udp.src === Dhcp.V4_CLIENT_PORT && udp.dst === Dhcp.V4_SERVER_PORT) {
      if ((ip.src === 0n && p.ethSrc === port.mac) || isBoundSource(port, p.ethSrc, 4, ip.src)) {
        return { kind: 'allow', reason: 'DHCP client request' };
      }
      return { kind: 'drop', reason: 'spoofed source IP (DHCP client)' };
    }
    if (udp && udp.src === Dhcp.V4_SERVER_PORT)
      return { kind: 'drop', reason: 'DHCP server reply from a port' };
    if (!isBoundSource(port, p.ethSrc, 4, ip.src))
      return { kind: 'drop', reason: 'spoofed source IP' };
    return { kind: 'rules' };
  }
  // IPv6: the always-allowed kinds may also come from the link-local or '::'.
  const specialSrcOk =
    (ip.src === 0n && p.ethSrc === port.mac) || isBoundSource(port, p.ethSrc, 6, ip.src);
  if (udp && udp.src === Dhcp.V6_CLIENT_PORT && udp.dst === Dhcp.V6_SERVER_PORT) {
    return specialSrcOk
      ? { kind: 'allow', reason: 'DHCPv6 client request' }
      : { kind: 'drop', reason: 'spoofed source IP (DHCPv6 client)' };
  }
  if (udp && udp.src === Dhcp.V6_SERVER_PORT)
    return { kind: 'drop', reason: 'DHCPv6 server reply from a port' };
  if (ip.proto === IpProto.ICMPV6 && p.icmp) {
    const t = p.icmp.type;
    if (ALWAYS_DROPPED_EGRESS_ICMPV6.includes(t)) {
      return {
        kind: 'drop',
        reason:
          t === Icmpv6Type.ROUTER_ADVERT
            ? 'router advertisement from a port'
            : 'ICMPv6 redirect from a port',
      };
    }
    if (
      t === Icmpv6Type.ROUTER_SOLICIT ||
      t === Icmpv6Type.MLD_REPORT ||
      t === Icmpv6Type.MLD_DONE ||
      t === Icmpv6Type.MLD2_REPORT
    ) {
      return specialSrcOk
        ? { kind: 'allow', reason: `ICMPv6 type ${t} (RS/MLD)` }
        : { kind: 'drop', reason: 'spoofed source IP' };
    }
    if (
      (t === Icmpv6Type.NEIGHBOR_SOLICIT || t === Icmpv6Type.NEIGHBOR_ADVERT) &&
      p.icmp.code !== 0
    ) {
      // OVS parses ND fields only for code 0, and RFC 4861 receivers drop the others.
      return { kind: 'drop', reason: `neighbour discovery with code ${p.icmp.code}` };
    }
    if (t === Icmpv6Type.NEIGHBOR_SOLICIT) {
      const sll = p.icmp.nd?.sll ?? 0n;
      if (!specialSrcOk) return { kind: 'drop', reason: 'spoofed source IP' };
      return sll === 0n || sll === port.mac
        ? { kind: 'allow', reason: 'neighbour solicitation' }
        : { kind: 'drop', reason: 'spoofed neighbour solicitation (nd_sll)' };
    }
    if (t === Icmpv6Type.NEIGHBOR_ADVERT) {
      const nd = p.icmp.nd ?? { target: 0n, sll: 0n, tll: 0n };
      if (!specialSrcOk) return { kind: 'drop', reason: 'spoofed source IP' };
      if (!isOwnIpv6(port, nd.target))
        return { kind: 'drop', reason: 'spoofed neighbour advertisement (nd_target)' };
      return nd.tll === 0n || nd.tll === port.mac
        ? { kind: 'allow', reason: 'neighbour advertisement' }
        : { kind: 'drop', reason: 'spoofed neighbour advertisement (nd_tll)' };
    }
  }
  if (!isBoundSource(port, p.ethSrc, 6, ip.src))
    return { kind: 'drop', reason: 'spoofed source IP' };
  return { kind: 'rules' };
}

export function ingressPortSecurity(p: Packet): PortSecurityVerdict {
  if (p.ethType === ETH_TYPE_ARP) return { kind: 'allow', reason: 'ARP' };
  if (p.ethType !== ETH_TYPE_IPV4 && p.ethType !== ETH_TYPE_IPV6) {
    return { kind: 'drop', reason: `ethertype 0x${p.ethType.toString(16)} not allowed to a port` };
  }
  const ip = p.ip;
  if (!ip) return { kind: 'drop', reason: 'malformed IP packet' };
  const udp = udpPorts(p);
  if (
    ip.family === 4 &&
    udp &&
    udp.src === Dhcp.V4_SERVER_PORT &&
    udp.dst === Dhcp.V4_CLIENT_PORT
  ) {
    return { kind: 'allow', reason: 'DHCP server reply' };
  }
  if (
    ip.family === 6 &&
    udp &&
    udp.src === Dhcp.V6_SERVER_PORT &&
    udp.dst === Dhcp.V6_CLIENT_PORT
  ) {
    return { kind: 'allow', reason: 'DHCPv6 server reply' };
  }
  if (
    ip.family === 6 &&
    ip.proto === IpProto.ICMPV6 &&
    p.icmp &&
    ALWAYS_ALLOWED_INGRESS_ICMPV6.includes(p.icmp.type)
  ) {
    return { kind: 'allow', reason: `ICMPv6 type ${p.icmp.type} (MLD query/RA/ND)` };
  }
  return { kind: 'rules' };
}
