import { describe, expect, it } from 'vitest';

import { normalizePolicy } from '../model/policy.js';
import type { Policy, SecurityGroupRule } from '../model/types.js';
import type { Flow, FlowTable } from '../openflow/ir.js';
import { Agent, type CompileInput, type CompileResult, type ReconcileReport } from './agent.js';
import { StaticPolicySource } from './policy-source.js';
import {
  applyFlowMods,
  flowBody,
  flowIdentity,
  WholeTableCompiler,
  type FlowMod,
} from './reconcile.js';
import {
  syncByDump,
  type ConnectionState,
  type FlowSwitch,
  type LocalInterface,
  type PortSource,
  type SyncResult,
} from './switch.js';

/** An in-memory switch: holds a table, applies bundles atomically, can fail or restart. */
class FakeSwitch implements FlowSwitch {
  table: Flow[] = [];
  bundles: FlowMod[][] = [];
  dumps = 0;
  failNext = 0;
  private listeners: ((s: ConnectionState) => void)[] = [];
  connect(): Promise<void> {
    return Promise.resolve();
  }
  sync(desired: FlowTable, first: number, last: number): Promise<SyncResult> {
    return syncByDump(
      (a, b) => {
        this.dumps++;
        return Promise.resolve(this.table.filter((f) => f.table >= a && f.table <= b));
      },
      (mods) => this.applyBundle(mods),
      desired,
      first,
      last,
    );
  }
  applyBundle(mods: readonly FlowMod[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('OFPBFC_MSG_FAILED: injected'));
    }
    this.bundles.push([...mods]);
    this.table = applyFlowMods(this.table, mods);
    return Promise.resolve();
  }
  onStateChange(l: (s: ConnectionState) => void): void {
    this.listeners.push(l);
  }
  down(): void {
    for (const l of this.listeners) l('disconnected');
  }
  up(): void {
    for (const l of this.listeners) l('connected');
  }
  /** ovs-vswitchd restarted: every flow is gone, the connection comes back. */
  restart(): void {
    this.table = [];
    for (const l of this.listeners) l('disconnected');
    for (const l of this.listeners) l('connected');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class FakePorts implements PortSource {
  private listener: ((i: readonly LocalInterface[]) => void) | undefined;
  constructor(public ifaces: LocalInterface[]) {}
  ensureBridge(): Promise<void> {
    return Promise.resolve();
  }
  watch(l: (i: readonly LocalInterface[]) => void): Promise<void> {
    this.listener = l;
    l(this.ifaces);
    return Promise.resolve();
  }
  set(ifaces: LocalInterface[]): void {
    this.ifaces = ifaces;
    this.listener?.(ifaces);
  }
  onStateChange(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A stand-in compiler: one skeleton flow, one flow per (local port, rule of its groups). */
function fakeCompile(input: CompileInput): CompileResult {
  const flows: Flow[] = [
    { table: input.options.baseTable, priority: 0, cookie: 5n, match: {}, actions: [] },
  ];
  for (const lp of input.localPorts) {
    const port = input.policy.ports.get(lp.portId)!;
    for (const gid of port.groupIds) {
      for (const r of input.policy.groups.get(gid)!.rules) {
        flows.push({
          table: input.options.baseTable + (r.direction === 'egress' ? 3 : 7),
          priority: 100,
          cookie: BigInt(r.id.length),
          match: {
            reg5: { value: BigInt(lp.ofport) },
            ...(r.dstPorts ? { tcp_dst: { value: BigInt(r.dstPorts.min) } } : {}),
          },
          actions: [{ type: 'resubmit', table: input.options.baseTable + 9 }],
        });
      }
    }
  }
  return { flows, warnings: [] };
}

function rule(id: string, port: number): SecurityGroupRule {
  return {
    id,
    project_id: 'p',
    security_group_id: 'sg',
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'tcp',
    port_range_min: port,
    port_range_max: port,
    source_port_range_min: null,
    source_port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: null,
    remote_address_group_id: null,
    description: '',
  };
}

function policy(rules: SecurityGroupRule[]): Policy {
  const port = (id: string, n: number): Policy['ports'][number] => ({
    id,
    project_id: 'p',
    network_id: 'net',
    name: id,
    mac_address: `02:00:00:00:00:0${n}`,
    fixed_ips: [{ ip_address: `10.0.0.${n}` }],
    allowed_address_pairs: [],
    security_groups: ['sg'],
    port_security_enabled: true,
    device_owner: '',
    device_id: '',
    'binding:host_id': '',
  });
  return {
    networks: [
      { id: 'net', project_id: 'p', name: 'net', port_security_enabled: true, shared: false },
    ],
    ports: [port('a', 1), port('b', 2), port('remote', 3)],
    security_groups: [{ id: 'sg', project_id: 'p', name: 'sg', description: '', stateful: true }],
    security_group_rules: rules,
    address_groups: [],
  };
}

function canonical(t: readonly Flow[]): string[] {
  return t.map((f) => `${flowIdentity(f)} ${flowBody(f)}`).sort();
}

async function setup(rules = [rule('r22', 22)]) {
  const sw = new FakeSwitch();
  const ports = new FakePorts([
    { name: 'vm-a', ofport: 1, ifaceId: 'a' },
    { name: 'vm-b', ofport: 2, ifaceId: 'b' },
    { name: 'unrelated', ofport: 3 },
  ]);
  const source = new StaticPolicySource(policy(rules));
  const agent = new Agent({
    compiler: new WholeTableCompiler(fakeCompile),
    source,
    switch: sw,
    ports,
    retryMs: 1,
  });
  const reports: ReconcileReport[] = [];
  agent.onReconcile((r) => reports.push(r));
  await agent.start();
  return { sw, ports, source, agent, reports };
}

function expectedTable(agent: Agent, rules: SecurityGroupRule[]): string[] {
  return canonical(
    fakeCompile({
      policy: normalizePolicy(policy(rules)),
      localPorts: agent.localPorts(),
      options: { mode: 'conntrack', baseTable: 0 },
    }).flows,
  );
}

describe('Agent (fake switch)', () => {
  it('converges on start: joins local interfaces by iface-id and installs the compiled table', async () => {
    const { sw, agent } = await setup();
    expect(agent.localPorts()).toEqual([
      { portId: 'a', ofport: 1 },
      { portId: 'b', ofport: 2 },
    ]);
    expect(canonical(sw.table)).toEqual(expectedTable(agent, [rule('r22', 22)]));
    expect(sw.bundles).toHaveLength(1);
    await agent.stop();
  });

  it('a rule added sends only that rule’s flows, in one bundle; the same policy again sends nothing', async () => {
    const { sw, source, agent, reports } = await setup();
    const rev = source.set(policy([rule('r22', 22), rule('r8080', 8080)]));
    await agent.waitForRevision(rev);
    const last = reports[reports.length - 1]!;
    expect(last.mods.map((m) => m.command)).toEqual(['add', 'add']);
    expect(last.mods.every((m) => m.flow.match.tcp_dst?.value === 8080n)).toBe(true);
    expect(sw.bundles).toHaveLength(2);
    const rev2 = source.set(policy([rule('r22', 22), rule('r8080', 8080)]));
    await agent.waitForRevision(rev2);
    expect(sw.bundles).toHaveLength(2);
    // ...and the revert restores the table exactly.
    const rev3 = source.set(policy([rule('r22', 22)]));
    await agent.waitForRevision(rev3);
    expect(canonical(sw.table)).toEqual(expectedTable(agent, [rule('r22', 22)]));
    await agent.stop();
  });

  it('a port appearing on the bridge gets its flows; flows of other tables are left alone', async () => {
    const { sw, ports, agent } = await setup();
    const foreign: Flow = { table: 42, priority: 1, cookie: 0n, match: {}, actions: [] };
    sw.table.push(foreign);
    ports.set([
      { name: 'vm-a', ofport: 1, ifaceId: 'a' },
      { name: 'vm-b', ofport: 2, ifaceId: 'b' },
      { name: 'vm-r', ofport: 7, ifaceId: 'remote' },
    ]);
    await agent.settled();
    expect(agent.localPorts().map((p) => p.portId)).toEqual(['a', 'b', 'remote']);
    await agent.resync();
    expect(sw.table).toContainEqual(foreign);
    expect(sw.table.some((f) => f.match.reg5?.value === 7n)).toBe(true);
    await agent.stop();
  });

  it('a rejected bundle leaves nothing half-done: resync, then retry until the switch takes it', async () => {
    const { sw, source, agent } = await setup();
    sw.failNext = 2;
    const dumpsBefore = sw.dumps;
    const rev = source.set(policy([rule('r22', 22), rule('r80', 80)]));
    await agent.waitForRevision(rev);
    expect(sw.dumps).toBeGreaterThan(dumpsBefore);
    expect(canonical(sw.table)).toEqual(expectedTable(agent, [rule('r22', 22), rule('r80', 80)]));
    expect(agent.health().ok).toBe(true);
    const metrics = await agent.metrics.registry.getSingleMetricAsString('sgflow_errors_total');
    expect(metrics).toContain('kind="bundle"} 2');
    await agent.stop();
  });

  it('after a switch restart (all flows lost) it reinstalls everything; on reconnect with flows intact it sends nothing', async () => {
    const { sw, agent } = await setup();
    const want = canonical(sw.table);
    sw.restart();
    await agent.settled();
    await new Promise((r) => setTimeout(r, 10));
    await agent.settled();
    expect(canonical(sw.table)).toEqual(want);
    const bundles = sw.bundles.length;
    // A reconnect where the switch kept its flows: read back, nothing to send.
    await agent.resync();
    expect(sw.bundles.length).toBe(bundles);
    await agent.stop();
  });

  it('changes made while the switch is unreachable are applied when it comes back', async () => {
    const { sw, source, agent } = await setup();
    sw.down();
    const rev = source.set(policy([rule('r22', 22), rule('r443', 443)]));
    await new Promise((r) => setTimeout(r, 10));
    expect(agent.appliedRevision).toBeLessThan(rev);
    expect(agent.health().ok).toBe(false);
    sw.up();
    await agent.waitForRevision(rev);
    expect(canonical(sw.table)).toEqual(expectedTable(agent, [rule('r22', 22), rule('r443', 443)]));
    expect(agent.health().ok).toBe(true);
    await agent.stop();
  });

  it('a stale flow left in our tables by a previous run is deleted; right ones are not touched', async () => {
    const sw = new FakeSwitch();
    const stale: Flow = {
      table: 7,
      priority: 100,
      cookie: 3n,
      match: { reg5: { value: 99n } },
      actions: [],
    };
    sw.table = [stale];
    const ports = new FakePorts([{ name: 'vm-a', ofport: 1, ifaceId: 'a' }]);
    const source = new StaticPolicySource(policy([rule('r22', 22)]));
    const agent = new Agent({
      compiler: new WholeTableCompiler(fakeCompile),
      source,
      switch: sw,
      ports,
    });
    const reports: ReconcileReport[] = [];
    agent.onReconcile((r) => reports.push(r));
    await agent.start();
    expect(reports[0]!.resync).toBe(true);
    expect(
      reports[0]!.mods.filter((m) => m.command === 'delete_strict').map((m) => m.flow),
    ).toEqual([stale]);
    await agent.stop();
  });
});
