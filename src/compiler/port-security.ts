/**
 * Tables EgressPortSecurity and IngressPortSecurity (docs/pipeline.md, "Always allowed").
 *
 * Egress is two passes through one table. Pass 1 (SourceChecked clear) lets the per-port
 * bypasses through (ARP with the port's sha+spa, DHCP discover from 0.0.0.0) and checks the
 * source: a bound (eth_src, IP source) pair — or eth_src a MAC of the port with IPv6 source
 * `::` — sets SourceChecked (and SourceUnspecified for `::`) and resubmits. Pass 2 lets the
 * always-allowed protocols through (ND only when nd_sll / nd_target / nd_tll pass) and sends
 * the rest of the checked IP traffic to EgressState. The server-side DHCP, RA and redirects
 * are dropped first, whatever the source; VLAN-tagged frames before anything. Everything else misses and is dropped.
 * This keeps the per-port flow count at (bindings + MACs + ND targets), never a product of
 * sources × always-allowed types.
 *
 * Ingress lets ARP, DHCP/DHCPv6 server replies, MLD query, RA, NS and NA through to Output,
 * IP to IngressState, and drops the rest; a packet is never delivered back to its in_port.
 */
import { linkLocalFromMac } from '../model/port-security.js';
import {
  ALWAYS_ALLOWED_INGRESS_ICMPV6,
  ALWAYS_DROPPED_EGRESS_ICMPV6,
  Dhcp,
  EtherType,
  Icmpv6Type,
} from '../model/port-security.js';
import { IpProto, type AddressBinding, type Cidr } from '../model/types.js';
import type { Action, Match } from '../openflow/ir.js';
import {
  gotoTable,
  PIPELINE,
  portOrigin,
  resubmit,
  type CompileContext,
  type LocalPortInfo,
} from './context.js';
import { exact, masked, type FlowSink } from './emit.js';
import { VLAN_PRESENT } from './classify.js';
import { Flag, Priority, Reg, type Tables } from './tables.js';

const IPV4 = exact(EtherType.IPV4);
const IPV6 = exact(EtherType.IPV6);
const ARP = exact(EtherType.ARP);
const UDP = exact(IpProto.UDP);
const ICMPV6 = exact(IpProto.ICMPV6);

/** Always-allowed egress ICMPv6 that need no ND check (RS, MLD report/done, MLDv2 report). */
const EGRESS_ICMPV6_NO_ND = [
  Icmpv6Type.ROUTER_SOLICIT,
  Icmpv6Type.MLD_REPORT,
  Icmpv6Type.MLD_DONE,
  Icmpv6Type.MLD2_REPORT,
];

function cidrMatch(c: Cidr): { value: bigint; mask?: bigint } {
  const bits = c.family === 4 ? 32n : 128n;
  if (BigInt(c.prefix) === bits) return exact(c.addr);
  const mask = ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(c.prefix))) - 1n);
  return masked(c.addr, mask);
}

export { cidrMatch };

const flagsSet = (bits: number) => masked(bits, bits);
const flagsClear = (bits: number) => masked(0, bits);

/** The port's bound (MAC, source) pairs: fixed IPs, address pairs, and the link-local of its MAC. */
export function boundSources(l: LocalPortInfo): AddressBinding[] {
  const ll: AddressBinding = {
    mac: l.port.mac,
    cidr: { family: 6, addr: linkLocalFromMac(l.port.mac), prefix: 128 },
  };
  const out = [...l.port.addresses];
  if (
    !out.some(
      (b) =>
        b.mac === ll.mac &&
        b.cidr.family === 6 &&
        b.cidr.addr === ll.cidr.addr &&
        b.cidr.prefix === 128,
    )
  ) {
    out.push(ll);
  }
  return out;
}

/** The MACs a port may send from: its own and its address pairs'. Sorted. */
export function portMacs(l: LocalPortInfo): bigint[] {
  return [...new Set([l.port.mac, ...l.port.addresses.map((b) => b.mac)])].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
}

