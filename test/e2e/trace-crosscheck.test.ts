/**
 * `ovs-appctl ofproto/trace` against `sgflow trace`: a compiled policy is installed in a
 * private ovs-vswitchd, and for a few hundred generated packets the real classifier and
 * sgflow's tracer must name the same output ports (or both drop, or both punt to the
 * controller). Verdicts are counted per scenario (new / reply / related), and each scenario
 * must both pass and drop packets.
 *
 * The sgflow side. A packet that opens a connection ("new") goes through `sgflow trace`
 * itself: the policy is written as a policy file, the packet as ovs-ofctl match text (the
 * same text ofproto/trace gets), and `traceLines` (src/cli/trace.ts: read the file, compile,
 * simulate, explain) gives the verdict; for a sample of them the real `bin/sgflow trace`
 * binary runs too and must print the same lines and exit status. `sgflow trace` starts every
 * packet from an empty conntrack and has no way to say "this answers a connection", so a
 * reply or a related ICMP error is judged by what it runs underneath — `compile` and
 * `simulate` on the table as compiled — after the connection it answers has been simulated.
 *
 * The OVS side, and why its table is rewritten. ofproto/trace runs no conntrack: at each
 * `ct(table=…)` it queues a recirculation that resumes with the ct_state `--ct-next` gives
 * (here: the states the simulator's conntrack gave, in order), and it sets nothing but
 * ct_state there (ofproto-dpif-trace.c, `ofproto_trace_recirc_node`). The original-direction
 * tuple (ct_nw_src, ct_tp_dst, …) the rules match on is whatever the flow carried at the
 * recirculation — zero unless the traced flow started with it, and wiped at every `ct_clear`
 * and after every `ct` action on the path that continues. So the traced flow starts with the
 * tuple the simulator's conntrack gives the packet, and the table installed in OVS
 * (`forTrace`) is the compiled one rewritten for one packet: no `ct_clear`, no commit, and
 * each state table's "untracked → ct(table=self)" flow made unconditional (the traced flow
 * is already "tracked", ct_state being the prerequisite of the tuple fields) and recirculating
 * into a shadow copy of the rest of that table. For a single packet that entered untracked
 * this is the same pipeline. Packets whose conntrack stages see different tuples (a
 * connection known in one zone only) cannot be traced this way: they are counted, not
 * compared. `SGF_E2E_MUTANT` breaks the table installed in OVS (before the rewrite); the
 * policy file is not broken, so sgflow and OVS must then disagree.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { traceLines } from '../../src/cli/trace.js';
import type { SecurityGroupRule } from '../../src/model/types.js';
import type { Action, Flow, FlowTable } from '../../src/openflow/ir.js';
import { CtState } from '../../src/openflow/ir.js';
import { cloneKey, keyFromPacket, type FlowKey } from '../../src/sim/key.js';
import { newSimState, simulate, type SimResult, type SimState } from '../../src/sim/simulate.js';
import { type OvsSandbox, runRaw, startOvs } from '../support/ovs.js';
import { answerOf, caseArb, openerOf, packetOf } from '../support/packets.js';
import { datapathPortMap, keyToFlowText, traceKey } from '../support/trace.js';
import { compile } from '../../src/compiler/index.js';
import { normalizePolicy } from '../../src/model/policy.js';
import * as fx from '../../src/model/fixtures.js';
import { installFlows, withEnvMutant } from './harness.js';

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
let policyFile: string;

const SGFLOW = join(dirname(fileURLToPath(import.meta.url)), '../../bin/sgflow');
const portName = (n: number) => `port-${PORTS.find((p) => p.n === n)!.name}`;

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
  // The policy file `sgflow trace` reads: the same resources, this host's ports.
  policyFile = join(ovs.dir, 'policy.json');
  writeFileSync(
    policyFile,
    JSON.stringify({
      ...crossPolicy(),
      host: { name: 'h1', ofports: Object.fromEntries(PORTS.map((p) => [portName(p.n), p.n])) },
    }),
  );
});

afterAll(async () => {
  await ovs?.stop();
});

/**
 * Compile at `baseTable` and install, rewritten for ofproto/trace (and broken by
 * SGF_E2E_MUTANT, if set). Above table 0 the pipeline sits behind one `goto_table`, as it
 * would inside a larger one. Returns the table as compiled (entry flow included).
 */
