/**
 * The simulator against the real classifier: a compiled policy is installed in a private
 * ovs-vswitchd, and for a few hundred generated packets `ofproto/trace` and `simulate` must
 * name the same output ports (or both drop, or both punt to the controller).
 *
 * How conntrack is modelled on the OVS side: ofproto/trace runs no conntrack. It resumes each
 * recirculation with the ct_state given by `--ct-next` (here: the simulator's ct states, in
 * order) and keeps the ct_* original-direction tuple of the flow it started with — but wipes
 * it at every `ct_clear` and after every `ct` action on the path that continues. So both
 * sides run the compiled table rewritten for one packet (`forTrace`): no `ct_clear`, no
 * commit, and each state table's "untracked → ct(table=self)" flow made unconditional and
 * recirculating into a shadow copy of the rest of that table. For a single packet that
 * entered untracked this is the same pipeline; the traced flow then starts with the tuple the
 * simulator's conntrack gives it. The history a reply needs (the connection it answers) is
 * built in the simulator with the table as compiled. Packets whose conntrack stages see
 * different tuples (a connection known in one zone only) cannot be traced this way: they are
 * counted, not compared.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecurityGroupRule } from '../../src/model/types.js';
import type { Action, Flow, FlowTable } from '../../src/openflow/ir.js';
import { CtState } from '../../src/openflow/ir.js';
import { cloneKey, keyFromPacket, type FlowKey } from '../../src/sim/key.js';
import { newSimState, simulate, type SimResult, type SimState } from '../../src/sim/simulate.js';
import { type OvsSandbox, startOvs } from '../support/ovs.js';
import { answerOf, caseArb, openerOf, packetOf } from '../support/packets.js';
import { datapathPortMap, keyToFlowText, traceKey } from '../support/trace.js';
import { compile } from '../../src/compiler/index.js';
import { normalizePolicy } from '../../src/model/policy.js';
import * as fx from '../../src/model/fixtures.js';
import { installFlows } from './harness.js';

const NET = 'net1';
const macStr = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;

/** The ports of the host: ofport = n. */
const PORTS = [
  { n: 1, name: 'a', groups: ['web', 'ssh'] },
  { n: 2, name: 'b', groups: ['db'], aap: [{ ip_address: '10.0.0.102' }] },
  { n: 3, name: 'c', groups: ['sl'] },
  { n: 4, name: 'd', portSecurity: false },
  {
    n: 5,
    name: 'e',
    groups: ['web'],
    aap: [{ ip_address: '10.0.1.0/24', mac_address: '02:00:00:00:00:55' }],
  },
];

function crossPolicy() {
  let seq = 0;
  const r = (g: string, direction: 'ingress' | 'egress', more: Partial<SecurityGroupRule> = {}) =>
    fx.rule({ id: `r${++seq}`, security_group_id: g, direction, ...more });
  return fx.policy({
    networks: [fx.network({ id: NET })],
    ports: PORTS.map((p) =>
      fx.port({
        id: `port-${p.name}`,
        network_id: NET,
        mac_address: macStr(p.n),
        fixed_ips: [{ ip_address: `10.0.0.${p.n}` }, { ip_address: `fd00::${p.n}` }],
        allowed_address_pairs: p.aap ?? [],
        security_groups: p.portSecurity === false ? [] : (p.groups ?? []),
        port_security_enabled: p.portSecurity !== false,
      }),
    ),
    security_groups: [
      fx.group({ id: 'web' }),
      fx.group({ id: 'ssh' }),
      fx.group({ id: 'db' }),
      fx.group({ id: 'sl', stateful: false }),
    ],
    security_group_rules: [
      r('web', 'egress', { ethertype: 'IPv4' }),
      r('web', 'egress', { ethertype: 'IPv6' }),
      r('web', 'ingress', { protocol: 'tcp', port_range_min: 80, port_range_max: 80 }),
      r('web', 'ingress', { protocol: 'tcp', port_range_min: 443, port_range_max: 443 }),
      r('web', 'ingress', {
        protocol: 'tcp',
        port_range_min: 8000,
        port_range_max: 8999,
        remote_group_id: 'db',
      }),
      r('web', 'ingress', { protocol: 'icmp' }),
      r('web', 'ingress', {
        ethertype: 'IPv6',
        protocol: 'tcp',
        port_range_min: 80,
        port_range_max: 80,
      }),
      r('web', 'ingress', {
        ethertype: 'IPv6',
        protocol: 'ipv6-icmp',
        port_range_min: 128,
        port_range_max: 0,
      }),
      r('ssh', 'ingress', {
        protocol: 'tcp',
        port_range_min: 22,
        port_range_max: 22,
        remote_ip_prefix: '10.0.0.0/30',
      }),
      r('ssh', 'ingress', {
        protocol: 'udp',
        port_range_min: 1000,
        port_range_max: 1999,
        source_port_range_min: 5000,
        source_port_range_max: 5100,
        remote_address_group_id: 'ag1',
      }),
      r('db', 'ingress', {
        protocol: 'tcp',
        port_range_min: 5432,
        port_range_max: 5432,
        remote_group_id: 'web',
      }),
      r('db', 'egress', { protocol: 'tcp' }),
      r('db', 'egress', {
        protocol: 'udp',
        port_range_min: 53,
        port_range_max: 53,
        remote_ip_prefix: '10.0.0.0/24',
      }),
      r('db', 'ingress', { protocol: 'icmp', port_range_min: 8, port_range_max: null }),
      r('sl', 'ingress', { protocol: 'udp', port_range_min: 53, port_range_max: 53 }),
      r('sl', 'egress', { protocol: 'udp', source_port_range_min: 53, source_port_range_max: 53 }),
      r('sl', 'ingress', { protocol: 'tcp', port_range_min: 80, port_range_max: 80 }),
      r('sl', 'egress', { protocol: 'tcp', source_port_range_min: 80, source_port_range_max: 80 }),
      r('sl', 'egress', { protocol: 'icmp' }),
    ],
    address_groups: [
      fx.addressGroup({ id: 'ag1', addresses: ['10.0.0.1/32', '10.0.0.3/32', 'fd00::/120'] }),
    ],
  });
}

