import { describe, expect, it } from 'vitest';
import { SgflowError } from '../model/errors.js';
import { normalizePolicy } from '../model/policy.js';
import type { Policy, SecurityGroupRule } from '../model/types.js';
import type { Flow, Match } from '../openflow/ir.js';
import { compile, type CompileInput } from './compile.js';
import { Cookie } from './cookie.js';
import { actionsKey, matchKey } from './emit.js';
import { demoPolicy, group, macOf, network, policy, port, rule } from './fixtures.js';
import { portRangeToMasks } from './port-ranges.js';
import { Table } from './tables.js';

function run(p: Policy, localPorts: CompileInput['localPorts'], extra: Partial<CompileInput> = {}) {
  return compile({ policy: normalizePolicy(p), localPorts, ...extra });
}

const flowId = (f: Flow): string =>
  `${f.table}|${f.priority}|${matchKey(f.match)}|${actionsKey(f.actions)}|${f.cookie}`;

const inTable = (flows: readonly Flow[], table: number): Flow[] =>
  flows.filter((f) => f.table === table);

const has = (m: Match, field: keyof Match): boolean => m[field] !== undefined;

function simple(groupStateful = true, rules: SecurityGroupRule[] = []): Policy {
  return policy({
    networks: [network('net1')],
    security_groups: [group('g', groupStateful)],
    ports: [port('p1', 'net1', macOf(1), ['10.0.0.1', '10.0.0.2'], ['g'])],
    security_group_rules: rules,
  });
}

describe('port security', () => {
  it('a port with two fixed IPs gets ARP flows for both and nothing for a third', () => {
    const { flows } = run(simple(), [{ portId: 'p1', ofport: 7 }]);
    const arp = inTable(flows, Table.EgressPortSecurity).filter(
      (f) => f.match.eth_type?.value === 0x806n,
    );
    const spas = arp.map((f) => f.match.arp_spa?.value);
    expect(spas.sort()).toEqual([0x0a000001n, 0x0a000002n]);
    for (const f of arp) {
      expect(f.match.reg5?.value).toBe(7n);
      expect(f.match.arp_sha?.value).toBe(0x020000000001n);
      expect(f.match.eth_src?.value).toBe(0x020000000001n);
    }
    expect(spas).not.toContain(0x0a000003n);
  });

  it('binds source IPs to their MAC, including the link-local of the port MAC', () => {
    const { flows } = run(simple(), [{ portId: 'p1', ofport: 7 }]);
    const srcs = inTable(flows, Table.EgressPortSecurity).filter(
      (f) => has(f.match, 'ip_src') || has(f.match, 'ipv6_src'),
    );
    const v6 = srcs.map((f) => f.match.ipv6_src?.value).filter((v) => v !== undefined);
    // fe80::ff:fe00:1 (EUI-64 of 02:00:00:00:00:01) and :: (DAD), nothing else.
    expect(v6.sort()).toEqual([0n, 0xfe80_0000_0000_0000_0000_00ff_fe00_0001n]);
  });

  it('ports with port security off are unfiltered both ways', () => {
    const p = policy({
      networks: [network('net1')],
      ports: [port('open', 'net1', macOf(9), ['10.0.0.9'], [], { port_security_enabled: false })],
    });
    const { flows } = run(p, [{ portId: 'open', ofport: 9 }]);
    const classify = inTable(flows, Table.Classify).find((f) => f.match.in_port?.value === 9n)!;
    expect(classify.actions.at(-1)).toEqual({ type: 'goto_table', table: Table.Forward });
    for (const t of [Table.EgressPortSecurity, Table.IngressPortSecurity]) {
      expect(inTable(flows, t).some((f) => f.match.reg5?.value === 9n)).toBe(false);
    }
    const deliver = inTable(flows, Table.Forward).find(
      (f) => f.match.eth_dst?.value === 0x020000000009n,
    )!;
    expect(deliver.actions.at(-1)).toEqual({ type: 'goto_table', table: Table.Output });
  });
});

