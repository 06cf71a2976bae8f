/**
 * The reference workload W(P, R) of shared/BENCH.md: one network net1 (10.1.0.0/16,
 * fd00:1::/64, VLAN 100 on the uplink), groups `default`, `web`, `admin`; P local ports in
 * default + web (every 10th also admin), R remote ports in default (every 10th also admin).
 */
import { group, macOf, network, policy, port, rule } from '../../src/compiler/fixtures.js';
import type { Policy, Port, SecurityGroupRule } from '../../src/model/types.js';

export const UPLINK_OFPORT = 60000;

function addrOf(i: number): { v4: string; v6: string } {
  const n = i + 1;
  return { v4: `10.1.${(n >> 8) & 255}.${n & 255}`, v6: `fd00:1::${n.toString(16)}` };
}

export function localPort(i: number): Port {
  const a = addrOf(i);
  const groups = i % 10 === 0 ? ['default', 'web', 'admin'] : ['default', 'web'];
  return port(`local-${i}`, 'net1', macOf(i + 1), [a.v4, a.v6], groups, {
    'binding:host_id': 'bench',
  });
}

export function remotePort(j: number, p: number): Port {
  const a = addrOf(p + j);
  const groups = j % 10 === 0 ? ['default', 'admin'] : ['default'];
  return port(`remote-${j}`, 'net1', macOf(p + j + 1), [a.v4, a.v6], groups, {
    'binding:host_id': 'elsewhere',
  });
}

export const WORKLOAD_RULES: SecurityGroupRule[] = [
  rule('default-eg4', 'default', { direction: 'egress', ethertype: 'IPv4' }),
  rule('default-eg6', 'default', { direction: 'egress', ethertype: 'IPv6' }),
  rule('default-in4', 'default', { ethertype: 'IPv4', remote_group_id: 'default' }),
  rule('default-in6', 'default', { ethertype: 'IPv6', remote_group_id: 'default' }),
  rule('web-80', 'web', {
    protocol: 'tcp',
    port_range_min: 80,
    port_range_max: 80,
    remote_ip_prefix: '0.0.0.0/0',
  }),
  rule('web-443', 'web', {
    protocol: 'tcp',
    port_range_min: 443,
    port_range_max: 443,
    remote_ip_prefix: '0.0.0.0/0',
  }),
  rule('web-8k', 'web', {
    protocol: 'tcp',
    port_range_min: 8000,
    port_range_max: 8999,
    remote_ip_prefix: '10.0.0.0/8',
  }),
  rule('web-dns', 'web', {
    protocol: 'udp',
    port_range_min: 53,
    port_range_max: 53,
    remote_ip_prefix: '10.0.0.0/8',
  }),
  rule('web-ping', 'web', { protocol: 'icmp', port_range_min: 8, remote_ip_prefix: '0.0.0.0/0' }),
  rule('web-ssh', 'web', {
    protocol: 'tcp',
    port_range_min: 22,
    port_range_max: 22,
    remote_group_id: 'admin',
  }),
  rule('admin-eg4', 'admin', { direction: 'egress', ethertype: 'IPv4' }),
  rule('admin-high', 'admin', {
    protocol: 'tcp',
    port_range_min: 1024,
    port_range_max: 65535,
    remote_ip_prefix: '10.1.0.0/16',
  }),
];

export function workload(
  p: number,
  r: number,
): { policy: Policy; localPorts: { portId: string; ofport: number }[] } {
  const ports: Port[] = [];
  for (let i = 0; i < p; i++) ports.push(localPort(i));
  for (let j = 0; j < r; j++) ports.push(remotePort(j, p));
  return {
    policy: policy({
      networks: [
        network('net1', { 'provider:network_type': 'vlan', 'provider:segmentation_id': 100 }),
      ],
      security_groups: [group('default'), group('web'), group('admin')],
      ports,
      security_group_rules: WORKLOAD_RULES,
    }),
    localPorts: ports.slice(0, p).map((x, i) => ({ portId: x.id, ofport: i + 1 })),
  };
}
