/**
 * Differential property tests: for random policies, local ports and packet *sequences*,
 * the compiled flow table run through the simulator (each keeping its own conntrack) must
 * deliver every packet to exactly the ports the reference World delivers it to.
 *
 * The generators are meant to be nasty: overlapping port ranges, IPv6, remote groups with
 * shared members on other hosts, allowed address pairs (CIDRs, foreign MACs), ICMP
 * type/code, source ports, stateless groups, port security off, spoofed sources, ARP / ND /
 * DHCP / RA, replies to and ICMP errors about earlier packets, and rules removed mid-sequence.
 *
 * This file crosses layers on purpose (sim vs semantics vs compiler): it is the one place the
 * three meet.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp, formatMac, parseCidr, parseIp, parseMac } from '../model/addr.js';
import * as fx from '../model/fixtures.js';
import { TcpFlags, reversePacket, type Packet } from '../model/packet.js';
import { normalizePolicy } from '../model/policy.js';
import { linkLocalFromMac } from '../model/port-security.js';
import type { NormalizedPolicy, Policy, SecurityGroupRule } from '../model/types.js';
import type { Action, FieldSlice, Flow, Match } from '../openflow/ir.js';
// eslint-disable-next-line no-restricted-imports -- the differential test compares sim with the reference semantics
import { World, type LocalPort } from '../semantics/world.js';
// eslint-disable-next-line no-restricted-imports -- the agent's judgement of a paused packet, as the agent makes it
import { judgePunt } from '../agent/punt.js';
// eslint-disable-next-line no-restricted-imports -- the differential test runs the compiler's output
import { compile } from '../compiler/index.js';
import { checkFlows } from './check.js';
import { keyFromPacket } from './key.js';
import { newSimState, simulate } from './simulate.js';
import { trace } from './trace.js';

// ---------------------------------------------------------------------------------------
// Scenario model: what the generators produce (plain data, shrinkable)
// ---------------------------------------------------------------------------------------

const MACS = [
  '02:00:00:00:00:01',
  '02:00:00:00:00:02',
  '02:00:00:00:00:03',
  '02:00:00:00:00:04',
  '02:00:00:00:00:05',
  '02:00:00:00:00:06',
];
const FOREIGN_MAC = '02:00:00:00:00:ee';
const UNKNOWN_MAC = 0x0200000000ddn;
const BROADCAST = 0xffffffffffffn;
const V4_CIDRS = [
  '10.0.0.0/30',
  '10.0.0.4/30',
  '10.0.0.8/29',
  '10.0.0.0/28',
  '192.0.2.0/24',
  '10.0.0.3/32',
];
const V6_CIDRS = [
  'fd00::/126',
  'fd00::4/126',
  'fd00::8/125',
  'fd00::/64',
  '2001:db8::/32',
  'fd00::3/128',
];
const EXTERNAL_V4 = '192.0.2.1';
const EXTERNAL_V6 = '2001:db8::1';
const UPLINK = 100;
/** `SGFLOW_FC_SCALE=20 npx vitest run src/sim/differential.test.ts` hunts bugs with 20× the runs. */
const SCALE = Number(process.env['SGFLOW_FC_SCALE'] ?? '1') || 1;
const runs = (n: number): number => Math.round(n * SCALE);
const TIMEOUT = 60_000 * SCALE;

interface PortSpec {
  network: number;
  v4: boolean;
  v6: boolean;
  /** Allowed address pairs: [family, cidr index or -1 for a single host, MAC: own | foreign | another port's]. */
  pairs: { family: 4 | 6; cidr: number; mac: 'own' | 'foreign' | number }[];
  groups: number[];
  security: boolean;
}

interface RuleSpec {
  group: number;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  dst: [number, number] | null;
  src: [number, number] | null;
  icmpType: number | null;
  icmpCode: number | null;
  remote:
    | { kind: 'any' }
    | { kind: 'prefix'; index: number }
    | { kind: 'group'; group: number }
    | { kind: 'ag' };
}

interface Scenario {
  networks: { vlan: number | null }[];
  groupsStateful: boolean[];
  ports: PortSpec[];
  /** How many of `ports` are local (the rest live on other hosts). */
  nLocal: number;
  rules: RuleSpec[];
  agCidrs: number[];
  uplink: boolean;
  /** First table sgflow owns (the pipeline may sit inside a larger one). */
  baseTable: number;
}

const portRange = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 4 }))
      .map(([a, d]): [number, number] => [a, Math.min(8, a + d)]),
  },
  { weight: 1, arbitrary: fc.constant<[number, number]>([1, 65535]) },
);

const ruleArb = (nGroups: number): fc.Arbitrary<RuleSpec> =>
  fc
    .record({
      group: fc.nat({ max: nGroups - 1 }),
      direction: fc.constantFrom('ingress' as const, 'egress' as const),
      ethertype: fc.constantFrom('IPv4' as const, 'IPv6' as const),
      protocol: fc.constantFrom(
        null,
        'tcp',
        'udp',
        'icmp',
        'sctp',
        'dccp',
        'udplite',
        '47',
        '6',
        'tcp',
        'udp',
        'icmp',
      ),
      dst: fc.option(portRange, { freq: 2 }),
      src: fc.option(portRange, { freq: 3 }),
      icmpType: fc.option(fc.constantFrom(0, 3, 8, 11, 128, 129, 1), { freq: 2 }),
      icmpCode: fc.option(fc.constantFrom(0, 1, 3), { freq: 2 }),
      remote: fc.oneof(
        { weight: 3, arbitrary: fc.constant({ kind: 'any' as const }) },
        {
          weight: 2,
          arbitrary: fc.nat({ max: 5 }).map((index) => ({ kind: 'prefix' as const, index })),
        },
        {
          weight: 3,
          arbitrary: fc
            .nat({ max: nGroups - 1 })
            .map((group) => ({ kind: 'group' as const, group })),
        },
        { weight: 1, arbitrary: fc.constant({ kind: 'ag' as const }) },
      ),
    })
    .map((r): RuleSpec => {
      const ported = ['tcp', 'udp', 'sctp', '6', 'dccp', 'udplite'].includes(r.protocol ?? '');
      const icmp = r.protocol === 'icmp';
      return {
        ...r,
        dst: ported ? r.dst : null,
        src: ported ? r.src : null,
        icmpType: icmp ? r.icmpType : null,
        icmpCode: icmp && r.icmpType !== null ? r.icmpCode : null,
      };
    });

