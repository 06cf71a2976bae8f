/**
 * Normalisation: validated Neutron resources → the `NormalizedPolicy` that the reference
 * semantics and the compiler read.
 *
 * Produces: rules with IP protocol numbers, parsed port ranges, ICMP type/code and a
 * `RemoteSpec` (`0.0.0.0/0` and `::/0` become `any`); ports with their bound (MAC, CIDR)
 * pairs and statefulness; groups, networks and address groups keyed by id.
 *
 * Invariant: every id a normalised resource refers to exists in the result (or this throws
 * the Neutron error for the missing thing); no port mixes stateful and stateless groups; maps
 * and lists are in id order, so equal policies normalise to equal values whatever the input
 * order. Pure.
 */
import {
  anyCidr,
  formatMac,
  hostCidr,
  isAnyCidr,
  parseCidr,
  parseIp,
  parseMac,
  cidrEquals,
  compareCidr,
  familyOfEthertype,
  formatCidr,
} from './addr.js';
import { SgflowError } from './errors.js';
import { isIcmpProtocol, isPortProtocol, protocolNumber } from './protocols.js';
import type {
  AddressBinding,
  Cidr,
  NormalizedGroup,
  NormalizedNetwork,
  NormalizedPolicy,
  NormalizedPort,
  NormalizedRule,
  Policy,
  PortRange,
  RemoteSpec,
  SecurityGroupRule,
} from './types.js';
import { checkRule, joinPath } from './validate.js';

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function indexById<T extends { id: string }>(
  items: readonly T[],
  kind: string,
  path: string,
): Map<string, T> {
  const m = new Map<string, T>();
  items.forEach((item, i) => {
    if (m.has(item.id)) {
      throw new SgflowError('DUPLICATE_ID', {
        kind,
        id: item.id,
        field: joinPath(joinPath(path, i), 'id'),
      });
    }
    m.set(item.id, item);
  });
  return m;
}

function range(min: number | null, max: number | null): PortRange | null {
  return min === null || max === null ? null : { min, max };
}

/** One rule, already checked by `checkRule`, in the form enforcement reads. */
export function normalizeRule(rule: SecurityGroupRule): NormalizedRule {
  const protocol = protocolNumber(rule.protocol, rule.ethertype);
  let remote: RemoteSpec = { kind: 'any' };
  if (rule.remote_group_id !== null) remote = { kind: 'group', groupId: rule.remote_group_id };
  else if (rule.remote_address_group_id !== null) {
    remote = { kind: 'addressGroup', addressGroupId: rule.remote_address_group_id };
  } else if (rule.remote_ip_prefix !== null) {
    const cidr = parseCidr(rule.remote_ip_prefix);
    if (!isAnyCidr(cidr)) remote = { kind: 'prefix', cidr };
  }
  const ports = isPortProtocol(protocol);
  const icmp = isIcmpProtocol(protocol);
  return {
    id: rule.id,
    groupId: rule.security_group_id,
    direction: rule.direction,
    ethertype: rule.ethertype,
    protocol,
    dstPorts: ports ? range(rule.port_range_min, rule.port_range_max) : null,
    srcPorts: ports ? range(rule.source_port_range_min, rule.source_port_range_max) : null,
    icmpType: icmp ? rule.port_range_min : null,
    icmpCode: icmp && rule.port_range_min !== null ? rule.port_range_max : null,
    remote,
  };
}

/**
 * Checks the references and constraints that span resources and builds the normalised
 * policy. Errors: DUPLICATE_ID, SG_NOT_FOUND (a rule's group or remote group, a port's
 * group), ADDRESS_GROUP_NOT_FOUND, NETWORK_NOT_FOUND, SG_MIXED_STATEFULNESS, and the rule
 * checks of `checkRule`; each error's `field` is the path of the offending field.
 */
