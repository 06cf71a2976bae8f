/**
 * `judge`: does a port's policy let this packet through in this direction, given its
 * connection state? The spec of DESIGN.md §4 in code: port security first, then (for IP)
 * the rules of the direction that opened the connection, judged on the connection's
 * original-direction tuple (docs/pipeline.md, "Key idea").
 *
 * Produces a `Judgement`: the verdict, the reason in words, and every rule that matched.
 * Invariant: a stateless port ignores connection state; a reply is judged by the rules of the
 * opposite direction; a protocol conntrack tracks no ports for (SCTP, DCCP, UDP-Lite, ...) is
 * judged on the packet's own ports (swapped for replies).
 */
import { SgflowError } from '../model/errors.js';
import { PORTED_PROTOCOLS, type Packet } from '../model/packet.js';
import {
  IpProto,
  type Direction,
  type NormalizedPolicy,
  type NormalizedRule,
} from '../model/types.js';
import { egressPortSecurity, ingressPortSecurity } from './port-security.js';
import { rulesMatching, type JudgedTuple } from './rules.js';

export interface ConnContext {
  state: 'new' | 'established' | 'related';
  /** The packet travels opposite to the connection's original direction. */
  reply: boolean;
  /** The connection's original-direction tuple (for `new`: the packet's own). */
  original: JudgedTuple;
}

export interface Judgement {
  verdict: 'allow' | 'deny';
  reason: string;
  /** The rules that allowed it (every one that matches); empty when port security decided. */
  rules: NormalizedRule[];
}

export function opposite(d: Direction): Direction {
  return d === 'ingress' ? 'egress' : 'ingress';
}

/** The packet's own tuple (what a stateless rule, or a new connection, is judged on). */
export function tupleOfPacket(p: Packet): JudgedTuple | null {
  const ip = p.ip;
  if (!ip) return null;
  const ported = PORTED_PROTOCOLS.includes(ip.proto) && p.l4 !== undefined;
  const icmp =
    (ip.proto === IpProto.ICMP && ip.family === 4) ||
    (ip.proto === IpProto.ICMPV6 && ip.family === 6);
  return {
    family: ip.family,
    src: ip.src,
    dst: ip.dst,
    proto: ip.proto,
    srcPort: ported ? p.l4!.src : null,
    dstPort: ported ? p.l4!.dst : null,
    icmpType: icmp && p.icmp ? p.icmp.type : null,
    icmpCode: icmp && p.icmp ? p.icmp.code : null,
  };
}

/** Protocols conntrack tracks ports (or ICMP type/code) for. */
function trackedPorts(t: JudgedTuple): boolean {
  return (
    t.proto === IpProto.TCP ||
    t.proto === IpProto.UDP ||
    (t.family === 4 && t.proto === IpProto.ICMP) ||
    (t.family === 6 && t.proto === IpProto.ICMPV6)
  );
}

/**
 * The tuple the rules judge for a packet of a connection: the connection's original tuple,
 * except that for protocols conntrack tracks no ports for, the ports are the packet's own
 * (in original-direction order), or none when the packet shows none.
 */
export function judgedTuple(conn: ConnContext, p: Packet): JudgedTuple {
  const o = conn.original;
  if (trackedPorts(o)) return o;
  const own = tupleOfPacket(p);
  const hasPorts =
    own !== null && own.proto === o.proto && own.srcPort !== null && own.dstPort !== null;
  if (!hasPorts) return { ...o, srcPort: null, dstPort: null };
  return conn.reply
    ? { ...o, srcPort: own.dstPort, dstPort: own.srcPort }
    : { ...o, srcPort: own.srcPort, dstPort: own.dstPort };
}

function describeRules(rules: NormalizedRule[]): string {
  return rules.map((r) => `${r.groupId}/${r.id}`).join(', ');
}

/**
 * Judges `packet` crossing `portId` in `direction`. `conn` is the connection state the
 * packet has in the port's zone (omit for a packet that opens a new connection).
 */
export function judge(
  policy: NormalizedPolicy,
  portId: string,
  direction: Direction,
  packet: Packet,
  conn?: ConnContext,
): Judgement {
  const port = policy.ports.get(portId);
  if (!port) throw new SgflowError('PORT_NOT_FOUND', { id: portId });
  if (!port.portSecurity) return { verdict: 'allow', reason: 'port security disabled', rules: [] };
  const ps =
    direction === 'egress' ? egressPortSecurity(port, packet) : ingressPortSecurity(packet);
  if (ps.kind === 'allow')
    return { verdict: 'allow', reason: `always allowed: ${ps.reason}`, rules: [] };
  if (ps.kind === 'drop')
    return { verdict: 'deny', reason: `port security: ${ps.reason}`, rules: [] };

  const own = tupleOfPacket(packet)!;
  const stateful = port.stateful && conn !== undefined;
  const tuple = stateful ? judgedTuple(conn, packet) : own;
  const ruleDirection = stateful && conn.reply ? opposite(direction) : direction;
  const rules = rulesMatching(policy, port, ruleDirection, tuple);
  const what = stateful
    ? conn.state === 'new'
      ? 'new connection'
      : `${conn.state} connection${conn.reply ? ' (reply)' : ''} opened by ${ruleDirection}`
    : 'packet';
  if (rules.length === 0) {
    return { verdict: 'deny', reason: `no ${ruleDirection} rule allows this ${what}`, rules: [] };
  }
  return {
    verdict: 'allow',
    reason: `${what} allowed by ${ruleDirection} rule(s) ${describeRules(rules)}`,
    rules,
  };
}
