/**
 * Two hosts: two private OVS instances whose uplink ports (ofport 100) are the two ends of
 * one veth, one policy compiled for each host with its own local ports. Traffic between the
 * hosts is judged by the sender's egress rules on its host and the receiver's ingress rules
 * on the other, carries the network's VLAN tag on the wire, and stays inside its network.
 *
 * Host 1: a (10.0.0.1), c (10.0.0.3). Host 2: b (10.0.0.2), d (10.0.0.4).
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compiler/index.js';
import { normalizePolicy } from '../../src/model/policy.js';
import { type OvsSandbox, run, startOvs } from '../support/ovs.js';
import { frameArrives, Scapy } from '../support/scapy.js';
import { addVm } from '../support/vm.js';
import {
  type BedVm,
  buildPolicy,
  EGRESS_ALL,
  INGRESS_ALL,
  installFlows,
  ip4Of,
  ip6Of,
  macOf,
  NET,
  type PolicySpec,
  withEnvMutant,
} from './harness.js';

const UPLINK = 100;
const VLAN_NET = { [NET]: { 'provider:network_type': 'vlan', 'provider:segmentation_id': 100 } };

interface Host {
  ovs: OvsSandbox;
  vms: BedVm[];
}

let hosts: Host[] = [];
const vms: Record<string, BedVm> = {};
const scapy: Record<string, Scapy> = {};

async function vmOn(ovs: OvsSandbox, name: string, n: number): Promise<BedVm> {
  const vm = await addVm(ovs, {
    name,
    mac: macOf(n),
    ipv4: `${ip4Of(n)}/24`,
    ipv6: `${ip6Of(n)}/64`,
    ofport: n,
    ifaceId: `port-${name}`,
  });
  return Object.assign(vm, { portId: `port-${name}` });
}

beforeAll(async () => {
  // If one host fails to start, the other must still be stopped (afterAll sees no hosts yet).
  const starting = await Promise.allSettled([
    startOvs({ name: 'host1' }),
    startOvs({ name: 'host2' }),
  ]);
  const failed = starting.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(
      starting.map((r) => (r.status === 'fulfilled' ? r.value.stop() : Promise.resolve())),
    );
    throw failed.reason;
  }
  const [h1, h2] = starting.map((r) => (r as PromiseFulfilledResult<OvsSandbox>).value) as [
    OvsSandbox,
    OvsSandbox,
  ];
  hosts = [
    { ovs: h1, vms: [] },
    { ovs: h2, vms: [] },
  ];
  // The wire between the hosts: one veth, an end in each OVS namespace.
  await run('ip', [
    '-n',
    h1.netns,
    'link',
    'add',
    'upl',
    'type',
    'veth',
    'peer',
    'name',
    'upl',
    'netns',
    h2.netns,
  ]);
  for (const h of [h1, h2]) {
    await run('ip', ['netns', 'exec', h.netns, 'ethtool', '-K', 'upl', 'tx', 'off']);
    await run('ip', ['-n', h.netns, 'link', 'set', 'upl', 'up']);
    await h.vsctl(
      'add-port',
      h.bridge,
      'upl',
      '--',
      'set',
      'Interface',
      'upl',
      `ofport_request=${UPLINK}`,
    );
  }
  const placed: [number, string, number][] = [
    [0, 'a', 1],
    [0, 'c', 3],
    [1, 'b', 2],
    [1, 'd', 4],
  ];
  for (const [hi, name, n] of placed) {
    const vm = await vmOn(hosts[hi]!.ovs, name, n);
    hosts[hi]!.vms.push(vm);
    vms[name] = vm;
  }
  const started = await Promise.all(['a', 'b', 'd'].map((n) => Scapy.start(vms[n]!)));
  for (const s of started) scapy[s.vm.name] = s;
});

afterAll(async () => {
  for (const s of Object.values(scapy)) s.stop();
  await Promise.all(hosts.map((h) => h.ovs.stop()));
});

/** One policy, compiled and installed on each host for its own ports (SGF_E2E_MUTANT too). */
async function apply(spec: PolicySpec): Promise<void> {
  const raw = buildPolicy(vms, spec);
  const policy = normalizePolicy(raw);
  await Promise.all(
    hosts.map((h) =>
      installFlows(
        h.ovs,
        withEnvMutant(
          compile({
            policy,
            localPorts: h.vms.map((v) => ({ portId: v.portId, ofport: v.ofport })),
            uplinkOfport: UPLINK,
          }).flows,
          raw,
        ),
      ),
    ),
  );
}

const vm = (name: string) => vms[name]!;

/**
 * Run tcpdump on host 1's uplink while `during` runs; the lines it printed. tcpdump is one of
 * the sandbox's children (killed with it if the test dies) and is stopped by its pid at once
 * after its first packet, or 3 s after `during` if none came.
 */
async function onTheWire(filter: string, during: () => Promise<unknown>): Promise<string> {
  const ovs = hosts[0]!.ovs;
  // `ip netns exec` execs tcpdump: the child's pid is tcpdump's.
  const child = spawn(
    'ip',
    ['netns', 'exec', ovs.netns, 'tcpdump', '-l', '-nn', '-e', '-c', '1', '-i', 'upl', filter],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  ovs.children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    // Wait until tcpdump is capturing.
    for (let i = 0; i < 50 && !/listening on/.test(err); i++)
      await new Promise((r) => setTimeout(r, 50));
    if (!/listening on/.test(err)) throw new Error(`tcpdump did not start: ${err}`);
    await during();
    await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  } finally {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await done;
    }
    ovs.children.delete(child);
  }
  return out;
}

