/**
 * Addresses: MACs, IPv4/IPv6 addresses and CIDRs, parsed into bigints and printed in one
 * canonical text form.
 *
 * Invariant: every `Cidr` this module returns has its host bits cleared (Neutron normalises
 * `10.0.0.5/8` to `10.0.0.0/8`), an address without a prefix is a host CIDR (/32, /128), and
 * `formatX(parseX(s))` is the one canonical spelling of `s` (lower-case colon MACs, dotted
 * quads, RFC 5952 IPv6), so equal values always print the same.
 */
import ipaddr from 'ipaddr.js';
import { SgflowError } from './errors.js';
import type { Cidr, Ethertype, IpFamily } from './types.js';

const MAC_RE =
  /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;

export const MAC_BROADCAST = 0xffff_ffff_ffffn;

function invalid(field: string, reason: string): SgflowError {
  return new SgflowError('SG_INVALID_FIELD', { field, reason });
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}

// ---------------------------------------------------------------------------------------
// MAC
// ---------------------------------------------------------------------------------------

/** Parses `aa:bb:cc:dd:ee:ff` (or `-`-separated, any case) into a 48-bit bigint. */
export function parseMac(text: unknown, field = 'mac_address'): bigint {
  const m = typeof text === 'string' ? MAC_RE.exec(text.trim()) : null;
  if (!m) {
    throw invalid(
      field,
      `${show(text)} is not a valid MAC address; expected six hex octets separated by ':' like 02:00:00:00:01:01`,
    );
  }
  let v = 0n;
  for (const i of [1, 3, 4, 5, 6, 7]) v = (v << 8n) | BigInt(parseInt(m[i]!, 16));
  return v;
}

