import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { normalizePolicy } from '../model/policy.js';
import type { Policy, SecurityGroupRule } from '../model/types.js';
import type { Change } from '../store/store.js';
import { IncrementalNormalizer } from './incremental.js';

const GROUPS = ['g1', 'g2', 'g3'];

function base(): Policy {
  const port = (id: string, n: number, groups: string[]): Policy['ports'][number] => ({
    id,
    project_id: 'p',
    network_id: 'net',
    name: id,
    mac_address: `02:00:00:00:00:0${n}`,
    fixed_ips: [{ ip_address: `10.0.0.${n}` }, { ip_address: `fd00::${n}` }],
    allowed_address_pairs: [],
    security_groups: groups,
    port_security_enabled: true,
    device_owner: '',
    device_id: '',
    'binding:host_id': '',
  });
  return {
    networks: [
      { id: 'net', project_id: 'p', name: 'net', port_security_enabled: true, shared: false },
    ],
    ports: [port('a', 1, ['g1']), port('b', 2, ['g2', 'g3'])],
    security_groups: GROUPS.map((id) => ({
      id,
      project_id: 'p',
      name: id,
      description: '',
      stateful: true,
    })),
    security_group_rules: [],
    address_groups: [
      { id: 'ag1', project_id: 'p', name: 'ag1', description: '', addresses: ['192.0.2.0/24'] },
    ],
  };
}

const ruleArb = (id: string): fc.Arbitrary<SecurityGroupRule> =>
  fc
    .record({
      group: fc.constantFrom(...GROUPS),
      direction: fc.constantFrom('ingress' as const, 'egress' as const),
      v6: fc.boolean(),
      proto: fc.constantFrom('any', 'tcp', 'icmp'),
      lo: fc.integer({ min: 1, max: 65535 }),
      span: fc.integer({ min: 0, max: 1000 }),
      remote: fc.constantFrom('none', 'prefix', 'group', 'ag', 'unknown-group'),
      remoteGroup: fc.constantFrom(...GROUPS),
    })
    .map((r) => {
      const ethertype = r.v6 ? ('IPv6' as const) : ('IPv4' as const);
      const tcp = r.proto === 'tcp';
      const icmp = r.proto === 'icmp';
      return {
        id,
        project_id: 'p',
        security_group_id: r.group,
        direction: r.direction,
        ethertype,
        protocol: r.proto === 'any' ? null : r.proto,
        port_range_min: tcp ? r.lo : icmp ? r.lo % 256 : null,
        port_range_max: tcp ? Math.min(65535, r.lo + r.span) : null,
        source_port_range_min: null,
        source_port_range_max: null,
        remote_ip_prefix: r.remote === 'prefix' ? (r.v6 ? 'fd00::/8' : '10.0.0.0/8') : null,
        remote_group_id:
          r.remote === 'group' ? r.remoteGroup : r.remote === 'unknown-group' ? 'nope' : null,
        remote_address_group_id: r.remote === 'ag' ? 'ag1' : null,
        description: '',
      };
    });

type Op =
  | { add: SecurityGroupRule }
  | { del: number }
  | { port: string; groups: string[] }
  | { unplug: string }
  | { ag: string; addresses: string[] }
  | { dropAg: string };

const opsArb: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    fc.nat().chain((n) => ruleArb(`r${n}`).map((add) => ({ add }))),
    fc.nat().map((del) => ({ del })),
    fc.record({
      port: fc.constantFrom('a', 'b', 'c'),
      groups: fc.subarray([...GROUPS, 'nope']),
    }),
    fc.record({ unplug: fc.constantFrom('a', 'b', 'c') }),
    fc.record({
      ag: fc.constantFrom('ag1', 'ag2'),
      addresses: fc.subarray([
        '192.0.2.0/24',
        '198.51.100.7',
        'fd00:9::/64',
        '10.1.2.3/8',
        'bogus',
      ]),
    }),
    fc.record({ dropAg: fc.constantFrom('ag1', 'ag2') }),
  ),
  { maxLength: 25 },
);

