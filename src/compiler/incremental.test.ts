import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { normalizePolicy } from '../model/policy.js';
import type { NormalizedPolicy, Policy, SecurityGroupRule } from '../model/types.js';
import type { Flow } from '../openflow/ir.js';
import { compile, type CompileInput } from './compile.js';
import { actionsKey, matchKey } from './emit.js';
import { demoPolicy, group, macOf, network, policy, port, rule } from './fixtures.js';
import { fnv1a32 } from './cookie.js';
import { IncrementalCompiler } from './incremental.js';
import { Priority } from './tables.js';

const flowText = (f: Flow): string =>
  `${f.table}|${f.priority}|${matchKey(f.match)}|${actionsKey(f.actions)}|${f.cookie}`;

const identity = (f: Flow): string => `${f.table}|${f.priority}|${matchKey(f.match)}`;

/** `before` with the change applied, in canonical order (as text). */
function applied(before: readonly Flow[], removed: readonly Flow[], added: readonly Flow[]) {
  const table = new Map(before.map((f) => [identity(f), f]));
  for (const f of removed) table.delete(identity(f));
  for (const f of added) table.set(identity(f), f);
  return [...table.values()].map(flowText).sort();
}

/**
 * What the agent's normaliser does: objects whose content did not change stay the very same
 * objects, so the compiler's identity signatures see exactly what changed.
 */
function keepUnchanged(
  prev: NormalizedPolicy | undefined,
  next: NormalizedPolicy,
): NormalizedPolicy {
  if (!prev) return next;
  const same = (a: unknown, b: unknown): boolean =>
    JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ===
    JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  function keep<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>): Map<string, T> {
    const out = new Map<string, T>();
    for (const [id, v] of b) {
      const old = a.get(id);
      out.set(id, old !== undefined && same(old, v) ? old : v);
    }
    return out;
  }
  // A changed group keeps the rules that did not change (as the agent's normaliser does).
  const groups = keep(prev.groups, next.groups);
  for (const [id, g] of groups) {
    const old = prev.groups.get(id);
    if (!old || old === g) continue;
    const before = new Map(old.rules.map((r) => [r.id, r]));
    const rules = g.rules.map((r) => {
      const o = before.get(r.id);
      return o && same(o, r) ? o : r;
    });
    groups.set(id, { ...g, rules });
  }
  return {
    networks: keep(prev.networks, next.networks),
    ports: keep(prev.ports, next.ports),
    groups,
    addressGroups: keep(prev.addressGroups, next.addressGroups),
  };
}

// ------------------------------------------------------------------------------------------
// A small universe that random edits move around in.
// ------------------------------------------------------------------------------------------

const GROUPS = ['ga', 'gb', 'gc'];
const PORTS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];

interface World {
  stateless: Set<string>;
  /** Port → its groups (ports with no group and port security off have none). */
  groups: Map<string, string[]>;
  ips: Map<string, string[]>;
  pairs: Map<string, { ip_address: string; mac_address?: string }[]>;
  portSecurity: Map<string, boolean>;
  network: Map<string, string>;
  rules: SecurityGroupRule[];
  addresses: string[];
  /** Local ports → ofport. */
  local: Map<string, number>;
  uplink: number | null;
  vlan: number | null;
}

function startWorld(): World {
  return {
    stateless: new Set(),
    groups: new Map(PORTS.map((p, i) => [p, [GROUPS[i % 3]!]])),
    ips: new Map(PORTS.map((p, i) => [p, [`10.0.0.${i + 1}`, `fd00::${i + 1}`]])),
    pairs: new Map(PORTS.map((p) => [p, []])),
    portSecurity: new Map(PORTS.map((p) => [p, true])),
    network: new Map(PORTS.map((p, i) => [p, i < 4 ? 'n1' : 'n2'])),
    rules: [
      rule('r-in', 'ga', { protocol: 'tcp', port_range_min: 80, port_range_max: 80 }),
      rule('r-out', 'ga', { direction: 'egress' }),
      rule('r-grp', 'gb', { remote_group_id: 'ga' }),
    ],
    addresses: ['192.168.1.0/24'],
    local: new Map([
      ['p0', 1],
      ['p1', 2],
      ['p4', 3],
    ]),
    uplink: null,
    vlan: null,
  };
}