/** Shadow copy of table t (the continuation after its conntrack recirculation). */
const shadow = (t: number) => 150 + t;

function isTrackFlow(f: Flow): boolean {
  return f.actions.some((a) => a.type === 'ct' && a.table === f.table);
}

function stripForTrace(actions: readonly Action[], table: number, track: boolean): Action[] {
  return actions.flatMap((a): Action[] => {
    if (a.type === 'ct_clear') return [];
    if (a.type === 'ct' && a.table === undefined) return [];
    if (a.type === 'ct' && track) return [{ ...a, table: shadow(table) }];
    if (a.type === 'clone') return [{ ...a, actions: stripForTrace(a.actions, table, false) }];
    return [a];
  });
}

/**
 * The compiled table rewritten so that one packet behaves the same in it, given the
 * conntrack states, while ofproto/trace can follow it (see the header): no ct_clear, no
 * commit, and each state table's "untracked → ct(table=self)" flow made unconditional and
 * recirculating into a shadow copy of the rest of its table.
 */
function forTrace(flows: FlowTable): Flow[] {
  const out: Flow[] = [];
  const tracked = new Set(flows.filter(isTrackFlow).map((f) => f.table));
  for (const f of flows) {
    const track = isTrackFlow(f);
    const match = { ...f.match };
    if (track) delete match.ct_state;
    out.push({ ...f, match, actions: stripForTrace(f.actions, f.table, track) });
    if (tracked.has(f.table) && !track) {
      // A shadow table sits above the pipeline: OpenFlow only lets goto_table go forward, so
      // its gotos become resubmits (the same thing as a flow's last action).
      const actions = stripForTrace(f.actions, f.table, false).map((a): Action =>
        a.type === 'goto_table' ? { type: 'resubmit', table: a.table } : a,
      );
      out.push({ ...f, table: shadow(f.table), actions });
    }
  }
  return out;
}

let ovs: OvsSandbox;
let portMap: Map<number, number>;

beforeAll(async () => {
  ovs = await startOvs({ name: 'trace' });
  for (const p of PORTS) {
    await ovs.vsctl(
      'add-port',
      ovs.bridge,
      `p${p.n}`,
      '--',
      'set',
      'Interface',
      `p${p.n}`,
      'type=internal',
      `ofport_request=${p.n}`,
    );
  }
  portMap = await datapathPortMap(ovs);
});

afterAll(async () => {
  await ovs?.stop();
});

interface Tables {
  /** As compiled: builds the conntrack history (the connection a reply answers). */
  compiled: FlowTable;
  /** As traced: installed in OVS, and what the simulator runs for the compared packet. */
  traced: Flow[];
}

/**
 * Compile at `baseTable` and install. Above table 0 the pipeline sits behind one
 * `goto_table`, as it would inside a larger one.
 */
async function install(baseTable: number): Promise<Tables> {
  const result = compile({
    policy: normalizePolicy(crossPolicy()),
    localPorts: PORTS.map((p) => ({ portId: `port-${p.name}`, ofport: p.n })),
    options: { baseTable },
  });
  const entry: Flow[] =
    baseTable === 0
      ? []
      : [
          {
            table: 0,
            priority: 0,
            cookie: 0n,
            match: {},
            actions: [{ type: 'goto_table', table: baseTable }],
          },
        ];
  const compiled = [...entry, ...result.flows];
  const traced = forTrace(compiled);
  await installFlows(ovs, traced);
  return { compiled, traced };
}

function ctRecircStates(r: SimResult): { zone: number; state: number }[] {
  return r.path.flatMap((s) =>
    s.kind === 'ct' && s.recirc !== undefined ? [{ zone: s.zone, state: s.state }] : [],
  );
}

