/**
 * The ovs-ofctl flow text format: `formatFlow` writes a line that `ovs-ofctl add-flows` and
 * `--bundle replace-flows` accept; `parseFlow` reads that line and also what `ovs-ofctl
 * dump-flows` prints (shorthands such as `tcp6`, legacy names such as `nw_src`/`tp_dst`,
 * counters ignored); `parseMatch` reads a packet description (`tcp,nw_src=10.0.0.1,tp_dst=80`).
 *
 * Invariant: the match is printed in the order and with the names ovs-ofctl itself prints
 * (fields.ts `textRank`, `printName`), values canonicalised (value & mask, full masks
 * dropped), so `formatFlow(parseFlow(formatFlow(f))) === formatFlow(f)` and our text equals
 * ovs-ofctl's for the same flow.
 */
import {
  type Action,
  type FieldMatch,
  type FieldName,
  type FieldSlice,
  type Flow,
  type LearnSpec,
  type Match,
  type PortNumber,
} from './ir.js';
import {
  EthType,
  FIELDS,
  FIELD_TABLE,
  IpProto,
  fieldByName,
  fullMask,
  presentFields,
  unmetPrerequisites,
  type FieldDef,
} from './fields.js';
import { invalidFlow } from './errors.js';
import {
  cidrLength,
  formatFlags,
  formatHexBytes,
  formatIpv4,
  formatIpv6,
  formatMac,
  hex0x,
  hexC,
  parseFlags,
  parseHexBytes,
  parseIpv4,
  parseIpv6,
  parseMac,
  parseNumber,
  prefixMask,
} from './values.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// ---------------------------------------------------------------------------------------------
// Named ports and flags

/** 16-bit (OpenFlow 1.0 numbering) values of the named ports, as in_port holds them. */
export const PORT16: Readonly<Record<Exclude<PortNumber, number> | 'ANY', number>> = {
  IN_PORT: 0xfff8,
  NORMAL: 0xfffa,
  FLOOD: 0xfffb,
  ALL: 0xfffc,
  CONTROLLER: 0xfffd,
  LOCAL: 0xfffe,
  ANY: 0xffff,
};

const PORT_NAMES = new Map<number, string>(Object.entries(PORT16).map(([k, v]) => [v, k]));

function formatPort16(v: bigint): string {
  return PORT_NAMES.get(Number(v)) ?? v.toString();
}

function parsePort16(s: string): bigint | undefined {
  const named = (PORT16 as Record<string, number>)[s.toUpperCase()];
  if (named !== undefined) return BigInt(named);
  if (s.toUpperCase() === 'NONE') return 0xffffn;
  const n = parseNumber(s);
  return n !== undefined && n < 0xff00n ? n : undefined;
}

const CT_STATE_NAMES = ['new', 'est', 'rel', 'rpl', 'inv', 'trk', 'snat', 'dnat'];
const TCP_FLAG_NAMES = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr', 'ns'];

function flagName(names: readonly string[]) {
  return (bit: bigint): string => {
    let i = 0;
    while (1n << BigInt(i) !== bit) i++;
    return names[i] ?? `[${bit.toString(16)}]`;
  };
}

function flagBit(names: readonly string[]) {
  return (name: string): bigint | undefined => {
    const i = names.indexOf(name);
    if (i >= 0) return 1n << BigInt(i);
    const raw = /^\[([0-9a-f]+)\]$/.exec(name);
    return raw ? BigInt(`0x${raw[1]}`) : undefined;
  };
}

const FRAG_TEXT: Record<string, { value: bigint; mask?: bigint }> = {
  no: { value: 0n },
  yes: { value: 1n, mask: 1n },
  first: { value: 1n },
  later: { value: 3n },
  not_later: { value: 0n, mask: 2n },
};

// ---------------------------------------------------------------------------------------------
// Canonical matches

/** A field match in canonical form: value & mask, mask dropped when it covers the field. */
export function canonicalFieldMatch(f: FieldDef, m: FieldMatch): FieldMatch | undefined {
  const full = fullMask(f);
  let mask = m.mask === undefined ? full : m.mask & full;
  let value = m.value & mask;
  if (f.name === 'ip_frag') {
    // Two meaningful bits (any=1, later=2; later implies any). Matching both is exact;
    // "not a fragment" (0/1) is exactly 0, "later" (2/2) is exactly 3: one form each.
    if ((mask & 3n) === 3n || ((mask & 3n) === 1n && (value & 1n) === 0n)) mask = full;
    if ((mask & 3n) === 2n && (value & 2n) !== 0n) {
      mask = full;
      value = 3n;
    }
  }
  if (mask === 0n) return undefined;
  value &= mask;
  return mask === full ? { value } : { value, mask };
}

/** The match with every field in canonical form (see canonicalFieldMatch). */
export function canonicalMatch(m: Match): Match {
  const out: Partial<Record<FieldName, FieldMatch>> = {};
  for (const name of presentFields(m)) {
    const c = canonicalFieldMatch(FIELDS[name], m[name]!);
    if (c) out[name] = c;
  }
  return out;
}

/**
 * Throws a FlowError naming the field if `m` has a value too wide, a mask on an unmaskable
 * field, or (unless `prerequisites: false`) unmet prerequisites.
 */