describe('between hosts', () => {
  it("is judged by the sender's egress and the receiver's ingress rules", async () => {
    await apply({
      networks: VLAN_NET,
      groups: {
        client: { rules: EGRESS_ALL },
        web: { rules: [{ dir: 'ingress', proto: 'tcp', ports: [80, 80] }] },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['web'] } },
    });
    const [a, b] = [vm('a'), vm('b')];
    const srv = await b.listenTcp([22, 80]);
    const srvA = await a.listenTcp([80]);
    try {
      expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
      expect(await a.tcpConnect(b.ip4!, 22)).toBe(false);
      // b has no egress rule; a has no ingress rule.
      expect(await b.tcpConnect(a.ip4!, 80)).toBe(false);
      await apply({
        networks: VLAN_NET,
        groups: {
          client: { rules: [{ dir: 'egress', proto: 'tcp', ports: [22, 22] }] },
          web: { rules: INGRESS_ALL },
        },
        ports: { a: { groups: ['client'] }, b: { groups: ['web'] } },
      });
      expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
      expect(await a.tcpConnect(b.ip4!, 22)).toBe(true);
    } finally {
      srv.stop();
      srvA.stop();
    }
  });

  it("carries the network's VLAN tag on the wire, and works untagged too", async () => {
    const [a, b] = [vm('a'), vm('b')];
    const srv = await b.listenTcp([80]);
    const spec: PolicySpec = {
      groups: { open: { rules: [...EGRESS_ALL, ...INGRESS_ALL] } },
      ports: { a: { groups: ['open'] }, b: { groups: ['open'] } },
    };
    try {
      await apply({ ...spec, networks: VLAN_NET });
      const tagged = await onTheWire('vlan 100 and tcp dst port 80', () =>
        a.tcpConnect(b.ip4!, 80),
      );
      expect(tagged).toMatch(/vlan 100/);
      await apply(spec);
      expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
      expect(await a.ping(b.ip6!)).toBe(true);
    } finally {
      srv.stop();
    }
  });

  it('keeps networks apart across hosts', async () => {
    await apply({
      networks: {
        ...VLAN_NET,
        net2: { 'provider:network_type': 'vlan', 'provider:segmentation_id': 200 },
      },
      groups: { open: { rules: [...EGRESS_ALL, ...INGRESS_ALL] } },
      ports: {
        a: { groups: ['open'] },
        b: { groups: ['open'] },
        c: { groups: ['open'], network: 'net2' },
        d: { groups: ['open'], network: 'net2' },
      },
    });
    const [a, c, d] = [vm('a'), vm('c'), vm('d')];
    expect(await c.ping(d.ip4!)).toBe(true);
    expect(await a.ping(vm('b').ip4!)).toBe(true);
    expect(await a.ping(d.ip4!)).toBe(false);
    const uni = `Ether(src='${a.mac}', dst='${d.mac}')/IP(src='${a.ip4}', dst='${d.ip4}')/UDP(sport=40030, dport=9999)`;
    expect(await frameArrives(scapy.a!, scapy.d!, [uni], { filter: 'udp src port 40030' })).toBe(
      false,
    );
  });

  it('spoofed frames do not leave the host; broadcast is judged by the remote ingress rules', async () => {
    const [a, b] = [vm('a'), vm('b')];
    const spec = (bRules: PolicySpec['groups']): PolicySpec => ({
      networks: VLAN_NET,
      groups: { client: { rules: EGRESS_ALL }, ...bRules },
      ports: { a: { groups: ['client'] }, b: { groups: ['srv'] } },
    });
    await apply(spec({ srv: { rules: [{ dir: 'ingress', proto: 'udp', ports: [9999, 9999] }] } }));
    const udp = (src: string, sport: number) =>
      `Ether(src='${a.mac}', dst='${b.mac}')/IP(src='${src}', dst='${b.ip4}')/UDP(sport=${sport}, dport=9999)`;
    expect(
      await frameArrives(scapy.a!, scapy.b!, [udp(a.ip4!, 40040)], {
        filter: 'udp src port 40040',
      }),
    ).toBe(true);
    expect(
      await frameArrives(scapy.a!, scapy.b!, [udp('10.0.0.99', 40041)], {
        filter: 'udp src port 40041',
      }),
    ).toBe(false);
    const bcast = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/IP(src='${a.ip4}', dst='10.0.0.255')/UDP(sport=40042, dport=9999)`;
    expect(await frameArrives(scapy.a!, scapy.b!, [bcast], { filter: 'udp src port 40042' })).toBe(
      true,
    );
    await apply(spec({ srv: { rules: [{ dir: 'ingress', proto: 'udp', ports: [53, 53] }] } }));
    expect(await frameArrives(scapy.a!, scapy.b!, [bcast], { filter: 'udp src port 40042' })).toBe(
      false,
    );
  });
});
