/**
 * `sgflow up`: everything in one process — the API over an embedded SQLite store, and an
 * agent for one bridge fed straight from that store. With `--sandbox` it also starts a
 * private userspace Open vSwitch with two demo VMs (network namespaces), creates a demo
 * policy through the API, prints what to try, and removes everything on Ctrl-C / SIGTERM.
 *
 * The API server is injected (`startApi`): the agent layer may not import the API layer
 * (DESIGN.md §3); the CLI wires `startServer` in.
 *
 * Invariant: whatever was started is stopped, in reverse order, on stop or on a failed start.
 */
import { join } from 'node:path';

import type { EnforcementMode } from '../model/types.js';
import { openSqliteStore, type Store } from '../store/index.js';
import { startAgentService, type AgentService } from './command.js';
import { OvsSandbox, type SandboxVm } from './sandbox.js';
import type { AgentLogger } from './agent.js';

export interface ApiHandle {
  url: string;
  close(): Promise<void>;
}

export type StartApi = (store: Store, listen: string) => Promise<ApiHandle>;

export interface UpOptions {
  /** SQLite file; default `sgflow.db`, or a file inside the sandbox (removed with it). */
  db?: string;
  listen: string;
  metrics: string;
  bridge: string;
  ovsdb?: string;
  openflow?: string;
  mode?: EnforcementMode;
  baseTable?: number;
  sandbox?: boolean;
  log?: AgentLogger;
}

export interface DemoVm {
  name: string;
  portId: string;
  ip: string;
  netns: string;
  groups: string[];
}

export interface Up {
  readonly apiUrl: string;
  readonly service: AgentService;
  readonly sandbox: OvsSandbox | undefined;
  readonly demo: DemoVm[];
  stop(): Promise<void>;
}

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined
      ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** The demo: one network, a `web` group (TCP 80 in, anything out), two ports, two VMs. */
async function createDemo(apiUrl: string, box: OvsSandbox): Promise<DemoVm[]> {
  const { network } = await api<{ network: { id: string } }>(apiUrl, 'POST', '/v2.0/networks', {
    network: { name: 'demo-net', port_security_enabled: true },
  });
  const { security_group: web } = await api<{ security_group: { id: string } }>(
    apiUrl,
    'POST',
    '/v2.0/security-groups',
    { security_group: { name: 'web', description: 'sgflow demo: HTTP in, anything out' } },
  );
  const rules = [
    {
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: 80,
      port_range_max: 80,
    },
    {
      direction: 'ingress',
      ethertype: 'IPv6',
      protocol: 'tcp',
      port_range_min: 80,
      port_range_max: 80,
    },
  ];
  for (const r of rules) {
    await api(apiUrl, 'POST', '/v2.0/security-group-rules', {
      security_group_rule: { ...r, security_group_id: web.id },
    });
  }
  // A new group starts with "egress any" rules (Neutron's default), so replies and
  // outgoing traffic work.
  const vms: { name: string; ip: string; ip6: string; mac: string; groups?: string[] }[] = [
    { name: 'vm1', ip: '10.0.0.11', ip6: 'fd00:db8::11', mac: '02:5f:00:00:00:11' },
    {
      name: 'vm2',
      ip: '10.0.0.12',
      ip6: 'fd00:db8::12',
      mac: '02:5f:00:00:00:12',
      groups: [web.id],
    },
  ];
  const out: DemoVm[] = [];
  for (const v of vms) {
    const { port } = await api<{ port: { id: string; security_groups: string[] } }>(
      apiUrl,
      'POST',
      '/v2.0/ports',
      {
        port: {
          name: v.name,
          network_id: network.id,
          mac_address: v.mac,
          fixed_ips: [{ ip_address: v.ip }, { ip_address: v.ip6 }],
          ...(v.groups ? { security_groups: v.groups } : {}),
        },
      },
    );
    const vm: SandboxVm = await box.addVm({
      name: v.name,
      portId: port.id,
      mac: v.mac,
      ipv4: `${v.ip}/24`,
      ipv6: `${v.ip6}/64`,
    });
    out.push({
      name: v.name,
      portId: port.id,
      ip: v.ip,
      netns: vm.netns,
      groups: v.groups ? ['web'] : ['default'],
    });
  }
  return out;
}