describe('VLAN tags from ports', () => {
  it('drops a tagged frame from a port with port security before any other flow can pass it', () => {
    const { flows } = run(simple(), [{ portId: 'p1', ofport: 7 }]);
    const eps = inTable(flows, Table.EgressPortSecurity);
    const tagged = eps.filter((f) => has(f.match, 'vlan_tci'));
    expect(tagged).toHaveLength(1);
    expect(tagged[0]!.match).toEqual({ vlan_tci: { value: 0x1000n, mask: 0x1000n } });
    expect(tagged[0]!.actions).toEqual([]);
    for (const f of eps) if (f !== tagged[0]) expect(f.priority).toBeLessThan(tagged[0]!.priority);
  });
});

describe('forwarding to allowed-address-pair MACs', () => {
  const VMAC = '02:00:00:00:00:c9';
  const vmac = 0x0200000000c9n;
  const vrrp = (extra: Partial<Policy> = {}): Policy =>
    policy({
      networks: [network('net1')],
      security_groups: [group('g')],
      ports: [
        port('p1', 'net1', macOf(1), ['10.0.0.1'], ['g'], {
          allowed_address_pairs: [{ ip_address: '10.0.0.200', mac_address: VMAC }],
        }),
        port('p2', 'net1', macOf(2), ['10.0.0.2'], ['g'], {
          allowed_address_pairs: [
            { ip_address: '10.0.0.200', mac_address: VMAC },
            { ip_address: '10.0.0.201', mac_address: macOf(3) },
          ],
        }),
        port('p3', 'net1', macOf(3), ['10.0.0.3'], ['g']),
      ],
      ...extra,
    });
  const locals = [
    { portId: 'p1', ofport: 1 },
    { portId: 'p2', ofport: 2 },
    { portId: 'p3', ofport: 3 },
  ];
  /** The ports (reg5 values) a Forward flow hands the packet to, in clones or directly. */
  const receivers = (f: Flow): bigint[] =>
    f.actions.flatMap((a) =>
      a.type === 'clone'
        ? a.actions.flatMap((b) => (b.type === 'set_field' && b.field === 'reg5' ? [b.value] : []))
        : a.type === 'set_field' && a.field === 'reg5'
          ? [a.value]
          : [],
    );
  const toMac = (flows: readonly Flow[], mac: bigint) =>
    inTable(flows, Table.Forward).filter((f) => f.match.eth_dst?.value === mac);
  const outputs = (f: Flow) => f.actions.flatMap((a) => (a.type === 'output' ? [a.port] : []));

  it('a pair MAC shared by two ports (VRRP) reaches both, one clone each', () => {
    const { flows } = run(vrrp(), locals);
    const fwd = toMac(flows, vmac);
    expect(fwd).toHaveLength(1);
    expect(fwd[0]!.actions.every((a) => a.type === 'clone')).toBe(true);
    expect(receivers(fwd[0]!)).toEqual([1n, 2n]);
  });

  it('a pair MAC no local port owns also goes to the uplink, unless it came from there', () => {
    const { flows } = run(vrrp(), locals, { uplinkOfport: 50 });
    const fwd = toMac(flows, vmac);
    expect(fwd).toHaveLength(2);
    const fromUplink = (f: Flow) => ((f.match.reg0?.value ?? 0n) & 8n) === 8n;
    const local = fwd.find((f) => !fromUplink(f))!;
    const remote = fwd.find((f) => fromUplink(f))!;
    expect(local.match.reg0?.mask).toBe(8n);
    expect(remote.match.reg0?.mask).toBe(8n);
    expect(receivers(local)).toEqual([1n, 2n]);
    expect(outputs(local)).toEqual([50]);
    expect(receivers(remote)).toEqual([1n, 2n]);
    expect(outputs(remote)).toEqual([]);
  });

  it("a pair MAC that is another local port's own MAC reaches both, never the uplink", () => {
    const { flows } = run(vrrp(), locals, { uplinkOfport: 50 });
    const fwd = toMac(flows, 0x020000000003n);
    expect(fwd).toHaveLength(1);
    expect(receivers(fwd[0]!)).toEqual([2n, 3n]);
    expect(outputs(fwd[0]!)).toEqual([]);
  });

  it("a port's own MAC claimed by it alone is one direct hand-over (no clone)", () => {
    const { flows } = run(vrrp(), locals, { uplinkOfport: 50 });
    const fwd = toMac(flows, 0x020000000001n);
    expect(fwd).toHaveLength(1);
    expect(fwd[0]!.actions.some((a) => a.type === 'clone')).toBe(false);
    expect(receivers(fwd[0]!)).toEqual([1n]);
    expect(fwd[0]!.actions.at(-1)).toEqual({
      type: 'goto_table',
      table: Table.IngressPortSecurity,
    });
  });

  it('a pair MAC of a port on another network is not forwarded on this one', () => {
    const p = vrrp();
    const moved = {
      ...p,
      networks: [...p.networks, network('net2')],
      ports: p.ports.map((x) => (x.id === 'p2' ? { ...x, network_id: 'net2' } : x)),
    };
    const { flows } = run(moved, locals);
    const fwd = toMac(flows, vmac);
    // One flow per network that has a claimant: net1 (p1) and net2 (p2), each only its own.
    expect(fwd.map((f) => receivers(f))).toEqual(expect.arrayContaining([[1n], [2n]]));
    expect(fwd).toHaveLength(2);
    for (const f of fwd) expect(f.match.reg6).toBeDefined();
  });
});