export function validateMatch(m: Match, opts: { prerequisites?: boolean } = {}): void {
  for (const k in m) {
    const f = FIELDS[k as FieldName] as FieldDef | undefined;
    if (f === undefined)
      throw invalidFlow(
        k,
        `unknown match field; fields are ${FIELD_TABLE.map((x) => x.name).join(', ')}`,
      );
    const fm = m[k as FieldName];
    if (fm === undefined) continue;
    const full = fullMask(f);
    if (fm.value < 0n || fm.value > full) {
      throw invalidFlow(f.name, `value ${fm.value} does not fit in ${f.bits} bits`);
    }
    if (fm.mask !== undefined && fm.mask !== full && !f.maskable) {
      throw invalidFlow(f.name, 'this field cannot be masked; give an exact value');
    }
  }
  const frag = m.ip_frag;
  if (frag) {
    const mask = frag.mask ?? 0xffn;
    if ((frag.value & ~3n) !== 0n || (mask & 1n && frag.value === 2n)) {
      throw invalidFlow(
        'ip_frag',
        `value ${frag.value}/${mask} matches no packet; use no, yes, first, later or not_later`,
      );
    }
  }
  if (opts.prerequisites === false) return;
  const unmet = unmetPrerequisites(m);
  if (unmet.length > 0) {
    const u = unmet[0]!;
    throw invalidFlow(u.field, `matching ${u.field} requires ${u.needs}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Value text

/** A value (and mask) as a match prints it (lib/match.c match_format). */
function formatMatchValue(f: FieldDef, v: bigint, mask: bigint | undefined): string {
  switch (f.text) {
    case 'hex':
      return mask === undefined ? hexC(v) : `${hexC(v)}/${hexC(mask)}`;
    case 'decimal':
      return mask === undefined ? v.toString() : `${hex0x(v)}/${hex0x(mask)}`;
    case 'mac':
      return mask === undefined ? formatMac(v) : `${formatMac(v)}/${formatMac(mask)}`;
    case 'ipv4':
    case 'ipv6': {
      const fmt = f.text === 'ipv4' ? formatIpv4 : formatIpv6;
      if (mask === undefined) return fmt(v);
      const len = cidrLength(mask, f.bits);
      return `${fmt(v)}/${len !== undefined ? len : fmt(mask)}`;
    }
    case 'ct_state':
      return formatFlags(v, mask ?? 0xffn, 0xffn, flagName(CT_STATE_NAMES));
    case 'tcp_flags':
      return formatFlags(v, mask ?? 0xfffn, 0xfffn, flagName(TCP_FLAG_NAMES));
    case 'frag': {
      const m = mask ?? 3n;
      if (m === 3n) return v === 3n ? 'later' : v === 1n ? 'first' : 'no';
      if (m === 1n) return v ? 'yes' : 'no';
      return v ? 'later' : 'not_later';
    }
    case 'port':
      return formatPort16(v);
    case 'ethertype':
      return `0x${v.toString(16).padStart(4, '0')}`;
    case 'flowlabel': {
      const h = (x: bigint) => `0x${x.toString(16).padStart(5, '0')}`;
      return mask === undefined ? h(v) : `${h(v)}/${h(mask)}`;
    }
    case 'tos':
      return (v << 2n).toString();
    case 'vlan':
      return formatVlanValue(v, mask);
  }
}

function formatVlanValue(v: bigint, mask: bigint | undefined): string {
  const h = (x: bigint) => `0x${x.toString(16).padStart(4, '0')}`;
  return mask === undefined ? h(v) : `${h(v)}/${h(mask)}`;
}

/** A value as an action prints it (lib/meta-flow.c mf_format). */
export function formatFieldValue(f: FieldDef, v: bigint, mask?: bigint): string {
  switch (f.text) {
    case 'mac':
    case 'ipv4':
    case 'ipv6':
    case 'port':
    case 'ct_state':
    case 'tcp_flags':
    case 'frag':
      return formatMatchValue(f, v, mask);
    case 'decimal':
      return mask === undefined ? v.toString() : `${v}/${hex0x(mask)}`;
    case 'tos':
      return mask === undefined ? v.toString() : `${v}/${hex0x(mask)}`;
    default:
      return mask === undefined ? hexC(v) : `${hexC(v)}/${hexC(mask)}`;
  }
}

/** Parses a value (with optional `/mask`) in the field's text form. */
export function parseFieldValue(f: FieldDef, text: string): FieldMatch {
  const s = text.trim();
  const bad = (why: string) => invalidFlow(f.name, `cannot parse '${s}': ${why}`);
  switch (f.text) {
    case 'ct_state':
    case 'tcp_flags': {
      const names = f.text === 'ct_state' ? CT_STATE_NAMES : TCP_FLAG_NAMES;
      const all = f.text === 'ct_state' ? 0xffn : 0xfffn;
      const r = parseFlags(s, all, flagBit(names));
      if (typeof r === 'string')
        throw bad(`${r}; flags are ${names.join(', ')} as +flag-flag or flag|flag`);
      // `0x21` alone is an exact value over the whole field; flag forms carry their mask.
      const numeric = /^[0-9a-fx]+$/i.test(s);
      return numeric ? { value: r.value } : { value: r.value, mask: r.mask };
    }
    case 'frag': {
      const r = FRAG_TEXT[s.toLowerCase()];
      if (!r) throw bad(`allowed: ${Object.keys(FRAG_TEXT).join(', ')}`);
      return r;
    }
    case 'port': {
      const v = parsePort16(s);
      if (v === undefined)
        throw bad(
          'expected a port number below 65280 or LOCAL, IN_PORT, NORMAL, FLOOD, ALL, CONTROLLER',
        );
      return { value: v };
    }
    case 'tos': {
      const v = parseNumber(s);
      if (v === undefined) throw bad('expected a number');
      return { value: v };
    }
    default:
      break;
  }
  const slash = s.indexOf('/');
  const vs = slash < 0 ? s : s.slice(0, slash);
  const ms = slash < 0 ? undefined : s.slice(slash + 1);
  const parseOne = (t: string): bigint | undefined => {
    switch (f.text) {
      case 'mac':
        return parseMac(t);
      case 'ipv4':
        return parseIpv4(t);
      case 'ipv6':
        return parseIpv6(t);
      default:
        return parseNumber(t);
    }
  };
  const value = parseOne(vs);
  if (value === undefined) throw bad(`expected ${describeFormat(f)}`);
  if (ms === undefined) return { value };
  let mask: bigint | undefined;
  if ((f.text === 'ipv4' || f.text === 'ipv6') && /^\d+$/.test(ms)) {
    const len = Number(ms);
    if (len > f.bits) throw bad(`prefix length must be 0..${f.bits}`);
    mask = prefixMask(len, f.bits);
  } else {
    mask = parseOne(ms) ?? parseNumber(ms);
  }
  if (mask === undefined) throw bad(`cannot parse mask '${ms}'`);
  return { value, mask };
}

function describeFormat(f: FieldDef): string {
  switch (f.text) {
    case 'mac':
      return 'a MAC address like 00:11:22:33:44:55';
    case 'ipv4':
      return 'an IPv4 address like 10.0.0.1';
    case 'ipv6':
      return 'an IPv6 address like fe80::1';
    default:
      return 'a decimal or 0x-hex number';
  }
}

// ---------------------------------------------------------------------------------------------
// Matches

function exactValue(m: Match, n: FieldName): bigint | undefined {
  const fm = m[n];
  return fm !== undefined && fm.mask === undefined ? fm.value : undefined;
}

const SHORTHAND_V4: Record<string, string> = {
  '1': 'icmp',
  '2': 'igmp',
  '6': 'tcp',
  '17': 'udp',
  '132': 'sctp',
};
const SHORTHAND_V6: Record<string, string> = {
  '58': 'icmp6',
  '6': 'tcp6',
  '17': 'udp6',
  '132': 'sctp6',
};

/** The match as ovs-ofctl prints it (comma-separated, no priority); empty string for match-all. */
export function formatMatch(match: Match): string {
  const m = canonicalMatch(match);
  const parts: { rank: number; text: string }[] = [];
  const ethType = exactValue(m, 'eth_type');
  const proto = exactValue(m, 'ip_proto');
  let skipType = false;
  let skipProto = false;
  let shorthand: string | undefined;
  if (ethType === EthType.IPV4 || ethType === EthType.IPV6) {
    skipType = true;
    const table = ethType === EthType.IPV4 ? SHORTHAND_V4 : SHORTHAND_V6;
    const named = proto !== undefined ? table[proto.toString()] : undefined;
    shorthand = named ?? (ethType === EthType.IPV4 ? 'ip' : 'ipv6');
    skipProto = named !== undefined;
  } else if (ethType === EthType.ARP) {
    shorthand = 'arp';
    skipType = true;
  } else if (ethType === EthType.RARP) {
    shorthand = 'rarp';
    skipType = true;
  }
  if (shorthand) parts.push({ rank: 200, text: shorthand });
  for (const f of FIELD_TABLE) {
    const fm = m[f.name];
    if (fm === undefined) continue;
    if (f.name === 'eth_type' && skipType) continue;
    if (f.name === 'ip_proto' && skipProto) continue;
    if (f.name === 'vlan_tci') {
      parts.push({ rank: f.textRank, text: formatVlanMatch(fm.value, fm.mask ?? 0xffffn) });
      continue;
    }
    parts.push({
      rank: f.textRank,
      text: `${f.printName}=${formatMatchValue(f, fm.value, fm.mask)}`,
    });
  }
  parts.sort((a, b) => a.rank - b.rank);
  return parts.map((p) => p.text).join(',');
}

function formatVlanMatch(v: bigint, mask: bigint): string {
  const vidMask = mask & 0x0fffn;
  const pcpMask = mask & 0xe000n;
  if (
    mask & 0x1000n &&
    v & 0x1000n &&
    (vidMask === 0n || vidMask === 0x0fffn) &&
    (pcpMask === 0n || pcpMask === 0xe000n) &&
    (vidMask !== 0n || pcpMask !== 0n)
  ) {
    const out: string[] = [];
    if (vidMask) out.push(`dl_vlan=${v & 0x0fffn}`);
    if (pcpMask) out.push(`dl_vlan_pcp=${(v >> 13n) & 7n}`);
    return out.join(',');
  }
  return mask === 0xffffn
    ? `vlan_tci=${formatVlanValue(v, undefined)}`
    : `vlan_tci=${formatVlanValue(v, mask)}`;
}

const SHORTHANDS: Record<string, { eth: bigint; proto?: bigint }> = {
  ip: { eth: EthType.IPV4 },
  ipv4: { eth: EthType.IPV4 },
  icmp: { eth: EthType.IPV4, proto: IpProto.ICMP },
  igmp: { eth: EthType.IPV4, proto: 2n },
  tcp: { eth: EthType.IPV4, proto: IpProto.TCP },
  udp: { eth: EthType.IPV4, proto: IpProto.UDP },
  sctp: { eth: EthType.IPV4, proto: IpProto.SCTP },
  ipv6: { eth: EthType.IPV6 },
  ip6: { eth: EthType.IPV6 },
  icmp6: { eth: EthType.IPV6, proto: IpProto.ICMPV6 },
  tcp6: { eth: EthType.IPV6, proto: IpProto.TCP },
  udp6: { eth: EthType.IPV6, proto: IpProto.UDP },
  sctp6: { eth: EthType.IPV6, proto: IpProto.SCTP },
  arp: { eth: EthType.ARP },
  rarp: { eth: EthType.RARP },
};

/** Keys a flow line may carry that are not match fields (dump-flows counters are ignored). */
const IGNORED_KEYS = new Set([
  'duration',
  'n_packets',
  'n_bytes',
  'idle_age',
  'hard_age',
  'importance',
  'reset_counts',
]);
const FLAG_WORDS = [
  'send_flow_rem',
  'check_overlap',
  'reset_counts',
  'no_packet_counts',
  'no_byte_counts',
] as const;

interface MatchBuilder {
  fields: Partial<Record<FieldName, FieldMatch>>;
  pending: { key: string; value: string }[];
}

function setField(b: MatchBuilder, name: FieldName, fm: FieldMatch): void {
  const prev = b.fields[name];
  if (prev !== undefined && (prev.value !== fm.value || prev.mask !== fm.mask)) {
    throw invalidFlow(name, 'given twice with different values');
  }
  b.fields[name] = fm;
}

/** Adds a `key[=value]` match element; returns false if `key` is not a match element. */
function addMatchElement(b: MatchBuilder, key: string, value: string | undefined): boolean {
  const k = key.toLowerCase();
  const sh = SHORTHANDS[k];
  if (sh && value === undefined) {
    setField(b, 'eth_type', { value: sh.eth });
    if (sh.proto !== undefined) setField(b, 'ip_proto', { value: sh.proto });
    return true;
  }
  if (value === undefined) return false;
  if (
    [
      'tp_src',
      'tp_dst',
      'icmp_type',
      'icmp_code',
      'nw_src',
      'nw_dst',
      'ip_src',
      'ip_dst',
      'nw_proto',
      'ip_proto',
    ].includes(k) ||
    ['dl_vlan', 'dl_vlan_pcp', 'vlan_tci', 'nw_tos', 'ip_dscp'].includes(k)
  ) {
    b.pending.push({ key: k, value });
    return true;
  }
  const f = fieldByName(k);
  if (!f) return false;
  setField(b, f.name, parseFieldValue(f, value));
  return true;
}

/** Resolves names whose field depends on the rest of the match (tp_dst, nw_src, icmp_type...). */
function resolvePending(b: MatchBuilder): void {
  const eth = b.fields.eth_type?.value;
  const isArp = eth === EthType.ARP || eth === EthType.RARP;
  // nw_proto first: it decides what tp_src means.
  for (const p of b.pending) {
    if (p.key === 'nw_proto' || p.key === 'ip_proto') {
      const f = isArp ? FIELDS.arp_op : FIELDS.ip_proto;
      setField(b, f.name, parseFieldValue(f, p.value));
    }
  }
  const proto = b.fields.ip_proto?.value;
  let vlanValue = 0n;
  let vlanMask = 0n;
  let vlanSeen = false;
  for (const p of b.pending) {
    const k = p.key;
    if (k === 'nw_proto' || k === 'ip_proto') continue;
    let name: FieldName;
    if (k === 'nw_src' || k === 'ip_src') name = isArp ? 'arp_spa' : 'ip_src';
    else if (k === 'nw_dst' || k === 'ip_dst') name = isArp ? 'arp_tpa' : 'ip_dst';
    else if (k === 'icmp_type' || k === 'icmp_code') {
      const v6 = eth === EthType.IPV6;
      name = (v6 ? `icmpv6_${k.slice(5)}` : k) as FieldName;
    } else if (k === 'tp_src' || k === 'tp_dst') {
      const side = k.slice(3);
      if (proto === IpProto.TCP) name = `tcp_${side}` as FieldName;
      else if (proto === IpProto.UDP) name = `udp_${side}` as FieldName;
      else if (proto === IpProto.SCTP) name = `sctp_${side}` as FieldName;
      else if (proto === IpProto.ICMP) name = side === 'src' ? 'icmp_type' : 'icmp_code';
      else if (proto === IpProto.ICMPV6) name = side === 'src' ? 'icmpv6_type' : 'icmpv6_code';
      else
        throw invalidFlow(
          k,
          `${k} needs a protocol: one of tcp, udp, sctp, icmp (or tcp6, udp6, sctp6, icmp6)`,
        );
    } else if (k === 'nw_tos') {
      const v = parseNumber(p.value);
      if (v === undefined || v > 255n || (v & 3n) !== 0n) {
        throw invalidFlow(
          'nw_tos',
          `'${p.value}' must be a multiple of 4 in 0..252 (the DSCP bits)`,
        );
      }
      setField(b, 'ip_dscp', { value: v >> 2n });
      continue;
    } else if (k === 'ip_dscp') {
      const v = parseNumber(p.value);
      if (v === undefined || v > 63n) throw invalidFlow('ip_dscp', `'${p.value}' must be 0..63`);
      setField(b, 'ip_dscp', { value: v });
      continue;
    } else if (k === 'dl_vlan') {
      const v = parseNumber(p.value);
      if (v === undefined || (v > 4095n && v !== 0xffffn))
        throw invalidFlow('dl_vlan', `'${p.value}' must be 0..4095 or 0xffff (no VLAN)`);
      vlanSeen = true;
      if (v === 0xffffn) {
        vlanMask = 0xffffn;
        vlanValue = 0n;
      } else {
        vlanValue |= 0x1000n | v;
        vlanMask |= 0x1fffn;
      }
      continue;
    } else if (k === 'dl_vlan_pcp') {
      const v = parseNumber(p.value);
      if (v === undefined || v > 7n) throw invalidFlow('dl_vlan_pcp', `'${p.value}' must be 0..7`);
      vlanSeen = true;
      vlanValue |= 0x1000n | (v << 13n);
      vlanMask |= 0xf000n;
      continue;
    } else if (k === 'vlan_tci') {
      const fm = parseFieldValue(FIELDS.vlan_tci, p.value);
      vlanSeen = true;
      vlanValue |= fm.value;
      vlanMask |= fm.mask ?? 0xffffn;
      continue;
    } else {
      throw invalidFlow(k, 'unknown field');
    }
    setField(b, name, parseFieldValue(FIELDS[name], p.value));
  }
  if (vlanSeen) setField(b, 'vlan_tci', { value: vlanValue, mask: vlanMask });
}

function finishMatch(b: MatchBuilder): Match {
  resolvePending(b);
  validateMatch(b.fields);
  return canonicalMatch(b.fields);
}

/** Splits on commas (and whitespace around them) outside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out.filter((x) => x !== '');
}

function splitKeyValue(tok: string): { key: string; value: string | undefined } {
  const eq = tok.indexOf('=');
  if (eq < 0) return { key: tok.trim(), value: undefined };
  return { key: tok.slice(0, eq).trim(), value: tok.slice(eq + 1).trim() };
}

/**
 * A packet or match description such as `tcp,nw_src=10.0.0.1,tp_dst=80,in_port=3` (the
 * `sgflow trace --packet` argument). Field names as ovs-ofctl accepts them.
 */
export function parseMatch(text: string): Match {
  const b: MatchBuilder = { fields: {}, pending: [] };
  for (const tok of splitTopLevel(text.replace(/\s+/g, ','))) {
    const { key, value } = splitKeyValue(tok);
    if (!addMatchElement(b, key, value)) {
      throw invalidFlow(
        key,
        `unknown match field; fields are ${FIELD_TABLE.map((f) => f.name).join(', ')} and ovs-ofctl's shorthands (ip, tcp, udp6, arp, ...)`,
      );
    }
  }
  return finishMatch(b);
}

