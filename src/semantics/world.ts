/**
 * The reference bridge: what every port of one bridge must send and receive under a policy
 * (DESIGN.md §4, docs/pipeline.md), packet by packet, with its own connection state.
 *
 * Produces, for a packet entering the bridge, the ofports it leaves by (sorted) and a trace
 * in words. Invariants: a packet from a local port passes the sender's egress judgement, is
 * forwarded by destination MAC within its network (broadcast/multicast: every other local port
 * of the network and the uplink; unicast: every other local port claiming the MAC as its own or
 * as an allowed-address-pair MAC, plus the uplink for a pair MAC no port owns; unknown: the
 * uplink), then each local receiver's ingress judgement; a stateful
 * port's connections live in its own zone and are committed only when a new connection is
 * allowed; established, related and reply packets pass iff the connection's original tuple is
 * still allowed by the current rules of the direction that opened it; invalid packets drop.
 * Replacing the policy keeps the connection state (so removed rules cut connections).
 */
import { formatMac, isMulticastMac } from '../model/addr.js';
import type { Packet } from '../model/packet.js';
import type { Direction, NormalizedPolicy, NormalizedPort } from '../model/types.js';
import { ConnTable, type Connection } from './conntrack.js';
import { judge, tupleOfPacket, type ConnContext } from './judge.js';
import type { JudgedTuple } from './rules.js';
import { ingressPortSecurity, egressPortSecurity, portMacs } from './port-security.js';

export interface LocalPort {
  portId: string;
  ofport: number;
}

export interface WorldOptions {
  policy: NormalizedPolicy;
  ports: readonly LocalPort[];
  /** The bridge's uplink ofport; packets of a network with a VLAN id carry that tag on it. */
  uplink?: number;
}

export interface Delivery {
  /** ofports the packet leaves by, sorted ascending. */
  outputs: number[];
  trace: string[];
}

function originalTuple(c: Connection): JudgedTuple {
  const k = c.key;
  const ported = c.icmpType === null && (k.srcEp !== 0 || k.dstEp !== 0);
  return {
    family: k.family,
    src: k.src,
    dst: k.dst,
    proto: k.proto,
    srcPort: ported ? k.srcEp : null,
    dstPort: ported ? k.dstEp : null,
    icmpType: c.icmpType,
    icmpCode: c.icmpCode,
  };
}

export class World {
  private policy: NormalizedPolicy;
  private readonly ports: readonly LocalPort[];
  private readonly uplink: number | undefined;
  /** Conntrack zone (= the port's ofport) → its connections. */
  private readonly zones = new Map<number, ConnTable>();

  constructor(opts: WorldOptions) {
    this.policy = opts.policy;
    this.ports = opts.ports;
    this.uplink = opts.uplink;
  }

  /** Replaces the policy (a rule added or removed); connection state is kept. */
  setPolicy(policy: NormalizedPolicy): void {
    this.policy = policy;
  }

  /** Committed connections in a port's zone. */
  connectionCount(ofport: number): number {
    return this.zones.get(ofport)?.size ?? 0;
  }

  private zone(ofport: number): ConnTable {
    let z = this.zones.get(ofport);
    if (!z) {
      z = new ConnTable();
      this.zones.set(ofport, z);
    }
    return z;
  }

  private portOf(lp: LocalPort): NormalizedPort | undefined {
    return this.policy.ports.get(lp.portId);
  }

  /**
   * One direction's judgement at one port, with conntrack in the port's zone: the state the
   * packet has, then `judge`, then the commit of an allowed new connection.
   */
  private pass(lp: LocalPort, direction: Direction, p: Packet, trace: string[]): boolean {
    const port = this.portOf(lp);
    const who = `${direction} ${lp.portId} (ofport ${lp.ofport})`;
    if (!port) {
      trace.push(`${who}: port not in the policy: drop`);
      return false;
    }
    if (!port.portSecurity) {
      trace.push(`${who}: port security disabled: pass`);
      return true;
    }
    const ps = direction === 'egress' ? egressPortSecurity(port, p) : ingressPortSecurity(p);
    if (ps.kind !== 'rules' || !port.stateful) {
      const j = judge(this.policy, lp.portId, direction, p);
      trace.push(`${who}: ${j.verdict}: ${j.reason}`);
      return j.verdict === 'allow';
    }
    const z = this.zone(lp.ofport);
    const ct = z.lookup(p);
    if (ct.state === 'invalid') {
      trace.push(`${who}: conntrack invalid (${ct.reason}): drop`);
      return false;
    }
    const conn: ConnContext =
      ct.state === 'new'
        ? { state: 'new', reply: false, original: tupleOfPacket(p)! }
        : { state: ct.state, reply: ct.reply, original: originalTuple(ct.conn) };
    const j = judge(this.policy, lp.portId, direction, p, conn);
    trace.push(`${who}: ${j.verdict}: ${j.reason}`);
    if (j.verdict !== 'allow') return false;
    if (ct.state === 'new') {
      z.commit(ct.conn);
      trace.push(`${who}: connection committed in zone ${lp.ofport}`);
    }
    return true;
  }