export function normalizePolicy(policy: Policy): NormalizedPolicy {
  const networksById = indexById(policy.networks, 'network', 'networks');
  const portsById = indexById(policy.ports, 'port', 'ports');
  const groupsById = indexById(policy.security_groups, 'security group', 'security_groups');
  indexById(policy.security_group_rules, 'security group rule', 'security_group_rules');
  const addressGroupsById = indexById(policy.address_groups, 'address group', 'address_groups');

  const addressGroups = new Map<string, readonly Cidr[]>();
  for (const [i, ag] of policy.address_groups.entries()) {
    const cidrs: Cidr[] = [];
    ag.addresses.forEach((a, j) => {
      const c = parseCidr(a, `address_groups[${i}].addresses[${j}]`);
      if (!cidrs.some((x) => cidrEquals(x, c))) cidrs.push(c);
    });
    cidrs.sort(compareCidr);
    addressGroups.set(ag.id, cidrs);
  }

  const rulesByGroup = new Map<string, NormalizedRule[]>();
  policy.security_group_rules.forEach((rule, i) => {
    const path = `security_group_rules[${i}]`;
    if (!groupsById.has(rule.security_group_id)) {
      throw new SgflowError('SG_NOT_FOUND', {
        id: rule.security_group_id,
        field: `${path}.security_group_id`,
      });
    }
    if (rule.remote_group_id !== null && !groupsById.has(rule.remote_group_id)) {
      throw new SgflowError('SG_NOT_FOUND', {
        id: rule.remote_group_id,
        field: `${path}.remote_group_id`,
      });
    }
    if (
      rule.remote_address_group_id !== null &&
      !addressGroupsById.has(rule.remote_address_group_id)
    ) {
      throw new SgflowError('ADDRESS_GROUP_NOT_FOUND', {
        id: rule.remote_address_group_id,
        field: `${path}.remote_address_group_id`,
      });
    }
    checkRule(rule, path);
    const list = rulesByGroup.get(rule.security_group_id) ?? [];
    list.push(normalizeRule(rule));
    rulesByGroup.set(rule.security_group_id, list);
  });

  const groups = new Map<string, NormalizedGroup>();
  for (const g of [...groupsById.values()].sort(byId)) {
    groups.set(g.id, {
      id: g.id,
      stateful: g.stateful,
      rules: (rulesByGroup.get(g.id) ?? []).sort(byId),
    });
  }

  const networks = new Map<string, NormalizedNetwork>();
  for (const n of [...networksById.values()].sort(byId)) {
    const type = n['provider:network_type'] ?? null;
    const vlan = type === null || type === 'vlan' ? (n['provider:segmentation_id'] ?? null) : null;
    networks.set(n.id, {
      id: n.id,
      portSecurity: n.port_security_enabled,
      vlan,
      mode: n.enforcement_mode ?? null,
    });
  }

  const ports = new Map<string, NormalizedPort>();
  const portIndex = new Map(policy.ports.map((p, i) => [p.id, i]));
  for (const p of [...portsById.values()].sort(byId)) {
    const path = `ports[${portIndex.get(p.id)!}]`;
    if (!networksById.has(p.network_id)) {
      throw new SgflowError('NETWORK_NOT_FOUND', { id: p.network_id, field: `${path}.network_id` });
    }
    const mac = parseMac(p.mac_address, `${path}.mac_address`);
    const addresses: AddressBinding[] = [];
    const bind = (b: AddressBinding): void => {
      if (!addresses.some((x) => x.mac === b.mac && cidrEquals(x.cidr, b.cidr))) addresses.push(b);
    };
    p.fixed_ips.forEach((f, j) => {
      const ip = parseIp(f.ip_address, `${path}.fixed_ips[${j}].ip_address`);
      bind({ mac, cidr: hostCidr(ip.family, ip.addr) });
    });
    p.allowed_address_pairs.forEach((a, j) => {
      const pairMac = a.mac_address
        ? parseMac(a.mac_address, `${path}.allowed_address_pairs[${j}].mac_address`)
        : mac;
      bind({
        mac: pairMac,
        cidr: parseCidr(a.ip_address, `${path}.allowed_address_pairs[${j}].ip_address`),
      });
    });

    if (!p.port_security_enabled && p.security_groups.length > 0) {
      throw new SgflowError('PORT_SECURITY_CONFLICT', { field: `${path}.security_groups` });
    }
    const groupIds = [...new Set(p.security_groups)].sort();
    groupIds.forEach((gid) => {
      if (!groupsById.has(gid)) {
        const j = p.security_groups.indexOf(gid);
        throw new SgflowError('SG_NOT_FOUND', { id: gid, field: `${path}.security_groups[${j}]` });
      }
    });
    const stateless = groupIds.filter((gid) => !groupsById.get(gid)!.stateful);
    if (stateless.length > 0 && stateless.length < groupIds.length) {
      throw new SgflowError('SG_MIXED_STATEFULNESS', {
        port: p.id,
        groups: groupIds
          .map((gid) => `${gid} (${groupsById.get(gid)!.stateful ? 'stateful' : 'stateless'})`)
          .join(', '),
        field: `${path}.security_groups`,
      });
    }
    ports.set(p.id, {
      id: p.id,
      networkId: p.network_id,
      mac,
      addresses,
      groupIds,
      portSecurity: p.port_security_enabled,
      stateful: stateless.length === 0,
    });
  }

  return { networks, ports, groups, addressGroups };
}