// ---------------------------------------------------------------------------------------------
// Flows

/** One flow as a line ovs-ofctl add-flows accepts. */
export function formatFlow(flow: Flow): string {
  const head: string[] = [
    `table=${flow.table}`,
    `priority=${flow.priority}`,
    `cookie=${hex0x(flow.cookie)}`,
  ];
  if (flow.idleTimeout) head.push(`idle_timeout=${flow.idleTimeout}`);
  if (flow.hardTimeout) head.push(`hard_timeout=${flow.hardTimeout}`);
  for (const w of FLAG_WORDS) if (flow.flags?.includes(w)) head.push(w);
  const match = formatMatch(flow.match);
  if (match) head.push(match);
  return `${head.join(',')} actions=${formatActions(flow.actions)}`;
}

/** A table as add-flows input: one line per flow, sorted by table, priority (high first), text. */
export function formatFlows(table: readonly Flow[]): string {
  const lines = table.map((f) => ({ f, line: formatFlow(f) }));
  lines.sort(
    (a, b) =>
      a.f.table - b.f.table ||
      b.f.priority - a.f.priority ||
      (a.line < b.line ? -1 : a.line > b.line ? 1 : 0),
  );
  return lines.map((l) => `${l.line}\n`).join('');
}

/** Parses one flow line (add-flows syntax, or a dump-flows line). */
export function parseFlow(text: string): Flow {
  const t = text.trim();
  const ai = t.search(/(^|[\s,])actions=/);
  if (ai < 0) throw invalidFlow('actions', `missing 'actions=' in '${t}'`);
  const head = t.slice(0, ai);
  const actionsText = t.slice(t.indexOf('actions=', ai) + 'actions='.length);
  const b: MatchBuilder = { fields: {}, pending: [] };
  let table = 0;
  let priority = 32768;
  let cookie = 0n;
  let idleTimeout: number | undefined;
  let hardTimeout: number | undefined;
  const flags: Mutable<Flow>['flags'] & string[] = [];
  for (const tok of head.split(/[\s,]+/).filter((x) => x !== '')) {
    const { key, value } = splitKeyValue(tok);
    const k = key.toLowerCase();
    const num = (what: string, max: number): number => {
      const n = value === undefined ? undefined : parseNumber(value);
      if (n === undefined || n > BigInt(max))
        throw invalidFlow(what, `'${value}' must be a number 0..${max}`);
      return Number(n);
    };
    if (IGNORED_KEYS.has(k) && k !== 'reset_counts') continue;
    if (k === 'table') table = num('table', 254);
    else if (k === 'priority') priority = num('priority', 65535);
    else if (k === 'cookie') {
      const c = value === undefined ? undefined : parseNumber(value.split('/')[0]!);
      if (c === undefined || c >= 1n << 64n)
        throw invalidFlow('cookie', `'${value}' must be a 64-bit number`);
      cookie = c;
    } else if (k === 'idle_timeout') idleTimeout = num('idle_timeout', 65535);
    else if (k === 'hard_timeout') hardTimeout = num('hard_timeout', 65535);
    else if ((FLAG_WORDS as readonly string[]).includes(k) && value === undefined) {
      flags.push(k);
    } else if (!addMatchElement(b, key, value)) {
      throw invalidFlow(
        key,
        `unknown match field or flow attribute; attributes are table, priority, cookie, idle_timeout, hard_timeout, ${FLAG_WORDS.join(', ')}`,
      );
    }
  }
  const match = finishMatch(b);
  const actions = parseActions(actionsText);
  const flow: Mutable<Flow> = { table, priority, cookie, match, actions };
  if (idleTimeout) flow.idleTimeout = idleTimeout;
  if (hardTimeout) flow.hardTimeout = hardTimeout;
  if (flags.length > 0) flow.flags = FLAG_WORDS.filter((w) => flags.includes(w));
  return flow;
}

