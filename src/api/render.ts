/**
 * Stored resources → Neutron's response bodies: adds the fields Neutron always shows
 * (tenant_id beside project_id, a group's rules, a network's status and MTU, ...), so
 * clients written for Neutron find every key they expect.
 *
 * Invariant: rendering adds keys and never changes a stored value, so a rendered resource
 * filters and sorts on the same values the store holds.
 */
import { canonicalCidr } from '../model/addr.js';
import type {
  Kind,
  ResourceOf,
  StoredAddressGroup,
  StoredNetwork,
  StoredPort,
  StoredSecurityGroup,
  StoredSecurityGroupRule,
} from '../store/index.js';

export type Rendered = Record<string, unknown> & { id: string };

export const DEFAULT_GROUP_NAME = 'default';

function common(v: { project_id: string; description?: string; tags?: string[] }) {
  return { tenant_id: v.project_id, description: v.description ?? '', tags: v.tags ?? [] };
}

export function renderRule(r: StoredSecurityGroupRule, groupIsDefault: boolean): Rendered {
  return {
    ...r,
    ...common(r),
    // The prefix as given, its network here (Neutron's security-groups-normalized-cidr).
    normalized_cidr: r.remote_ip_prefix === null ? null : canonicalCidr(r.remote_ip_prefix),
    belongs_to_default_sg: groupIsDefault,
  };
}

export function renderGroup(g: StoredSecurityGroup, rules: StoredSecurityGroupRule[]): Rendered {
  const isDefault = g.name === DEFAULT_GROUP_NAME;
  return {
    ...g,
    ...common(g),
    shared: false,
    security_group_rules: rules.map((r) => renderRule(r, isDefault)),
  };
}

export function renderNetwork(n: StoredNetwork): Rendered {
  return {
    status: 'ACTIVE',
    admin_state_up: true,
    mtu: 1500,
    subnets: [],
    'router:external': false,
    'provider:network_type': null,
    'provider:physical_network': null,
    'provider:segmentation_id': null,
    enforcement_mode: null,
    ...n,
    ...common(n),
  };
}

export function renderPort(p: StoredPort): Rendered {
  return {
    status: 'DOWN',
    admin_state_up: true,
    'binding:vnic_type': 'normal',
    ...p,
    ...common(p),
    // Neutron shows every pair with its MAC; a pair given without one uses the port's.
    allowed_address_pairs: p.allowed_address_pairs.map((a) => ({
      ip_address: a.ip_address,
      mac_address: a.mac_address ?? p.mac_address,
    })),
  };
}

export function renderAddressGroup(a: StoredAddressGroup): Rendered {
  return { ...a, ...common(a) };
}

/** Everything but groups (whose rules come from elsewhere) renders from the value alone. */
export function renderSimple<K extends Exclude<Kind, 'security_group'>>(
  kind: K,
  value: ResourceOf<K>,
  groupIsDefault = false,
): Rendered {
  switch (kind) {
    case 'network':
      return renderNetwork(value as StoredNetwork);
    case 'port':
      return renderPort(value as StoredPort);
    case 'address_group':
      return renderAddressGroup(value as StoredAddressGroup);
    default:
      return renderRule(value as StoredSecurityGroupRule, groupIsDefault);
  }
}