describe('rules', () => {
  const tcp80 = rule('r80', 'g', { protocol: 'tcp', port_range_min: 80, port_range_max: 80 });

  it('stateful groups match the conntrack tuple, stateless ones the packet', () => {
    const stateful = inTable(
      run(simple(true, [tcp80]), [{ portId: 'p1', ofport: 1 }]).flows,
      Table.IngressRules,
    );
    const stateless = inTable(
      run(simple(false, [tcp80]), [{ portId: 'p1', ofport: 1 }]).flows,
      Table.IngressRules,
    );
    const hit = (fs: Flow[]) => fs.filter((f) => f.priority > 0);
    expect(hit(stateful)).toHaveLength(1);
    expect(hit(stateful)[0]!.match).toMatchObject({
      ct_nw_proto: { value: 6n },
      ct_tp_dst: { value: 80n },
    });
    expect(has(hit(stateful)[0]!.match, 'tcp_dst')).toBe(false);
    expect(hit(stateless)).toHaveLength(1);
    expect(hit(stateless)[0]!.match).toMatchObject({
      ip_proto: { value: 6n },
      tcp_dst: { value: 80n },
    });
    expect(has(hit(stateless)[0]!.match, 'ct_state')).toBe(false);
  });

  it('remote-group rules use the other original-direction address: source for ingress, destination for egress', () => {
    const p = simple(true, [
      rule('in', 'g', { remote_group_id: 'g', ethertype: 'IPv6' }),
      rule('out', 'g', { direction: 'egress', remote_ip_prefix: '192.0.2.0/24' }),
    ]);
    p.ports[0]!.fixed_ips.push({ ip_address: 'fd00::1' });
    const { flows } = run(p, [{ portId: 'p1', ofport: 1 }]);
    const ing = inTable(flows, Table.IngressRules).filter((f) => f.priority > 0);
    expect(ing.map((f) => f.match.ct_ipv6_src?.value)).toEqual([(0xfd00n << 112n) | 1n]);
    const eg = inTable(flows, Table.EgressRules).filter((f) => f.priority > 0);
    expect(eg.map((f) => [f.match.ct_nw_dst?.value, f.match.ct_nw_dst?.mask])).toEqual([
      [0xc0000200n, 0xffffff00n],
    ]);
  });

  it('a remote group of 1000 members, 3 rules, 100 ports grows by the sum, not the product', () => {
    const ports = [];
    for (let i = 0; i < 1100; i++) {
      ports.push(
        port(`p${i}`, 'net1', macOf(i + 1), [`10.${(i >> 8) & 255}.${i & 255}.1`], ['web', 'db'], {
          'binding:host_id': i < 100 ? 'here' : 'there',
        }),
      );
    }
    const p = policy({
      networks: [network('net1')],
      security_groups: [group('web'), group('db')],
      ports,
      security_group_rules: [
        rule('a', 'web', {
          protocol: 'tcp',
          port_range_min: 80,
          port_range_max: 80,
          remote_group_id: 'db',
        }),
        rule('b', 'web', {
          protocol: 'tcp',
          port_range_min: 8000,
          port_range_max: 8999,
          remote_group_id: 'db',
        }),
        rule('c', 'web', {
          protocol: 'udp',
          port_range_min: 53,
          port_range_max: 53,
          remote_group_id: 'db',
        }),
      ],
    });
    const local = ports.slice(0, 100).map((x, i) => ({ portId: x.id, ofport: i + 1 }));
    const { flows } = run(p, local);
    const rules = inTable(flows, Table.IngressRules);
    // ports (100) + members (1100) + services (1 + 6 + 1) + conj_id + drop.
    expect(rules.length).toBeLessThanOrEqual(100 + 1100 + 8 + 2);
    expect(rules.length).toBeGreaterThanOrEqual(100 + 1100);
    // The whole table stays linear in ports too.
    expect(flows.length).toBeLessThan(1100 + 100 * 25);
  });

  it('source × destination port ranges grow by the sum of their covers, not the product', () => {
    // 1-65534 as destination (30 value/mask entries with prefix splitting, far fewer here) and
    // 1024-65535 as source: one rule, two port dimensions kept apart.
    const dst = portRangeToMasks(1, 65534).length;
    const src = portRangeToMasks(1024, 65535).length;
    expect(dst * src).toBeGreaterThan(dst + src);
    const p = simple(true, [
      rule('r', 'g', {
        protocol: 'udp',
        port_range_min: 1,
        port_range_max: 65534,
        source_port_range_min: 1024,
        source_port_range_max: 65535,
      }),
    ]);
    const { flows } = run(p, [{ portId: 'p1', ofport: 1 }]);
    const rules = inTable(flows, Table.IngressRules).filter((f) => f.priority > 0);
    // One clause flow per destination entry and per source entry, and the conj_id flow.
    expect(rules.length).toBe(dst + src + 1);
    const clauses = rules.flatMap((f) => f.actions).filter((a) => a.type === 'conjunction');
    expect(clauses.length).toBe(dst + src);
    expect(new Set(clauses.map((a) => a.nClauses))).toEqual(new Set([2]));
  });

  it('two conjunctive keys never share a priority within a table', () => {
    const d = demoPolicy();
    const { flows } = compile({ policy: normalizePolicy(d.policy), localPorts: d.localPorts });
    const idsAt = new Map<string, Set<number>>();
    for (const f of flows) {
      for (const a of f.actions) {
        if (a.type !== 'conjunction') continue;
        const k = `${f.table}|${f.priority}`;
        const s = idsAt.get(k) ?? new Set();
        s.add(a.id);
        idsAt.set(k, s);
      }
    }
    expect(idsAt.size).toBeGreaterThanOrEqual(4);
    for (const [k, ids] of idsAt) expect(ids.size, k).toBe(1);
    // Every conjunction has its conj_id flow, and every clause 1..n is present.
    for (const [k, ids] of idsAt) {
      const [table, priority] = k.split('|').map(Number);
      const id = [...ids][0]!;
      expect(
        flows.some(
          (f) =>
            f.table === table && f.priority === priority && f.match.conj_id?.value === BigInt(id),
        ),
      ).toBe(true);
    }
  });

  it('merges equal flows of different groups into one flow whose cookie names both rules', () => {
    const p = policy({
      networks: [network('net1')],
      security_groups: [group('a'), group('b')],
      ports: [port('p1', 'net1', macOf(1), ['10.0.0.1'], ['a', 'b'])],
      security_group_rules: [
        rule('ra', 'a', { direction: 'egress' }),
        rule('rb', 'b', { direction: 'egress' }),
      ],
    });
    const { flows, cookies } = run(p, [{ portId: 'p1', ofport: 1 }]);
    const eg = inTable(flows, Table.EgressRules).filter((f) => f.priority > 0);
    expect(eg).toHaveLength(1);
    expect(eg[0]!.cookie).toBe(Cookie.forRules(['ra', 'rb']));
    expect(cookies.get(eg[0]!.cookie)).toEqual({ kind: 'rules', ruleIds: ['ra', 'rb'] });
  });

  it('DCCP port rules punt to the controller below every allow, never widen into an allow', () => {
    const { flows } = run(
      simple(true, [
        rule('d', 'g', { protocol: 'dccp', port_range_min: 5000, port_range_max: 5000 }),
        rule('any', 'g', { remote_ip_prefix: '10.9.0.0/16' }),
      ]),
      [{ portId: 'p1', ofport: 1 }],
    );
    const ing = inTable(flows, Table.IngressRules).filter((f) => f.priority > 0);
    const punt = ing.filter((f) => f.actions.some((a) => a.type === 'controller'));
    expect(punt).toHaveLength(1);
    expect(punt[0]!.match.ct_nw_proto?.value).toBe(33n);
    const allows = ing.filter((f) => f.actions.some((a) => a.type === 'goto_table'));
    for (const a of allows) expect(a.priority).toBeGreaterThan(punt[0]!.priority);
    expect(allows.some((f) => f.match.ct_nw_proto?.value === 33n)).toBe(false);
  });

  it('two DCCP rules with the same punt match share one punt flow naming both', () => {
    const { flows, cookies } = run(
      simple(false, [
        rule('d1', 'g', { protocol: 'dccp', port_range_min: 1, port_range_max: 9 }),
        rule('d2', 'g', { protocol: 'dccp', port_range_min: 20, port_range_max: 20 }),
      ]),
      [{ portId: 'p1', ofport: 1 }],
    );
    const punt = inTable(flows, Table.IngressRules).filter((f) =>
      f.actions.some((a) => a.type === 'controller'),
    );
    expect(punt).toHaveLength(1);
    expect(cookies.get(punt[0]!.cookie)).toEqual({ kind: 'rules', ruleIds: ['d1', 'd2'] });
  });

  it('SCTP port rules of stateful groups judge the packet, forward and reverse by the Reply flag', () => {
    const { flows } = run(
      simple(true, [rule('s', 'g', { protocol: 'sctp', port_range_min: 9, port_range_max: 9 })]),
      [{ portId: 'p1', ofport: 1 }],
    );
    const ing = inTable(flows, Table.IngressRules).filter((f) => f.priority > 0);
    expect(
      ing.map((f) => [f.match.reg0?.value, f.match.sctp_dst?.value, f.match.sctp_src?.value]),
    ).toEqual(
      expect.arrayContaining([
        [0n, 9n, undefined],
        [4n, undefined, 9n],
      ]),
    );
  });
});