  /**
   * The network a packet from the uplink belongs to (docs/pipeline.md, "The uplink"): the
   * first network, by id, with the packet's VLAN id (untagged: without one).
   */
  private uplinkNetwork(p: Packet): string | undefined {
    const tag = p.vlan ?? null;
    return [...this.policy.networks.values()]
      .filter((n) => n.vlan === tag)
      .map((n) => n.id)
      .sort()[0];
  }

  deliver(inPort: number, packet: Packet): Delivery {
    const trace: string[] = [];
    const outputs = new Set<number>();
    const fromUplink = this.uplink !== undefined && inPort === this.uplink;
    let networkId: string | undefined;
    let sender: LocalPort | undefined;
    if (fromUplink) {
      networkId = this.uplinkNetwork(packet);
      if (networkId === undefined) {
        trace.push(`from the uplink with VLAN ${packet.vlan ?? 'none'}: no such network: drop`);
        return { outputs: [], trace };
      }
      trace.push(`from the uplink: network ${networkId}`);
    } else {
      sender = this.ports.find((lp) => lp.ofport === inPort);
      const port = sender && this.portOf(sender);
      if (!sender || !port) {
        trace.push(`in_port ${inPort} is not a local port: drop`);
        return { outputs: [], trace };
      }
      networkId = port.networkId;
      if (!this.pass(sender, 'egress', packet, trace)) return { outputs: [], trace };
    }
    const onNetwork = this.ports.filter((lp) => this.portOf(lp)?.networkId === networkId);
    const receivers: LocalPort[] = [];
    let toUplink: boolean;
    if (isMulticastMac(packet.ethDst)) {
      receivers.push(...onNetwork.filter((lp) => lp !== sender));
      toUplink = !fromUplink;
      trace.push(
        `forward: ${formatMac(packet.ethDst)} is broadcast/multicast: ${receivers.length} local port(s)`,
      );
    } else {
      // Every local port of the network that claims the MAC: as its own MAC or as an
      // allowed-address-pair MAC (docs/pipeline.md, Forward).
      const claimants = onNetwork.filter((lp) => {
        const port = this.portOf(lp);
        return port !== undefined && portMacs(port).includes(packet.ethDst);
      });
      const owned = claimants.some((lp) => this.portOf(lp)?.mac === packet.ethDst);
      receivers.push(...claimants.filter((lp) => lp !== sender));
      if (claimants.length === 0) {
        toUplink = !fromUplink;
        trace.push(`forward: ${formatMac(packet.ethDst)} is not local`);
      } else {
        // A pair MAC (a VRRP virtual MAC) may also be claimed on another host: it also goes
        // out of the uplink. A port's own MAC is known to be here.
        toUplink = !owned && !fromUplink;
        trace.push(
          `forward: ${formatMac(packet.ethDst)} is ${owned ? 'the MAC' : 'a pair MAC'} of ${claimants.map((lp) => lp.portId).join(', ')}`,
        );
        if (sender !== undefined && claimants.includes(sender))
          trace.push('forward: not back to the sender itself');
      }
    }
    if (toUplink) {
      if (this.uplink !== undefined) {
        outputs.add(this.uplink);
        const vlan = this.policy.networks.get(networkId)?.vlan ?? null;
        trace.push(
          `output to the uplink (ofport ${this.uplink}${vlan === null ? ', untagged' : `, VLAN ${vlan}`})`,
        );
      } else {
        trace.push('no uplink: not sent out');
      }
    }
    for (const r of receivers) {
      if (this.pass(r, 'ingress', packet, trace)) {
        outputs.add(r.ofport);
        trace.push(`output to ${r.portId} (ofport ${r.ofport})`);
      }
    }
    return { outputs: [...outputs].sort((a, b) => a - b), trace };
  }
}