function policyOf(w: World): Policy {
  return policy({
    networks: [
      network('n1', w.vlan === null ? {} : { 'provider:segmentation_id': w.vlan }),
      network('n2', { 'provider:segmentation_id': 300 }),
    ],
    security_groups: GROUPS.map((g) => group(g, !w.stateless.has(g))),
    address_groups: [
      { id: 'ag', project_id: 'p', name: 'ag', description: '', addresses: [...w.addresses] },
    ],
    ports: PORTS.map((p, i) =>
      port(
        p,
        w.network.get(p)!,
        macOf(i + 1),
        w.ips.get(p)!,
        w.portSecurity.get(p) ? w.groups.get(p)! : [],
        {
          port_security_enabled: w.portSecurity.get(p)!,
          allowed_address_pairs: w.portSecurity.get(p) ? w.pairs.get(p)! : [],
        },
      ),
    ),
    security_group_rules: w.rules,
  });
}

type Edit = (w: World) => void;

const portArb = fc.constantFrom(...PORTS);
const groupArb = fc.constantFrom(...GROUPS);

const ruleArb: fc.Arbitrary<Partial<SecurityGroupRule>> = fc.oneof(
  fc.record({
    direction: fc.constantFrom('ingress' as const, 'egress' as const),
    protocol: fc.constantFrom('tcp', 'udp'),
    port_range_min: fc.constantFrom(22, 80, 1000),
    port_range_max: fc.constantFrom(22, 80, 1999),
    remote_ip_prefix: fc.constantFrom(null, '10.0.0.0/8', '0.0.0.0/0'),
  }),
  fc.record({
    direction: fc.constantFrom('ingress' as const, 'egress' as const),
    ethertype: fc.constantFrom('IPv4' as const, 'IPv6' as const),
    remote_group_id: groupArb,
  }),
  fc.record({
    protocol: fc.constantFrom('udp', 'dccp', 'sctp'),
    port_range_min: fc.constant(53),
    port_range_max: fc.constant(53),
    remote_address_group_id: fc.constant('ag'),
  }),
  fc.record({
    protocol: fc.constant('tcp'),
    source_port_range_min: fc.constantFrom(1, 1024),
    source_port_range_max: fc.constantFrom(1023, 65534),
    port_range_min: fc.constant(1),
    port_range_max: fc.constant(1000),
  }),
  fc.record({ protocol: fc.constant('icmp'), port_range_min: fc.constantFrom(0, 8) }),
);