describe('the whole table', () => {
  const d = demoPolicy();
  const input = (): CompileInput => ({
    policy: normalizePolicy(d.policy),
    localPorts: d.localPorts,
    uplinkOfport: 50,
  });

  it('is deterministic, whatever the order of ports and rules', () => {
    const a = compile(input()).flows.map(flowId);
    const shuffled: Policy = {
      ...d.policy,
      ports: [...d.policy.ports].reverse(),
      security_group_rules: [...d.policy.security_group_rules].reverse(),
    };
    const b = compile({
      policy: normalizePolicy(shuffled),
      localPorts: [...d.localPorts].reverse(),
      uplinkOfport: 50,
    });
    expect(b.flows.map(flowId)).toEqual(a);
    expect(compile(input()).flows.map(flowId)).toEqual(a);
  });

  it('is sorted by table, then priority descending', () => {
    const { flows } = compile(input());
    for (let i = 1; i < flows.length; i++) {
      const [p, q] = [flows[i - 1]!, flows[i]!];
      expect(p.table < q.table || (p.table === q.table && p.priority >= q.priority)).toBe(true);
    }
  });

  it('never holds two flows with the same table, priority and match', () => {
    const { flows } = compile(input());
    const keys = flows.map((f) => `${f.table}|${f.priority}|${matchKey(f.match)}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('names every cookie it uses', () => {
    const { flows, cookies } = compile(input());
    for (const f of flows) expect(cookies.has(f.cookie)).toBe(true);
    expect([...cookies.values()].map((o) => o.kind)).toEqual(
      expect.arrayContaining(['port', 'rule', 'pipeline', 'network']),
    );
  });

  it("changing one rule changes only the flows of that rule's key", () => {
    const before = compile(input());
    const changed: Policy = {
      ...d.policy,
      security_group_rules: d.policy.security_group_rules.map((r) =>
        r.id === 'w-8k' ? { ...r, port_range_min: 8100 } : r,
      ),
    };
    const after = compile({ ...input(), policy: normalizePolicy(changed) });
    const a = new Set(before.flows.map(flowId));
    const b = new Set(after.flows.map(flowId));
    const diff = [
      ...before.flows.filter((f) => !b.has(flowId(f))),
      ...after.flows.filter((f) => !a.has(flowId(f))),
    ];
    expect(diff.length).toBeGreaterThan(0);
    for (const f of diff) {
      const origin = before.cookies.get(f.cookie) ?? after.cookies.get(f.cookie);
      expect(origin).toEqual({ kind: 'rule', ruleId: 'w-8k' });
    }
  });

  it('adding a rule and removing it again restores the table exactly', () => {
    const base = compile(input()).flows.map(flowId);
    const added: Policy = {
      ...d.policy,
      security_group_rules: [
        ...d.policy.security_group_rules,
        rule('new', 'web', { protocol: 'tcp', port_range_min: 25, port_range_max: 25 }),
      ],
    };
    const withRule = compile({ ...input(), policy: normalizePolicy(added) }).flows.map(flowId);
    expect(withRule).not.toEqual(base);
    expect(compile(input()).flows.map(flowId)).toEqual(base);
  });

  it('honours the base table', () => {
    const { flows } = compile({ ...input(), options: { baseTable: 20 } });
    for (const f of flows) {
      expect(f.table).toBeGreaterThanOrEqual(20);
      expect(f.table).toBeLessThanOrEqual(29);
      for (const a of f.actions)
        if (a.type === 'goto_table' || a.type === 'resubmit')
          expect(a.table).toBeGreaterThanOrEqual(20);
    }
  });

  it('tags uplink traffic with the network VLAN and classifies tagged traffic coming in', () => {
    const { flows } = compile(input());
    const out = inTable(flows, Table.Forward).find((f) => f.priority === 10)!;
    expect(out.actions).toEqual([
      { type: 'push_vlan', ethertype: 0x8100 },
      { type: 'set_field', field: 'vlan_tci', value: 0x1064n },
      { type: 'output', port: 50 },
    ]);
    const inbound = inTable(flows, Table.Classify).find((f) => f.match.in_port?.value === 50n)!;
    expect(inbound.match.vlan_tci).toEqual({ value: 0x1064n, mask: 0x1fffn });
  });

  it('rejects modes that are not there yet and bad local ports, naming the field', () => {
    expect(() => compile({ ...input(), options: { mode: 'learn' } })).toThrow(SgflowError);
    expect(() => compile({ ...input(), options: { mode: 'learn' } })).toThrow(
      /learn is not supported yet.*options\.mode/,
    );
    expect(() => compile({ ...input(), localPorts: [{ portId: 'nope', ofport: 1 }] })).toThrow(
      /nope/,
    );
    expect(() => compile({ ...input(), localPorts: [{ portId: 'web1', ofport: 0 }] })).toThrow(
      /localPorts\[0\]\.ofport/,
    );
    expect(() => compile({ ...input(), options: { baseTable: 250 } })).toThrow(/baseTable/);
  });
});
