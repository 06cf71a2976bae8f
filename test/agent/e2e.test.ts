/**
 * End to end through the real stack: Neutron API → SQLite store → agent → real userspace
 * OVS → traffic between VM namespaces. Each case states what a user would see.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ReconcileReport } from '../../src/agent/agent.js';
import { SWITCH_DRIVERS } from '../../src/agent/command.js';
import { Table } from '../../src/compiler/index.js';
import type { Vm } from '../support/vm.js';
import { PingStream, sleep, startStack, udpStream, type Stack } from './stack.js';

const NET = '10.7.0.0/16';

describe.each(SWITCH_DRIVERS)(
  'agent end to end, %s driver (API → store → agent → OVS → traffic)',
  (driver) => {
    let s: Stack;
    let netId: string;
    let clientGroup: string;
    let serverGroup: string;
    let trusted: string;
    let a: Vm;
    let b: Vm;

    beforeAll(async () => {
      s = await startStack(`agent-e2e-${driver}`, { driver });
      const n = s.neutron;
      netId = await n.network('net1');
      clientGroup = await n.group('client');
      serverGroup = await n.group('server');
      trusted = await n.group('trusted');
      // The client group accepts nothing; the server group accepts ping from anywhere.
      await n.rule(serverGroup, { direction: 'ingress', protocol: 'icmp' });
      await n.port({
        id: 'port-a',
        networkId: netId,
        mac: '02:00:00:00:0a:01',
        ips: ['10.7.0.1'],
        groups: [clientGroup],
      });
      await n.port({
        id: 'port-b',
        networkId: netId,
        mac: '02:00:00:00:0a:02',
        ips: ['10.7.0.2'],
        groups: [serverGroup],
      });
      await s.converged();
      a = await s.plug({
        name: 'a',
        mac: '02:00:00:00:0a:01',
        ipv4: '10.7.0.1/16',
        ofport: 1,
        ifaceId: 'port-a',
      });
      b = await s.plug({
        name: 'b',
        mac: '02:00:00:00:0a:02',
        ipv4: '10.7.0.2/16',
        ofport: 2,
        ifaceId: 'port-b',
      });
      void NET;
    });

    afterAll(async () => {
      await s?.stop();
    });

    it('a plugged VM gets its policy: ping to the server passes, ping to the client is dropped', async () => {
      expect(await a.ping('10.7.0.2', { count: 2 })).toBe(true);
      expect(await b.ping('10.7.0.1', { count: 2 })).toBe(false);
      const flows = await s.ovs.ofctl('dump-flows', s.ovs.mgmt);
      expect(flows).toContain('reg5=0x2'); // b's stages exist on the bridge
    });

    it('a rule added opens its port, a rule deleted closes it (and cuts its open connection)', async () => {
      const server = await b.listenTcp(8080);
      expect(await a.tcpConnect('10.7.0.2', 8080)).toBe(false);
      const rule = await s.neutron.rule(serverGroup, {
        direction: 'ingress',
        protocol: 'tcp',
        port_range_min: 8080,
        port_range_max: 8080,
      });
      await s.converged();
      expect(await a.tcpConnect('10.7.0.2', 8080)).toBe(true);

      const client = await a.tcpClient('10.7.0.2', 8080);
      expect(client.lines).toContain('CONNECTED');
      client.write('before');
      expect(await server.waitFor(/^RECV before$/, 3000)).toBe(true);

      await s.neutron.deleteRule(rule);
      await s.converged();
      expect(await a.tcpConnect('10.7.0.2', 8080)).toBe(false);
      // The established connection stops too (judged by its original tuple).
      client.write('after');
      expect(await server.waitFor(/^RECV after$/, 1500)).toBe(false);
      client.stop();
      server.stop();
    });

    it('a remote-group member added on the API is allowed in', async () => {
      const server = await b.listenTcp(9000);
      await s.neutron.rule(serverGroup, {
        direction: 'ingress',
        protocol: 'tcp',
        port_range_min: 9000,
        port_range_max: 9000,
        remote_group_id: trusted,
      });
      await s.converged();
      expect(await a.tcpConnect('10.7.0.2', 9000)).toBe(false);
      await s.neutron.setPortGroups('port-a', [clientGroup, trusted]);
      await s.converged();
      expect(await a.tcpConnect('10.7.0.2', 9000)).toBe(true);
      await s.neutron.setPortGroups('port-a', [clientGroup]);
      await s.converged();
      expect(await a.tcpConnect('10.7.0.2', 9000)).toBe(false);
      server.stop();
    });

    it('one rule added sends only that rule’s flows, in one bundle', async () => {
      const agent = s.service!.agent;
      const before = new Set(agent.installedFlows().map((f) => f.cookie));
      const reports: ReconcileReport[] = [];
      const off = agent.onReconcile((r) => reports.push(r));
      await s.neutron.rule(serverGroup, {
        direction: 'ingress',
        protocol: 'udp',
        port_range_min: 5353,
        port_range_max: 5353,
      });
      await s.converged();
      off();
      const sent = reports.filter((r) => r.adds + r.deletes > 0);
      expect(sent).toHaveLength(1);
      const mods = sent[0]!.mods;
      expect(mods.length).toBeGreaterThan(0);
      // Every flow touched is a rule flow (cookie kind 3 = one rule, 4 = shared by rules)...
      for (const m of mods) expect([3n, 4n]).toContain(m.flow.cookie >> 56n);
      // ...and no flow of another (already installed) rule alone was touched.
      const touchedOld = mods.filter(
        (m) => m.flow.cookie >> 56n === 3n && before.has(m.flow.cookie),
      );
      expect(touchedOld).toEqual([]);
      // The same request again (a duplicate) is refused by the API and sends nothing.
      const after = agent.installedFlows().length;
      await expect(
        s.neutron.rule(serverGroup, {
          direction: 'ingress',
          protocol: 'udp',
          port_range_min: 5353,
          port_range_max: 5353,
        }),
      ).rejects.toThrow(/409/);
      await s.converged();
      expect(agent.installedFlows().length).toBe(after);
    });

    it('one remote member added sends only flows for its address', async () => {
      const agent = s.service!.agent;
      const reports: ReconcileReport[] = [];
      const off = agent.onReconcile((r) => reports.push(r));
      // A port on another host (never plugged here) joins the group a rule admits from.
      await s.neutron.port({
        id: 'remote-member',
        networkId: netId,
        mac: '02:00:00:00:0a:55',
        ips: ['10.7.5.5'],
        groups: [trusted],
      });
      await s.converged();
      off();
      const mods = reports.flatMap((r) => r.mods);
      expect(mods.length).toBeGreaterThan(0);
      const member = 0x0a070505n; // 10.7.5.5
      for (const m of mods) {
        expect(m.command).toBe('add');
        const addrs = [m.flow.match.ct_nw_src, m.flow.match.ip_src].map((f) => f?.value);
        expect(addrs).toContain(member);
      }
    });

    it('a port plugged sends only flows about that port (and its network’s flooding)', async () => {
      const agent = s.service!.agent;
      await s.neutron.port({
        id: 'port-c',
        networkId: netId,
        mac: '02:00:00:00:0a:03',
        ips: ['10.7.0.3'],
        groups: [clientGroup],
      });
      await s.converged();
      const total = agent.installedFlows().length;
      const reports: ReconcileReport[] = [];
      const off = agent.onReconcile((r) => reports.push(r));
      const c = await s.plug({
        name: 'c',
        mac: '02:00:00:00:0a:03',
        ipv4: '10.7.0.3/16',
        ofport: 3,
        ifaceId: 'port-c',
      });
      await s.converged();
      off();
      const mods = reports.flatMap((r) => r.mods);
      expect(mods.length).toBeGreaterThan(0);
      expect(mods.length).toBeLessThan(total / 2);
      const mac = 0x02000000_0a03n;
      const aboutC = (m: (typeof mods)[number]): boolean => {
        const f = m.flow.match;
        return (
          f.in_port?.value === 3n ||
          f.reg5?.value === 3n ||
          f.eth_dst?.value === mac ||
          // broadcast/multicast destinations: the network's flood list now includes c
          (f.eth_dst !== undefined && (f.eth_dst.value & 0x0100_0000_0000n) !== 0n) ||
          JSON.stringify(m.flow.actions, (_k, v: unknown) =>
            typeof v === 'bigint' ? `${v}` : v,
          ).includes('"port":3')
        );
      };
      expect(mods.filter((m) => !aboutC(m)).map((m) => m.flow)).toEqual([]);
      expect(await c.ping('10.7.0.2', { count: 1 })).toBe(true);
    });

    it('a change that rebuilds the flows carrying traffic (plain flows ⇄ conjunction): no packet lost', async () => {
      // b's group admits ICMP and UDP 5353 from anywhere; with b its only port, those are plain
      // flows for b. When c joins the group the key gets two ports and becomes a conjunction:
      // the flows a's pings travel through are deleted and others added, in one bundle.
      const agent = s.service!.agent;
      const reports: ReconcileReport[] = [];
      const off = agent.onReconcile((r) => reports.push(r));
      const ping = new PingStream(a, '10.7.0.2', 150, 20);
      for (let i = 0; i < 4; i++) {
        await s.neutron.setPortGroups('port-c', [clientGroup, serverGroup]);
        await s.converged();
        await sleep(120);
        await s.neutron.setPortGroups('port-c', [clientGroup]);
        await s.converged();
        await sleep(120);
      }
      off();
      const { sent, received } = await ping.result();
      const rebuilt = reports
        .flatMap((r) => r.mods)
        .filter(
          (m) =>
            m.command === 'delete_strict' &&
            m.flow.table === Table.IngressRules &&
            m.flow.match.reg5?.value === 2n,
        );
      expect(rebuilt.length).toBeGreaterThanOrEqual(8);
      expect(sent).toBe(150);
      expect(received).toBe(sent);
    });

    it('a rule change under continuous traffic: no allowed packet lost', async () => {
      const ping = new PingStream(a, '10.7.0.2', 150, 20);
      for (let i = 0; i < 4; i++) {
        const r = await s.neutron.rule(serverGroup, {
          direction: 'ingress',
          protocol: 'tcp',
          port_range_min: 7000 + i,
          port_range_max: 7100 + i,
        });
        await s.converged();
        await sleep(150);
        await s.neutron.deleteRule(r);
        await s.converged();
        await sleep(150);
      }
      const { sent, received } = await ping.result();
      expect(sent).toBe(150);
      expect(received).toBe(sent);
    });

    it('agent restart under traffic: no allowed packet lost, no denied packet delivered, no flow rewritten', async () => {
      const udpServer = await a.udpListen(6000); // a accepts no UDP
      const flowsBefore = await s.ovs.ofctl('dump-flows', '--no-stats', s.ovs.mgmt);
      const ping = new PingStream(a, '10.7.0.2', 150, 20);
      const denied = udpStream(b, '10.7.0.1', 6000, 150, 20);
      await sleep(500);
      await s.stopAgent();
      await sleep(500);
      const service = await s.startAgent();
      await s.converged();
      await denied;
      const { sent, received } = await ping.result();
      expect(received).toBe(sent);
      expect(udpServer.matching(/^RECV /)).toEqual([]);
      expect(await s.ovs.ofctl('dump-flows', '--no-stats', s.ovs.mgmt)).toBe(flowsBefore);
      const text = await (await fetch(`${service.metricsUrl}/metrics`)).text();
      expect(text).toMatch(/sgflow_resyncs_total 1/);
      expect(text).toMatch(/sgflow_flow_mods_total\{command="add"\} 0/);
      udpServer.stop();
    });

    it('ovs-vswitchd restart (all flows lost): enforcement is back once it is up', async () => {
      await s.ovs.restartVswitchd();
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await a.ping('10.7.0.2', { count: 1, timeoutMs: 1000 });
        if (!ok) await sleep(100);
      }
      expect(ok).toBe(true);
      await s.converged();
      expect(await b.ping('10.7.0.1', { count: 2 })).toBe(false);
    });

    it('serves health and metrics', async () => {
      const url = s.service!.metricsUrl!;
      const h = await fetch(`${url}/healthz`);
      expect(h.status).toBe(200);
      const body = (await h.json()) as { ok: boolean; flows: number };
      expect(body.ok).toBe(true);
      expect(body.flows).toBeGreaterThan(0);
      const m = await (await fetch(`${url}/metrics`)).text();
      for (const name of [
        'sgflow_flows_installed',
        'sgflow_reconcile_seconds_bucket',
        'sgflow_changes_applied_total',
        'sgflow_resyncs_total',
        'sgflow_errors_total',
        'sgflow_connection_up{peer="openflow"} 1',
        'sgflow_connection_up{peer="ovsdb"} 1',
      ])
        expect(m).toContain(name);
    });
  },
);
