/**
 * DCCP and UDP-Lite rules with port ranges, end to end: OVS cannot match their ports, so the
 * pipeline pauses such packets at the agent (controller(pause)), which judges them with the
 * reference semantics and resumes the allowed (docs/pipeline.md). Real API, store, agent
 * (native OpenFlow driver), OVS and frames crafted by scapy in VM namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { frameArrives, Scapy } from '../support/scapy.js';
import type { Vm } from '../support/vm.js';
import { startStack, type Stack } from './stack.js';

const A = { mac: '02:00:00:00:0d:01', ip: '10.8.0.1' };
const B = { mac: '02:00:00:00:0d:02', ip: '10.8.0.2' };

/** A DCCP (33) or UDP-Lite (136) packet: a bare header is enough, OVS reads no more. */
function frame(
  from: typeof A,
  to: typeof A,
  proto: 33 | 136,
  sport: number,
  dport: number,
): string {
  const ports = `${sport.toString(16).padStart(4, '0')}${dport.toString(16).padStart(4, '0')}`;
  return `Ether(src='${from.mac}', dst='${to.mac}')/IP(src='${from.ip}', dst='${to.ip}', proto=${proto})/Raw(load=bytes.fromhex('${ports}040000000000000000000000'))`;
}

/** Matches the proto and destination port on the receiver. */
function seen(proto: number, dport: number): { filter: string; lfilter: string; waitMs: number } {
  return {
    filter: `ip proto ${proto}`,
    lfilter: `bytes(p['IP'].payload)[2:4] == (${dport}).to_bytes(2, 'big')`,
    waitMs: 500,
  };
}

describe('DCCP and UDP-Lite port rules: judged by the agent at the controller', () => {
  let s: Stack;
  let a: Vm;
  let b: Vm;
  let sa: Scapy;
  let sb: Scapy;
  let dccpRule: string;

  beforeAll(async () => {
    s = await startStack('agent-punt', { driver: 'native' });
    const n = s.neutron;
    const net = await n.network('net1');
    const client = await n.group('client'); // Neutron's default egress rules only
    const server = await n.group('server');
    dccpRule = await n.rule(server, {
      direction: 'ingress',
      protocol: 'dccp',
      port_range_min: 5000,
      port_range_max: 5001,
    });
    await n.rule(server, {
      direction: 'ingress',
      protocol: 'udplite',
      port_range_min: 6000,
      port_range_max: 6000,
    });
    await n.port({ id: 'pa', networkId: net, mac: A.mac, ips: [A.ip], groups: [client] });
    await n.port({ id: 'pb', networkId: net, mac: B.mac, ips: [B.ip], groups: [server] });
    await s.converged();
    a = await s.plug({ name: 'a', mac: A.mac, ipv4: `${A.ip}/16`, ofport: 1, ifaceId: 'pa' });
    b = await s.plug({ name: 'b', mac: B.mac, ipv4: `${B.ip}/16`, ofport: 2, ifaceId: 'pb' });
    [sa, sb] = await Promise.all([Scapy.start(a), Scapy.start(b)]);
  });

  afterAll(async () => {
    sa?.stop();
    sb?.stop();
    await s?.stop();
  });

  it('DCCP inside the destination range arrives, at both edges; outside it does not', async () => {
    for (const [port, expected] of [
      [4999, false],
      [5000, true],
      [5001, true],
      [5002, false],
    ] as const) {
      const arrived = await frameArrives(sa, sb, [frame(A, B, 33, 40000, port)], seen(33, port));
      expect([port, arrived]).toEqual([port, expected]);
    }
  });

  it('UDP-Lite to its one allowed port arrives; to the next one it does not', async () => {
    expect(await frameArrives(sa, sb, [frame(A, B, 136, 40001, 6000)], seen(136, 6000))).toBe(true);
    expect(await frameArrives(sa, sb, [frame(A, B, 136, 40001, 6001)], seen(136, 6001))).toBe(
      false,
    );
  });

  it('the reply of an allowed DCCP connection comes back; the agent counted what it judged', async () => {
    expect(await frameArrives(sa, sb, [frame(A, B, 33, 40002, 5000)], seen(33, 5000))).toBe(true);
    // b answers from 5000 to a's 40002: b's egress half judges it as a reply of the connection
    // b's ingress rule allowed (paused, judged, resumed), a's ingress as a reply of its own.
    expect(await frameArrives(sb, sa, [frame(B, A, 33, 5000, 40002)], seen(33, 40002))).toBe(true);
    const metrics = await (await fetch(`${s.service!.metricsUrl}/metrics`)).text();
    const count = (outcome: string): number =>
      Number(
        new RegExp(`sgflow_packet_ins_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ??
          0,
      );
    expect(count('allowed')).toBeGreaterThanOrEqual(5);
    expect(count('denied')).toBeGreaterThanOrEqual(3);
  });

  it('deleting the rule closes its ports: nothing reaches the agent to allow any more', async () => {
    await s.neutron.deleteRule(dccpRule);
    await s.converged();
    expect(await frameArrives(sa, sb, [frame(A, B, 33, 40003, 5000)], seen(33, 5000))).toBe(false);
    // UDP-Lite's rule is untouched.
    expect(await frameArrives(sa, sb, [frame(A, B, 136, 40003, 6000)], seen(136, 6000))).toBe(true);
  });
});
