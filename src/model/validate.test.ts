import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SgflowError } from './errors.js';
import {
  checkNoDuplicateRules,
  findDuplicateRule,
  ruleFingerprint,
  validateAddressGroupInput,
  validateGroupInput,
  validateNetworkInput,
  validatePortInput,
  validateRuleInput,
} from './validate.js';
import * as F from './fixtures.js';

function err(f: () => unknown): SgflowError {
  try {
    f();
  } catch (e) {
    if (e instanceof SgflowError) return e;
    throw e;
  }
  throw new Error('expected an SgflowError');
}

const base = { security_group_id: 'sg', direction: 'ingress' };

describe('validateRuleInput', () => {
  it('fills Neutron defaults', () => {
    expect(validateRuleInput(base)).toEqual({
      security_group_id: 'sg',
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
    });
  });

  it('canonicalises values like Neutron', () => {
    const r = validateRuleInput({
      ...base,
      ethertype: 'ipv6',
      protocol: 'ICMP',
      port_range_min: '128',
      remote_ip_prefix: 'FD00:1::5/64',
      tenant_id: 'p1',
      id: 'r1',
    });
    expect(r).toMatchObject({
      id: 'r1',
      project_id: 'p1',
      ethertype: 'IPv6',
      protocol: 'ipv6-icmp',
      port_range_min: 128,
      remote_ip_prefix: 'fd00:1::5/64',
    });
    // Kept as given (Neutron's str(IPNetwork)); normalizePolicy clears the host bits.
    expect(validateRuleInput({ ...base, remote_ip_prefix: '10.0.0.5/8' }).remote_ip_prefix).toBe(
      '10.0.0.5/8',
    );
    expect(validateRuleInput({ ...base, remote_ip_prefix: '10.0.0.5' }).remote_ip_prefix).toBe(
      '10.0.0.5/32',
    );
    expect(validateRuleInput({ ...base, protocol: 'any' }).protocol).toBeNull();
    expect(validateRuleInput({ ...base, protocol: 6 }).protocol).toBe('6');
    expect(validateRuleInput({ ...base, ethertype: 'IPv6', protocol: 1 }).protocol).toBe('58');
  });

  it('accepts the port forms Neutron accepts', () => {
    for (const protocol of ['tcp', 'udp', 'sctp', 'dccp', 'udplite', '6', '132']) {
      const r = validateRuleInput({ ...base, protocol, port_range_min: 1, port_range_max: 65535 });
      expect(r.port_range_max).toBe(65535);
    }
    const s = validateRuleInput({
      ...base,
      protocol: 'udp',
      port_range_min: 53,
      port_range_max: 53,
      source_port_range_min: 1024,
      source_port_range_max: 65535,
    });
    expect([s.source_port_range_min, s.source_port_range_max]).toEqual([1024, 65535]);
    const icmp = validateRuleInput({
      ...base,
      protocol: 'icmp',
      port_range_min: 0,
      port_range_max: 255,
    });
    expect([icmp.port_range_min, icmp.port_range_max]).toEqual([0, 255]);
    expect(
      validateRuleInput({ ...base, protocol: 'icmp', port_range_min: 8 }).port_range_max,
    ).toBeNull();
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['missing direction', { security_group_id: 'sg' }, 'SG_MISSING_FIELD', 'direction'],
    ['missing group', { direction: 'egress' }, 'SG_MISSING_FIELD', 'security_group_id'],
    ['bad direction', { ...base, direction: 'in' }, 'SG_INVALID_FIELD', 'direction'],
    ['bad ethertype', { ...base, ethertype: 'IPv5' }, 'SG_INVALID_FIELD', 'ethertype'],
    ['bad protocol', { ...base, protocol: 'foo' }, 'SG_INVALID_PROTOCOL', 'protocol'],
    ['protocol 256', { ...base, protocol: 256 }, 'SG_INVALID_PROTOCOL', 'protocol'],
    [
      'port out of range',
      { ...base, protocol: 'tcp', port_range_min: 70000, port_range_max: 70000 },
      'SG_INVALID_PORT_VALUE',
      'port_range_min',
    ],
    [
      'port not integer',
      { ...base, protocol: 'tcp', port_range_min: 'x', port_range_max: 80 },
      'SG_INVALID_PORT_VALUE',
      'port_range_min',
    ],
    [
      'ports without protocol',
      { ...base, port_range_min: 80, port_range_max: 80 },
      'SG_PORTS_WITHOUT_PROTOCOL',
      'port_range_min',
    ],
    [
      'port 0',
      { ...base, protocol: 'tcp', port_range_min: 0, port_range_max: 80 },
      'SG_INVALID_PORT_VALUE',
      'port_range_min',
    ],
    [
      'min > max',
      { ...base, protocol: 'tcp', port_range_min: 90, port_range_max: 80 },
      'SG_INVALID_PORT_RANGE',
      'port_range_min',
    ],
    [
      'only min',
      { ...base, protocol: 'udp', port_range_min: 90 },
      'SG_INVALID_PORT_RANGE',
      'port_range_min',
    ],
    [
      'only max',
      { ...base, protocol: 'udp', port_range_max: 90 },
      'SG_INVALID_PORT_RANGE',
      'port_range_max',
    ],
    [
      'ports on gre',
      { ...base, protocol: 'gre', port_range_min: 1, port_range_max: 2 },
      'SG_PORTS_NOT_SUPPORTED',
      'port_range_min',
    ],
    [
      'icmp type 256',
      { ...base, protocol: 'icmp', port_range_min: 256 },
      'SG_INVALID_ICMP_VALUE',
      'port_range_min',
    ],
    [
      'icmp code 300',
      { ...base, protocol: 'icmp', port_range_min: 3, port_range_max: 300 },
      'SG_INVALID_ICMP_VALUE',
      'port_range_max',
    ],
    [
      'icmp code without type',
      { ...base, protocol: 'icmp', port_range_max: 0 },
      'SG_MISSING_ICMP_TYPE',
      'port_range_max',
    ],
    [
      'source ports without protocol',
      { ...base, source_port_range_min: 1, source_port_range_max: 2 },
      'SG_PORTS_WITHOUT_PROTOCOL',
      'source_port_range_min',
    ],
    [
      'source ports on icmp',
      { ...base, protocol: 'icmp', source_port_range_min: 1, source_port_range_max: 2 },
      'SG_PORTS_NOT_SUPPORTED',
      'source_port_range_min',
    ],
    [
      'source min > max',
      { ...base, protocol: 'tcp', source_port_range_min: 9, source_port_range_max: 2 },
      'SG_INVALID_PORT_RANGE',
      'source_port_range_min',
    ],
    [
      'v6 prefix on v4 rule',
      { ...base, remote_ip_prefix: 'fd00::/8' },
      'SG_ETHERTYPE_CONFLICT',
      'remote_ip_prefix',
    ],
    [
      'v4 prefix on v6 rule',
      { ...base, ethertype: 'IPv6', remote_ip_prefix: '0.0.0.0/0' },
      'SG_ETHERTYPE_CONFLICT',
      'remote_ip_prefix',
    ],
    [
      'icmpv6 on IPv4',
      { ...base, protocol: 'icmpv6' },
      'SG_ETHERTYPE_PROTOCOL_CONFLICT',
      'protocol',
    ],
    ['58 on IPv4', { ...base, protocol: '58' }, 'SG_ETHERTYPE_PROTOCOL_CONFLICT', 'protocol'],
    [
      'ipv6-frag on IPv4',
      { ...base, protocol: 'ipv6-frag' },
      'SG_ETHERTYPE_PROTOCOL_CONFLICT',
      'protocol',
    ],
    [
      'two remotes',
      { ...base, remote_ip_prefix: '10.0.0.0/8', remote_group_id: 'g' },
      'SG_REMOTE_CONFLICT',
      'remote_ip_prefix, remote_group_id',
    ],
    [
      'group and address group',
      { ...base, remote_address_group_id: 'a', remote_group_id: 'g' },
      'SG_REMOTE_CONFLICT',
      'remote_group_id, remote_address_group_id',
    ],
    [
      'bad prefix',
      { ...base, remote_ip_prefix: '10.0.0.0/40' },
      'SG_INVALID_FIELD',
      'remote_ip_prefix',
    ],
    ['unknown field', { ...base, port: 5 }, 'SG_UNKNOWN_FIELD', 'port'],
    ['empty group id', { ...base, security_group_id: '' }, 'SG_INVALID_FIELD', 'security_group_id'],
  ])('rejects %s', (_n, body, code, field) => {
    const e = err(() => validateRuleInput(body));
    expect(e.code).toBe(code);
    expect(e.field).toBe(field);
  });

  it('prefixes fields with the given path', () => {
    const e = err(() =>
      validateRuleInput(
        { ...base, protocol: 'tcp', port_range_min: 9, port_range_max: 2 },
        'rules[3]',
      ),
    );
    expect(e.field).toBe('rules[3].port_range_min');
    expect(e.message).toMatch(/port_range_min must be <= port_range_max/);
  });

  it('lists the allowed values in its messages', () => {
    expect(err(() => validateRuleInput({ ...base, direction: 'up' })).message).toContain(
      '[ingress, egress]',
    );
    expect(err(() => validateRuleInput({ ...base, protocol: 'x' })).message).toContain('tcp');
  });

  it('is idempotent on its own output', () => {
    const arb = fc.record({
      ethertype: fc.constantFrom('IPv4', 'IPv6'),
      protocol: fc.constantFrom(null, 'tcp', 'udp', 'icmp', '6', 'ICMPV6', 'gre', 'sctp'),
      ports: fc.option(
        fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 })),
      ),
      prefix: fc.option(fc.constantFrom('10.0.0.7/8', '0.0.0.0/0', 'fd00::1/64', '::/0')),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const body: Record<string, unknown> = {
          ...base,
          ethertype: a.ethertype,
          protocol: a.protocol,
        };
        if (a.ports) {
          body['port_range_min'] = Math.min(...a.ports) % 256;
          body['port_range_max'] = Math.max(...a.ports);
        }
        if (a.prefix) body['remote_ip_prefix'] = a.prefix;
        let r;
        try {
          r = validateRuleInput(body);
        } catch (e) {
          expect(e).toBeInstanceOf(SgflowError);
          return;
        }
        expect(validateRuleInput(r)).toEqual(r);
      }),
    );
  });
});