let ruleSerial = 0;

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(groupArb, ruleArb).map(([g, r]): Edit => {
    return (w) => {
      const min = r.port_range_min;
      const max = r.port_range_max;
      const fixed =
        typeof min === 'number' && typeof max === 'number' && r.protocol !== 'icmp' && min > max
          ? { port_range_min: max, port_range_max: min }
          : {};
      w.rules.push(rule(`r${ruleSerial++}`, g, { ...r, ...fixed }));
    };
  }),
  fc.nat(20).map(
    (i): Edit =>
      (w) =>
        void w.rules.splice(i % Math.max(1, w.rules.length), 1),
  ),
  fc.tuple(portArb, fc.subarray(GROUPS, { minLength: 0 })).map(
    ([p, gs]): Edit =>
      (w) =>
        void w.groups.set(p, gs),
  ),
  fc.tuple(portArb, fc.nat(250)).map(
    ([p, n]): Edit =>
      (w) =>
        void w.ips.set(p, [`10.0.${n}.9`, ...w.ips.get(p)!.slice(1)]),
  ),
  fc.tuple(portArb, fc.boolean()).map(
    ([p, own]): Edit =>
      (w) =>
        void w.pairs.set(p, [
          { ip_address: '10.9.0.0/16', ...(own ? {} : { mac_address: '02:00:00:00:99:99' }) },
        ]),
  ),
  fc.tuple(portArb, fc.boolean()).map(
    ([p, on]): Edit =>
      (w) =>
        void w.portSecurity.set(p, on),
  ),
  fc.tuple(portArb, fc.constantFrom('n1', 'n2')).map(
    ([p, n]): Edit =>
      (w) =>
        void w.network.set(p, n),
  ),
  fc.tuple(portArb, fc.integer({ min: 1, max: 9 })).map(([p, ofport]): Edit => (w) => {
    for (const [q, o] of w.local) if (o === ofport && q !== p) w.local.delete(q);
    w.local.set(p, ofport);
  }),
  portArb.map(
    (p): Edit =>
      (w) =>
        void w.local.delete(p),
  ),
  groupArb.map((g): Edit => (w) => {
    // Neutron keeps a port's groups all stateful or all stateless: flip a whole group
    // only when no port mixes it with another.
    if (w.stateless.has(g)) w.stateless.delete(g);
    else w.stateless.add(g);
  }),
  fc.constantFrom('192.168.2.0/24', '172.16.0.0/12', 'fd00:9::/64').map((a): Edit => (w) => {
    const i = w.addresses.indexOf(a);
    if (i >= 0) w.addresses.splice(i, 1);
    else w.addresses.push(a);
  }),
  fc.constantFrom(null, 50).map(
    (u): Edit =>
      (w) =>
        void (w.uplink = u),
  ),
  fc.constantFrom(null, 100, 300).map(
    (v): Edit =>
      (w) =>
        void (w.vlan = v),
  ),
);

function inputOf(w: World, prev: NormalizedPolicy | undefined, keep: boolean): CompileInput | null {
  let n: NormalizedPolicy;
  try {
    n = normalizePolicy(policyOf(w));
  } catch {
    return null; // an edit the model refuses (e.g. stateful and stateless groups on one port)
  }
  return {
    policy: keep ? keepUnchanged(prev, n) : n,
    localPorts: [...w.local].map(([portId, ofport]) => ({ portId, ofport })),
    uplinkOfport: w.uplink,
  };
}

// Each step applies one to three edits, then compiles (a delete and an add in one step leave
// a key with as many rules as before, but other ones).
const stepArb = fc.array(editArb, { minLength: 1, maxLength: 3 }).map((list): Edit => (w) => {
  for (const e of list) e(w);
});