/** The flows of EgressPortSecurity that are the same for every port. */
export function compileEgressPortSecuritySkeleton(t: Tables, sink: FlowSink): void {
  const T = t.EgressPortSecurity;
  const toForward: Action[] = [gotoTable(t.Forward)];

  // A port with port security is an access port: an 802.1Q frame is never its to send. OVS
  // matches a tagged frame by its inner ethertype, so without this a tagged frame with the
  // port's own (MAC, IP) would pass. Pass 2 never sees a tagged frame: pass 1 dropped it.
  sink.add(T, Priority.Tagged, { vlan_tci: masked(VLAN_PRESENT, VLAN_PRESENT) }, [], PIPELINE);

  // Always dropped, whatever the source.
  sink.add(
    T,
    Priority.AlwaysDropped,
    { eth_type: IPV4, ip_proto: UDP, udp_src: exact(Dhcp.V4_SERVER_PORT) },
    [],
    PIPELINE,
  );
  sink.add(
    T,
    Priority.AlwaysDropped,
    { eth_type: IPV6, ip_proto: UDP, udp_src: exact(Dhcp.V6_SERVER_PORT) },
    [],
    PIPELINE,
  );
  for (const type of ALWAYS_DROPPED_EGRESS_ICMPV6) {
    sink.add(
      T,
      Priority.AlwaysDropped,
      { eth_type: IPV6, ip_proto: ICMPV6, icmpv6_type: exact(type) },
      [],
      PIPELINE,
    );
  }

  // Pass 2: the source is checked.
  const checked = { [Reg.Flags]: flagsSet(Flag.SourceChecked) };
  sink.add(
    T,
    Priority.AllowedAfterSource,
    {
      ...checked,
      eth_type: IPV4,
      ip_proto: UDP,
      udp_src: exact(Dhcp.V4_CLIENT_PORT),
      udp_dst: exact(Dhcp.V4_SERVER_PORT),
    },
    toForward,
    PIPELINE,
  );
  sink.add(
    T,
    Priority.AllowedAfterSource,
    {
      ...checked,
      eth_type: IPV6,
      ip_proto: UDP,
      udp_src: exact(Dhcp.V6_CLIENT_PORT),
      udp_dst: exact(Dhcp.V6_SERVER_PORT),
    },
    toForward,
    PIPELINE,
  );
  for (const type of EGRESS_ICMPV6_NO_ND) {
    sink.add(
      T,
      Priority.AllowedAfterSource,
      { ...checked, eth_type: IPV6, ip_proto: ICMPV6, icmpv6_type: exact(type) },
      toForward,
      PIPELINE,
    );
  }
  for (const type of [Icmpv6Type.NEIGHBOR_SOLICIT, Icmpv6Type.NEIGHBOR_ADVERT]) {
    sink.add(
      T,
      Priority.NdFailed,
      { ...checked, eth_type: IPV6, ip_proto: ICMPV6, icmpv6_type: exact(type) },
      [],
      PIPELINE,
    );
  }
  const toState = {
    [Reg.Flags]: masked(Flag.SourceChecked, Flag.SourceChecked | Flag.SourceUnspecified),
  };
  sink.add(
    T,
    Priority.ToState,
    { ...toState, eth_type: IPV4 },
    [gotoTable(t.EgressState)],
    PIPELINE,
  );
  sink.add(
    T,
    Priority.ToState,
    { ...toState, eth_type: IPV6 },
    [gotoTable(t.EgressState)],
    PIPELINE,
  );
  sink.add(T, Priority.Drop, {}, [], PIPELINE);
}