const memberCache = new WeakMap<NormalizedPolicy, Map<string, Cidr[]>>();

/**
 * Remote-group membership: group id → the bound CIDRs (fixed IPs and allowed address pairs)
 * of every port that has the group, on any host, both families, sorted, deduplicated.
 * Computed once per normalised policy.
 */
export function groupMemberCidrs(policy: NormalizedPolicy): ReadonlyMap<string, readonly Cidr[]> {
  const cached = memberCache.get(policy);
  if (cached) return cached;
  const all = new Map<string, Cidr[]>();
  for (const port of policy.ports.values()) {
    for (const gid of port.groupIds) {
      const list = all.get(gid) ?? [];
      for (const b of port.addresses) list.push(b.cidr);
      all.set(gid, list);
    }
  }
  for (const [gid, list] of all) all.set(gid, sortedUnique(list));
  memberCache.set(policy, all);
  return all;
}

function sortedUnique(list: Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  for (const c of [...list].sort(compareCidr)) {
    const last = out[out.length - 1];
    if (!last || !cidrEquals(last, c)) out.push(c);
  }
  return out;
}

/**
 * The CIDRs of a remote spec for an ethertype: a remote group's members' bound addresses
 * (see groupMemberCidrs), an address group's CIDRs, the prefix, or the whole family for
 * `any`. Sorted, deduplicated.
 */
export function remoteCidrs(
  policy: NormalizedPolicy,
  remote: RemoteSpec,
  ethertype: 'IPv4' | 'IPv6',
): Cidr[] {
  const family = familyOfEthertype(ethertype);
  switch (remote.kind) {
    case 'any':
      return [anyCidr(family)];
    case 'prefix':
      return remote.cidr.family === family ? [remote.cidr] : [];
    case 'addressGroup':
      return (policy.addressGroups.get(remote.addressGroupId) ?? []).filter(
        (c) => c.family === family,
      );
    case 'group':
      return (groupMemberCidrs(policy).get(remote.groupId) ?? []).filter(
        (c) => c.family === family,
      );
  }
}

/** Debug form of a binding, e.g. `02:00:00:00:01:01 10.1.0.11/32`. */
export function formatBinding(b: AddressBinding): string {
  return `${formatMac(b.mac)} ${formatCidr(b.cidr)}`;
}

export { loadPolicyDocument, validatePolicyDocument } from './policy-file.js';
