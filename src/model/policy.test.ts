import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { groupMemberCidrs, normalizePolicy, normalizeRule, remoteCidrs } from './policy.js';
import { validateRuleInput } from './validate.js';
import { protocolNumber } from './protocols.js';
import { SgflowError } from './errors.js';
import { formatCidr, parseCidr, parseMac } from './addr.js';
import * as F from './fixtures.js';
import type { Policy } from './types.js';

function demo(): Policy {
  return F.policy({
    networks: [F.network({ id: 'net1', 'provider:segmentation_id': 10 })],
    ports: [
      F.port({
        id: 'vm1',
        network_id: 'net1',
        mac_address: '02:00:00:00:01:01',
        fixed_ips: [{ ip_address: '10.1.0.11' }, { ip_address: 'fd00:1::11' }],
        security_groups: ['default'],
      }),
      F.port({
        id: 'vm2',
        network_id: 'net1',
        mac_address: '02:00:00:00:02:02',
        fixed_ips: [{ ip_address: '10.1.0.12' }, { ip_address: 'fd00:1::12' }],
        allowed_address_pairs: [
          { ip_address: '10.1.5.0/24' },
          { ip_address: '10.1.0.100', mac_address: '02:00:00:00:09:09' },
        ],
        security_groups: ['web', 'default'],
      }),
    ],
    security_groups: [F.group({ id: 'web' }), F.group({ id: 'default' })],
    security_group_rules: [
      F.rule({ id: 'd1', security_group_id: 'default', direction: 'egress' }),
      F.rule({
        id: 'd2',
        security_group_id: 'default',
        direction: 'ingress',
        remote_group_id: 'default',
      }),
      F.rule({
        id: 'w1',
        security_group_id: 'web',
        direction: 'ingress',
        protocol: 'tcp',
        port_range_min: 80,
        port_range_max: 80,
        remote_ip_prefix: '0.0.0.0/0',
      }),
      F.rule({
        id: 'w2',
        security_group_id: 'web',
        direction: 'ingress',
        protocol: 'icmp',
        port_range_min: 8,
      }),
      F.rule({
        id: 'w3',
        security_group_id: 'web',
        direction: 'ingress',
        protocol: '17',
        port_range_min: 53,
        port_range_max: 53,
        source_port_range_min: 1024,
        source_port_range_max: 65535,
        remote_ip_prefix: '10.0.0.0/8',
      }),
      F.rule({
        id: 'w4',
        security_group_id: 'web',
        direction: 'ingress',
        ethertype: 'IPv6',
        protocol: 'icmp',
        port_range_min: 128,
        port_range_max: 0,
        remote_address_group_id: 'ag',
      }),
    ],
    address_groups: [
      F.addressGroup({ id: 'ag', addresses: ['fd00:2::/64', '10.9.0.0/16', 'fd00:2::/64'] }),
    ],
  });
}

function codeOf(f: () => unknown): { code: string; field: string | undefined } {
  try {
    f();
  } catch (e) {
    if (e instanceof SgflowError) return { code: e.code, field: e.field };
    throw e;
  }
  throw new Error('expected an SgflowError');
}