/** Canonical form: lower-case, colon-separated, two digits per octet. */
export function formatMac(mac: bigint): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--)
    parts.push(((mac >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function canonicalMac(text: unknown, field = 'mac_address'): string {
  return formatMac(parseMac(text, field));
}

/** Multicast (and broadcast) MACs have the I/G bit set. */
export function isMulticastMac(mac: bigint): boolean {
  return ((mac >> 40n) & 1n) === 1n;
}

// ---------------------------------------------------------------------------------------
// IP addresses
// ---------------------------------------------------------------------------------------

export interface IpAddress {
  family: IpFamily;
  addr: bigint;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export function familyOfEthertype(ethertype: Ethertype): IpFamily {
  return ethertype === 'IPv4' ? 4 : 6;
}

export function ethertypeOfFamily(family: IpFamily): Ethertype {
  return family === 4 ? 'IPv4' : 'IPv6';
}

function bytesToBigint(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Parses an IPv4 dotted quad or an IPv6 address (no zone id). Returns null when invalid. */
function tryParseIp(text: string): IpAddress | null {
  const s = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) {
    return { family: 4, addr: bytesToBigint(ipaddr.IPv4.parse(s).toByteArray()) };
  }
  if (s.includes(':') && !s.includes('%') && ipaddr.IPv6.isValid(s)) {
    return { family: 6, addr: bytesToBigint(ipaddr.IPv6.parse(s).toByteArray()) };
  }
  return null;
}

export function parseIp(text: unknown, field = 'ip_address'): IpAddress {
  const ip = typeof text === 'string' ? tryParseIp(text) : null;
  if (!ip) {
    throw invalid(
      field,
      `${show(text)} is not a valid IP address; expected an IPv4 (10.0.0.1) or IPv6 (fd00::1) address`,
    );
  }
  return ip;
}

function formatIpv4(addr: bigint): string {
  const parts: number[] = [];
  for (let i = 3; i >= 0; i--) parts.push(Number((addr >> BigInt(8 * i)) & 0xffn));
  return parts.join('.');
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (≥2) of zero groups as `::`. */
function formatIpv6(addr: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr >> BigInt(16 * i)) & 0xffffn));
  // IPv4-mapped addresses print their IPv4 part dotted, as netaddr (and Neutron) do.
  if (addr >> 32n === 0xffffn) return `::ffff:${formatIpv4(addr & 0xffff_ffffn)}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number): string => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  const head = groups.slice(0, bestStart).map(hex).join(':');
  const tail = groups
    .slice(bestStart + bestLen)
    .map(hex)
    .join(':');
  return `${head}::${tail}`;
}

export function formatIp(family: IpFamily, addr: bigint): string {
  return family === 4 ? formatIpv4(addr) : formatIpv6(addr);
}

export function canonicalIp(text: unknown, field = 'ip_address'): string {
  const ip = parseIp(text, field);
  return formatIp(ip.family, ip.addr);
}

// ---------------------------------------------------------------------------------------
// CIDRs
// ---------------------------------------------------------------------------------------

/** The network mask of a CIDR as a bigint of the family's width. */
export function cidrMask(cidr: Cidr): bigint {
  const bits = BigInt(familyBits(cidr.family));
  const hostBits = bits - BigInt(cidr.prefix);
  return ((1n << bits) - 1n) ^ ((1n << hostBits) - 1n);
}

export function cidrFamily(cidr: Cidr): IpFamily {
  return cidr.family;
}

/** Builds a CIDR, clearing host bits. */
export function makeCidr(family: IpFamily, addr: bigint, prefix: number): Cidr {
  const c: Cidr = { family, addr: 0n, prefix };
  c.addr = addr & cidrMask(c);
  return c;
}

export function hostCidr(family: IpFamily, addr: bigint): Cidr {
  return { family, addr, prefix: familyBits(family) };
}

/** `0.0.0.0/0` or `::/0`. */
export function anyCidr(family: IpFamily): Cidr {
  return { family, addr: 0n, prefix: 0 };
}

export function isAnyCidr(cidr: Cidr): boolean {
  return cidr.prefix === 0;
}

export function isHostCidr(cidr: Cidr): boolean {
  return cidr.prefix === familyBits(cidr.family);
}

/**
 * Parses `addr/prefix` or a bare address (a host CIDR). Host bits are cleared, as Neutron
 * does for remote_ip_prefix. Returns null when invalid.
 */
export function tryParseCidr(text: string): Cidr | null {
  const s = text.trim();
  const slash = s.indexOf('/');
  const ip = tryParseIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip) return null;
  if (slash < 0) return hostCidr(ip.family, ip.addr);
  const p = s.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
  const prefix = Number(p);
  if (prefix > familyBits(ip.family)) return null;
  return makeCidr(ip.family, ip.addr, prefix);
}

export function parseCidr(text: unknown, field = 'remote_ip_prefix'): Cidr {
  const c = typeof text === 'string' ? tryParseCidr(text) : null;
  if (!c) {
    throw invalid(
      field,
      `${show(text)} is not a valid CIDR; expected an IPv4 or IPv6 address with an optional prefix length (0-32 / 0-128), like 10.0.0.0/8 or fd00::/64`,
    );
  }
  return c;
}

/** Canonical text: network address, `/`, prefix length (always present). */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.family, cidr.addr)}/${cidr.prefix}`;
}

export function canonicalCidr(text: unknown, field = 'remote_ip_prefix'): string {
  return formatCidr(parseCidr(text, field));
}

export function cidrContains(cidr: Cidr, family: IpFamily, addr: bigint): boolean {
  return cidr.family === family && (addr & cidrMask(cidr)) === cidr.addr;
}

/** True when every address of `inner` is in `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    cidrContains(outer, inner.family, inner.addr)
  );
}

export function cidrEquals(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.addr === b.addr;
}

/** Total order: family, then address, then prefix (shorter first). */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  return a.prefix - b.prefix;
}

/** The first and last address a CIDR covers. */
export function cidrRange(cidr: Cidr): { first: bigint; last: bigint } {
  const all = (1n << BigInt(familyBits(cidr.family))) - 1n;
  return { first: cidr.addr, last: cidr.addr | (all ^ cidrMask(cidr)) };
}