const VALID = CtState.NEW | CtState.EST | CtState.REL;

/**
 * The key as traced: with the original-direction tuple every conntrack stage gives it, or
 * null when the stages disagree (connection known in one zone only).
 */
function tracedKey(state: SimState, key: FlowKey, stages: { zone: number }[]): FlowKey | null {
  const tuples = new Set<string>();
  let first: ReturnType<SimState['conntrack']['lookup']> | null = null;
  for (const s of stages) {
    const r = state.conntrack.lookup(s.zone, key);
    if (!(r.state & VALID) || !r.tuple) continue;
    tuples.add(
      `${r.tuple.key.src}|${r.tuple.key.dst}|${r.tuple.key.proto}|${r.tuple.tpSrc}|${r.tuple.tpDst}`,
    );
    first ??= r;
  }
  if (tuples.size > 1) return null;
  const k = cloneKey(key);
  if (first?.tuple) {
    const f = k.fields;
    f.ct_state = BigInt(first.state);
    if (first.tuple.key.family === 4) {
      f.ct_nw_src = first.tuple.key.src;
      f.ct_nw_dst = first.tuple.key.dst;
    } else {
      f.ct_ipv6_src = first.tuple.key.src;
      f.ct_ipv6_dst = first.tuple.key.dst;
    }
    f.ct_nw_proto = BigInt(first.tuple.key.proto);
    f.ct_tp_src = BigInt(first.tuple.tpSrc);
    f.ct_tp_dst = BigInt(first.tuple.tpDst);
  }
  return k;
}

async function crossCheck({ compiled, traced }: Tables, seed: number, numRuns: number) {
  const cases = fc.sample(caseArb, { seed, numRuns });
  let compared = 0;
  let skipped = 0;
  const verdicts = new Map<string, number>();
  const mismatches: string[] = [];

  for (const c of cases) {
    const p0 = packetOf(c);
    const opener = openerOf(c, p0);
    const packet = opener ? answerOf(c, p0, opener) : p0;
    // The history: the connection the packet answers, built with the compiled table.
    const state = newSimState();
    if (opener) simulate(compiled, state, c.receiver, keyFromPacket(opener, c.receiver));
    // The traced table commits nothing, so the state stays as the history left it.
    const plainKey = keyFromPacket(packet, c.sender);
    const stages = ctRecircStates(simulate(traced, state, c.sender, plainKey));
    const key = tracedKey(state, plainKey, stages);
    if (!key) {
      skipped++;
      continue;
    }
    const sim = simulate(traced, state, c.sender, key);
    const ctNext = ctRecircStates(sim).map((s) => s.state);
    const tr = await traceKey(ovs, key, ctNext, portMap);
    compared++;
    const simSays = `${sim.outputs.join(',') || '-'}${sim.controller.length > 0 ? '+controller' : ''}`;
    const ovsSays = `${tr.outputs.join(',') || '-'}${tr.controller ? '+controller' : ''}`;
    const verdict = `${c.scenario}:${simSays === '-' ? 'drop' : 'delivered'}`;
    verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
    if (simSays !== ovsSays) {
      mismatches.push(
        `${JSON.stringify(c)}\n  flow: ${keyToFlowText(key)}\n  ct-next: ${ctNext.join(' ')}\n  sim: ${simSays}  ovs: ${ovsSays}\n  datapath: ${tr.datapathActions.join(' | ')}`,
      );
    }
  }
  return { compared, skipped, verdicts, mismatches };
}

describe('simulator vs ofproto/trace', () => {
  it('agree on the verdict of generated packets', async () => {
    const r = await crossCheck(await install(0), 20261121, 300);
    console.log(`compared ${r.compared}, skipped ${r.skipped}:`, Object.fromEntries(r.verdicts));
    // Nearly every case must be traceable, and every scenario must both pass and drop.
    expect(r.compared).toBeGreaterThan(250);
    expect(r.skipped).toBeLessThan(50);
    for (const scenario of ['new', 'reply', 'related']) {
      expect(
        r.verdicts.get(`${scenario}:drop`) ?? 0,
        `${scenario} packets dropped`,
      ).toBeGreaterThan(10);
      expect(
        r.verdicts.get(`${scenario}:delivered`) ?? 0,
        `${scenario} packets delivered`,
      ).toBeGreaterThan(5);
    }
    expect(r.mismatches.slice(0, 10).join('\n\n')).toBe('');
  });

  it('agree with the pipeline at a non-zero base table', async () => {
    const r = await crossCheck(await install(40), 7, 120);
    expect(r.compared).toBeGreaterThan(100);
    expect(r.verdicts.get('new:delivered') ?? 0).toBeGreaterThan(0);
    expect(r.mismatches.slice(0, 10).join('\n\n')).toBe('');
  });
});