describe('IncrementalCompiler', () => {
  it('after every edit, its table equals compile() from nothing, and the change it reports turns the old table into the new one', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(stepArb, fc.boolean()), { maxLength: 12 }), (edits) => {
        const w = startWorld();
        const inc = new IncrementalCompiler();
        let prevPolicy: NormalizedPolicy | undefined;
        let before: Flow[] = [];
        for (const [edit, keep] of [[() => undefined, true] as [Edit, boolean], ...edits]) {
          edit(w);
          const input = inputOf(w, prevPolicy, keep);
          if (!input) continue;
          prevPolicy = input.policy;
          const u = inc.update(input);
          const fresh = compile(input);
          const now = inc.flows();
          expect(now.map(flowText)).toEqual(fresh.flows.map(flowText));
          expect(u.warnings).toEqual(fresh.warnings);
          expect(inc.cookies()).toEqual(fresh.cookies);
          expect(applied(before, u.change.removed, u.change.added)).toEqual(
            now.map(flowText).sort(),
          );
          before = now;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('compiles again only the units a change touches, and sends only their flows', () => {
    const { policy: raw, localPorts } = demoPolicy();
    const inc = new IncrementalCompiler();
    const first = normalizePolicy(raw);
    const start = inc.update({ policy: first, localPorts });
    expect(start.fresh).toBe(true);
    expect(start.recompiled).toBe(start.units);

    // The same input again: nothing compiled, nothing sent.
    const again = inc.update({ policy: first, localPorts });
    expect(again.recompiled).toBe(0);
    expect(again.change).toEqual({ removed: [], added: [] });

    // One rule added to `admin`: only units of that group's keys and rule flows are compiled again.
    const withRule = keepUnchanged(
      first,
      normalizePolicy({
        ...raw,
        security_group_rules: [
          ...raw.security_group_rules,
          rule('a-new', 'admin', { protocol: 'udp', port_range_min: 7000, port_range_max: 7000 }),
        ],
      }),
    );
    const r = inc.update({ policy: withRule, localPorts });
    expect(r.fresh).toBe(false);
    expect(r.recompiledUnits.length).toBeGreaterThan(0);
    for (const u of r.recompiledUnits) expect(u).toMatch(/^(keys|rules):admin$|^part:admin\|/);
    expect(r.change.removed).toEqual([]);
    expect(r.change.added.length).toBeGreaterThan(0);
    expect(r.change.added.length).toBeLessThanOrEqual(3);
    expect(inc.flows().map(flowText)).toEqual(
      compile({ policy: withRule, localPorts }).flows.map(flowText),
    );

    // A port unplugged: its own unit goes, and what names it (network, groups) is redone.
    const fewer = localPorts.filter((l) => l.portId !== 'raw1');
    const un = inc.update({ policy: withRule, localPorts: fewer });
    // Its network's flooding, and the units of its group `raw` (raw1 is its only member).
    for (const u of un.recompiledUnits) expect(u).toMatch(/^flood:net1$|^(keys|rules):raw$/);
    expect(un.change.added.filter((f) => f.match.reg5?.value === 3n)).toEqual([]);
    expect(un.change.removed.length).toBeGreaterThan(0);
    expect(inc.flows().map(flowText)).toEqual(
      compile({ policy: withRule, localPorts: fewer }).flows.map(flowText),
    );
  });

  it('a rule swapped for another in one key (same count) rebuilds the key', () => {
    const build = (rules: SecurityGroupRule[]): Policy =>
      policy({
        networks: [network('n1')],
        security_groups: [group('g')],
        ports: [
          port('p1', 'n1', macOf(1), ['10.0.0.1'], ['g']),
          port('p2', 'n1', macOf(2), ['10.0.0.2'], ['g']),
        ],
        security_group_rules: rules,
      });
    const tcp = (id: string, p: number) =>
      rule(id, 'g', { protocol: 'tcp', port_range_min: p, port_range_max: p });
    const localPorts = [
      { portId: 'p1', ofport: 1 },
      { portId: 'p2', ofport: 2 },
    ];
    const inc = new IncrementalCompiler();
    const one = normalizePolicy(build([tcp('a', 80), tcp('b', 443)]));
    inc.update({ policy: one, localPorts });
    const two = keepUnchanged(one, normalizePolicy(build([tcp('b', 443), tcp('c', 8080)])));
    const u = inc.update({ policy: two, localPorts });
    expect(inc.flows().map(flowText)).toEqual(
      compile({ policy: two, localPorts }).flows.map(flowText),
    );
    const dsts = (flows: readonly Flow[]) => flows.map((f) => f.match.ct_tp_dst?.value);
    expect(dsts(u.change.added)).toContain(8080n);
    expect(dsts(u.change.removed)).toContain(80n);
  });

  it('a key whose priority a new key takes (hash collision) is emitted again at its new slot', () => {
    // Find a group id that sorts before `zz` and whose key hashes to zz's priority slot.
    const slots = Priority.ConjunctionMax - Priority.ConjunctionMin + 1;
    const slotOf = (g: string): number => fnv1a32(`priority|${g}|ingress|IPv4|any|ct`) % slots;
    let rival = '';
    for (let n = 0; !rival; n++) if (slotOf(`a${n}`) === slotOf('zz')) rival = `a${n}`;
    const web = (g: string): SecurityGroupRule[] => [
      rule(`${g}-80`, g, { protocol: 'tcp', port_range_min: 80, port_range_max: 80 }),
      rule(`${g}-443`, g, { protocol: 'tcp', port_range_min: 443, port_range_max: 443 }),
    ];
    const build = (groups: string[]): Policy =>
      policy({
        networks: [network('n1')],
        security_groups: groups.map((g) => group(g)),
        ports: [
          port('p1', 'n1', macOf(1), ['10.0.0.1'], groups),
          port('p2', 'n1', macOf(2), ['10.0.0.2'], groups),
        ],
        security_group_rules: groups.flatMap(web),
      });
    const localPorts = [
      { portId: 'p1', ofport: 1 },
      { portId: 'p2', ofport: 2 },
    ];
    const inc = new IncrementalCompiler();
    const one = normalizePolicy(build(['zz']));
    inc.update({ policy: one, localPorts });
    const zzPriority = inc.flows().find((f) => f.match.conj_id)!.priority;
    const two = keepUnchanged(one, normalizePolicy(build([rival, 'zz'])));
    inc.update({ policy: two, localPorts });
    const fresh = compile({ policy: two, localPorts }).flows;
    expect(inc.flows().map(flowText)).toEqual(fresh.map(flowText));
    // The rival took zz's old priority; zz moved to the next slot.
    const priorities = fresh.filter((f) => f.match.conj_id).map((f) => f.priority);
    expect(priorities.sort()).toEqual([zzPriority, zzPriority + 1]);
  });

  it('a remote-group member joining adds one flow per key that names the group, re-emitting nothing else', () => {
    const { policy: raw, localPorts } = demoPolicy();
    const inc = new IncrementalCompiler();
    const first = normalizePolicy(raw);
    inc.update({ policy: first, localPorts });
    // A second port on another host joins `admin` (web's ssh rule names it; so does a-v6).
    const joined = keepUnchanged(
      first,
      normalizePolicy({
        ...raw,
        ports: [
          ...raw.ports,
          port('remote2', 'net1', macOf(6), ['10.1.0.6', 'fd00:1::6'], ['admin'], {
            'binding:host_id': 'host2',
          }),
        ],
      }),
    );
    const u = inc.update({ policy: joined, localPorts });
    expect(inc.flows().map(flowText)).toEqual(
      compile({ policy: joined, localPorts }).flows.map(flowText),
    );
    expect(u.change.removed).toEqual([]);
    // web-ssh (IPv4, 10.1.0.6) and admin's IPv6 rule (fd00:1::6): one clause flow each.
    const addrs = u.change.added.map((f) => f.match.ct_nw_src?.value ?? f.match.ct_ipv6_src?.value);
    expect(addrs.sort()).toEqual([0x0a010006n, 0xfd000001000000000000000000000006n].sort());
    // Compiled again: the keys of the groups that name admin, and the parts holding its addresses.
    for (const id of u.recompiledUnits) expect(id).toMatch(/^keys:(web|admin)$|^part:|^rules:/);
    expect(u.recompiledUnits.filter((id) => id.startsWith('part:')).length).toBeLessThanOrEqual(2);
  });

  it('bad input throws and leaves the table as it was', () => {
    const { policy: raw, localPorts } = demoPolicy();
    const inc = new IncrementalCompiler();
    const p = normalizePolicy(raw);
    inc.update({ policy: p, localPorts });
    const before = inc.flows().map(flowText);
    expect(() =>
      inc.update({ policy: p, localPorts: [...localPorts, { portId: 'web1', ofport: 9 }] }),
    ).toThrow(/listed twice/);
    expect(inc.flows().map(flowText)).toEqual(before);
    const same = inc.update({ policy: p, localPorts });
    expect(same.change).toEqual({ removed: [], added: [] });
  });

  it('a new layout (base table) starts from nothing', () => {
    const { policy: raw, localPorts } = demoPolicy();
    const inc = new IncrementalCompiler();
    const p = normalizePolicy(raw);
    inc.update({ policy: p, localPorts });
    const moved = inc.update({ policy: p, localPorts, options: { baseTable: 40 } });
    expect(moved.fresh).toBe(true);
    expect(inc.flows().every((f) => f.table >= 40)).toBe(true);
  });
});