/** Parses add-flows input: one flow per line; blank lines and `#` comments skipped. */
export function parseFlows(text: string): Flow[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) =>
        l !== '' && !l.startsWith('#') && !l.startsWith('NXST_FLOW') && !l.startsWith('OFPST_FLOW'),
    )
    .map(parseFlow);
}

// ---------------------------------------------------------------------------------------------
// Field slices

/** `NXM_NX_REG5[0..15]` (OVS prints NXM names in subfields). */
export function formatSlice(s: FieldSlice): string {
  const f = FIELDS[s.field];
  if (s.ofs === 0 && s.nBits === f.bits) return `${f.nxmName}[]`;
  if (s.nBits === 1) return `${f.nxmName}[${s.ofs}]`;
  return `${f.nxmName}[${s.ofs}..${s.ofs + s.nBits - 1}]`;
}

/** Parses `NAME[]`, `NAME[a..b]`, `NAME[a]` or a bare field name (whole field). */
export function parseSlice(text: string): FieldSlice {
  const m = /^([A-Za-z0-9_]+)(?:\[(?:(\d+)(?:\.\.(\d+))?)?\])?$/.exec(text.trim());
  if (!m)
    throw invalidFlow(
      'subfield',
      `cannot parse '${text}'; expected like NXM_NX_REG5[0..15] or reg5[]`,
    );
  const f = fieldByName(m[1]!);
  if (!f) throw invalidFlow('subfield', `unknown field '${m[1]}'`);
  if (m[2] === undefined) return { field: f.name, ofs: 0, nBits: f.bits };
  const a = Number(m[2]);
  const z = m[3] === undefined ? a : Number(m[3]);
  if (z < a || z >= f.bits)
    throw invalidFlow('subfield', `'${text}': bits must lie within 0..${f.bits - 1} of ${f.name}`);
  return { field: f.name, ofs: a, nBits: z - a + 1 };
}