function defaultRules(group: number, level: number): RuleSpec[] {
  const rule = (direction: 'ingress' | 'egress', ethertype: 'IPv4' | 'IPv6'): RuleSpec => ({
    group,
    direction,
    ethertype,
    protocol: null,
    dst: null,
    src: null,
    icmpType: null,
    icmpCode: null,
    remote: direction === 'egress' ? { kind: 'any' } : { kind: 'group', group },
  });
  if (level === 0) return [];
  const egress = [rule('egress', 'IPv4'), rule('egress', 'IPv6')];
  return level === 1 ? egress : [...egress, rule('ingress', 'IPv4'), rule('ingress', 'IPv6')];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    networks: fc.array(fc.record({ vlan: fc.option(fc.constantFrom(10, 20), { freq: 2 }) }), {
      minLength: 1,
      maxLength: 2,
    }),
    groupsStateful: fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
    nLocal: fc.integer({ min: 2, max: 4 }),
    nRemote: fc.integer({ min: 0, max: 2 }),
    uplink: fc.boolean(),
    baseTable: fc.constantFrom(0, 0, 0, 40),
    agCidrs: fc.uniqueArray(fc.nat({ max: 11 }), { maxLength: 3 }),
  })
  .chain((base) => {
    const nGroups = base.groupsStateful.length;
    const portArb = fc.record({
      network: fc.nat({ max: base.networks.length - 1 }),
      v4: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      v6: fc.oneof(
        { weight: 3, arbitrary: fc.constant(true) },
        { weight: 2, arbitrary: fc.constant(false) },
      ),
      pairs: fc.array(
        fc.record({
          family: fc.constantFrom(4 as const, 6 as const),
          cidr: fc.integer({ min: -1, max: 5 }),
          mac: fc.oneof(
            fc.constant('own' as const),
            fc.constant('foreign' as const),
            fc.nat({ max: 5 }),
          ),
        }),
        { maxLength: 2 },
      ),
      groups: fc.oneof(
        {
          weight: 5,
          arbitrary: fc.uniqueArray(fc.nat({ max: nGroups - 1 }), {
            minLength: 1,
            maxLength: nGroups,
          }),
        },
        { weight: 1, arbitrary: fc.constant<number[]>([]) },
      ),
      security: fc.oneof(
        { weight: 6, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    });
    return fc.record({
      networks: fc.constant(base.networks),
      groupsStateful: fc.constant(base.groupsStateful),
      nLocal: fc.constant(base.nLocal),
      uplink: fc.constant(base.uplink),
      baseTable: fc.constant(base.baseTable),
      agCidrs: fc.constant(base.agCidrs),
      ports: fc.array(portArb, {
        minLength: base.nLocal + base.nRemote,
        maxLength: base.nLocal + base.nRemote,
      }),
      // Groups often start like Neutron's default group: egress allowed (IPv4, IPv6), and
      // sometimes ingress from the group's own members.
      rules: fc
        .tuple(
          fc.array(fc.constantFrom(0, 1, 1, 2), { minLength: nGroups, maxLength: nGroups }),
          fc.array(ruleArb(nGroups), { maxLength: 8 }),
        )
        .map(([defaults, rules]) => [
          ...defaults.flatMap((d, group) => defaultRules(group, d)),
          ...rules,
        ]),
    });
  });

// ---------------------------------------------------------------------------------------
// Scenario → Policy
// ---------------------------------------------------------------------------------------

const portId = (i: number): string => `p${i}`;
const groupId = (i: number): string => `g${i}`;
const v4Of = (i: number): string => `10.0.0.${i + 1}`;
const v6Of = (i: number): string => `fd00::${i + 1}`;

function pairAddress(pair: PortSpec['pairs'][number], i: number): string {
  if (pair.cidr < 0) return pair.family === 4 ? `10.0.0.${9 + i}` : `fd00::${(9 + i).toString(16)}`;
  return (pair.family === 4 ? V4_CIDRS : V6_CIDRS)[pair.cidr]!;
}

/**
 * The policy of a scenario, with rules `dropRules` removed and the memberships `toggled`
 * (`port:group`) flipped: a port leaves a group it was in, or joins one it was not in.
 */
function policyOf(
  s: Scenario,
  dropRules: ReadonlySet<number> = new Set(),
  toggled: ReadonlySet<string> = new Set(),
): Policy {
  const ports = s.ports.map((p, i) => {
    const all = [...s.groupsStateful.keys()].filter(
      (g) => p.groups.includes(g) !== toggled.has(`${i}:${g}`),
    );
    const groups = p.security
      ? all.filter((g) => s.groupsStateful[g] === s.groupsStateful[all[0] ?? 0])
      : [];
    return fx.port({
      id: portId(i),
      network_id: `n${p.network}`,
      mac_address: MACS[i]!,
      fixed_ips: [
        ...(p.v4 ? [{ ip_address: v4Of(i) }] : []),
        ...(p.v6 ? [{ ip_address: v6Of(i) }] : []),
      ],
      allowed_address_pairs: p.pairs.map((pair) => ({
        ip_address: pairAddress(pair, i),
        ...(pair.mac === 'own'
          ? {}
          : { mac_address: pair.mac === 'foreign' ? FOREIGN_MAC : MACS[pair.mac % MACS.length]! }),
      })),
      security_groups: groups.map(groupId),
      port_security_enabled: p.security,
      'binding:host_id': i < s.nLocal ? 'here' : 'elsewhere',
    });
  });
  const rules: SecurityGroupRule[] = [];
  s.rules.forEach((r, i) => {
    if (dropRules.has(i)) return;
    const family = r.ethertype === 'IPv4' ? 4 : 6;
    rules.push(
      fx.rule({
        id: `r${i}`,
        security_group_id: groupId(r.group),
        direction: r.direction,
        ethertype: r.ethertype,
        protocol: r.protocol,
        port_range_min: r.dst ? r.dst[0] : r.icmpType,
        port_range_max: r.dst ? r.dst[1] : r.icmpCode,
        source_port_range_min: r.src ? r.src[0] : null,
        source_port_range_max: r.src ? r.src[1] : null,
        remote_ip_prefix:
          r.remote.kind === 'prefix' ? (family === 4 ? V4_CIDRS : V6_CIDRS)[r.remote.index]! : null,
        remote_group_id: r.remote.kind === 'group' ? groupId(r.remote.group) : null,
        remote_address_group_id: r.remote.kind === 'ag' ? 'ag0' : null,
      }),
    );
  });
  return fx.policy({
    networks: s.networks.map((n, i) =>
      fx.network({
        id: `n${i}`,
        'provider:segmentation_id': n.vlan,
        'provider:network_type': n.vlan === null ? null : 'vlan',
      }),
    ),
    ports,
    security_groups: s.groupsStateful.map((stateful, i) => fx.group({ id: groupId(i), stateful })),
    security_group_rules: rules,
    address_groups: [
      fx.addressGroup({
        id: 'ag0',
        addresses: s.agCidrs.map((c) => (c < 6 ? V4_CIDRS[c]! : V6_CIDRS[c - 6]!)),
      }),
    ],
  });
}

const localPorts = (s: Scenario): LocalPort[] =>
  s.ports.slice(0, s.nLocal).map((_, i) => ({ portId: portId(i), ofport: i + 1 }));

// ---------------------------------------------------------------------------------------
// Packet events
// ---------------------------------------------------------------------------------------

type Proto =
  'tcp' | 'udp' | 'sctp' | 'icmp-echo' | 'icmp-reply' | 'icmp-other' | 'gre' | 'dccp' | 'udplite';
type Special =
  | 'arp'
  | 'arp-spoof'
  | 'ns'
  | 'na'
  | 'na-spoof'
  | 'ra'
  | 'dhcp'
  | 'dhcp-server'
  | 'dhcp6'
  | 'mld'
  | 'lldp';

type Event =
  | {
      kind: 'send';
      from: number;
      to: number;
      family: 4 | 6;
      proto: Proto;
      src: number;
      mac: number;
      dst: number;
      sport: number;
      dport: number;
      flags: number;
      icmpType: number;
      icmpCode: number;
      /** An 802.1Q tag the sender puts on the frame (an access port may not). */
      tag: number | null;
    }
  | { kind: 'reply'; of: number; flags: number }
  | { kind: 'error'; of: number; type: number }
  | { kind: 'special'; from: number; what: Special; to: number; tag: number | null }
  | {
      kind: 'uplink';
      to: number;
      family: 4 | 6;
      proto: Proto;
      src: number;
      sport: number;
      dport: number;
      flags: number;
      /** Destination choice as in `target` (4: an allowed-address-pair MAC). */
      dst: number;
    }
  | { kind: 'remove'; rule: number }
  /** Port `port` leaves (or joins) group `group`: its rules and its place in remote groups change. */
  | { kind: 'membership'; port: number; group: number }
  /** A packet aimed at rule `rule`: its protocol, family and remote side, ports at the edges of its ranges. */
  | {
      kind: 'probe';
      rule: number;
      port: number;
      peer: number;
      dEdge: number;
      sEdge: number;
      flags: number;
    };

const FLAGS = [
  TcpFlags.SYN,
  TcpFlags.SYN,
  TcpFlags.ACK,
  TcpFlags.SYN | TcpFlags.ACK,
  TcpFlags.FIN | TcpFlags.ACK,
  TcpFlags.RST,
  TcpFlags.FIN,
  0,
];

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      from: fc.nat({ max: 5 }),
      to: fc.nat({ max: 7 }),
      family: fc.constantFrom(4 as const, 6 as const),
      proto: fc.constantFrom<Proto>(
        'tcp',
        'tcp',
        'udp',
        'udp',
        'sctp',
        'icmp-echo',
        'icmp-reply',
        'icmp-other',
        'gre',
        'dccp',
        'udplite',
      ),
      src: fc.oneof(
        { weight: 6, arbitrary: fc.constant(0) },
        { weight: 4, arbitrary: fc.nat({ max: 5 }) },
      ),
      mac: fc.oneof(
        { weight: 8, arbitrary: fc.constant(0) },
        { weight: 2, arbitrary: fc.nat({ max: 3 }) },
      ),
      dst: fc.nat({ max: 4 }),
      sport: fc.integer({ min: 0, max: 9 }),
      dport: fc.integer({ min: 1, max: 9 }),
      flags: fc.constantFrom(...FLAGS),
      icmpType: fc.constantFrom(8, 0, 13, 3, 11, 5, 128, 129, 1, 200),
      icmpCode: fc.constantFrom(0, 0, 0, 1, 3),
      tag: fc.option(fc.constantFrom(5, 10), { freq: 6 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('reply' as const),
      of: fc.nat({ max: 30 }),
      flags: fc.constantFrom(TcpFlags.ACK, TcpFlags.SYN | TcpFlags.ACK, TcpFlags.ACK, TcpFlags.RST),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('error' as const),
      of: fc.nat({ max: 30 }),
      type: fc.constantFrom(3, 11, 1, 2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('special' as const),
      from: fc.nat({ max: 5 }),
      what: fc.constantFrom<Special>(
        'arp',
        'arp-spoof',
        'ns',
        'na',
        'na-spoof',
        'ra',
        'dhcp',
        'dhcp-server',
        'dhcp6',
        'mld',
        'lldp',
      ),
      to: fc.nat({ max: 7 }),
      tag: fc.option(fc.constantFrom(5, 10), { freq: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('uplink' as const),
      to: fc.nat({ max: 7 }),
      family: fc.constantFrom(4 as const, 6 as const),
      proto: fc.constantFrom<Proto>('tcp', 'udp', 'icmp-echo'),
      src: fc.nat({ max: 6 }),
      sport: fc.integer({ min: 1, max: 9 }),
      dport: fc.integer({ min: 1, max: 9 }),
      flags: fc.constantFrom(...FLAGS),
      dst: fc.constantFrom(0, 0, 0, 4),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('remove' as const), rule: fc.nat({ max: 13 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('membership' as const),
      port: fc.nat({ max: 5 }),
      group: fc.nat({ max: 3 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('probe' as const),
      rule: fc.nat({ max: 13 }),
      port: fc.nat({ max: 5 }),
      peer: fc.nat({ max: 7 }),
      dEdge: fc.nat({ max: 4 }),
      sEdge: fc.nat({ max: 4 }),
      flags: fc.constantFrom(TcpFlags.SYN, TcpFlags.SYN, TcpFlags.ACK, TcpFlags.SYN | TcpFlags.ACK),
    }),
  },
);

/** A port at an edge of a range: 0 min, 1 max, 2 just below, 3 just above, 4 inside. */
function edgePort(range: [number, number] | null, edge: number): number {
  if (!range) return 1 + edge;
  const [lo, hi] = range;
  const v = [lo, hi, lo - 1, hi + 1, (lo + hi) >> 1][edge]!;
  return Math.min(65535, Math.max(1, v));
}

interface Sent {
  inPort: number;
  packet: Packet;
}

/** Builds concrete packets from events against a scenario; `null` = nothing to send. */
class PacketFactory {
  private readonly sent: Sent[] = [];
  constructor(
    private readonly s: Scenario,
    private readonly uplink: number | undefined,
  ) {}

  private mac(i: number): bigint {
    return parseMac(MACS[i % MACS.length]!);
  }

  private addrOf(i: number, family: 4 | 6): bigint {
    return parseIp(family === 4 ? v4Of(i) : v6Of(i)).addr;
  }

  /** A source address choice for port i: own, pair, another port's, external, link-local, unspecified. */
  private srcAddr(i: number, family: 4 | 6, choice: number): bigint {
    const p = this.s.ports[i]!;
    switch (choice) {
      case 0:
        return this.addrOf(i, family);
      case 1: {
        const pair = p.pairs.find((x) => x.family === family);
        if (!pair) return this.addrOf(i, family);
        const c = parseCidr(pairAddress(pair, i));
        return c.prefix === (family === 4 ? 32 : 128) ? c.addr : c.addr + 1n;
      }
      case 2:
        return this.addrOf((i + 1) % this.s.ports.length, family);
      case 3:
        return parseIp(family === 4 ? EXTERNAL_V4 : EXTERNAL_V6).addr;
      case 4:
        return family === 6 ? linkLocalFromMac(this.mac(i)) : this.addrOf(i, 4);
      default:
        return 0n;
    }
  }

  private srcMac(i: number, choice: number): bigint {
    const p = this.s.ports[i]!;
    if (choice === 1) {
      const pair = p.pairs.find((x) => x.mac !== 'own');
      if (pair)
        return pair.mac === 'foreign' ? parseMac(FOREIGN_MAC) : this.mac(pair.mac as number);
    }
    if (choice === 2) return this.mac((i + 1) % this.s.ports.length);
    return this.mac(i);
  }

  /**
   * Destination MAC and IP for target choice `to` (a port index, broadcast or unknown).
   * `dstChoice`: 0 the port's own address, 1 its pair address, 2 external, 4 its pair address
   * *and* the pair's MAC (a VRRP virtual MAC: several ports may claim it, or none locally).
   */
  private target(to: number, family: 4 | 6, dstChoice: number): { mac: bigint; ip: bigint } {
    const n = this.s.ports.length;
    if (to >= n + 1)
      return { mac: UNKNOWN_MAC, ip: parseIp(family === 4 ? EXTERNAL_V4 : EXTERNAL_V6).addr };
    if (to === n)
      return {
        mac: BROADCAST,
        ip: family === 4 ? parseIp('10.0.0.255').addr : parseIp('ff02::1').addr,
      };
    if (dstChoice === 4) {
      const pair = this.s.ports[to]!.pairs.find((x) => x.mac !== 'own');
      if (pair) {
        const mac = pair.mac === 'foreign' ? parseMac(FOREIGN_MAC) : this.mac(pair.mac as number);
        return { mac, ip: this.srcAddr(to, family, 1) };
      }
    }
    const ip =
      dstChoice === 1 || dstChoice === 4
        ? this.srcAddr(to, family, 1)
        : dstChoice === 2
          ? parseIp(family === 4 ? EXTERNAL_V4 : EXTERNAL_V6).addr
          : this.addrOf(to, family);
    return { mac: this.mac(to), ip };
  }

  private ipPacket(
    ethSrc: bigint,
    ethDst: bigint,
    family: 4 | 6,
    src: bigint,
    dst: bigint,
    proto: Proto,
    e: { sport: number; dport: number; flags: number; icmpType?: number; icmpCode?: number },
  ): Packet {
    const ethType = family === 4 ? 0x0800 : 0x86dd;
    const num = { tcp: 6, udp: 17, sctp: 132, gre: 47, dccp: 33, udplite: 136 } as Record<
      string,
      number
    >;
    if (proto.startsWith('icmp')) {
      const echo = family === 4 ? 8 : 128;
      const reply = family === 4 ? 0 : 129;
      const type =
        proto === 'icmp-echo' ? echo : proto === 'icmp-reply' ? reply : (e.icmpType ?? 3);
      return {
        ethSrc,
        ethDst,
        ethType,
        ip: { family, src, dst, proto: family === 4 ? 1 : 58, ttl: 64 },
        icmp: { type, code: proto === 'icmp-other' ? (e.icmpCode ?? 0) : 0, id: e.sport },
      };
    }
    const p = num[proto]!;
    return {
      ethSrc,
      ethDst,
      ethType,
      ip: { family, src, dst, proto: p, ttl: 64 },
      ...(p === 47
        ? {}
        : { l4: { src: e.sport, dst: e.dport, ...(p === 6 ? { tcpFlags: e.flags } : {}) } }),
    };
  }

  private remember(x: Sent | null): Sent | null {
    if (x) this.sent.push(x);
    return x;
  }

  build(e: Event): Sent | null {
    const nLocal = this.s.nLocal;
    switch (e.kind) {
      case 'remove':
      case 'membership':
        return null;
      case 'probe':
        return this.remember(this.probe(e));
      case 'send': {
        const from = e.from % nLocal;
        const spec = this.s.ports[from]!;
        // Mostly use a family the sender has an address of (else nearly everything is spoofed).
        const has = e.family === 4 ? spec.v4 : spec.v6;
        const family = has || e.src !== 0 ? e.family : e.family === 4 ? 6 : 4;
        const nTargets = this.s.ports.length + 2;
        const to = e.to % nTargets === from ? (from + 1) % nTargets : e.to % nTargets;
        const t = this.target(to, family, e.dst);
        const p = this.ipPacket(
          this.srcMac(from, e.mac),
          t.mac,
          family,
          this.srcAddr(from, family, e.src),
          t.ip,
          e.proto,
          e,
        );
        return this.remember({
          inPort: from + 1,
          packet: e.tag === null ? p : { ...p, vlan: e.tag },
        });
      }
      case 'uplink': {
        if (this.uplink === undefined) return null;
        const t = this.target(e.to % (this.s.ports.length + 2), e.family, e.dst);
        const src =
          e.src < this.s.ports.length
            ? this.addrOf(e.src, e.family)
            : parseIp(e.family === 4 ? EXTERNAL_V4 : EXTERNAL_V6).addr;
        const vlan = this.s.networks[0]!.vlan;
        const p = this.ipPacket(this.mac(5), t.mac, e.family, src, t.ip, e.proto, e);
        return this.remember({ inPort: this.uplink, packet: vlan === null ? p : { ...p, vlan } });
      }
      case 'reply':
      case 'error': {
        if (this.sent.length === 0) return null;
        // Mostly one of the last few packets: replies follow what they answer.
        const back = e.of < 24 ? e.of % Math.min(4, this.sent.length) : e.of % this.sent.length;
        const orig = this.sent[this.sent.length - 1 - back]!;
        const op = orig.packet;
        if (!op.ip) return null;
        const receiver = this.s.ports
          .slice(0, nLocal)
          .findIndex((_, i) => this.mac(i) === op.ethDst);
        const inPort = receiver >= 0 ? receiver + 1 : this.uplink;
        if (inPort === undefined) return null;
        const { vlan: _vlan, ...untagged } = op;
        let p: Packet;
        if (e.kind === 'reply') {
          p = reversePacket(untagged);
          if (op.icmp)
            p = {
              ...p,
              icmp: {
                ...op.icmp,
                type: op.icmp.type === 8 ? 0 : op.icmp.type === 128 ? 129 : op.icmp.type,
              },
            };
          if (p.l4 && op.ip.proto === 6) p = { ...p, l4: { ...p.l4, tcpFlags: e.flags } };
        } else {
          const family = op.ip.family;
          const type =
            family === 4 ? (e.type === 1 || e.type === 2 ? 3 : e.type) : e.type === 11 ? 3 : e.type;
          p = {
            ethSrc: op.ethDst,
            ethDst: op.ethSrc,
            ethType: op.ethType,
            ip: { family, src: op.ip.dst, dst: op.ip.src, proto: family === 4 ? 1 : 58, ttl: 64 },
            icmp: {
              type,
              code: 1,
              id: 0,
              embedded: {
                src: op.ip.src,
                dst: op.ip.dst,
                proto: op.ip.proto,
                ...(op.l4 ? { l4: { src: op.l4.src, dst: op.l4.dst } } : {}),
                ...(op.icmp
                  ? { icmp: { type: op.icmp.type, code: op.icmp.code, id: op.icmp.id } }
                  : {}),
              },
            },
          };
        }
        if (inPort === this.uplink) {
          const vlan = this.s.networks[this.s.ports[0]!.network]!.vlan;
          if (vlan !== null) p = { ...p, vlan };
        }
        return this.remember({ inPort, packet: p });
      }
      case 'special': {
        const x = this.special(e.from % nLocal, e.what, e.to);
        return this.remember(e.tag === null ? x : { ...x, packet: { ...x.packet, vlan: e.tag } });
      }
    }
  }

  private probe(e: Extract<Event, { kind: 'probe' }>): Sent | null {
    if (this.s.rules.length === 0) return null;
    const r = this.s.rules[e.rule % this.s.rules.length]!;
    const nLocal = this.s.nLocal;
    const locals = [...Array(nLocal).keys()];
    const members = locals.filter((i) => this.s.ports[i]!.groups.includes(r.group));
    const port = (members.length > 0 ? members : locals)[e.port % (members.length || nLocal)]!;
    // The peer: a member of the remote group when there is one, else any other local port or the uplink.
    const remoteMembers =
      r.remote.kind === 'group'
        ? locals.filter(
            (i) =>
              i !== port && this.s.ports[i]!.groups.includes((r.remote as { group: number }).group),
          )
        : [];
    const others = locals.filter((i) => i !== port);
    const pool = remoteMembers.length > 0 ? remoteMembers : others;
    const useUplink = this.uplink !== undefined && (pool.length === 0 || e.peer % 4 === 3);
    if (pool.length === 0 && !useUplink) return null;
    const peer = useUplink ? -1 : pool[e.peer % pool.length]!;
    const family: 4 | 6 = r.ethertype === 'IPv4' ? 4 : 6;
    const proto: Proto =
      r.protocol === 'tcp' || r.protocol === '6' || r.protocol === null
        ? 'tcp'
        : r.protocol === 'udp'
          ? 'udp'
          : r.protocol === 'sctp'
            ? 'sctp'
            : r.protocol === 'icmp'
              ? r.icmpType === null || r.icmpType === 8 || r.icmpType === 128
                ? 'icmp-echo'
                : 'icmp-other'
              : r.protocol === 'dccp'
                ? 'dccp'
                : r.protocol === 'udplite'
                  ? 'udplite'
                  : 'gre';
    const fields = {
      sport: edgePort(r.src, e.sEdge),
      dport: edgePort(r.dst, e.dEdge),
      flags: e.flags,
      // Edge 2 / 3 of the "ports" perturb the ICMP type / code instead.
      icmpType: (r.icmpType ?? (family === 4 ? 8 : 128)) + (e.dEdge === 2 ? 1 : 0),
      icmpCode: (r.icmpCode ?? 0) + (e.sEdge === 3 ? 1 : 0),
    };
    const external = parseIp(family === 4 ? EXTERNAL_V4 : EXTERNAL_V6).addr;
    const peerMac = peer < 0 ? this.mac(5) : this.mac(peer);
    const peerIp = peer < 0 ? external : this.addrOf(peer, family);
    const portIp = this.addrOf(port, family);
    if (r.direction === 'egress') {
      const p = this.ipPacket(
        this.mac(port),
        peer < 0 ? UNKNOWN_MAC : peerMac,
        family,
        portIp,
        peerIp,
        proto,
        fields,
      );
      return { inPort: port + 1, packet: p };
    }
    if (peer < 0) {
      const vlan = this.s.networks[this.s.ports[port]!.network]!.vlan;
      const p = this.ipPacket(peerMac, this.mac(port), family, external, portIp, proto, fields);
      return { inPort: this.uplink!, packet: vlan === null ? p : { ...p, vlan } };
    }
    return {
      inPort: peer + 1,
      packet: this.ipPacket(peerMac, this.mac(port), family, peerIp, portIp, proto, fields),
    };
  }

  private special(from: number, what: Special, to: number): Sent {
    const mac = this.mac(from);
    const inPort = from + 1;
    const t = this.target(to % (this.s.ports.length + 2), 6, 0);
    const v4 = this.addrOf(from, 4);
    const ll = linkLocalFromMac(mac);
    const v6 = (
      icmp: Packet['icmp'],
      src = ll,
      dstMac = 0x333300000001n,
      dst = parseIp('ff02::1').addr,
    ): Packet => ({
      ethSrc: mac,
      ethDst: dstMac,
      ethType: 0x86dd,
      ip: { family: 6, src, dst, proto: 58, ttl: 255 },
      ...(icmp ? { icmp } : {}),
    });
    switch (what) {
      case 'arp':
      case 'arp-spoof':
        return {
          inPort,
          packet: {
            ethSrc: mac,
            ethDst: to % 2 === 0 ? BROADCAST : t.mac,
            ethType: 0x0806,
            arp: {
              op: 1,
              sha: mac,
              spa: what === 'arp' ? v4 : this.addrOf(from + 1, 4),
              tha: 0n,
              tpa: this.addrOf((from + 1) % this.s.ports.length, 4),
            },
          },
        };
      case 'ns':
        return {
          inPort,
          packet: v6({
            type: 135,
            code: to === 7 ? 1 : 0,
            id: 0,
            nd: {
              target: this.addrOf((from + 1) % this.s.ports.length, 6),
              sll: [mac, 0n, this.mac(from + 1)][to % 3]!,
              tll: 0n,
            },
          }),
        };
      case 'na':
      case 'na-spoof':
        return {
          inPort,
          packet: v6(
            {
              type: 136,
              code: 0,
              id: 0,
              nd: {
                target:
                  what === 'na'
                    ? to % 2 === 0
                      ? ll
                      : this.addrOf(from, 6)
                    : this.addrOf(from + 1, 6),
                sll: 0n,
                tll: [mac, 0n, this.mac(from + 1)][(to >> 1) % 3]!,
              },
            },
            ll,
            t.mac,
            t.ip,
          ),
        };
      case 'ra':
        return { inPort, packet: v6({ type: 134, code: 0, id: 0 }) };
      case 'mld':
        return { inPort, packet: v6({ type: 143, code: 0, id: 0 }) };
      case 'dhcp':
      case 'dhcp-server':
        return {
          inPort,
          packet: {
            ethSrc: mac,
            ethDst: BROADCAST,
            ethType: 0x0800,
            ip: {
              family: 4,
              src: what === 'dhcp' && to % 2 === 0 ? 0n : v4,
              dst: 0xffffffffn,
              proto: 17,
              ttl: 64,
            },
            l4: what === 'dhcp' ? { src: 68, dst: 67 } : { src: 67, dst: 68 },
          },
        };
      case 'dhcp6':
        return {
          inPort,
          packet: {
            ethSrc: mac,
            ethDst: 0x333300010002n,
            ethType: 0x86dd,
            ip: { family: 6, src: ll, dst: parseIp('ff02::1:2').addr, proto: 17, ttl: 64 },
            l4: { src: 546, dst: 547 },
          },
        };
      case 'lldp':
        return { inPort, packet: { ethSrc: mac, ethDst: 0x0180c200000en, ethType: 0x88cc } };
    }
  }
}

function normalized(
  s: Scenario,
  drop: ReadonlySet<number> = new Set(),
  toggled: ReadonlySet<string> = new Set(),
): NormalizedPolicy | null {
  try {
    return normalizePolicy(policyOf(s, drop, toggled));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Properties of the reference itself (they keep the generators and the World honest)
// ---------------------------------------------------------------------------------------

describe('reference World on generated scenarios', () => {
  it(
    'generated policies are valid',
    () => {
      fc.assert(
        fc.property(scenarioArb, (s) => {
          expect(() => normalizePolicy(policyOf(s))).not.toThrow();
        }),
        { numRuns: runs(300) },
      );
    },
    TIMEOUT,
  );

  it(
    'never sends a packet back to its in_port or to a port that is not there',
    () => {
      fc.assert(
        fc.property(scenarioArb, fc.array(eventArb, { maxLength: 25 }), (s, events) => {
          const policy = normalized(s)!;
          const uplink = s.uplink ? UPLINK : undefined;
          const world = new World({
            policy,
            ports: localPorts(s),
            ...(uplink !== undefined ? { uplink } : {}),
          });
          const factory = new PacketFactory(s, uplink);
          const valid = new Set([
            ...localPorts(s).map((l) => l.ofport),
            ...(uplink !== undefined ? [uplink] : []),
          ]);
          for (const e of events) {
            const x = factory.build(e);
            if (!x) continue;
            const d = world.deliver(x.inPort, x.packet);
            expect(d.outputs).not.toContain(x.inPort);
            for (const o of d.outputs) expect(valid.has(o)).toBe(true);
          }
        }),
        { numRuns: runs(200) },
      );
    },
    TIMEOUT,
  );

  it(
    'is monotone in the rules for a first packet: adding rules never blocks it',
    () => {
      fc.assert(
        fc.property(scenarioArb, eventArb, fc.nat(), (s, e, k) => {
          fc.pre(s.rules.length > 0);
          const full = normalized(s)!;
          const fewer = normalized(s, new Set([k % s.rules.length]))!;
          const uplink = s.uplink ? UPLINK : undefined;
          const x = new PacketFactory(s, uplink).build(e);
          if (!x) return;
          const opts = { ports: localPorts(s), ...(uplink !== undefined ? { uplink } : {}) };
          const withAll = new World({ policy: full, ...opts }).deliver(x.inPort, x.packet).outputs;
          const without = new World({ policy: fewer, ...opts }).deliver(x.inPort, x.packet).outputs;
          for (const o of without) expect(withAll).toContain(o);
        }),
        { numRuns: runs(300) },
      );
    },
    TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------
// A flow table written by hand from docs/pipeline.md for one policy: checks the simulator and
// the World against the contract before (and independently of) the compiler.
// ---------------------------------------------------------------------------------------

describe('hand-written pipeline (docs/pipeline.md) vs the reference World', () => {
  const scenario: Scenario = {
    networks: [{ vlan: null }],
    groupsStateful: [true],
    nLocal: 3,
    uplink: false,
    baseTable: 0,
    agCidrs: [],
    ports: [
      { network: 0, v4: true, v6: false, pairs: [], groups: [0], security: true },
      { network: 0, v4: true, v6: false, pairs: [], groups: [0], security: true },
      { network: 0, v4: true, v6: false, pairs: [], groups: [], security: false },
    ],
    rules: [
      {
        group: 0,
        direction: 'egress',
        ethertype: 'IPv4',
        protocol: null,
        dst: null,
        src: null,
        icmpType: null,
        icmpCode: null,
        remote: { kind: 'any' },
      },
      {
        group: 0,
        direction: 'ingress',
        ethertype: 'IPv4',
        protocol: 'tcp',
        dst: [80, 80],
        src: null,
        icmpType: null,
        icmpCode: null,
        remote: { kind: 'any' },
      },
      {
        group: 0,
        direction: 'ingress',
        ethertype: 'IPv4',
        protocol: 'tcp',
        dst: [1, 3],
        src: [4, 6],
        icmpType: null,
        icmpCode: null,
        remote: { kind: 'any' },
      },
      {
        group: 0,
        direction: 'ingress',
        ethertype: 'IPv4',
        protocol: 'icmp',
        dst: null,
        src: null,
        icmpType: 8,
        icmpCode: null,
        remote: { kind: 'group', group: 0 },
      },
    ],
  };
  const T = {
    Classify: 0,
    EgressPortSecurity: 1,
    EgressState: 2,
    EgressRules: 3,
    Forward: 4,
    IngressPortSecurity: 5,
    IngressState: 6,
    IngressRules: 7,
    Output: 8,
    Allow: 9,
  };
  const F = { Ingress: 1n, Stateful: 2n, Reply: 4n };
  const reg5: FieldSlice = { field: 'reg5', ofs: 0, nBits: 32 };
  const reg0: FieldSlice = { field: 'reg0', ofs: 0, nBits: 32 };
  const v = (value: bigint | number, mask?: bigint): { value: bigint; mask?: bigint } =>
    mask === undefined ? { value: BigInt(value) } : { value: BigInt(value), mask };
  const trk = (on: number, off: number): { value: bigint; mask: bigint } => ({
    value: BigInt(on),
    mask: BigInt(on | off),
  });
  const TRK = 0x20,
    NEW = 0x01,
    RPL = 0x08,
    INV = 0x10;
  const go = (table: number): Action => ({ type: 'goto_table', table });
  /** OpenFlow's goto_table only goes forward: earlier tables are reached by resubmit. */
  const back = (table: number): Action => ({ type: 'resubmit', table });
  const f = (table: number, priority: number, match: Match, actions: Action[]): Flow => ({
    table,
    priority,
    cookie: 0n,
    match,
    actions,
  });
  const mac = (i: number): bigint => parseMac(MACS[i]!);
  const ip = (i: number): bigint => parseIp(v4Of(i)).addr;
  const toPort = (i: number): Action[] => [
    { type: 'ct_clear' },
    { type: 'load', dst: reg5, value: BigInt(i + 1) },
    { type: 'load', dst: reg0, value: F.Ingress | F.Stateful },
  ];
  const stateTable = (table: number, replyRules: number, rules: number): Flow[] => [
    f(table, 100, { reg0: v(F.Stateful, F.Stateful), ct_state: trk(0, TRK) }, [
      { type: 'ct', zone: { field: 'reg5', ofs: 0, nBits: 16 }, table },
    ]),
    f(table, 100, { reg0: v(F.Stateful, F.Stateful), ct_state: trk(TRK | INV, 0) }, []),
    f(table, 90, { reg0: v(F.Stateful, F.Stateful), ct_state: trk(TRK | RPL, INV) }, [
      { type: 'load', dst: { field: 'reg0', ofs: 2, nBits: 1 }, value: 1n },
      replyRules > table ? go(replyRules) : back(replyRules),
    ]),
    f(table, 80, { reg0: v(F.Stateful, F.Stateful), ct_state: trk(TRK, INV | RPL) }, [go(rules)]),
  ];
  const flows: Flow[] = [
    ...[0, 1].map((i) =>
      f(T.Classify, 100, { in_port: v(i + 1) }, [
        { type: 'load', dst: reg5, value: BigInt(i + 1) },
        { type: 'load', dst: { field: 'reg6', ofs: 0, nBits: 32 }, value: 1n },
        { type: 'load', dst: reg0, value: F.Stateful },
        go(T.EgressPortSecurity),
      ]),
    ),
    f(T.Classify, 100, { in_port: v(3) }, [
      { type: 'load', dst: reg5, value: 3n },
      { type: 'load', dst: { field: 'reg6', ofs: 0, nBits: 32 }, value: 1n },
      go(T.Forward),
    ]),
    // An access port may not send 802.1Q frames ("every other ethertype" is dropped).
    f(T.EgressPortSecurity, 130, { vlan_tci: v(0x1000n, 0x1000n) }, []),
    ...[0, 1].flatMap((i) => [
      f(
        T.EgressPortSecurity,
        100,
        {
          reg5: v(i + 1),
          eth_type: v(0x806),
          eth_src: v(mac(i)),
          arp_sha: v(mac(i)),
          arp_spa: v(ip(i)),
        },
        [go(T.Forward)],
      ),
      f(
        T.EgressPortSecurity,
        100,
        { reg5: v(i + 1), eth_type: v(0x800), eth_src: v(mac(i)), ip_src: v(ip(i)) },
        [go(T.EgressState)],
      ),
    ]),
    ...stateTable(T.EgressState, T.IngressRules, T.EgressRules),
    ...[0, 1].map((i) =>
      f(T.EgressRules, 100, { reg5: v(i + 1), eth_type: v(0x800), ct_state: trk(TRK, INV) }, [
        go(T.Allow),
      ]),
    ),
    ...[0, 1].map((i) =>
      f(T.Forward, 100, { reg6: v(1), eth_dst: v(mac(i)) }, [
        ...toPort(i),
        go(T.IngressPortSecurity),
      ]),
    ),
    f(T.Forward, 100, { reg6: v(1), eth_dst: v(mac(2)) }, [{ type: 'output', port: 3 }]),
    f(T.Forward, 90, { reg6: v(1), eth_dst: v(0x010000000000n, 0x010000000000n) }, [
      ...[0, 1].map((i): Action => ({
        type: 'clone',
        actions: [...toPort(i), { type: 'resubmit', table: T.IngressPortSecurity }],
      })),
      { type: 'output', port: 3 },
    ]),
    f(T.IngressPortSecurity, 100, { eth_type: v(0x806) }, [go(T.Output)]),
    f(T.IngressPortSecurity, 90, { eth_type: v(0x800) }, [go(T.IngressState)]),
    f(T.IngressPortSecurity, 90, { eth_type: v(0x86dd) }, [go(T.IngressState)]),
    ...stateTable(T.IngressState, T.EgressRules, T.IngressRules),
    // tcp 80 from anywhere: ports × service folded to plain flows.
    ...[0, 1].map((i) =>
      f(
        T.IngressRules,
        100,
        {
          reg5: v(i + 1),
          eth_type: v(0x800),
          ct_state: trk(TRK, INV),
          ct_nw_proto: v(6),
          ct_tp_dst: v(80),
        },
        [go(T.Allow)],
      ),
    ),
    // tcp dst 1-3 src 4-6: dst masks {1/0xffff, 2/0xfffe} × src masks {4/0xfffe, 6/0xffff} kept apart.
    ...[1, 2].map((i) =>
      f(T.IngressRules, 2000, { reg5: v(i), eth_type: v(0x800) }, [
        { type: 'conjunction', id: 2, clause: 1, nClauses: 3 },
      ]),
    ),
    ...[v(1), v(2, 0xfffen)].map((m) =>
      f(
        T.IngressRules,
        2000,
        { eth_type: v(0x800), ct_state: trk(TRK, INV), ct_nw_proto: v(6), ct_tp_dst: m },
        [{ type: 'conjunction', id: 2, clause: 2, nClauses: 3 }],
      ),
    ),
    ...[v(4, 0xfffen), v(6)].map((m) =>
      f(
        T.IngressRules,
        2000,
        { eth_type: v(0x800), ct_state: trk(TRK, INV), ct_nw_proto: v(6), ct_tp_src: m },
        [{ type: 'conjunction', id: 2, clause: 3, nClauses: 3 }],
      ),
    ),
    f(T.IngressRules, 2000, { conj_id: v(2), eth_type: v(0x800) }, [go(T.Allow)]),
    // icmp type 8 from the group's members: ports × remote CIDRs as a conjunction.
    ...[1, 2].map((i) =>
      f(
        T.IngressRules,
        1000,
        {
          reg5: v(i),
          eth_type: v(0x800),
          ct_state: trk(TRK, INV),
          ct_nw_proto: v(1),
          ct_tp_src: v(8),
        },
        [{ type: 'conjunction', id: 1, clause: 1, nClauses: 2 }],
      ),
    ),
    ...[0, 1].map((i) =>
      f(
        T.IngressRules,
        1000,
        { eth_type: v(0x800), ct_nw_src: v(ip(i)), ct_state: trk(TRK, INV) },
        [{ type: 'conjunction', id: 1, clause: 2, nClauses: 2 }],
      ),
    ),
    f(T.IngressRules, 1000, { conj_id: v(1), eth_type: v(0x800) }, [go(T.Allow)]),
    f(T.Allow, 100, { reg0: v(F.Ingress, F.Ingress), ct_state: trk(TRK | NEW, 0) }, [
      { type: 'ct', commit: true, zone: { field: 'reg5', ofs: 0, nBits: 16 } },
      back(T.Output),
    ]),
    f(T.Allow, 100, { reg0: v(0, F.Ingress), ct_state: trk(TRK | NEW, 0) }, [
      { type: 'ct', commit: true, zone: { field: 'reg5', ofs: 0, nBits: 16 } },
      back(T.Forward),
    ]),
    f(T.Allow, 50, { reg0: v(F.Ingress, F.Ingress) }, [back(T.Output)]),
    f(T.Allow, 50, { reg0: v(0, F.Ingress) }, [back(T.Forward)]),
    ...[0, 1].map((i) => f(T.Output, 100, { reg5: v(i + 1) }, [{ type: 'output', port: i + 1 }])),
  ];

  // This table has no DHCP / ND / RA flows: leave those kinds to the compiler's table.
  const ipEvents = eventArb.filter(
    (e) =>
      e.kind === 'send' ||
      e.kind === 'reply' ||
      e.kind === 'error' ||
      (e.kind === 'special' && ['arp', 'arp-spoof', 'lldp'].includes(e.what)),
  );

  it('is a table OVS would accept', () => {
    expect(checkFlows(flows).map((p) => p.problem)).toEqual([]);
  });

  it(
    'agrees packet by packet on generated sequences',
    () => {
      const policy = normalizePolicy(policyOf(scenario));
      fc.assert(
        fc.property(fc.array(ipEvents, { maxLength: 30 }), (events) => {
          const world = new World({ policy, ports: localPorts(scenario) });
          const state = newSimState();
          const factory = new PacketFactory(scenario, undefined);
          for (const e of events) {
            const x = factory.build(e);
            if (!x) continue;
            const expected = world.deliver(x.inPort, x.packet);
            const actual = simulate(flows, state, x.inPort, keyFromPacket(x.packet, x.inPort));
            expect(actual.outputs, expected.trace.join('\n')).toEqual(expected.outputs);
          }
        }),
        { numRuns: runs(300) },
      );
    },
    TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------
// The differential property: simulate(compile(policy)) ≡ World, packet by packet
// ---------------------------------------------------------------------------------------

interface Compiled {
  flows: readonly Flow[];
  cookies: ReadonlyMap<bigint, unknown>;
}

function compileScenario(policy: NormalizedPolicy, s: Scenario): Compiled {
  const r = compile({
    policy,
    localPorts: localPorts(s),
    ...(s.uplink ? { uplinkOfport: UPLINK } : {}),
    options: { mode: 'conntrack', baseTable: s.baseTable },
  });
  const problems = checkFlows(r.flows);
  expect(
    problems.map((p) => `${p.problem}: table=${p.flow.table} priority=${p.flow.priority}`),
  ).toEqual([]);
  return { flows: r.flows, cookies: r.cookies };
}

/** Replays `events` on both sides; returns a description of the first disagreement, or null. */
function firstDisagreement(s: Scenario, events: readonly Event[]): string | null {
  const dropped = new Set<number>();
  const toggled = new Set<string>();
  let policy = normalized(s)!;
  let compiled = compileScenario(policy, s);
  const uplink = s.uplink ? UPLINK : undefined;
  const world = new World({
    policy,
    ports: localPorts(s),
    ...(uplink !== undefined ? { uplink } : {}),
  });
  const state = newSimState();
  const factory = new PacketFactory(s, uplink);
  const log: string[] = [];
  for (const e of events) {
    if (e.kind === 'remove') {
      if (s.rules.length === 0) continue;
      const k = e.rule % s.rules.length;
      // Toggle: a removed rule comes back on its next event ("comes back only if allowed again").
      if (dropped.has(k)) dropped.delete(k);
      else dropped.add(k);
      policy = normalized(s, dropped, toggled)!;
      world.setPolicy(policy);
      compiled = compileScenario(policy, s);
      log.push(`-- rule r${k} ${dropped.has(k) ? 'removed' : 're-added'}`);
      continue;
    }
    if (e.kind === 'membership') {
      const m = `${e.port % s.ports.length}:${e.group % s.groupsStateful.length}`;
      if (toggled.has(m)) toggled.delete(m);
      else toggled.add(m);
      policy = normalized(s, dropped, toggled)!;
      world.setPolicy(policy);
      compiled = compileScenario(policy, s);
      log.push(`-- membership ${m} flipped`);
      continue;
    }
    const x = factory.build(e);
    if (!x) continue;
    const expected = world.deliver(x.inPort, x.packet);
    // A DCCP / UDP-Lite packet a port-range rule may allow is paused at the agent, which
    // judges it (the agent's own function) and resumes it or not (docs/pipeline.md).
    const byOfport = new Map(localPorts(s).map((l) => [l.ofport, l.portId]));
    const punted: string[] = [];
    const actual = simulate(
      compiled.flows,
      state,
      x.inPort,
      keyFromPacket(x.packet, x.inPort),
      s.baseTable,
      {
        onPause: (pi) => {
          const j = judgePunt(policy, (o) => byOfport.get(o), pi.key.fields, x.packet);
          punted.push(`agent: ${j.verdict}: ${j.reason}`);
          return j.verdict === 'allow';
        },
      },
    );
    log.push(
      `in_port ${x.inPort}: ${describePacket(x.packet)} → world ${JSON.stringify(expected.outputs)}, sim ${JSON.stringify(actual.outputs)}`,
      ...punted,
    );
    const proto = x.packet.ip?.proto;
    if (punted.length > 0 && proto !== 33 && proto !== 136) {
      log.push('sim punted a packet that is not DCCP / UDP-Lite');
      return [...log, 'simulation:', ...trace(actual, compiled.cookies).map((l) => `  ${l}`)].join(
        '\n',
      );
    }
    if (JSON.stringify(actual.outputs) !== JSON.stringify(expected.outputs)) {
      return [
        ...log,
        'reference:',
        ...expected.trace.map((l) => `  ${l}`),
        'simulation:',
        ...trace(actual, compiled.cookies).map((l) => `  ${l}`),
      ].join('\n');
    }
  }
  return null;
}

function describeAddr(family: 4 | 6, a: bigint): string {
  return formatIp(family, a);
}

/** One line for a packet, for disagreement reports. */
function describePacket(p: Packet): string {
  const l2 = `${formatMac(p.ethSrc)}→${formatMac(p.ethDst)}${p.vlan !== undefined ? ` vlan ${p.vlan}` : ''}`;
  if (p.arp)
    return `${l2} arp op ${p.arp.op} sha ${formatMac(p.arp.sha)} spa ${describeAddr(4, p.arp.spa)} tpa ${describeAddr(4, p.arp.tpa)}`;
  if (!p.ip) return `${l2} eth_type 0x${p.ethType.toString(16)}`;
  const ip = `${describeAddr(p.ip.family, p.ip.src)}→${describeAddr(p.ip.family, p.ip.dst)} proto ${p.ip.proto}`;
  const l4 = p.l4
    ? ` ports ${p.l4.src}→${p.l4.dst}${p.l4.tcpFlags !== undefined ? ` flags 0x${p.l4.tcpFlags.toString(16)}` : ''}`
    : '';
  const icmp = p.icmp
    ? ` icmp ${p.icmp.type}/${p.icmp.code} id ${p.icmp.id}` +
      (p.icmp.embedded
        ? ` quoting ${describeAddr(p.ip.family, p.icmp.embedded.src)}→${describeAddr(p.ip.family, p.icmp.embedded.dst)} proto ${p.icmp.embedded.proto}${p.icmp.embedded.l4 ? ` ${p.icmp.embedded.l4.src}→${p.icmp.embedded.l4.dst}` : ''}`
        : '') +
      (p.icmp.nd
        ? ` nd target ${describeAddr(6, p.icmp.nd.target)} sll ${formatMac(p.icmp.nd.sll)} tll ${formatMac(p.icmp.nd.tll)}`
        : '')
    : '';
  return `${l2} ${ip}${l4}${icmp}`;
}

describe('differential: simulate(compile(policy)) delivers every packet where the World does', () => {
  it(
    'agrees packet by packet, with connection state, rule removal and re-adding',
    () => {
      fc.assert(
        fc.property(scenarioArb, fc.array(eventArb, { maxLength: 25 }), (s, events) => {
          const d = firstDisagreement(s, events);
          if (d !== null) throw new Error(`disagreement:\n${d}`);
        }),
        { numRuns: runs(1000) },
      );
    },
    TIMEOUT,
  );
});
