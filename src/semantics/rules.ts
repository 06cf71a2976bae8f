/**
 * Which security-group rules match a connection tuple (DESIGN.md §4), written to be read.
 *
 * Produces: `rulesMatching(policy, port, direction, tuple)`: every rule of the port's groups of
 * that direction whose ethertype, protocol, ports, ICMP type/code and remote side all match.
 * Invariant: the remote side is the tuple's source for ingress rules, its destination for
 * egress rules; a port range or ICMP type the tuple does not carry never matches.
 */
import { cidrContains } from '../model/addr.js';
import type {
  Cidr,
  Direction,
  IpFamily,
  NormalizedPolicy,
  NormalizedPort,
  NormalizedRule,
  RemoteSpec,
} from '../model/types.js';

/**
 * What a rule is judged against: the original direction of a connection (or, stateless, the
 * packet itself). Ports are null when the tuple carries none (not a ported protocol, or a
 * protocol conntrack does not track ports for and the packet shows none); ICMP type/code are
 * null unless the tuple is ICMP / ICMPv6.
 */
export interface JudgedTuple {
  family: IpFamily;
  src: bigint;
  dst: bigint;
  proto: number;
  srcPort: number | null;
  dstPort: number | null;
  icmpType: number | null;
  icmpCode: number | null;
}

/** The CIDRs of every port in `groupId` (fixed IPs and allowed address pairs), any host. */
export function remoteGroupCidrs(policy: NormalizedPolicy, groupId: string): Cidr[] {
  const out: Cidr[] = [];
  for (const p of policy.ports.values()) {
    if (!p.groupIds.includes(groupId)) continue;
    for (const b of p.addresses) out.push(b.cidr);
  }
  return out;
}

function remoteMatches(
  policy: NormalizedPolicy,
  remote: RemoteSpec,
  family: IpFamily,
  addr: bigint,
): boolean {
  switch (remote.kind) {
    case 'any':
      return true;
    case 'prefix':
      return cidrContains(remote.cidr, family, addr);
    case 'group':
      return remoteGroupCidrs(policy, remote.groupId).some((c) => cidrContains(c, family, addr));
    case 'addressGroup':
      return (policy.addressGroups.get(remote.addressGroupId) ?? []).some((c) =>
        cidrContains(c, family, addr),
      );
  }
}

function inRange(value: number | null, range: { min: number; max: number } | null): boolean {
  if (range === null) return true;
  return value !== null && value >= range.min && value <= range.max;
}

/** Does `rule` (of the given direction) match `tuple`? */
export function ruleMatches(
  policy: NormalizedPolicy,
  rule: NormalizedRule,
  tuple: JudgedTuple,
): boolean {
  if ((rule.ethertype === 'IPv4' ? 4 : 6) !== tuple.family) return false;
  if (rule.protocol !== null && rule.protocol !== tuple.proto) return false;
  if (!inRange(tuple.dstPort, rule.dstPorts)) return false;
  if (!inRange(tuple.srcPort, rule.srcPorts)) return false;
  if (rule.icmpType !== null && rule.icmpType !== tuple.icmpType) return false;
  if (rule.icmpCode !== null && rule.icmpCode !== tuple.icmpCode) return false;
  const remoteAddr = rule.direction === 'ingress' ? tuple.src : tuple.dst;
  return remoteMatches(policy, rule.remote, tuple.family, remoteAddr);
}

/** Every rule of `port`'s groups with `direction` that matches `tuple`, in group then rule order. */
export function rulesMatching(
  policy: NormalizedPolicy,
  port: NormalizedPort,
  direction: Direction,
  tuple: JudgedTuple,
): NormalizedRule[] {
  const out: NormalizedRule[] = [];
  for (const gid of port.groupIds) {
    const group = policy.groups.get(gid);
    if (!group) continue;
    for (const rule of group.rules) {
      if (rule.direction === direction && ruleMatches(policy, rule, tuple)) out.push(rule);
    }
  }
  return out;
}