function sameSlice(a: FieldSlice, b: FieldSlice): boolean {
  return a.field === b.field && a.ofs === b.ofs && a.nBits === b.nBits;
}

function isWhole(s: FieldSlice): boolean {
  return s.ofs === 0 && s.nBits === FIELDS[s.field].bits;
}

// ---------------------------------------------------------------------------------------------
// Actions

function formatOutputPort(p: PortNumber): string {
  if (typeof p === 'number') return `output:${p}`;
  return p;
}

/** Actions as ovs-ofctl prints them (lib/ofp-actions.c format_*); `drop` for none. */
export function formatActions(actions: readonly Action[]): string {
  if (actions.length === 0) return 'drop';
  return actions.map(formatAction).join(',');
}

function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      if (a.port === 'CONTROLLER') return `CONTROLLER:${a.maxLen ?? 65535}`;
      return formatOutputPort(a.port);
    case 'output_reg':
      return a.maxLen === undefined
        ? `output:${formatSlice(a.src)}`
        : `output(port=${formatSlice(a.src)},max_len=${a.maxLen})`;
    case 'controller': {
      const simple =
        (a.reason === undefined || a.reason === 'action') &&
        !a.controllerId &&
        (a.userdata === undefined || a.userdata.length === 0) &&
        !a.pause &&
        a.meterId === undefined;
      if (simple) return `CONTROLLER:${a.maxLen ?? 65535}`;
      const p: string[] = [];
      if (a.reason !== undefined && a.reason !== 'action') p.push(`reason=${a.reason}`);
      if (a.maxLen !== undefined && a.maxLen !== 65535) p.push(`max_len=${a.maxLen}`);
      if (a.controllerId) p.push(`id=${a.controllerId}`);
      if (a.userdata && a.userdata.length > 0) p.push(`userdata=${formatHexBytes(a.userdata)}`);
      if (a.pause) p.push('pause');
      if (a.meterId !== undefined) p.push(`meter_id=${a.meterId}`);
      return `controller(${p.join(',')})`;
    }
    case 'goto_table':
      return `goto_table:${a.table}`;
    case 'resubmit': {
      if (a.port !== undefined && a.table === 255 && !a.ct) return `resubmit:${a.port}`;
      const port = a.port === undefined ? '' : String(a.port);
      const table = a.table === 255 ? '' : String(a.table);
      return `resubmit(${port},${table}${a.ct ? ',ct' : ''})`;
    }
    case 'set_field': {
      const f = FIELDS[a.field];
      const full = fullMask(f);
      const mask = a.mask === undefined || a.mask === full ? undefined : a.mask;
      return `set_field:${formatFieldValue(f, mask === undefined ? a.value : a.value & mask, mask)}->${f.mfName}`;
    }
    case 'load':
      return `load:${hexC(a.value)}->${formatSlice(a.dst)}`;
    case 'move':
      return `move:${formatSlice(a.src)}->${formatSlice(a.dst)}`;
    case 'ct': {
      const p: string[] = [];
      if (a.commit) p.push('commit');
      if (a.force) p.push('force');
      if (a.table !== undefined) p.push(`table=${a.table}`);
      if (typeof a.zone === 'number') {
        if (a.zone !== 0) p.push(`zone=${a.zone}`);
      } else if (a.zone !== undefined) p.push(`zone=${formatSlice(a.zone)}`);
      if (a.exec && a.exec.length > 0) p.push(`exec(${a.exec.map(formatAction).join(',')})`);
      if (a.alg) p.push(`alg=${a.alg}`);
      return p.length === 0 ? 'ct' : `ct(${p.join(',')})`;
    }
    case 'ct_clear':
      return 'ct_clear';
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'learn':
      return formatLearn(a);
    case 'note':
      return `note:${formatHexBytes(a.data)}`;
    case 'meter':
      return `meter:${a.id}`;
    case 'push_vlan':
      return `push_vlan:0x${a.ethertype.toString(16)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'clone':
      return `clone(${a.actions.map(formatAction).join(',')})`;
    case 'drop':
      return 'drop';
  }
}

function formatLearn(a: Extract<Action, { type: 'learn' }>): string {
  const p: string[] = [`table=${a.table}`];
  if (a.idleTimeout) p.push(`idle_timeout=${a.idleTimeout}`);
  if (a.hardTimeout) p.push(`hard_timeout=${a.hardTimeout}`);
  if (a.finIdleTimeout) p.push(`fin_idle_timeout=${a.finIdleTimeout}`);
  if (a.finHardTimeout) p.push(`fin_hard_timeout=${a.finHardTimeout}`);
  if (a.priority !== undefined && a.priority !== 32768) p.push(`priority=${a.priority}`);
  if (a.sendFlowRem) p.push('send_flow_rem');
  if (a.deleteLearned) p.push('delete_learned');
  if (a.cookie) p.push(`cookie=${hex0x(a.cookie)}`);
  if (a.limit) p.push(`limit=${a.limit}`);
  for (const s of a.specs) p.push(formatLearnSpec(s));
  return `learn(${p.join(',')})`;
}

function formatLearnSpec(s: LearnSpec): string {
  switch (s.kind) {
    case 'match-field':
      return sameSlice(s.src, s.dst)
        ? formatSlice(s.dst)
        : `${formatSlice(s.dst)}=${formatSlice(s.src)}`;
    case 'match-value': {
      if (isWhole(s.dst)) {
        const f = FIELDS[s.dst.field];
        return `${f.mfName}=${formatFieldValue(f, s.value)}`;
      }
      return `${formatSlice(s.dst)}=${hexC(s.value)}`;
    }
    case 'load-field':
      return `load:${formatSlice(s.src)}->${formatSlice(s.dst)}`;
    case 'load-value':
      return `load:${hexC(s.value)}->${formatSlice(s.dst)}`;
    case 'output':
      return `output:${formatSlice(s.src)}`;
  }
}

/** Parses an ovs-ofctl action list (`drop` or empty = no actions). */
export function parseActions(text: string): Action[] {
  const toks = splitTopLevel(text.trim());
  const out: Action[] = [];
  for (const tok of toks) {
    const a = parseAction(tok);
    if (a.type === 'drop') {
      if (toks.length > 1)
        throw invalidFlow('actions', '"drop" must not be accompanied by any other action');
      return [];
    }
    out.push(a);
  }
  return out;
}

function inner(tok: string, name: string): string {
  const open = tok.indexOf('(');
  if (open < 0 || !tok.endsWith(')')) throw invalidFlow(name, `expected ${name}(...) in '${tok}'`);
  return tok.slice(open + 1, -1);
}

function numArg(what: string, s: string | undefined, max: number): number {
  const n = s === undefined ? undefined : parseNumber(s);
  if (n === undefined || n > BigInt(max))
    throw invalidFlow(what, `'${s}' must be a number 0..${max}`);
  return Number(n);
}

const NAMED_PORTS = ['IN_PORT', 'NORMAL', 'FLOOD', 'ALL', 'LOCAL'] as const;

function parseOutputPort(s: string): PortNumber {
  const up = s.toUpperCase();
  const named = NAMED_PORTS.find((p) => p === up);
  if (named) return named;
  return numArg('output', s, 0xfeff);
}

function parseAction(tok: string): Action {
  const m = /^([A-Za-z_0-9]+)\s*(.*)$/s.exec(tok);
  if (!m) throw invalidFlow('actions', `cannot parse action '${tok}'`);
  const name = m[1]!.toLowerCase();
  const rest = m[2]!;
  const arg = rest.startsWith(':') ? rest.slice(1) : undefined;
  const paren = rest.startsWith('(');
  if (/^\d+$/.test(m[1]!) && rest === '') return { type: 'output', port: Number(m[1]) };
  switch (name) {
    case 'drop':
      return { type: 'drop' };
    case 'output': {
      if (paren) {
        const kv = Object.fromEntries(
          splitTopLevel(inner(tok, 'output')).map((x) => {
            const p = splitKeyValue(x);
            return [p.key, p.value];
          }),
        );
        const port = kv['port'];
        if (port === undefined) throw invalidFlow('output', 'output(...) needs port=');
        const maxLen =
          kv['max_len'] === undefined ? undefined : numArg('max_len', kv['max_len'], 65535);
        if (port.includes('['))
          return {
            type: 'output_reg',
            src: parseSlice(port),
            ...(maxLen !== undefined ? { maxLen } : {}),
          };
        throw invalidFlow(
          'output',
          'truncating output(port=N,max_len=M) to a port is not supported',
        );
      }
      if (arg === undefined) throw invalidFlow('output', `expected output:<port> in '${tok}'`);
      if (arg.includes('[') || fieldByName(arg) !== undefined)
        return { type: 'output_reg', src: parseSlice(arg) };
      if (arg.toUpperCase().startsWith('CONTROLLER')) {
        const ml = arg.split(':')[1];
        return {
          type: 'controller',
          ...(ml !== undefined ? { maxLen: numArg('max_len', ml, 65535) } : {}),
        };
      }
      return { type: 'output', port: parseOutputPort(arg) };
    }
    case 'in_port':
    case 'normal':
    case 'flood':
    case 'all':
    case 'local':
      return { type: 'output', port: name.toUpperCase() as PortNumber };
    case 'controller': {
      if (!paren) {
        return arg === undefined
          ? { type: 'controller' }
          : { type: 'controller', maxLen: numArg('max_len', arg, 65535) };
      }
      const a: Mutable<Extract<Action, { type: 'controller' }>> = { type: 'controller' };
      for (const x of splitTopLevel(inner(tok, 'controller'))) {
        const { key, value } = splitKeyValue(x);
        if (key === 'max_len') a.maxLen = numArg('max_len', value, 65535);
        else if (key === 'reason') {
          if (value !== 'no_match' && value !== 'action' && value !== 'invalid_ttl') {
            throw invalidFlow(
              'controller reason',
              `'${value}'; allowed: no_match, action, invalid_ttl`,
            );
          }
          a.reason = value;
        } else if (key === 'id') a.controllerId = numArg('id', value, 65535);
        else if (key === 'userdata') {
          const u = value === undefined ? undefined : parseHexBytes(value);
          if (!u) throw invalidFlow('userdata', `'${value}' must be hex bytes like 01.02.03`);
          a.userdata = u;
        } else if (key === 'pause' && value === undefined) a.pause = true;
        else if (key === 'meter_id') a.meterId = numArg('meter_id', value, 0xffffffff);
        else
          throw invalidFlow(
            'controller',
            `unknown argument '${key}'; allowed: reason, max_len, id, userdata, pause, meter_id`,
          );
      }
      return a;
    }
    case 'goto_table':
      return { type: 'goto_table', table: numArg('goto_table', arg, 254) };
    case 'resubmit': {
      if (!paren) {
        if (arg === undefined)
          throw invalidFlow('resubmit', 'expected resubmit:<port> or resubmit(<port>,<table>)');
        return { type: 'resubmit', port: numArg('resubmit', arg, 0xfeff), table: 255 };
      }
      const parts = inner(tok, 'resubmit')
        .split(',')
        .map((x) => x.trim());
      const r: Mutable<Extract<Action, { type: 'resubmit' }>> = { type: 'resubmit', table: 255 };
      if (parts[0]) {
        const port = parseOutputPort(parts[0]);
        if (port !== 'IN_PORT') {
          if (typeof port !== 'number')
            throw invalidFlow('resubmit', `port '${parts[0]}' must be a number or IN_PORT`);
          r.port = port;
        }
      }
      if (parts[1]) r.table = numArg('resubmit table', parts[1], 254);
      if (parts[2] !== undefined) {
        if (parts[2] !== 'ct')
          throw invalidFlow('resubmit', `third argument must be 'ct', not '${parts[2]}'`);
        r.ct = true;
      }
      return r;
    }
    case 'set_field': {
      const mm = /^(.*)->\s*([A-Za-z0-9_]+)$/s.exec(arg ?? '');
      if (!mm) throw invalidFlow('set_field', `expected set_field:<value>->field in '${tok}'`);
      const f = fieldByName(mm[2]!);
      if (!f) throw invalidFlow('set_field', `unknown field '${mm[2]}'`);
      const v = parseFieldValue(f, mm[1]!);
      const mask = v.mask === undefined || v.mask === fullMask(f) ? undefined : v.mask;
      return mask === undefined
        ? { type: 'set_field', field: f.name, value: v.value }
        : { type: 'set_field', field: f.name, value: v.value & mask, mask };
    }
    case 'load': {
      const mm = /^(.*)->(.*)$/s.exec(arg ?? '');
      if (!mm) throw invalidFlow('load', `expected load:<value>->field[bits] in '${tok}'`);
      const v = parseNumber(mm[1]!);
      if (v === undefined) throw invalidFlow('load', `'${mm[1]}' must be a number`);
      const dst = parseSlice(mm[2]!);
      if (v >= 1n << BigInt(dst.nBits))
        throw invalidFlow('load', `value ${mm[1]} does not fit in ${dst.nBits} bits`);
      return { type: 'load', dst, value: v };
    }
    case 'move': {
      const mm = /^(.*)->(.*)$/s.exec(arg ?? '');
      if (!mm) throw invalidFlow('move', `expected move:src[bits]->dst[bits] in '${tok}'`);
      const src = parseSlice(mm[1]!);
      const dst = parseSlice(mm[2]!);
      if (src.nBits !== dst.nBits)
        throw invalidFlow('move', `source has ${src.nBits} bits, destination ${dst.nBits}`);
      return { type: 'move', src, dst };
    }
    case 'ct':
      return paren ? parseCt(inner(tok, 'ct')) : { type: 'ct' };
    case 'ct_clear':
      return { type: 'ct_clear' };
    case 'conjunction': {
      const mm = /^\s*(\d+)\s*,\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(
        paren ? inner(tok, 'conjunction') : '',
      );
      if (!mm) throw invalidFlow('conjunction', `expected conjunction(id,k/n) in '${tok}'`);
      const clause = Number(mm[2]);
      const n = Number(mm[3]);
      if (n < 2 || n > 64 || clause < 1 || clause > n)
        throw invalidFlow(
          'conjunction',
          `clause ${clause}/${n}: need 2 <= n <= 64 and 1 <= k <= n`,
        );
      return {
        type: 'conjunction',
        id: numArg('conjunction id', mm[1], 0xffffffff),
        clause,
        nClauses: n,
      };
    }
    case 'learn':
      return parseLearn(inner(tok, 'learn'));
    case 'note': {
      const d = parseHexBytes(arg ?? '');
      if (!d) throw invalidFlow('note', `'${arg}' must be hex bytes like 01.02.03`);
      return { type: 'note', data: d };
    }
    case 'meter':
      return { type: 'meter', id: numArg('meter', arg, 0xffffffff) };
    case 'push_vlan':
      return { type: 'push_vlan', ethertype: numArg('push_vlan', arg, 0xffff) };
    case 'pop_vlan':
    case 'strip_vlan':
      return { type: 'pop_vlan' };
    case 'clone':
      return { type: 'clone', actions: parseActions(inner(tok, 'clone')) };
    default:
      throw invalidFlow(
        'actions',
        `unknown action '${m[1]}'; supported: output, controller, goto_table, resubmit, set_field, load, move, ct, ct_clear, conjunction, learn, note, meter, push_vlan, pop_vlan, clone, drop`,
      );
  }
}

function parseCt(body: string): Action {
  const a: Mutable<Extract<Action, { type: 'ct' }>> = { type: 'ct' };
  for (const x of splitTopLevel(body)) {
    const { key, value } = splitKeyValue(x);
    if (key === 'commit' && value === undefined) a.commit = true;
    else if (key === 'force' && value === undefined) a.force = true;
    else if (key === 'table') a.table = numArg('ct table', value, 254);
    else if (key === 'zone') {
      if (value === undefined) throw invalidFlow('ct zone', 'needs a value');
      const n = parseNumber(value);
      if (n !== undefined) {
        if (n > 0xffffn) throw invalidFlow('ct zone', `${value} must be 0..65535`);
        a.zone = Number(n);
      } else {
        const s = parseSlice(value);
        if (s.nBits !== 16)
          throw invalidFlow('ct zone', `${value} must be a 16-bit slice like NXM_NX_REG5[0..15]`);
        a.zone = s;
      }
    } else if (key.startsWith('exec(')) {
      a.exec = parseActions(x.slice(5, -1));
    } else if (key === 'alg') a.alg = value ?? '';
    else
      throw invalidFlow(
        'ct',
        `unknown argument '${x}'; allowed: commit, force, table=, zone=, exec(...), alg=`,
      );
  }
  return a;
}

function parseLearn(body: string): Action {
  const a: Mutable<Extract<Action, { type: 'learn' }>> = { type: 'learn', table: 1, specs: [] };
  const specs: LearnSpec[] = [];
  for (const x of splitTopLevel(body)) {
    const { key, value } = splitKeyValue(x);
    const k = key.toLowerCase();
    if (k === 'table') a.table = numArg('learn table', value, 254);
    else if (k === 'priority') a.priority = numArg('learn priority', value, 65535);
    else if (k === 'idle_timeout') a.idleTimeout = numArg('learn idle_timeout', value, 65535);
    else if (k === 'hard_timeout') a.hardTimeout = numArg('learn hard_timeout', value, 65535);
    else if (k === 'fin_idle_timeout')
      a.finIdleTimeout = numArg('learn fin_idle_timeout', value, 65535);
    else if (k === 'fin_hard_timeout')
      a.finHardTimeout = numArg('learn fin_hard_timeout', value, 65535);
    else if (k === 'cookie') {
      const c = value === undefined ? undefined : parseNumber(value);
      if (c === undefined) throw invalidFlow('learn cookie', `'${value}' must be a number`);
      a.cookie = c;
    } else if (k === 'limit') a.limit = numArg('learn limit', value, 0xffffffff);
    else if (k === 'send_flow_rem' && value === undefined) a.sendFlowRem = true;
    else if (k === 'delete_learned' && value === undefined) a.deleteLearned = true;
    else if (x.startsWith('load:')) {
      const mm = /^load:(.*)->(.*)$/s.exec(x);
      if (!mm) throw invalidFlow('learn', `cannot parse '${x}'`);
      const dst = parseSlice(mm[2]!);
      const n = parseNumber(mm[1]!);
      specs.push(
        n !== undefined
          ? { kind: 'load-value', dst, value: n }
          : { kind: 'load-field', dst, src: parseSlice(mm[1]!) },
      );
    } else if (x.startsWith('output:')) {
      specs.push({ kind: 'output', src: parseSlice(x.slice(7)) });
    } else if (value === undefined) {
      const s = parseSlice(key);
      specs.push({ kind: 'match-field', dst: s, src: s });
    } else {
      const dst = parseSlice(key);
      const whole = fieldByName(key);
      if (
        /^[A-Za-z]/.test(value) &&
        !/^0x/i.test(value) &&
        (value.includes('[') || fieldByName(value))
      ) {
        const src = parseSlice(value);
        if (src.nBits !== dst.nBits)
          throw invalidFlow('learn', `'${x}': ${src.nBits} source bits vs ${dst.nBits}`);
        specs.push({ kind: 'match-field', dst, src });
      } else if (whole) {
        specs.push({ kind: 'match-value', dst, value: parseFieldValue(whole, value).value });
      } else {
        const n = parseNumber(value);
        if (n === undefined) throw invalidFlow('learn', `'${value}' must be a number`);
        specs.push({ kind: 'match-value', dst, value: n });
      }
    }
  }
  a.specs = specs;
  return a;
}
