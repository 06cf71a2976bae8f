/**
 * The agent as an operator runs it — `sgflow agent` as its own process — killed with
 * SIGKILL: the bridge keeps enforcing the last policy (fail_mode=secure, flows stay), and a
 * restarted agent converges to what changed meanwhile without a flush (the flows that were
 * already right keep their age and counters).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Vm } from '../support/vm.js';
import { sleep, startStack, type Stack } from './stack.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sgflow');

interface AgentProcess {
  child: ChildProcess;
  metricsUrl: string;
}

async function spawnAgent(s: Stack, db: string): Promise<AgentProcess> {
  const child = spawn(
    BIN,
    [
      'agent',
      '--bridge',
      s.ovs.bridge,
      '--ovsdb',
      s.ovs.dbRemote,
      '--openflow',
      s.ovs.mgmt,
      '--store',
      `sqlite:${db}`,
      '--metrics',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...s.ovs.env, SGFLOW_LOG_LEVEL: 'info' } },
  );
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent did not start: ${err}`)), 60_000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"msg":"agent running"/.test(err) ? /"metrics":"([^"]+)"/.exec(err) : null;
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`agent exited ${code}: ${err}`)));
  });
  return { child, metricsUrl: url };
}

/** identity → { duration, packets } of every flow of the bridge. */
async function flowStats(s: Stack): Promise<Map<string, { duration: number; packets: number }>> {
  const out = await s.ovs.ofctl('dump-flows', s.ovs.mgmt);
  const m = new Map<string, { duration: number; packets: number }>();
  for (const line of out.split('\n')) {
    const d = /duration=([\d.]+)s/.exec(line);
    const p = /n_packets=(\d+)/.exec(line);
    if (!d || !p) continue;
    const id = line
      .replace(/(cookie|duration|n_packets|n_bytes|idle_age|hard_age)=[^,\s]+,?\s?/g, '')
      .trim();
    m.set(id, { duration: Number(d[1]), packets: Number(p[1]) });
  }
  return m;
}

describe('sgflow agent process: kill -9 and restart', () => {
  let s: Stack;
  let a: Vm;
  let b: Vm;
  let agent: AgentProcess | undefined;
  let clientGroup: string;
  const db = (): string => join(s.ovs.dir, 'sgflow.db');

  beforeAll(async () => {
    s = await startStack('agent-kill', { agent: false });
    const n = s.neutron;
    const net = await n.network('net1');
    clientGroup = await n.group('client');
    const serverGroup = await n.group('server');
    await n.rule(serverGroup, { direction: 'ingress', protocol: 'icmp' });
    await n.port({
      id: 'pa',
      networkId: net,
      mac: '02:00:00:00:0b:01',
      ips: ['10.8.0.1'],
      groups: [clientGroup],
    });
    await n.port({
      id: 'pb',
      networkId: net,
      mac: '02:00:00:00:0b:02',
      ips: ['10.8.0.2'],
      groups: [serverGroup],
    });
    a = await s.plug({
      name: 'a',
      mac: '02:00:00:00:0b:01',
      ipv4: '10.8.0.1/16',
      ofport: 1,
      ifaceId: 'pa',
    });
    b = await s.plug({
      name: 'b',
      mac: '02:00:00:00:0b:02',
      ipv4: '10.8.0.2/16',
      ofport: 2,
      ifaceId: 'pb',
    });
    agent = await spawnAgent(s, db());
  });

  afterAll(async () => {
    if (agent?.child.exitCode === null) agent.child.kill('SIGTERM');
    await s?.stop();
  });

  it('enforces once started', async () => {
    expect((await fetch(`${agent!.metricsUrl}/healthz`)).status).toBe(200);
    expect(await a.ping('10.8.0.2', { count: 2 })).toBe(true);
    expect(await b.ping('10.8.0.1', { count: 2 })).toBe(false);
  });

  it('after kill -9 the bridge keeps enforcing; the restarted agent applies what changed, without a flush', async () => {
    const exited = new Promise((r) => agent!.child.once('exit', r));
    agent!.child.kill('SIGKILL');
    await exited;
    expect((await s.ovs.vsctl('get', 'bridge', s.ovs.bridge, 'fail_mode')).trim()).toBe('secure');
    expect(await a.ping('10.8.0.2', { count: 2 })).toBe(true);
    expect(await b.ping('10.8.0.1', { count: 2 })).toBe(false);

    // A change while no agent runs: nothing happens on the bridge...
    await s.neutron.rule(clientGroup, { direction: 'ingress', protocol: 'icmp' });
    expect(await b.ping('10.8.0.1', { count: 2 })).toBe(false);
    const before = await flowStats(s);
    await sleep(1100);

    // ...until an agent runs again.
    agent = await spawnAgent(s, db());
    expect(await b.ping('10.8.0.1', { count: 2 })).toBe(true);
    expect(await a.ping('10.8.0.2', { count: 2 })).toBe(true);
    const after = await flowStats(s);
    let kept = 0;
    for (const [id, was] of before) {
      const now = after.get(id);
      if (!now) continue;
      kept++;
      expect(now.duration, id).toBeGreaterThanOrEqual(was.duration + 1);
      expect(now.packets, id).toBeGreaterThanOrEqual(was.packets);
    }
    // Most flows were right and stayed; only the new rule's flows came and went.
    expect(kept).toBeGreaterThan(before.size / 2);
  });
});