describe('normalizePolicy', () => {
  it('normalises rules: numbers, ranges, ICMP type/code, remotes', () => {
    const n = normalizePolicy(demo());
    const web = n.groups.get('web')!;
    expect(web.stateful).toBe(true);
    expect(web.rules.map((r) => r.id)).toEqual(['w1', 'w2', 'w3', 'w4']);
    const [w1, w2, w3, w4] = web.rules;
    expect(w1).toEqual({
      id: 'w1',
      groupId: 'web',
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 6,
      dstPorts: { min: 80, max: 80 },
      srcPorts: null,
      icmpType: null,
      icmpCode: null,
      remote: { kind: 'any' },
    });
    expect(w2).toMatchObject({ protocol: 1, icmpType: 8, icmpCode: null, dstPorts: null });
    expect(w3).toMatchObject({
      protocol: 17,
      dstPorts: { min: 53, max: 53 },
      srcPorts: { min: 1024, max: 65535 },
      remote: { kind: 'prefix', cidr: parseCidr('10.0.0.0/8') },
    });
    expect(w4).toMatchObject({
      protocol: 58,
      icmpType: 128,
      icmpCode: 0,
      remote: { kind: 'addressGroup', addressGroupId: 'ag' },
    });
    const d = n.groups.get('default')!;
    expect(d.rules[0]).toMatchObject({ protocol: null, remote: { kind: 'any' }, dstPorts: null });
    expect(d.rules[1]!.remote).toEqual({ kind: 'group', groupId: 'default' });
  });

  it('binds fixed IPs and allowed address pairs to their MACs', () => {
    const n = normalizePolicy(demo());
    const vm2 = n.ports.get('vm2')!;
    expect(vm2.mac).toBe(parseMac('02:00:00:00:02:02'));
    expect(vm2.groupIds).toEqual(['default', 'web']);
    expect(vm2.stateful).toBe(true);
    expect(vm2.portSecurity).toBe(true);
    expect(vm2.addresses.map((b) => [b.mac, formatCidr(b.cidr)])).toEqual([
      [0x020000000202n, '10.1.0.12/32'],
      [0x020000000202n, 'fd00:1::12/128'],
      [0x020000000202n, '10.1.5.0/24'],
      [0x020000000909n, '10.1.0.100/32'],
    ]);
    expect(n.networks.get('net1')).toEqual({
      id: 'net1',
      portSecurity: true,
      vlan: 10,
      mode: null,
    });
    expect(n.addressGroups.get('ag')!.map(formatCidr)).toEqual(['10.9.0.0/16', 'fd00:2::/64']);
  });

  it('expands remote groups to the members of the ethertype', () => {
    const n = normalizePolicy(demo());
    expect(remoteCidrs(n, { kind: 'group', groupId: 'default' }, 'IPv4').map(formatCidr)).toEqual([
      '10.1.0.11/32',
      '10.1.0.12/32',
      '10.1.0.100/32',
      '10.1.5.0/24',
    ]);
    expect(remoteCidrs(n, { kind: 'group', groupId: 'web' }, 'IPv6').map(formatCidr)).toEqual([
      'fd00:1::12/128',
    ]);
    expect(remoteCidrs(n, { kind: 'any' }, 'IPv6').map(formatCidr)).toEqual(['::/0']);
    expect(
      remoteCidrs(n, { kind: 'addressGroup', addressGroupId: 'ag' }, 'IPv4').map(formatCidr),
    ).toEqual(['10.9.0.0/16']);
  });

  it('treats protocol 0 as any protocol', () => {
    for (const protocol of ['0', 'ip', 'hopopt']) {
      expect(
        normalizeRule(F.rule({ id: 'x', security_group_id: 'g', direction: 'egress', protocol }))
          .protocol,
      ).toBeNull();
    }
  });

  it('treats ::/0 as any and IPv6 icmp as 58', () => {
    const r = normalizeRule(
      F.rule({
        id: 'x',
        security_group_id: 'g',
        direction: 'egress',
        ethertype: 'IPv6',
        protocol: '1',
        remote_ip_prefix: '::/0',
      }),
    );
    expect(r.protocol).toBe(58);
    expect(r.remote).toEqual({ kind: 'any' });
  });

  it('rejects a port mixing stateful and stateless groups', () => {
    const p = demo();
    p.security_groups[0] = F.group({ id: 'web', stateful: false });
    expect(codeOf(() => normalizePolicy(p))).toEqual({
      code: 'SG_MIXED_STATEFULNESS',
      field: 'ports[1].security_groups',
    });
  });

  it('marks a port stateless when all its groups are', () => {
    const p = demo();
    p.security_groups = [
      F.group({ id: 'web', stateful: false }),
      F.group({ id: 'default', stateful: false }),
    ];
    const n = normalizePolicy(p);
    expect(n.ports.get('vm2')!.stateful).toBe(false);
    expect(n.groups.get('web')!.stateful).toBe(false);
  });

  it.each<[string, (p: Policy) => void, string, string]>([
    [
      'unknown rule group',
      (p) => (p.security_group_rules[0]!.security_group_id = 'nope'),
      'SG_NOT_FOUND',
      'security_group_rules[0].security_group_id',
    ],
    [
      'unknown remote group',
      (p) => (p.security_group_rules[1]!.remote_group_id = 'nope'),
      'SG_NOT_FOUND',
      'security_group_rules[1].remote_group_id',
    ],
    [
      'unknown address group',
      (p) => (p.security_group_rules[5]!.remote_address_group_id = 'nope'),
      'ADDRESS_GROUP_NOT_FOUND',
      'security_group_rules[5].remote_address_group_id',
    ],
    [
      'unknown port group',
      (p) => (p.ports[1]!.security_groups = ['web', 'nope']),
      'SG_NOT_FOUND',
      'ports[1].security_groups[1]',
    ],
    [
      'unknown network',
      (p) => (p.ports[0]!.network_id = 'nope'),
      'NETWORK_NOT_FOUND',
      'ports[0].network_id',
    ],
    ['duplicate port id', (p) => (p.ports[1]!.id = 'vm1'), 'DUPLICATE_ID', 'ports[1].id'],
    [
      'duplicate rule id',
      (p) => (p.security_group_rules[2]!.id = 'd1'),
      'DUPLICATE_ID',
      'security_group_rules[2].id',
    ],
    [
      'groups without port security',
      (p) => (p.ports[0]!.port_security_enabled = false),
      'PORT_SECURITY_CONFLICT',
      'ports[0].security_groups',
    ],
    [
      'ports without protocol',
      (p) => (p.security_group_rules[0]!.port_range_min = 5),
      'SG_PORTS_WITHOUT_PROTOCOL',
      'security_group_rules[0].port_range_min',
    ],
    [
      'prefix family conflict',
      (p) => (p.security_group_rules[2]!.remote_ip_prefix = '::/0'),
      'SG_ETHERTYPE_CONFLICT',
      'security_group_rules[2].remote_ip_prefix',
    ],
    [
      'bad MAC',
      (p) => (p.ports[0]!.mac_address = 'nope'),
      'SG_INVALID_FIELD',
      'ports[0].mac_address',
    ],
  ])('rejects %s', (_name, mutate, code, field) => {
    const p = demo();
    mutate(p);
    expect(codeOf(() => normalizePolicy(p))).toEqual({ code, field });
  });

  it('does not depend on input order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { minLength: 1, maxLength: 40 }), (keys) => {
        const p = demo();
        const shuffle = <T>(xs: T[]): T[] =>
          xs
            .map((x, i) => [keys[i % keys.length]!, x] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, x]) => x);
        const q: Policy = {
          networks: shuffle(p.networks),
          ports: shuffle(p.ports),
          security_groups: shuffle(p.security_groups),
          security_group_rules: shuffle(p.security_group_rules),
          address_groups: shuffle(p.address_groups),
        };
        expect(normalizePolicy(q)).toEqual(normalizePolicy(p));
      }),
      { numRuns: 30 },
    );
  });

  it('caches group membership per policy', () => {
    const n = normalizePolicy(demo());
    expect(groupMemberCidrs(n)).toBe(groupMemberCidrs(n));
    expect(groupMemberCidrs(n).get('web')!.map(formatCidr)).toEqual([
      '10.1.0.12/32',
      '10.1.0.100/32',
      '10.1.5.0/24',
      'fd00:1::12/128',
    ]);
  });
});