async function install(baseTable: number): Promise<FlowTable> {
  const policy = crossPolicy();
  const result = compile({
    policy: normalizePolicy(policy),
    localPorts: PORTS.map((p) => ({ portId: portName(p.n), ofport: p.n })),
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
  await installFlows(ovs, forTrace(withEnvMutant(compiled, policy, baseTable)));
  return compiled;
}

function ctRecircStates(r: SimResult): { zone: number; state: number }[] {
  return r.path.flatMap((s) =>
    s.kind === 'ct' && s.recirc !== undefined ? [{ zone: s.zone, state: s.state }] : [],
  );
}

const VALID = CtState.NEW | CtState.EST | CtState.REL;

/**
 * The key as traced: with the original-direction tuple every conntrack stage gives it, or
 * null when the stages disagree (connection known in one zone only). Looks only: `state` is
 * not changed.
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

const CT_BIT_BY_NAME: Record<string, number> = {
  new: CtState.NEW,
  est: CtState.EST,
  rel: CtState.REL,
  rpl: CtState.RPL,
  inv: CtState.INV,
  trk: CtState.TRK,
};

/** What `sgflow trace` printed, as a verdict and the conntrack states it recirculated with. */
function readTrace(lines: readonly string[]): { says: string; ctNext: number[] } {
  const verdict = lines.find((l) => l.startsWith('verdict: '));
  if (verdict === undefined)
    throw new Error(`sgflow trace printed no verdict:\n${lines.join('\n')}`);
  const out = /^verdict: output to ([\d, ]+)/.exec(verdict);
  const outputs = out ? out[1]!.split(', ').map(Number) : [];
  const controller = lines.some((l) => /^\s*sent to the controller/.test(l));
  const ctNext = lines.flatMap((l) => {
    const m = /^\s*conntrack zone \d+: (\S+).* → /.exec(l);
    if (!m) return [];
    return [[...m[1]!.matchAll(/\+(\w+)/g)].reduce((bits, b) => bits | CT_BIT_BY_NAME[b[1]!]!, 0)];
  });
  return { says: verdictText(outputs, controller), ctNext };
}

const verdictText = (outputs: readonly number[], controller: boolean) =>
  `${outputs.join(',') || '-'}${controller ? '+controller' : ''}`;

interface BinarySample {
  args: string[];
  lines: string[];
  agree: boolean;
}

interface CrossCheck {
  compared: number;
  skipped: number;
  /** `<scenario>:<drop|delivered>` → count. */
  verdicts: Map<string, number>;
  /** Packets whose sgflow verdict came from `sgflow trace` itself. */
  viaTraceCommand: number;
  /** `sgflow trace` said its tables and the reference semantics disagree. */
  referenceDisagreements: string[];
  mismatches: string[];
  binarySamples: BinarySample[];
}

async function crossCheck(
  compiled: FlowTable,
  baseTable: number,
  seed: number,
  numRuns: number,
  binaryEvery: number,
): Promise<CrossCheck> {
  const cases = fc.sample(caseArb, { seed, numRuns });
  const r: CrossCheck = {
    compared: 0,
    skipped: 0,
    verdicts: new Map(),
    viaTraceCommand: 0,
    referenceDisagreements: [],
    mismatches: [],
    binarySamples: [],
  };

  for (const c of cases) {
    const p0 = packetOf(c);
    const opener = openerOf(c, p0);
    const packet = opener ? answerOf(c, p0, opener) : p0;
    // The conntrack history: the connection the packet answers, if any, through the table as
    // compiled. Built twice: the simulation below commits, the tuple lookup must not see that.
    const history = (): SimState => {
      const state = newSimState();
      if (opener) simulate(compiled, state, c.receiver, keyFromPacket(opener, c.receiver));
      return state;
    };
    const plainKey = keyFromPacket(packet, c.sender);
    const sim = simulate(compiled, history(), c.sender, plainKey);
    const stages = ctRecircStates(sim);
    const key = tracedKey(history(), plainKey, stages);
    if (!key) {
      r.skipped++;
      continue;
    }
    let sgflowSays: string;
    let ctNext = stages.map((s) => s.state);
    const packetText = keyToFlowText(plainKey);
    if (!opener) {
      const opts = {
        policy: policyFile,
        port: portName(c.sender),
        packet: packetText,
        mode: 'conntrack' as const,
        baseTable,
      };
      const { lines, agree } = traceLines(opts);
      const read = readTrace(lines);
      sgflowSays = read.says;
      if (read.ctNext.join() !== ctNext.join())
        r.mismatches.push(
          `${JSON.stringify(c)}\n  sgflow trace recirculated with ${read.ctNext.join(' ')}, simulate with ${ctNext.join(' ')}`,
        );
      ctNext = read.ctNext;
      r.viaTraceCommand++;
      if (!agree) r.referenceDisagreements.push(`${JSON.stringify(c)}\n  ${lines.join('\n  ')}`);
      if (r.viaTraceCommand % binaryEvery === 0) {
        const args = ['trace', '--policy', policyFile, '--port', opts.port, '--packet', packetText];
        if (baseTable !== 0) args.push('--base-table', String(baseTable));
        r.binarySamples.push({ args, lines, agree });
      }
    } else {
      sgflowSays = verdictText(sim.outputs, sim.controller.length > 0);
    }
    const tr = await traceKey(ovs, key, ctNext, portMap);
    r.compared++;
    const ovsSays = verdictText(tr.outputs, tr.controller);
    const verdict = `${c.scenario}:${sgflowSays === '-' ? 'drop' : 'delivered'}`;
    r.verdicts.set(verdict, (r.verdicts.get(verdict) ?? 0) + 1);
    if (sgflowSays !== ovsSays) {
      r.mismatches.push(
        `${JSON.stringify(c)}\n  flow: ${keyToFlowText(key)}\n  ct-next: ${ctNext.join(' ')}\n  sgflow: ${sgflowSays}  ovs: ${ovsSays}\n  datapath: ${tr.datapathActions.join(' | ')}`,
      );
    }
  }
  return r;
}

/** Run the real `bin/sgflow trace` for the samples (two at a time); the ones that differ. */
async function binaryDifferences(samples: readonly BinarySample[]): Promise<string[]> {
  const differences: string[] = [];
  const queue = [...samples];
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const got = await runRaw(SGFLOW, s.args, { timeoutMs: 60_000 });
      const expected = `${s.lines.join('\n')}\n`;
      if (got.stdout !== expected || got.code !== (s.agree ? 0 : 1))
        differences.push(
          `sgflow ${s.args.join(' ')}\n  exit ${got.code}, stderr: ${got.stderr.trim()}\n  stdout:\n${got.stdout}\n  expected:\n${expected}`,
        );
    }
  };
  await Promise.all([worker(), worker()]);
  return differences;
}