function outcome(f: () => unknown): unknown {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('IncrementalNormalizer', () => {
  it('equals normalizePolicy after every sequence of rule, port and address-group changes, and mostly skips it', () => {
    let incremental = 0;
    fc.assert(
      fc.property(opsArb, (ops) => {
        const policy = base();
        const n = new IncrementalNormalizer();
        n.normalize(policy);
        let rev = 0;
        for (const op of ops) {
          let change: Change;
          if ('ag' in op || 'dropAg' in op) {
            const id = 'ag' in op ? op.ag : op.dropAg;
            const old = policy.address_groups.find((g) => g.id === id);
            const rest = policy.address_groups.filter((g) => g.id !== id);
            if ('ag' in op) {
              const ag = {
                id,
                project_id: 'p',
                name: id,
                description: '',
                addresses: op.addresses,
              };
              policy.address_groups = [...rest, ag].sort((x, y) => (x.id < y.id ? -1 : 1));
              n.changed([
                { revision: ++rev, kind: 'address_group', id, op: 'put', value: ag } as Change,
              ]);
            } else if (old) {
              policy.address_groups = rest;
              n.changed([
                { revision: ++rev, kind: 'address_group', id, op: 'delete', value: old } as Change,
              ]);
            }
            expect(outcome(() => n.normalize(policy))).toEqual(
              outcome(() => normalizePolicy(policy)),
            );
            continue;
          }
          if ('port' in op || 'unplug' in op) {
            const id = 'port' in op ? op.port : op.unplug;
            const old = policy.ports.find((p) => p.id === id);
            policy.ports = policy.ports.filter((p) => p.id !== id);
            if ('port' in op) {
              const k = id === 'a' ? 1 : id === 'b' ? 2 : 3;
              const p = {
                ...(old ?? base().ports[0]!),
                id,
                mac_address: `02:00:00:00:00:0${k}`,
                fixed_ips: [{ ip_address: `10.0.0.${k}` }],
                security_groups: op.groups,
              };
              policy.ports = [...policy.ports, p];
              n.changed([{ revision: ++rev, kind: 'port', id, op: 'put', value: p } as Change]);
            } else if (old) {
              n.changed([
                { revision: ++rev, kind: 'port', id, op: 'delete', value: old } as Change,
              ]);
            }
            expect(outcome(() => n.normalize(policy))).toEqual(
              outcome(() => normalizePolicy(policy)),
            );
            continue;
          }
          if ('add' in op) {
            if (policy.security_group_rules.some((r) => r.id === op.add.id)) continue;
            policy.security_group_rules = [...policy.security_group_rules, op.add];
            change = {
              revision: ++rev,
              kind: 'security_group_rule',
              id: op.add.id,
              op: 'put',
              value: op.add,
            } as Change;
          } else {
            const rules = policy.security_group_rules;
            const victim = rules[op.del % Math.max(1, rules.length)];
            if (!victim) continue;
            policy.security_group_rules = rules.filter((r) => r !== victim);
            change = {
              revision: ++rev,
              kind: 'security_group_rule',
              id: victim.id,
              op: 'delete',
              value: victim,
            } as Change;
          }
          // The API bumps the group's revision with each rule change, in the same transaction.
          const group = policy.security_groups.find(
            (g) => g.id === (change.value as SecurityGroupRule).security_group_id,
          );
          const bump = group
            ? [
                {
                  revision: rev,
                  kind: 'security_group',
                  id: group.id,
                  op: 'put',
                  value: group,
                } as Change,
              ]
            : [];
          n.changed([change, ...bump]);
          expect(outcome(() => n.normalize(policy))).toEqual(
            outcome(() => normalizePolicy(policy)),
          );
        }
        incremental += n.stats.incremental;
      }),
    );
    expect(incremental).toBeGreaterThan(0);
  });

  it('a group whose statefulness changes takes the full path', () => {
    const policy = base();
    const n = new IncrementalNormalizer();
    n.normalize(policy);
    const g1 = { ...policy.security_groups[0]!, stateful: false };
    policy.security_groups = [g1, ...policy.security_groups.slice(1)];
    n.changed([{ revision: 1, kind: 'security_group', id: 'g1', op: 'put', value: g1 } as Change]);
    expect(n.normalize(policy)).toEqual(normalizePolicy(policy));
    expect(n.stats).toEqual({ incremental: 0, full: 2 });
  });

  it('a change of anything but rules, ports and address groups takes the full path', () => {
    const policy = base();
    const n = new IncrementalNormalizer();
    n.normalize(policy);
    const net = { ...policy.networks[0]!, port_security_enabled: false };
    policy.networks = [net];
    n.changed([{ revision: 1, kind: 'network', id: 'net', op: 'put', value: net } as Change]);
    expect(n.normalize(policy)).toEqual(normalizePolicy(policy));
    expect(n.stats).toEqual({ incremental: 0, full: 2 });
  });
});