describe('duplicate rules (Neutron _rule_to_key)', () => {
  const r = (p: Partial<Parameters<typeof F.rule>[0]>) =>
    F.rule({ id: 'a', security_group_id: 'sg', direction: 'ingress', ...p });

  it('treats protocol names and numbers, and any-prefixes and none, as equal', () => {
    expect(ruleFingerprint(r({ protocol: 'tcp' }))).toBe(
      ruleFingerprint(r({ id: 'b', protocol: '6' })),
    );
    expect(ruleFingerprint(r({ ethertype: 'IPv6', protocol: 'icmp' }))).toBe(
      ruleFingerprint(r({ ethertype: 'IPv6', protocol: '58' })),
    );
    expect(ruleFingerprint(r({ remote_ip_prefix: '0.0.0.0/0' }))).toBe(ruleFingerprint(r({})));
    expect(ruleFingerprint(r({ description: 'x' }))).toBe(ruleFingerprint(r({})));
    // Neutron keys protocol 0 apart from no protocol, though both match everything.
    expect(ruleFingerprint(r({ protocol: '0' }))).not.toBe(ruleFingerprint(r({})));
    expect(ruleFingerprint(r({ protocol: 'ip' }))).toBe(ruleFingerprint(r({ protocol: '0' })));
  });

  it('distinguishes every match field', () => {
    const a = ruleFingerprint(r({ protocol: 'tcp', port_range_min: 80, port_range_max: 80 }));
    for (const d of [
      { direction: 'egress' as const },
      { ethertype: 'IPv6' as const },
      { protocol: 'udp' },
      { port_range_max: 81 },
      { source_port_range_min: 1, source_port_range_max: 2 },
      { remote_ip_prefix: '10.0.0.0/8' },
      { remote_group_id: 'g' },
      { remote_address_group_id: 'ag' },
      { security_group_id: 'other' },
    ]) {
      expect(
        ruleFingerprint(r({ protocol: 'tcp', port_range_min: 80, port_range_max: 80, ...d })),
      ).not.toBe(a);
    }
  });

  it('finds duplicates and reports them the Neutron way', () => {
    const existing = [r({ id: 'old', protocol: 'tcp', port_range_min: 22, port_range_max: 22 })];
    expect(
      findDuplicateRule(r({ protocol: '6', port_range_min: 22, port_range_max: 22 }), existing)?.id,
    ).toBe('old');
    const e = err(() =>
      checkNoDuplicateRules(
        [r({ protocol: '6', port_range_min: 22, port_range_max: 22 })],
        existing,
      ),
    );
    expect(e.code).toBe('SG_RULE_EXISTS');
    expect(e.message).toContain('old');
    expect(err(() => checkNoDuplicateRules([r({}), r({ id: 'b' })], [])).code).toBe(
      'SG_DUPLICATE_RULE_IN_POST',
    );
    expect(() => checkNoDuplicateRules([r({ protocol: 'udp' })], existing)).not.toThrow();
  });
});

