import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SgflowError } from './errors.js';
import { loadPolicyDocument, normalizePolicy, validatePolicyDocument } from './policy.js';

const demoText = readFileSync(new URL('../../examples/demo-policy.json', import.meta.url), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests edit arbitrary JSON paths
type Doc = Record<string, any>;
const demo = (): Doc => JSON.parse(demoText) as Doc;

function fileErr(doc: unknown): { path: string; cause: string; message: string } {
  try {
    loadPolicyDocument(doc);
  } catch (e) {
    if (!(e instanceof SgflowError)) throw e;
    expect(e.code).toBe('POLICY_FILE');
    return { path: String(e.params['path']), cause: String(e.params['cause']), message: e.message };
  }
  throw new Error('expected the document to be rejected');
}

describe('the demo policy', () => {
  it('loads, with defaults filled and embedded rules given their group', () => {
    const { policy, host } = loadPolicyDocument(demo());
    expect(host).toEqual({
      name: 'h1',
      ofports: new Map([
        ['vm1', 1],
        ['vm2', 2],
      ]),
      uplinkOfport: null,
    });
    expect(policy.networks[0]).toMatchObject({
      id: 'net1',
      project_id: 'default',
      port_security_enabled: true,
    });
    expect(policy.security_groups.map((g) => [g.id, g.stateful])).toEqual([
      ['default', true],
      ['web', true],
    ]);
    expect(policy.security_group_rules).toHaveLength(8);
    const dns = policy.security_group_rules.find((r) => r.id === 'web-dns')!;
    expect(dns).toMatchObject({
      security_group_id: 'web',
      project_id: 'default',
      ethertype: 'IPv4',
      protocol: 'udp',
      source_port_range_min: 1024,
      source_port_range_max: 65535,
      description: '',
    });
    expect(policy.ports[1]).toMatchObject({
      id: 'vm2',
      mac_address: '02:00:00:00:02:02',
      port_security_enabled: true,
      'binding:host_id': 'h1',
    });
    const n = normalizePolicy(policy);
    expect(n.ports.get('vm2')!.groupIds).toEqual(['default', 'web']);
    expect(n.groups.get('web')!.rules.find((r) => r.id === 'web-ping')).toMatchObject({
      protocol: 1,
      icmpType: 8,
    });
  });

  it('is a fixed point: its own output, as a document with flat rules, loads unchanged', () => {
    const { policy, host } = loadPolicyDocument(demo());
    const again = loadPolicyDocument(
      JSON.parse(
        JSON.stringify({
          ...policy,
          host: { name: host.name, ofports: Object.fromEntries(host.ofports) },
        }),
      ),
    );
    expect(again.policy).toEqual(policy);
    expect(again.host).toEqual(host);
  });

  it('validatePolicyDocument returns the same policy', () => {
    expect(validatePolicyDocument(demo())).toEqual(loadPolicyDocument(demo()).policy);
  });
});

describe('policy file defaults', () => {
  it('numbers rules without ids, accepts flat rules, and gives ports the project default group', () => {
    const { policy, host } = loadPolicyDocument({
      networks: [{ id: 'n', port_security_enabled: true }],
      security_groups: [
        {
          id: 'g1',
          name: 'default',
          stateful: false,
          security_group_rules: [{ direction: 'egress' }],
        },
      ],
      security_group_rules: [
        {
          security_group_id: 'g1',
          direction: 'ingress',
          protocol: 'TCP',
          port_range_min: 22,
          port_range_max: 22,
        },
      ],
      ports: [
        {
          id: 'p',
          network_id: 'n',
          mac_address: '02:00:00:00:00:01',
          fixed_ips: [{ ip_address: '10.0.0.1' }],
        },
        { id: 'q', network_id: 'n', mac_address: '02:00:00:00:00:02' },
      ],
    });
    expect(policy.security_group_rules.map((r) => [r.id, r.protocol])).toEqual([
      ['g1-rule-1', null],
      ['g1-rule-2', 'tcp'],
    ]);
    expect(policy.ports.map((p) => p.security_groups)).toEqual([['g1'], []]);
    expect(host).toEqual({ name: '', ofports: new Map(), uplinkOfport: null });
  });

  it('takes port security from the network', () => {
    const { policy } = loadPolicyDocument({
      networks: [{ id: 'n', port_security_enabled: false }],
      ports: [{ id: 'p', network_id: 'n', mac_address: '02:00:00:00:00:01' }],
    });
    expect(policy.ports[0]!.port_security_enabled).toBe(false);
  });
});

describe('policy file errors name the JSON path', () => {
  it.each<[string, (d: Doc) => void, string, string, RegExp?]>([
    [
      'a bad port range',
      (d) => (d.security_groups[1].security_group_rules[2].port_range_max = 7000),
      'security_groups[1].security_group_rules[2].port_range_min',
      'SG_INVALID_PORT_RANGE',
      /must be <= port_range_max/,
    ],
    [
      'a port out of range',
      (d) => (d.security_groups[1].security_group_rules[0].port_range_max = 70000),
      'security_groups[1].security_group_rules[0].port_range_max',
      'SG_INVALID_PORT_VALUE',
      /between 0 and 65535/,
    ],
    [
      'an unknown protocol',
      (d) => (d.security_groups[1].security_group_rules[0].protocol = 'tcpp'),
      'security_groups[1].security_group_rules[0].protocol',
      'SG_INVALID_PROTOCOL',
      /udplite/,
    ],
    [
      'a flat rule problem',
      (d) =>
        (d.security_group_rules = [
          { security_group_id: 'web', direction: 'ingress', port_range_min: 1, port_range_max: 2 },
        ]),
      'security_group_rules[0].port_range_min',
      'SG_PORTS_WITHOUT_PROTOCOL',
      undefined,
    ],
    [
      'an unknown remote group',
      (d) => (d.security_groups[0].security_group_rules[2].remote_group_id = 'nope'),
      'security_groups[0].security_group_rules[2].remote_group_id',
      'SG_NOT_FOUND',
      /nope/,
    ],
    [
      'a rule of an unknown group',
      (d) => (d.security_group_rules = [{ security_group_id: 'nope', direction: 'ingress' }]),
      'security_group_rules[0].security_group_id',
      'SG_NOT_FOUND',
      undefined,
    ],
    [
      'an embedded rule naming another group',
      (d) => (d.security_groups[1].security_group_rules[0].security_group_id = 'default'),
      'security_groups[1].security_group_rules[0].security_group_id',
      'POLICY_FILE',
      /omit security_group_id/,
    ],
    [
      'a duplicate rule id',
      (d) => (d.security_groups[1].security_group_rules[1].id = 'web-http'),
      'security_groups[1].security_group_rules[1].id',
      'DUPLICATE_ID',
      /defined twice/,
    ],
    [
      'a bad MAC',
      (d) => (d.ports[0].mac_address = '02:00:00:00:01'),
      'ports[0].mac_address',
      'SG_INVALID_FIELD',
      /02:00:00:00:01:01/,
    ],
    [
      'a missing MAC',
      (d) => delete d.ports[0].mac_address,
      'ports[0].mac_address',
      'POLICY_FILE',
      /required/,
    ],
    ['a missing port id', (d) => delete d.ports[1].id, 'ports[1].id', 'POLICY_FILE', /required/],
    [
      'an unknown network',
      (d) => (d.ports[1].network_id = 'net9'),
      'ports[1].network_id',
      'NETWORK_NOT_FOUND',
      /net9/,
    ],
    [
      'an unknown port group',
      (d) => (d.ports[1].security_groups = ['web', 'nope']),
      'ports[1].security_groups[1]',
      'SG_NOT_FOUND',
      /nope/,
    ],
    [
      'a misspelt field',
      (d) => (d.ports[0].fixed_ip = []),
      'ports[0].fixed_ip',
      'SG_UNKNOWN_FIELD',
      /allowed fields: .*fixed_ips/,
    ],
    [
      'an unknown top-level key',
      (d) => (d.rules = []),
      'rules',
      'POLICY_FILE',
      /security_group_rules/,
    ],
    [
      'an ofport of an unknown port',
      (d) => (d.host.ofports.vm9 = 3),
      'host.ofports["vm9"]',
      'PORT_NOT_FOUND',
      /vm9/,
    ],
    [
      'a reused ofport',
      (d) => (d.host.ofports.vm2 = 1),
      'host.ofports["vm2"]',
      'POLICY_FILE',
      /already used by port vm1/,
    ],
    [
      'an ofport 0',
      (d) => (d.host.ofports.vm2 = 0),
      'host.ofports["vm2"]',
      'POLICY_FILE',
      /1-65279/,
    ],
    [
      'mixed statefulness',
      (d) => (d.security_groups[1].stateful = false),
      'ports[1].security_groups',
      'SG_MIXED_STATEFULNESS',
      /stateful and stateless/,
    ],
    ['networks not a list', (d) => (d.networks = {}), 'networks', 'POLICY_FILE', /array/],
  ])('%s', (_n, mutate, path, cause, message) => {
    const d = demo();
    mutate(d);
    const e = fileErr(d);
    expect(e.path).toBe(path);
    expect(e.cause).toBe(cause);
    if (message) expect(e.message).toMatch(message);
    expect(e.message.startsWith(`${path}: `)).toBe(true);
  });

  it('rejects a document that is not an object', () => {
    expect(fileErr([]).path).toBe('(document)');
    expect(fileErr(null).message).toMatch(/JSON object/);
  });
});
