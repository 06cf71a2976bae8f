/**
 * The whole sgflow stack for the agent's end-to-end tests: a private OVS (test/support),
 * the real API server over a real SQLite file, and the agent service on the bridge — plus a
 * small Neutron client and traffic helpers that count packets (continuous ping, a UDP
 * stream) for the "no packet lost / none delivered" checks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { startServer, type RunningServer } from '../../src/api/index.js';
import { silentLogger } from '../../src/agent/agent.js';
import {
  startAgentService,
  type AgentService,
  type SwitchDriver,
} from '../../src/agent/command.js';
import type { EnforcementMode } from '../../src/model/types.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { startOvs, SYSTEM_PYTHON, type OvsSandbox } from '../support/ovs.js';
import { addVm, type Vm, type VmOptions } from '../support/vm.js';

export class Neutron {
  constructor(readonly url: string) {}

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      ...(body !== undefined
        ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
        : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  async network(name: string): Promise<string> {
    const r = await this.call<{ network: { id: string } }>('POST', '/v2.0/networks', {
      network: { name, port_security_enabled: true },
    });
    return r.network.id;
  }

  async group(name: string): Promise<string> {
    const r = await this.call<{ security_group: { id: string } }>('POST', '/v2.0/security-groups', {
      security_group: { name },
    });
    return r.security_group.id;
  }

  async rule(groupId: string, rule: Record<string, unknown>): Promise<string> {
    const r = await this.call<{ security_group_rule: { id: string } }>(
      'POST',
      '/v2.0/security-group-rules',
      { security_group_rule: { ethertype: 'IPv4', ...rule, security_group_id: groupId } },
    );
    return r.security_group_rule.id;
  }

  async deleteRule(id: string): Promise<void> {
    await this.call('DELETE', `/v2.0/security-group-rules/${id}`);
  }

  async port(p: {
    id: string;
    networkId: string;
    mac: string;
    ips: string[];
    groups: string[];
  }): Promise<string> {
    const r = await this.call<{ port: { id: string } }>('POST', '/v2.0/ports', {
      port: {
        id: p.id,
        network_id: p.networkId,
        mac_address: p.mac,
        fixed_ips: p.ips.map((ip_address) => ({ ip_address })),
        security_groups: p.groups,
      },
    });
    return r.port.id;
  }

  async setPortGroups(id: string, groups: string[]): Promise<void> {
    await this.call('PUT', `/v2.0/ports/${id}`, { port: { security_groups: groups } });
  }
}

export interface Stack {
  ovs: OvsSandbox;
  store: Store;
  api: RunningServer;
  neutron: Neutron;
  service: AgentService | undefined;
  /** Starts (again) the in-process agent service. */
  startAgent(): Promise<AgentService>;
  stopAgent(): Promise<void>;
  /** Resolves once the agent's switch holds everything the store has now. */
  converged(): Promise<void>;
  /** Plugs a VM and waits until the agent has enforced its port. */
  plug(o: VmOptions): Promise<Vm>;
  stop(): Promise<void>;
}

export async function startStack(
  name: string,
  opts: { mode?: EnforcementMode; agent?: boolean; driver?: SwitchDriver } = {},
): Promise<Stack> {
  const ovs = await startOvs({ name });
  const store = openSqliteStore({ path: join(ovs.dir, 'sgflow.db') });
  const api = await startServer({
    store,
    listen: '127.0.0.1:0',
    auth: { mode: 'noauth' },
    logger: false,
  });
  const stack: Stack = {
    ovs,
    store,
    api,
    neutron: new Neutron(api.url),
    service: undefined,
    async startAgent() {
      const s = await startAgentService({
        bridge: ovs.bridge,
        ovsdb: ovs.dbRemote,
        openflow: ovs.mgmt,
        store,
        metrics: '127.0.0.1:0',
        env: ovs.env,
        log: silentLogger,
        ...(opts.mode ? { mode: opts.mode } : {}),
        ...(opts.driver ? { driver: opts.driver } : {}),
      });
      stack.service = s;
      return s;
    },
    async stopAgent() {
      await stack.service?.stop();
      stack.service = undefined;
    },
    async converged() {
      if (!stack.service) return;
      await stack.service.agent.waitForRevision(await store.revision());
      await stack.service.agent.settled();
    },
    async plug(o) {
      const vm = await addVm(ovs, o);
      const agent = stack.service?.agent;
      if (agent) {
        for (let i = 0; i < 200; i++) {
          if (agent.localPorts().some((p) => p.portId === o.ifaceId)) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        await agent.settled();
      }
      return vm;
    },
    async stop() {
      await stack.stopAgent().catch(() => undefined);
      await api.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      await ovs.stop();
    },
  };
  try {
    if (opts.agent !== false) await stack.startAgent();
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

/** A continuous ping (every `intervalMs`) whose loss is read when it ends. */
export class PingStream {
  private out = '';
  private readonly done: Promise<void>;
  readonly child: ChildProcess;

  constructor(vm: Vm, dst: string, count: number, intervalMs = 20) {
    this.child = spawn('ip', [
      'netns',
      'exec',
      vm.netns,
      'ping',
      '-n',
      '-q',
      '-c',
      String(count),
      '-i',
      String(intervalMs / 1000),
      '-W',
      '1',
      dst,
    ]);
    this.child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    this.done = new Promise((r) => this.child.on('exit', () => r()));
  }

  /** Waits for the end; returns transmitted and received counts. */
  async result(): Promise<{ sent: number; received: number }> {
    await this.done;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(this.out);
    if (!m) throw new Error(`ping printed no summary: ${this.out}`);
    return { sent: Number(m[1]), received: Number(m[2]) };
  }
}

/** Sends `count` UDP datagrams, one every `intervalMs`, from `vm` to dst:port. */
export function udpStream(
  vm: Vm,
  dst: string,
  port: number,
  count: number,
  intervalMs = 20,
): Promise<void> {
  const script = [
    'import socket, sys, time',
    `fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET`,
    's = socket.socket(fam, socket.SOCK_DGRAM)',
    `for i in range(${count}):`,
    `    s.sendto(b'seq%d' % i, (sys.argv[1], int(sys.argv[2])))`,
    `    time.sleep(${intervalMs / 1000})`,
  ].join('\n');
  return new Promise((resolve, reject) => {
    const c = spawn('ip', [
      'netns',
      'exec',
      vm.netns,
      SYSTEM_PYTHON,
      '-c',
      script,
      dst,
      String(port),
    ]);
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`udp stream failed: ${err}`)),
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