describe('other resources', () => {
  it('validates groups with defaults', () => {
    expect(validateGroupInput({ name: 'web' })).toEqual({
      name: 'web',
      description: '',
      stateful: true,
    });
    expect(validateGroupInput({ stateful: 'False' }).stateful).toBe(false);
    expect(err(() => validateGroupInput({ stateful: 'maybe' })).field).toBe('stateful');
    expect(err(() => validateGroupInput([])).code).toBe('SG_INVALID_FIELD');
  });

  it('validates networks', () => {
    expect(validateNetworkInput({ id: 'n', 'provider:segmentation_id': 10 })).toMatchObject({
      id: 'n',
      port_security_enabled: true,
      shared: false,
      'provider:segmentation_id': 10,
      enforcement_mode: null,
    });
    expect(err(() => validateNetworkInput({ 'provider:segmentation_id': 4095 })).field).toBe(
      'provider:segmentation_id',
    );
    expect(
      validateNetworkInput({ 'provider:network_type': 'vxlan', 'provider:segmentation_id': 5000 }),
    ).toMatchObject({
      'provider:segmentation_id': 5000,
    });
    expect(
      err(() =>
        validateNetworkInput({ 'provider:network_type': 'flat', 'provider:segmentation_id': 5 }),
      ).code,
    ).toBe('SG_INVALID_FIELD');
    const m = err(() => validateNetworkInput({ enforcement_mode: 'fast' }));
    expect(m.message).toContain('conntrack, stateless-ack, learn, reactive');
  });

  it('validates ports', () => {
    const p = validatePortInput({
      network_id: 'net1',
      mac_address: '02:00:00:00:01:AA',
      fixed_ips: [{ ip_address: 'FD00:1:0::11' }, { ip_address: '10.1.0.11', subnet_id: 's' }],
      allowed_address_pairs: [
        { ip_address: '10.1.5.7/24' },
        { ip_address: '10.1.0.99', mac_address: '02-00-00-00-09-09' },
      ],
      security_groups: ['a', 'a', 'b'],
    });
    expect(p).toMatchObject({
      mac_address: '02:00:00:00:01:aa',
      fixed_ips: [{ ip_address: 'fd00:1::11' }, { ip_address: '10.1.0.11', subnet_id: 's' }],
      allowed_address_pairs: [
        { ip_address: '10.1.5.0/24' },
        { ip_address: '10.1.0.99', mac_address: '02:00:00:00:09:09' },
      ],
      security_groups: ['a', 'b'],
      name: '',
      device_owner: '',
    });
    expect(p.port_security_enabled).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['no network', {}, 'SG_MISSING_FIELD', 'network_id'],
    [
      'multicast MAC',
      { network_id: 'n', mac_address: '01:00:5e:00:00:01' },
      'SG_INVALID_FIELD',
      'mac_address',
    ],
    [
      'zero MAC',
      { network_id: 'n', mac_address: '00:00:00:00:00:00' },
      'SG_INVALID_FIELD',
      'mac_address',
    ],
    [
      'bad fixed IP',
      { network_id: 'n', fixed_ips: [{ ip_address: '10.0.0.300' }] },
      'SG_INVALID_FIELD',
      'fixed_ips[0].ip_address',
    ],
    [
      'fixed IP without address',
      { network_id: 'n', fixed_ips: [{ subnet_id: 's' }] },
      'SG_MISSING_FIELD',
      'fixed_ips[0].ip_address',
    ],
    [
      'duplicate fixed IP',
      { network_id: 'n', fixed_ips: [{ ip_address: '10.0.0.1' }, { ip_address: '10.0.0.1' }] },
      'SG_INVALID_FIELD',
      'fixed_ips[1].ip_address',
    ],
    [
      'duplicate pair',
      {
        network_id: 'n',
        allowed_address_pairs: [{ ip_address: '10.0.0.1' }, { ip_address: '10.0.0.1/32' }],
      },
      'ADDRESS_PAIR_DUPLICATE',
      'allowed_address_pairs[1]',
    ],
    [
      'groups without port security',
      {
        network_id: 'n',
        fixed_ips: [{ ip_address: '10.0.0.1' }],
        security_groups: ['a'],
        port_security_enabled: false,
      },
      'PORT_SECURITY_CONFLICT',
      'security_groups',
    ],
    [
      'groups without IP',
      { network_id: 'n', security_groups: ['a'] },
      'PORT_SECURITY_CONFLICT',
      'security_groups',
    ],
    [
      'pairs without port security',
      {
        network_id: 'n',
        allowed_address_pairs: [{ ip_address: '10.0.0.1' }],
        port_security_enabled: false,
      },
      'ADDRESS_PAIR_PORT_SECURITY',
      'allowed_address_pairs',
    ],
    [
      'fixed_ips not a list',
      { network_id: 'n', fixed_ips: '10.0.0.1' },
      'SG_INVALID_FIELD',
      'fixed_ips',
    ],
  ])('rejects a port with %s', (_n, body, code, field) => {
    const e = err(() => validatePortInput(body));
    expect([e.code, e.field]).toEqual([code, field]);
  });

  it('validates address groups', () => {
    expect(
      validateAddressGroupInput({ addresses: ['10.0.0.5/8', '10.0.0.0/8', 'fd00::1'] }).addresses,
    ).toEqual(['10.0.0.0/8', 'fd00::1/128']);
    expect(err(() => validateAddressGroupInput({ addresses: ['x'] })).field).toBe('addresses[0]');
  });
});
