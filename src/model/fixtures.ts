/**
 * Builders for tests (ours and other layers'): a resource with Neutron's defaults and only
 * the fields a test cares about. Produces plain `Policy` resources; does not validate them
 * (pass the result to `normalizePolicy` for that).
 */
import type {
  AddressGroup,
  Network,
  Policy,
  Port,
  SecurityGroup,
  SecurityGroupRule,
} from './types.js';

export function network(p: Partial<Network> & { id: string }): Network {
  return {
    project_id: 'default',
    name: p.id,
    port_security_enabled: true,
    shared: false,
    'provider:segmentation_id': null,
    'provider:network_type': null,
    enforcement_mode: null,
    ...p,
  };
}

export function port(
  p: Partial<Port> & { id: string; network_id: string; mac_address: string },
): Port {
  return {
    project_id: 'default',
    name: p.id,
    fixed_ips: [],
    allowed_address_pairs: [],
    security_groups: [],
    port_security_enabled: true,
    device_owner: '',
    device_id: '',
    'binding:host_id': '',
    ...p,
  };
}

export function group(p: Partial<SecurityGroup> & { id: string }): SecurityGroup {
  return { project_id: 'default', name: p.id, description: '', stateful: true, ...p };
}

export function rule(
  p: Partial<SecurityGroupRule> & {
    id: string;
    security_group_id: string;
    direction: SecurityGroupRule['direction'];
  },
): SecurityGroupRule {
  return {
    project_id: 'default',
    ethertype: 'IPv4',
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    source_port_range_min: null,
    source_port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: null,
    remote_address_group_id: null,
    description: '',
    ...p,
  };
}

export function addressGroup(p: Partial<AddressGroup> & { id: string }): AddressGroup {
  return { project_id: 'default', name: p.id, description: '', addresses: [], ...p };
}

export function policy(p: Partial<Policy>): Policy {
  return {
    networks: [],
    ports: [],
    security_groups: [],
    security_group_rules: [],
    address_groups: [],
    ...p,
  };
}
