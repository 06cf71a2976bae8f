/**
 * The test bed itself: a private OVS, two VMs, a bridge in NORMAL mode carries their traffic;
 * with no flows (fail_mode=secure) nothing passes; after stop nothing is left behind.
 */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OvsSandbox, startOvs } from '../support/ovs.js';
import { Scapy, frameArrives } from '../support/scapy.js';
import { addVm, type Vm } from '../support/vm.js';

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

describe('test bed', () => {
  let ovs: OvsSandbox;
  let a: Vm;
  let b: Vm;

  beforeAll(async () => {
    ovs = await startOvs({ name: 'bed' });
    [a, b] = await Promise.all([
      addVm(ovs, {
        name: 'a',
        mac: '02:00:00:00:00:0a',
        ipv4: '10.0.0.10/24',
        ipv6: 'fd00::a/64',
        ofport: 10,
        ifaceId: 'port-a',
      }),
      addVm(ovs, {
        name: 'b',
        mac: '02:00:00:00:00:0b',
        ipv4: '10.0.0.11/24',
        ipv6: 'fd00::b/64',
        ofport: 11,
        ifaceId: 'port-b',
      }),
    ]);
  });
  afterAll(async () => {
    await ovs?.stop();
  });

  it('gives each VM its ofport and external ids', async () => {
    expect((await ovs.vsctl('get', 'Interface', a.bridgePort, 'ofport')).trim()).toBe('10');
    expect(
      (await ovs.vsctl('get', 'Interface', b.bridgePort, 'external_ids:iface-id')).trim(),
    ).toBe('port-b');
    expect(await ovs.vsctl('get', 'Bridge', 'br-int', 'fail_mode')).toMatch(/secure/);
  });

  it('drops everything with no flows (fail_mode=secure)', async () => {
    await ovs.ofctl('del-flows', ovs.mgmt);
    expect(await a.ping(b.ip4!)).toBe(false);
  });

  it('carries IPv4, IPv6, TCP and UDP with actions=NORMAL', async () => {
    await ovs.ofctl('add-flow', ovs.mgmt, 'actions=NORMAL');
    expect(await a.ping(b.ip4!)).toBe(true);
    expect(await a.ping(b.ip6!)).toBe(true);
    const srv = await b.listenTcp(5001);
    expect(await a.tcpConnect(b.ip4!, 5001)).toBe(true);
    expect(await a.tcpConnect(b.ip6!, 5001)).toBe(true);
    // Nobody listens on 5002: the RST comes back, and `tcpConnect` (true = connected,
    // false = dropped) refuses to call that a drop.
    expect(await a.tcpConnectOutcome(b.ip4!, 5002)).toBe('refused');
    await expect(a.tcpConnect(b.ip4!, 5002)).rejects.toThrow(/refused/);
    srv.stop();
    const u = await b.udpListen(5003);
    expect(await a.udpSend(b.ip4!, 5003, 'hello', { srcPort: 40000 })).toBe('reply');
    expect(u.matching(/^RECV 10\.0\.0\.10 40000 hello$/)).toHaveLength(1);
    expect(await a.udpSend(b.ip4!, 5004, 'closed')).toBe('refused');
    u.stop();
  });

  it('holds a TCP connection that carries lines both ways', async () => {
    const srv = await b.listenTcp(5005);
    const cli = await a.tcpClient(b.ip4!, 5005);
    expect(cli.lines).toContain('CONNECTED');
    cli.write('up');
    expect(await srv.waitFor(/^RECV up$/)).toBe(true);
    srv.write('down');
    expect(await cli.waitFor(/^RECV down$/)).toBe(true);
    cli.stop();
    srv.stop();
  });

  it('sends crafted frames with scapy and sees them arrive, or not', async () => {
    const [sa, sb] = await Promise.all([Scapy.start(a), Scapy.start(b)]);
    const garp = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/ARP(op=2, hwsrc='${a.mac}', psrc='10.0.0.99', pdst='10.0.0.99')`;
    const opts = { filter: 'arp', lfilter: "p[ARP].psrc == '10.0.0.99'", waitMs: 300 };
    expect(await frameArrives(sa, sb, [garp], opts)).toBe(true);
    await ovs.ofctl('del-flows', ovs.mgmt);
    expect(await frameArrives(sa, sb, [garp], opts)).toBe(false);
    await ovs.ofctl('add-flow', ovs.mgmt, 'actions=NORMAL');
    sa.stop();
    sb.stop();
  });

  it('restarts ovs-vswitchd: flows are gone (fail_mode=secure drops), bridge and ports stay', async () => {
    await ovs.ofctl('add-flow', ovs.mgmt, 'actions=NORMAL');
    expect(await a.ping(b.ip4!)).toBe(true);
    await ovs.restartVswitchd();
    expect(await ovs.ofctl('dump-flows', ovs.mgmt)).not.toMatch(/actions=/);
    expect((await ovs.vsctl('get', 'Interface', a.bridgePort, 'ofport')).trim()).toBe('10');
    expect(await a.ping(b.ip4!)).toBe(false);
    await ovs.ofctl('add-flow', ovs.mgmt, 'actions=NORMAL');
    expect(await a.ping(b.ip4!, { count: 2, timeoutMs: 3000 })).toBe(true);
  });

  it('leaves no namespace, process or directory after stop', async () => {
    const other = await startOvs({ name: 'bed2' });
    const vm = await addVm(other, {
      name: 'x',
      mac: '02:00:00:00:00:0c',
      ipv4: '10.0.0.12/24',
      ofport: 5,
      ifaceId: 'x',
    });
    const pidOf = (d: string) =>
      Number(execFileSync('cat', [`${other.dir}/${d}.pid`], { encoding: 'utf8' }));
    const pids = [pidOf('ovs-vswitchd'), pidOf('ovsdb-server')];
    expect(netnsList()).toEqual(expect.arrayContaining([other.netns, vm.netns]));
    await other.stop();
    expect(netnsList()).not.toContain(other.netns);
    expect(netnsList()).not.toContain(vm.netns);
    expect(existsSync(other.dir)).toBe(false);
    for (const pid of pids) {
      let state = 'gone';
      try {
        state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
      } catch {
        // no such process
      }
      expect(state === 'gone' || state.startsWith('Z')).toBe(true);
    }
  });
});
