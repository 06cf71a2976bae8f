/**
 * IP protocols as Neutron's security-group API names them (neutron_lib IP_PROTOCOL_MAP).
 *
 * Produces: the API value of a rule's protocol (`parseProtocol`: lower-case name, decimal
 * string or null) and its IP protocol number under an ethertype (`protocolNumber`).
 * Invariant: "tcp", "TCP", "6" and 6 all mean 6; `icmp` (and `1`) under IPv6 mean 58, as in
 * Neutron; `any`, null and protocol 0 mean any protocol (null).
 */
import { SgflowError } from './errors.js';
import { IpProto, PortProtocol, type Ethertype } from './types.js';

/** neutron_lib.constants.IP_PROTOCOL_MAP, including the legacy alias `icmpv6`. */
export const IP_PROTOCOL_MAP: Readonly<Record<string, number>> = {
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ip: 0,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
};

export const PROTO_NAME_ANY = 'any';

/** What the API accepts for `protocol`, in the order error messages list them. */
export const SUPPORTED_PROTOCOL_NAMES: readonly string[] = [
  PROTO_NAME_ANY,
  ...Object.keys(IP_PROTOCOL_MAP),
];

/** Protocols (names and decimal strings) that only exist under IPv6 (Neutron's list). */
const IPV6_ONLY_NUMBERS: ReadonlySet<number> = new Set([41, 43, 44, 58, 59, 60]);

const PORT_PROTOCOL_NUMBERS: ReadonlySet<number> = new Set(Object.values(PortProtocol));

function invalidProtocol(value: unknown): SgflowError {
  return new SgflowError('SG_INVALID_PROTOCOL', {
    protocol: typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)),
    values: `[${SUPPORTED_PROTOCOL_NAMES.join(', ')}]`,
  });
}

/**
 * The API's `protocol` conversion (Neutron's convert_protocol): null / "any" → null; an
 * integer 0–255 (number or decimal string) → its decimal string; a known name (any case) →
 * lower-case name. Anything else is SG_INVALID_PROTOCOL, listing the allowed values.
 */
export function parseProtocol(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 255) return String(value);
    throw invalidProtocol(value);
  }
  if (typeof value !== 'string') throw invalidProtocol(value);
  const s = value.trim();
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    if (n <= 255) return String(n);
    throw invalidProtocol(value);
  }
  const lower = s.toLowerCase();
  if (lower === PROTO_NAME_ANY) return null;
  if (lower in IP_PROTOCOL_MAP) return lower;
  throw invalidProtocol(value);
}

/**
 * Neutron's canonical IPv6 ICMP spelling: under IPv6, `icmp`/`icmpv6` become `ipv6-icmp`
 * and `1` becomes `58` (what Neutron stores and returns). Other values are unchanged.
 */
export function canonicalProtocolForEthertype(
  protocol: string | null,
  ethertype: Ethertype,
): string | null {
  if (protocol === null || ethertype !== 'IPv6') return protocol;
  if (protocol === 'icmp' || protocol === 'icmpv6') return 'ipv6-icmp';
  if (protocol === '1') return '58';
  return protocol;
}

/**
 * The number a protocol value names under an ethertype (IPv6 `icmp`/`1` → 58), keeping 0 as
 * 0; null = no protocol given. Neutron compares rules for duplicates by this.
 */
export function protocolNumberAsGiven(
  protocol: string | null,
  ethertype: Ethertype,
): number | null {
  if (protocol === null) return null;
  const p = parseProtocol(protocol);
  if (p === null) return null;
  const n = /^[0-9]+$/.test(p) ? Number(p) : IP_PROTOCOL_MAP[p]!;
  return ethertype === 'IPv6' && n === IpProto.ICMP ? IpProto.ICMPV6 : n;
}

/**
 * The IP protocol number a rule matches under an ethertype; null = any protocol. Protocol 0
 * (`0`, `ip`, `hopopt`) means any protocol, as in Neutron's firewall drivers (iptables
 * renders it without `-p`), not IPv6 hop-by-hop headers.
 */
export function protocolNumber(protocol: string | null, ethertype: Ethertype): number | null {
  const n = protocolNumberAsGiven(protocol, ethertype);
  return n === 0 ? null : n;
}

/** Neutron's normalised name of a protocol number (e.g. 58 → ipv6-icmp), or its decimal string. */
export function protocolName(num: number): string {
  for (const [name, n] of Object.entries(IP_PROTOCOL_MAP)) {
    if (n === num && name !== 'icmpv6' && name !== 'hopopt') return name;
  }
  return String(num);
}

/** TCP, UDP, SCTP, DCCP, UDP-Lite: the protocols whose rules may carry port ranges. */
export function isPortProtocol(num: number | null): boolean {
  return num !== null && PORT_PROTOCOL_NUMBERS.has(num);
}

/** ICMP (1) or ICMPv6 (58): rules carry type/code in port_range_min/max. */
export function isIcmpProtocol(num: number | null): boolean {
  return num === IpProto.ICMP || num === IpProto.ICMPV6;
}

/** Protocols that exist only under IPv6 (a rule with ethertype IPv4 may not use them). */
export function isIpv6OnlyProtocol(num: number | null): boolean {
  return num !== null && IPV6_ONLY_NUMBERS.has(num);
}