export async function startUp(opts: UpOptions, startApi: StartApi): Promise<Up> {
  const stops: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const s of stops.reverse()) await s().catch(() => undefined);
    })());
  try {
    let box: OvsSandbox | undefined;
    if (opts.sandbox) {
      box = await OvsSandbox.start({ name: 'up', bridge: opts.bridge });
      const b = box;
      stops.push(() => b.stop());
    }
    const db = opts.db ?? (box ? join(box.dir, 'sgflow.db') : 'sgflow.db');
    const store = openSqliteStore({ path: db });
    stops.push(() => store.close());
    const apiHandle = await startApi(store, opts.listen);
    stops.push(() => apiHandle.close());
    const service = await startAgentService({
      bridge: opts.bridge,
      store,
      metrics: opts.metrics,
      ...(box ? { ovsdb: box.dbRemote, openflow: box.mgmt, env: box.env } : {}),
      ...(!box && opts.ovsdb !== undefined ? { ovsdb: opts.ovsdb } : {}),
      ...(!box && opts.openflow !== undefined ? { openflow: opts.openflow } : {}),
      ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
      ...(opts.baseTable !== undefined ? { baseTable: opts.baseTable } : {}),
      ...(opts.log !== undefined ? { log: opts.log } : {}),
    });
    stops.push(() => service.stop());
    const demo = box ? await createDemo(apiHandle.url, box) : [];
    if (demo.length > 0) await service.agent.settled();
    return { apiUrl: apiHandle.url, service, sandbox: box, demo, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** What `sgflow up --sandbox` prints once everything runs. */
export function sandboxInstructions(up: Up): string {
  const [vm1, vm2] = up.demo;
  const box = up.sandbox!;
  const os = `openstack --os-auth-type none --os-endpoint ${up.apiUrl}`;
  return [
    `sgflow is up (API ${up.apiUrl}, metrics ${up.service.metricsUrl ?? 'off'}/metrics).`,
    `Sandbox bridge ${box.bridge}: ovs-ofctl -O OpenFlow15 dump-flows ${box.mgmt}`,
    ...up.demo.map(
      (v) =>
        `  ${v.name}: ${v.ip} in netns ${v.netns} (port ${v.portId}, group ${v.groups.join(',')})`,
    ),
    '',
    'Try:',
    `  ip netns exec ${vm1!.netns} ping -c2 -W1 ${vm2!.ip}        # dropped: group web allows no ICMP in`,
    `  ${os} security group rule create --protocol icmp web`,
    `  ip netns exec ${vm1!.netns} ping -c2 -W1 ${vm2!.ip}        # answered now`,
    `  ip netns exec ${vm2!.netns} nc -lk 80 &`,
    `  ip netns exec ${vm1!.netns} nc -zv -w1 ${vm2!.ip} 80       # open (web: tcp 80 in)`,
    `  ip netns exec ${vm1!.netns} nc -zv -w1 ${vm2!.ip} 81       # dropped`,
    `  ${os} security group rule list web`,
    `  curl -s ${up.service.metricsUrl ?? ''}/metrics | grep ^sgflow_`,
    '',
    'Ctrl-C stops everything and removes the sandbox.',
    '',
  ].join('\n');
}

/** `sgflow up [--sandbox]` in the foreground, until SIGINT/SIGTERM. */
export async function runUpCommand(opts: UpOptions, startApi: StartApi): Promise<void> {
  const up = await startUp(opts, startApi);
  process.stdout.write(
    up.sandbox
      ? sandboxInstructions(up)
      : `sgflow is up: API ${up.apiUrl}, agent on ${opts.bridge}, metrics ${up.service.metricsUrl ?? 'off'}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.stderr.write(
        up.sandbox ? 'sgflow: stopping; removing the sandbox...\n' : 'sgflow: stopping...\n',
      );
      void up.stop().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