describe('normalizeRule on any valid rule', () => {
  const range = (lo: number, hi: number) =>
    fc.oneof(
      { arbitrary: fc.constant(null), weight: 3 },
      {
        arbitrary: fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi })),
        weight: 2,
      },
    );
  const body = fc
    .record({
      direction: fc.constantFrom('ingress', 'egress'),
      ethertype: fc.constantFrom('IPv4', 'IPv6'),
      protocol: fc.oneof(
        fc.constantFrom(
          null,
          'any',
          'tcp',
          'udp',
          'sctp',
          'dccp',
          'udplite',
          'icmp',
          'ipv6-icmp',
          'gre',
          '0',
        ),
        fc.integer({ min: 0, max: 255 }),
      ),
      dst: range(0, 300),
      src: range(1, 65535),
      remote: fc.constantFrom(
        {},
        {},
        { remote_ip_prefix: '0.0.0.0/0' },
        { remote_ip_prefix: '::/0' },
        { remote_ip_prefix: '10.1.2.3/16' },
        { remote_ip_prefix: 'fd00::5/64' },
        { remote_ip_prefix: '192.0.2.1' },
        { remote_group_id: 'g2' },
      ),
    })
    .map(({ dst, src, remote, ...rest }) => ({
      ...rest,
      ...remote,
      ...(dst ? { port_range_min: Math.min(...dst), port_range_max: Math.max(...dst) } : {}),
      ...(src
        ? { source_port_range_min: Math.min(...src), source_port_range_max: Math.max(...src) }
        : {}),
    }));

  it('keeps the NormalizedRule invariants', () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, (b) => {
        let r;
        try {
          r = validateRuleInput({ ...b, security_group_id: 'g' });
        } catch (e) {
          expect(e).toBeInstanceOf(SgflowError);
          return;
        }
        accepted++;
        const n = normalizeRule({ ...r, id: 'x', project_id: 'p' });
        expect(n.protocol).toBe(protocolNumber(r.protocol, r.ethertype));
        if (n.protocol === 1) expect(n.ethertype).toBe('IPv4');
        const portProto = [6, 17, 33, 132, 136].includes(n.protocol ?? -1);
        if (!portProto) expect([n.dstPorts, n.srcPorts]).toEqual([null, null]);
        for (const pr of [n.dstPorts, n.srcPorts]) {
          if (pr) expect(1 <= pr.min && pr.min <= pr.max && pr.max <= 65535).toBe(true);
        }
        if (n.icmpCode !== null) expect(n.icmpType).not.toBeNull();
        if (n.icmpType !== null) expect(n.protocol === 1 || n.protocol === 58).toBe(true);
        if (n.remote.kind === 'prefix') {
          expect(n.remote.cidr.prefix).toBeGreaterThan(0);
          expect(n.remote.cidr.family).toBe(n.ethertype === 'IPv4' ? 4 : 6);
        }
        if (n.remote.kind === 'any') expect(r.remote_group_id).toBeNull();
      }),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(20);
  });
});