describe('sgflow trace vs ofproto/trace', () => {
  it('agree on the verdict of generated packets', { timeout: 300_000 }, async () => {
    const r = await crossCheck(await install(0), 0, 20261121, 360, 5);
    console.log(
      `compared ${r.compared} (${r.viaTraceCommand} through sgflow trace, ${r.binarySamples.length} of them also through bin/sgflow), skipped ${r.skipped}:`,
      Object.fromEntries([...r.verdicts].sort()),
    );
    // Nearly every case must be traceable, and every scenario must both pass and drop.
    expect(r.compared).toBeGreaterThan(300);
    expect(r.skipped).toBeLessThan(50);
    expect(r.viaTraceCommand).toBeGreaterThan(150);
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
    expect(r.referenceDisagreements.slice(0, 5).join('\n\n')).toBe('');
    expect(r.binarySamples.length).toBeGreaterThanOrEqual(30);
    expect((await binaryDifferences(r.binarySamples)).slice(0, 3).join('\n\n')).toBe('');
  });

  it('agree with the pipeline at a non-zero base table', { timeout: 300_000 }, async () => {
    const r = await crossCheck(await install(40), 40, 7, 120, 10);
    console.log(
      `base table 40: compared ${r.compared} (${r.viaTraceCommand} through sgflow trace), skipped ${r.skipped}:`,
      Object.fromEntries([...r.verdicts].sort()),
    );
    expect(r.compared).toBeGreaterThan(100);
    expect(r.verdicts.get('new:delivered') ?? 0).toBeGreaterThan(0);
    expect(r.verdicts.get('new:drop') ?? 0).toBeGreaterThan(0);
    expect(r.mismatches.slice(0, 10).join('\n\n')).toBe('');
    expect(r.referenceDisagreements.slice(0, 5).join('\n\n')).toBe('');
    expect((await binaryDifferences(r.binarySamples)).slice(0, 3).join('\n\n')).toBe('');
  });
});