/** One port's EgressPortSecurity flows: its bound sources, ARP, DHCP discover, ND. */
export function compileEgressPortSecurityPort(
  ctx: CompileContext,
  sink: FlowSink,
  l: LocalPortInfo,
): void {
  if (!l.port.portSecurity) return;
  const { t } = ctx;
  const T = t.EgressPortSecurity;
  const origin = portOrigin(l);
  const port = { [Reg.PortKey]: exact(l.ofport) };
  const toForward: Action[] = [gotoTable(t.Forward)];
  const sources = boundSources(l);
  const unchecked = { [Reg.Flags]: flagsClear(Flag.SourceChecked) };
  const checked = { [Reg.Flags]: flagsSet(Flag.SourceChecked) };
  const markChecked: Action[] = [
    { type: 'load', dst: { field: Reg.Flags, ofs: 4, nBits: 1 }, value: 1n },
    resubmit(T),
  ];
  const markUnspecified: Action[] = [
    { type: 'load', dst: { field: Reg.Flags, ofs: 4, nBits: 2 }, value: 3n },
    resubmit(T),
  ];

  for (const b of sources) {
    if (b.cidr.family === 4) {
      // ARP: sha = eth_src = a MAC of the port, spa one of its IPv4 addresses for that MAC.
      sink.add(
        T,
        Priority.BypassChecked,
        {
          ...port,
          eth_src: exact(b.mac),
          eth_type: ARP,
          arp_spa: cidrMatch(b.cidr),
          arp_sha: exact(b.mac),
        },
        toForward,
        origin,
      );
    }
    const m: Match = {
      ...port,
      ...unchecked,
      eth_src: exact(b.mac),
      eth_type: b.cidr.family === 4 ? IPV4 : IPV6,
      ...(b.cidr.family === 4 ? { ip_src: cidrMatch(b.cidr) } : { ipv6_src: cidrMatch(b.cidr) }),
    };
    sink.add(T, Priority.SourceBinding, m, markChecked, origin);
  }
  // DHCP discover/request before the port has an address (own MAC only).
  sink.add(
    T,
    Priority.BypassChecked,
    {
      ...port,
      eth_src: exact(l.port.mac),
      eth_type: IPV4,
      ip_src: exact(0),
      ip_proto: UDP,
      udp_src: exact(Dhcp.V4_CLIENT_PORT),
      udp_dst: exact(Dhcp.V4_SERVER_PORT),
    },
    toForward,
    origin,
  );
  // `::` (DAD, MLD before an address), own MAC only: only always-allowed traffic may follow.
  sink.add(
    T,
    Priority.SourceUnspecified,
    { ...port, ...unchecked, eth_src: exact(l.port.mac), eth_type: IPV6, ipv6_src: exact(0) },
    markUnspecified,
    origin,
  );
  // ND: NS with nd_sll the port's MAC or absent; NA for one of its IPv6 addresses.
  const lladdrs = [l.port.mac, 0n];
  for (const sll of lladdrs) {
    sink.add(
      T,
      Priority.AllowedAfterSource,
      {
        ...port,
        ...checked,
        eth_type: IPV6,
        ip_proto: ICMPV6,
        icmpv6_type: exact(Icmpv6Type.NEIGHBOR_SOLICIT),
        icmpv6_code: exact(0),
        nd_sll: exact(sll),
      },
      toForward,
      origin,
    );
  }
  const targets = sources.filter((b) => b.cidr.family === 6);
  const seen = new Set<string>();
  for (const b of targets) {
    const k = `${b.cidr.addr}/${b.cidr.prefix}`;
    if (seen.has(k)) continue;
    seen.add(k);
    for (const tll of lladdrs) {
      sink.add(
        T,
        Priority.AllowedAfterSource,
        {
          ...port,
          ...checked,
          eth_type: IPV6,
          ip_proto: ICMPV6,
          icmpv6_type: exact(Icmpv6Type.NEIGHBOR_ADVERT),
          icmpv6_code: exact(0),
          nd_target: cidrMatch(b.cidr),
          nd_tll: exact(tll),
        },
        toForward,
        origin,
      );
    }
  }
}

/** The flows of IngressPortSecurity that are the same for every port. */
export function compileIngressPortSecuritySkeleton(t: Tables, sink: FlowSink): void {
  const T = t.IngressPortSecurity;
  const toOutput: Action[] = [gotoTable(t.Output)];
  sink.add(T, Priority.AlwaysAllowedIngress, { eth_type: ARP }, toOutput, PIPELINE);
  sink.add(
    T,
    Priority.AlwaysAllowedIngress,
    {
      eth_type: IPV4,
      ip_proto: UDP,
      udp_src: exact(Dhcp.V4_SERVER_PORT),
      udp_dst: exact(Dhcp.V4_CLIENT_PORT),
    },
    toOutput,
    PIPELINE,
  );
  sink.add(
    T,
    Priority.AlwaysAllowedIngress,
    {
      eth_type: IPV6,
      ip_proto: UDP,
      udp_src: exact(Dhcp.V6_SERVER_PORT),
      udp_dst: exact(Dhcp.V6_CLIENT_PORT),
    },
    toOutput,
    PIPELINE,
  );
  for (const type of ALWAYS_ALLOWED_INGRESS_ICMPV6) {
    sink.add(
      T,
      Priority.AlwaysAllowedIngress,
      { eth_type: IPV6, ip_proto: ICMPV6, icmpv6_type: exact(type) },
      toOutput,
      PIPELINE,
    );
  }
  sink.add(T, Priority.ToState, { eth_type: IPV4 }, [gotoTable(t.IngressState)], PIPELINE);
  sink.add(T, Priority.ToState, { eth_type: IPV6 }, [gotoTable(t.IngressState)], PIPELINE);
  sink.add(T, Priority.Drop, {}, [], PIPELINE);
}

/** Never back out of the port it came in on (broadcast clones reach the sender too). */
export function compileIngressPortSecurityPort(
  ctx: CompileContext,
  sink: FlowSink,
  l: LocalPortInfo,
): void {
  if (!l.port.portSecurity) return;
  sink.add(
    ctx.t.IngressPortSecurity,
    Priority.Hairpin,
    { [Reg.PortKey]: exact(l.ofport), in_port: exact(l.ofport) },
    [],
    portOrigin(l),
  );
}
