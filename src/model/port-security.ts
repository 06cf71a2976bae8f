/**
 * What port security always allows and always drops, whatever the security groups say
 * (docs/pipeline.md, "Always allowed"). One table read by the reference semantics and the
 * compiler alike, so the two can only disagree about *how* it is enforced, never *what*.
 */

export const Dhcp = {
  V4_CLIENT_PORT: 68,
  V4_SERVER_PORT: 67,
  V6_CLIENT_PORT: 546,
  V6_SERVER_PORT: 547,
} as const;

export const Icmpv6Type = {
  MLD_QUERY: 130,
  MLD_REPORT: 131,
  MLD_DONE: 132,
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
  REDIRECT: 137,
  MLD2_REPORT: 143,
} as const;

/** ICMPv6 types a port may always send (ND ones only when they pass the ND checks). */
export const ALWAYS_ALLOWED_EGRESS_ICMPV6: readonly number[] = [
  Icmpv6Type.ROUTER_SOLICIT,
  Icmpv6Type.MLD_REPORT,
  Icmpv6Type.MLD_DONE,
  Icmpv6Type.MLD2_REPORT,
  Icmpv6Type.NEIGHBOR_SOLICIT,
  Icmpv6Type.NEIGHBOR_ADVERT,
];

/** ICMPv6 types a port may never send: it is not a router. */
export const ALWAYS_DROPPED_EGRESS_ICMPV6: readonly number[] = [
  Icmpv6Type.ROUTER_ADVERT,
  Icmpv6Type.REDIRECT,
];

/** ICMPv6 types a port may always receive. */
export const ALWAYS_ALLOWED_INGRESS_ICMPV6: readonly number[] = [
  Icmpv6Type.MLD_QUERY,
  Icmpv6Type.ROUTER_ADVERT,
  Icmpv6Type.NEIGHBOR_SOLICIT,
  Icmpv6Type.NEIGHBOR_ADVERT,
];

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
} as const;

/** The IPv6 link-local address (fe80::/64 + modified EUI-64) a port may use as its source. */
export function linkLocalFromMac(mac: bigint): bigint {
  const b = (i: number): bigint => (mac >> BigInt(8 * (5 - i))) & 0xffn;
  const eui =
    ((b(0) ^ 0x02n) << 56n) |
    (b(1) << 48n) |
    (b(2) << 40n) |
    (0xffn << 32n) |
    (0xfen << 24n) |
    (b(3) << 16n) |
    (b(4) << 8n) |
    b(5);
  return (0xfe80n << 112n) | eui;
}
