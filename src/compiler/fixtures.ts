/**
 * Small builders of Neutron resources for the compiler's tests and benchmarks: a port, a
 * group, a rule with Neutron's defaults, normalised with the model's `normalizePolicy`.
 */
import { normalizePolicy } from '../model/policy.js';
import type {
  NormalizedPolicy,
  Policy,
  Port,
  SecurityGroup,
  SecurityGroupRule,
  Network,
} from '../model/types.js';

export function network(id: string, extra: Partial<Network> = {}): Network {
  return { id, project_id: 'p', name: id, port_security_enabled: true, shared: false, ...extra };
}

export function port(
  id: string,
  networkId: string,
  mac: string,
  ips: string[],
  groups: string[],
  extra: Partial<Port> = {},
): Port {
  return {
    id,
    project_id: 'p',
    network_id: networkId,
    name: id,
    mac_address: mac,
    fixed_ips: ips.map((ip_address) => ({ ip_address })),
    allowed_address_pairs: [],
    security_groups: groups,
    port_security_enabled: true,
    device_owner: 'compute:nova',
    device_id: id,
    'binding:host_id': 'host1',
    ...extra,
  };
}

export function group(id: string, stateful = true): SecurityGroup {
  return { id, project_id: 'p', name: id, description: '', stateful };
}

export function rule(
  id: string,
  groupId: string,
  r: Partial<SecurityGroupRule>,
): SecurityGroupRule {
  return {
    id,
    project_id: 'p',
    security_group_id: groupId,
    direction: 'ingress',
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
    ...r,
  };
}

export function policy(p: Partial<Policy>): Policy {
  return {
    networks: p.networks ?? [],
    ports: p.ports ?? [],
    security_groups: p.security_groups ?? [],
    security_group_rules: p.security_group_rules ?? [],
    address_groups: p.address_groups ?? [],
  };
}

export function normalized(p: Partial<Policy>): NormalizedPolicy {
  return normalizePolicy(policy(p));
}

/** A MAC from a small number: 02:00:00:00:hh:ll. */
export function macOf(n: number): string {
  return `02:00:00:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * A demo policy: one network, web servers and an admin host, a stateless group, every rule
 * shape (ports, source ports, ICMP, remote group / prefix / address group, IPv6, SCTP, DCCP).
 */
export function demoPolicy(): { policy: Policy; localPorts: { portId: string; ofport: number }[] } {
  const p = policy({
    networks: [
      network('net1', { 'provider:segmentation_id': 100, 'provider:network_type': 'vlan' }),
    ],
    security_groups: [group('web'), group('admin'), group('raw', false)],
    address_groups: [
      {
        id: 'ag1',
        project_id: 'p',
        name: 'ag1',
        description: '',
        addresses: ['192.168.0.0/24', '172.16.5.0/28'],
      },
    ],
    ports: [
      port('web1', 'net1', macOf(1), ['10.1.0.1', 'fd00:1::1'], ['web']),
      port('web2', 'net1', macOf(2), ['10.1.0.2', 'fd00:1::2'], ['web', 'admin'], {
        allowed_address_pairs: [{ ip_address: '10.1.5.0/24', mac_address: '02:00:00:00:aa:bb' }],
      }),
      port('raw1', 'net1', macOf(3), ['10.1.0.3'], ['raw']),
      port('open1', 'net1', macOf(4), ['10.1.0.4'], [], { port_security_enabled: false }),
      port('remote1', 'net1', macOf(5), ['10.1.0.5', 'fd00:1::5'], ['admin'], {
        'binding:host_id': 'host2',
      }),
    ],
    security_group_rules: [
      rule('w-80', 'web', { protocol: 'tcp', port_range_min: 80, port_range_max: 80 }),
      rule('w-443', 'web', { protocol: 'tcp', port_range_min: 443, port_range_max: 443 }),
      rule('w-8k', 'web', {
        protocol: 'tcp',
        port_range_min: 8000,
        port_range_max: 8999,
        remote_ip_prefix: '10.0.0.0/8',
      }),
      rule('w-src', 'web', {
        protocol: 'udp',
        port_range_min: 1000,
        port_range_max: 1999,
        source_port_range_min: 1,
        source_port_range_max: 65534,
        remote_ip_prefix: '10.0.0.0/8',
      }),
      rule('w-ping', 'web', { protocol: 'icmp', port_range_min: 8, port_range_max: 0 }),
      rule('w-ping6', 'web', { ethertype: 'IPv6', protocol: 'icmp', port_range_min: 128 }),
      rule('w-ssh', 'web', {
        protocol: 'tcp',
        port_range_min: 22,
        port_range_max: 22,
        remote_group_id: 'admin',
      }),
      rule('w-ag', 'web', {
        protocol: 'udp',
        port_range_min: 53,
        port_range_max: 53,
        remote_address_group_id: 'ag1',
      }),
      rule('w-sctp', 'web', { protocol: 'sctp', port_range_min: 5000, port_range_max: 5001 }),
      rule('w-dccp', 'web', { protocol: 'dccp', port_range_min: 6000, port_range_max: 6000 }),
      rule('w-out4', 'web', { direction: 'egress' }),
      rule('w-out6', 'web', { direction: 'egress', ethertype: 'IPv6' }),
      rule('a-in', 'admin', {
        protocol: 'tcp',
        port_range_min: 1024,
        port_range_max: 65535,
        remote_ip_prefix: '10.1.0.0/16',
      }),
      rule('a-v6', 'admin', { ethertype: 'IPv6', remote_group_id: 'admin' }),
      rule('r-udp', 'raw', { protocol: 'udp', port_range_min: 53, port_range_max: 53 }),
      rule('r-out', 'raw', {
        direction: 'egress',
        protocol: 'udp',
        source_port_range_min: 53,
        source_port_range_max: 53,
      }),
    ],
  });
  return {
    policy: p,
    localPorts: [
      { portId: 'web1', ofport: 1 },
      { portId: 'web2', ofport: 2 },
      { portId: 'raw1', ofport: 3 },
      { portId: 'open1', ofport: 4 },
    ],
  };
}
