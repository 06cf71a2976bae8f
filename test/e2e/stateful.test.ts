/**
 * Connection state on real traffic: replies of allowed connections pass and unsolicited
 * "replies" do not; related ICMP errors reach the client, ICMP errors about connections that do
 * not exist do not; removing a rule cuts an established
 * connection both ways and re-adding it lets a new one open; same-host traffic is judged on
 * both ports; broadcast and multicast are judged by the receivers' ingress rules; a port with
 * port security off is unfiltered; stateless groups judge every packet on its own.
 *
 * VMs: a (10.0.0.1), b (10.0.0.2), c (10.0.0.3), d (10.0.0.4; port security off unless a test
 * says otherwise).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { frameArrives, Scapy } from '../support/scapy.js';
import type { LineProcess } from '../support/vm.js';
import { type Bed, EGRESS_ALL, INGRESS_ALL, type PolicySpec, startBed } from './harness.js';

let bed: Bed;
const tcpSrv: Record<string, LineProcess> = {};
const udpSrv: Record<string, LineProcess> = {};
const scapy: Record<string, Scapy> = {};

beforeAll(async () => {
  bed = await startBed('stateful', [
    { name: 'a', n: 1 },
    { name: 'b', n: 2 },
    { name: 'c', n: 3 },
    { name: 'd', n: 4 },
  ]);
  for (const v of Object.values(bed.vms)) {
    tcpSrv[v.name] = await v.listenTcp([80, 443]);
    udpSrv[v.name] = await v.udpListen([53, 9999]);
  }
  const started = await Promise.all(Object.values(bed.vms).map((v) => Scapy.start(v)));
  for (const s of started) scapy[s.vm.name] = s;
});

afterEach(() => {
  // A dead server would turn "dropped" into "refused" (tcpConnect throws on that, udpSend
  // says so); name it here.
  for (const [name, srv] of [...Object.entries(tcpSrv), ...Object.entries(udpSrv)])
    expect(srv.running, `server on ${name}: ${srv.child.spawnargs.join(' ')}`).toBe(true);
});

afterAll(async () => {
  for (const s of Object.values(scapy)) s.stop();
  for (const s of [...Object.values(tcpSrv), ...Object.values(udpSrv)]) s.stop();
  await bed?.stop();
});

const vm = (name: string) => bed.vms[name]!;

describe('replies and related', () => {
  it('replies of an allowed connection pass although the server has no egress rule', async () => {
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        server: {
          rules: [
            { dir: 'ingress', proto: 'tcp', ports: [80, 80] },
            { dir: 'ingress', proto: 'udp', ports: [53, 53] },
            { dir: 'ingress', proto: 'icmp' },
          ],
        },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
    });
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    expect(await a.udpSend(b.ip4!, 53, 'q')).toBe('reply');
    expect(await a.ping(b.ip4!)).toBe(true);
    // ...and the server itself still cannot open anything.
    expect(await b.tcpConnect(a.ip4!, 80)).toBe(false);
    expect(await b.udpSend(a.ip4!, 53, 'q')).toBe('timeout');
    expect(await b.ping(a.ip4!)).toBe(false);
  });

  it('unsolicited "replies" are dropped; real replies pass', async () => {
    // a may send anything and accepts new connections to tcp 80 only; d is unfiltered, so
    // whatever d sends is judged by a's ingress alone.
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        server: { rules: [{ dir: 'ingress', proto: 'tcp', ports: [80, 80] }] },
      },
      ports: { a: { groups: ['client', 'server'] }, d: { portSecurity: false } },
    });
    const [a, d] = [vm('a'), vm('d')];
    const ether = `Ether(src='${d.mac}', dst='${a.mac}')/IP(src='${d.ip4}', dst='${a.ip4}')`;
    const synAck = `${ether}/TCP(sport=80, dport=45678, flags='SA', seq=1000, ack=2000)`;
    const udpFake = `${ether}/UDP(sport=53, dport=45679)/Raw(b'fake reply')`;
    expect(await frameArrives(scapy.d!, scapy.a!, [synAck], { filter: 'tcp port 45678' })).toBe(
      false,
    );
    expect(await frameArrives(scapy.d!, scapy.a!, [udpFake], { filter: 'udp port 45679' })).toBe(
      false,
    );
    // Controls: a new connection the rules allow arrives; a datagram that answers a's own
    // query arrives.
    const syn = `${ether}/TCP(sport=45680, dport=80, flags='S')`;
    expect(await frameArrives(scapy.d!, scapy.a!, [syn], { filter: 'tcp port 45680' })).toBe(true);
    expect(await a.udpSend(d.ip4!, 53, 'q', { srcPort: 45681 })).toBe('reply');
    const udpReply = `${ether}/UDP(sport=53, dport=45681)/Raw(b'late reply')`;
    expect(await frameArrives(scapy.d!, scapy.a!, [udpReply], { filter: 'udp port 45681' })).toBe(
      true,
    );
    // An echo reply nobody asked for is dropped; the reply to a's own echo request passes.
    const echoReply = (id: number) => `${ether}/ICMP(type=0, id=${id}, seq=1)/Raw(b'pong')`;
    const replySeen = (id: number) =>
      `p.haslayer(ICMP) and p[ICMP].type == 0 and p[ICMP].id == ${id}`;
    expect(
      await frameArrives(scapy.d!, scapy.a!, [echoReply(45690)], {
        filter: 'icmp',
        lfilter: replySeen(45690),
      }),
    ).toBe(false);
    const echoRequest = `Ether(src='${a.mac}', dst='${d.mac}')/IP(src='${a.ip4}', dst='${d.ip4}')/ICMP(type=8, id=45691, seq=1)/Raw(b'ping')`;
    expect(
      await frameArrives(scapy.a!, scapy.a!, [echoRequest], {
        filter: 'icmp',
        lfilter: replySeen(45691),
      }),
    ).toBe(true);
  });

  it('related ICMP: UDP to a closed but allowed port gets its port unreachable back', async () => {
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        server: { rules: [{ dir: 'ingress', proto: 'udp', ports: [7000, 7010] }] },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
    });
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.udpSend(b.ip4!, 7001, 'x')).toBe('refused');
    // Not allowed: the datagram never reaches b, so no error comes back either.
    expect(await a.udpSend(b.ip4!, 7011, 'x')).toBe('timeout');
  });

  it('related ICMP over IPv6', async () => {
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        server: { rules: [{ dir: 'ingress', eth: 'IPv6', proto: 'udp', ports: [7000, 7010] }] },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
    });
    expect(await vm('a').udpSend(vm('b').ip6!, 7002, 'x')).toBe('refused');
    expect(await vm('a').udpSend(vm('b').ip6!, 7011, 'x')).toBe('timeout');
  });
});

describe('ICMP errors pass only for a connection that exists', () => {
  // a may send anything and accepts nothing new; d (port security off) crafts the errors, so
  // what reaches a is judged by a's ingress alone.
  const spec: PolicySpec = {
    groups: { client: { rules: EGRESS_ALL } },
    ports: { a: { groups: ['client'] }, d: { portSecurity: false } },
  };
  /** Does d's ICMP error, quoting `quoted` (a packet from a to d), reach a? */
  const errorArrives = (v6: boolean, error: string, quoted: string, sport: number) => {
    const [a, d] = [vm('a'), vm('d')];
    const l3 = v6 ? `IPv6(src='${d.ip6}', dst='${a.ip6}')` : `IP(src='${d.ip4}', dst='${a.ip4}')`;
    const frame = `Ether(src='${d.mac}', dst='${a.mac}')/${l3}/${error}/${quoted}`;
    const inner = quoted.includes('TCP(') ? 'TCPerror' : 'UDPerror';
    return frameArrives(scapy.d!, scapy.a!, [frame], {
      filter: v6 ? 'icmp6' : 'icmp',
      lfilter: `p.haslayer(${inner}) and p[${inner}].sport == ${sport}`,
    });
  };

  for (const v6 of [false, true]) {
    it(`port unreachable and TTL exceeded about a UDP flow (IPv${v6 ? 6 : 4}): only if the flow exists`, async () => {
      await bed.apply(spec);
      const [a, d] = [vm('a'), vm('d')];
      const [aIp, dIp] = v6 ? [a.ip6!, d.ip6!] : [a.ip4!, d.ip4!];
      const base = v6 ? 45720 : 45700;
      // The flow a opened (d's server answers it); base + 1 was never used.
      expect(await a.udpSend(dIp, 9999, 'open', { srcPort: base })).toBe('reply');
      const quoted = (sport: number) =>
        `${v6 ? 'IPv6' : 'IP'}(src='${aIp}', dst='${dIp}')/UDP(sport=${sport}, dport=9999)`;
      const errors = v6
        ? ['ICMPv6DestUnreach(code=4)', 'ICMPv6TimeExceeded(code=0)']
        : ['ICMP(type=3, code=3)', 'ICMP(type=11, code=0)'];
      for (const error of errors) {
        expect(await errorArrives(v6, error, quoted(base), base), `${error} for the flow`).toBe(
          true,
        );
        expect(
          await errorArrives(v6, error, quoted(base + 1), base + 1),
          `${error} for no flow`,
        ).toBe(false);
      }
    });
  }

  it('an ICMP error about a TCP connection passes; about a connection that does not exist, not', async () => {
    await bed.apply(spec);
    const [a, d] = [vm('a'), vm('d')];
    const cli = await a.tcpClient(d.ip4!, 80, { srcPort: 45740 });
    try {
      expect(cli.lines).toContain('CONNECTED');
      const quoted = (sport: number) =>
        `IP(src='${a.ip4}', dst='${d.ip4}')/TCP(sport=${sport}, dport=80, flags='A', seq=1)`;
      const unreach = 'ICMP(type=3, code=1)';
      expect(await errorArrives(false, unreach, quoted(45740), 45740)).toBe(true);
      expect(await errorArrives(false, unreach, quoted(45741), 45741)).toBe(false);
      // The connection itself still carries data afterwards.
      const mark = tcpSrv.d!.lines.length;
      cli.write('after-error');
      expect(await tcpSrv.d!.waitFor(/^RECV after-error$/, 2000, mark)).toBe(true);
    } finally {
      cli.stop();
    }
  });
});

describe('SCTP (tracked by addresses only: ports judged on each packet)', () => {
  it('a port range opens for INIT; replies pass only from the allowed port', async () => {
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        server: { rules: [{ dir: 'ingress', proto: 'sctp', ports: [5000, 5000] }] },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
    });
    const [a, b] = [vm('a'), vm('b')];
    const ab = `Ether(src='${a.mac}', dst='${b.mac}')/IP(src='${a.ip4}', dst='${b.ip4}')`;
    const ba = `Ether(src='${b.mac}', dst='${a.mac}')/IP(src='${b.ip4}', dst='${a.ip4}')`;
    const init = (dport: number) =>
      `${ab}/SCTP(sport=40000, dport=${dport}, tag=0)/SCTPChunkInit(init_tag=1111, a_rwnd=65535, n_out_streams=1, n_in_streams=1, init_tsn=1)`;
    expect(
      await frameArrives(scapy.a!, scapy.b!, [init(5001)], { filter: 'sctp and dst port 5001' }),
    ).toBe(false);
    expect(
      await frameArrives(scapy.a!, scapy.b!, [init(5000)], { filter: 'sctp and dst port 5000' }),
    ).toBe(true);
    const initAck = (sport: number) =>
      `${ba}/SCTP(sport=${sport}, dport=40000, tag=1111)/SCTPChunkInitAck(init_tag=2222, a_rwnd=65535, n_out_streams=1, n_in_streams=1, init_tsn=1)`;
    expect(
      await frameArrives(scapy.b!, scapy.a!, [initAck(5000)], { filter: 'sctp and src port 5000' }),
    ).toBe(true);
    expect(
      await frameArrives(scapy.b!, scapy.a!, [initAck(5002)], { filter: 'sctp and src port 5002' }),
    ).toBe(false);
  });
});

describe('a port in several groups', () => {
  it('gets the union of their rules', async () => {
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        web: { rules: [{ dir: 'ingress', proto: 'tcp', ports: [80, 80] }] },
        dns: { rules: [{ dir: 'ingress', proto: 'udp', ports: [53, 53] }] },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['web', 'dns'] } },
    });
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    expect(await a.udpSend(b.ip4!, 53, 'q')).toBe('reply');
    expect(await a.tcpConnect(b.ip4!, 443)).toBe(false);
    expect(await a.udpSend(b.ip4!, 9999, 'q')).toBe('timeout');
  });
});

describe('rule removal', () => {
  const withRule: PolicySpec = {
    groups: {
      client: { rules: EGRESS_ALL },
      server: { rules: [{ dir: 'ingress', proto: 'tcp', ports: [443, 443] }] },
    },
    ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
  };
  const withoutRule: PolicySpec = {
    groups: {
      client: { rules: EGRESS_ALL },
      server: { rules: [{ dir: 'ingress', proto: 'tcp', ports: [80, 80] }] },
    },
    ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
  };

  it('cuts an established connection in both directions; re-adding lets a new one open', async () => {
    const [a, b] = [vm('a'), vm('b')];
    const srv = tcpSrv.b!;
    await bed.apply(withRule);
    const cli = await a.tcpClient(b.ip4!, 443);
    expect(cli.lines).toContain('CONNECTED');
    cli.write('hello-up');
    expect(await srv.waitFor(/^RECV hello-up$/)).toBe(true);
    srv.write('hello-down');
    expect(await cli.waitFor(/^RECV hello-down$/)).toBe(true);

    await bed.apply(withoutRule);
    const mark = srv.lines.length;
    const cmark = cli.lines.length;
    cli.write('cut-up');
    srv.write('cut-down');
    expect(await srv.waitFor(/^RECV cut-up$/, 1500, mark)).toBe(false);
    expect(await cli.waitFor(/^RECV cut-down$/, 200, cmark)).toBe(false);
    expect(await a.tcpConnect(b.ip4!, 443)).toBe(false);

    await bed.apply(withRule);
    const cli2 = await a.tcpClient(b.ip4!, 443);
    expect(cli2.lines).toContain('CONNECTED');
    cli2.write('again');
    expect(await srv.waitFor(/^RECV again$/, 2000, mark)).toBe(true);
    cli.stop();
    cli2.stop();
  });

  it('a connection allowed by two rules survives the removal of one', async () => {
    const [a, b] = [vm('a'), vm('b')];
    const srv = tcpSrv.b!;
    const both: PolicySpec = {
      groups: {
        client: { rules: EGRESS_ALL },
        server: {
          rules: [
            { dir: 'ingress', proto: 'tcp', ports: [443, 443] },
            { dir: 'ingress', proto: 'tcp', remoteIp: '10.0.0.1/32' },
          ],
        },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
    };
    await bed.apply(both);
    const cli = await a.tcpClient(b.ip4!, 443);
    expect(cli.lines).toContain('CONNECTED');
    await bed.apply({
      ...both,
      groups: {
        ...both.groups,
        server: { rules: [{ dir: 'ingress', proto: 'tcp', remoteIp: '10.0.0.1/32' }] },
      },
    });
    const mark = srv.lines.length;
    cli.write('still-here');
    expect(await srv.waitFor(/^RECV still-here$/, 2000, mark)).toBe(true);
    cli.stop();
  });
});

describe('remote group membership and established connections', () => {
  it('a port that leaves the remote group loses its established connection', async () => {
    const [a, b] = [vm('a'), vm('b')];
    const srv = tcpSrv.b!;
    const spec = (aGroups: string[]): PolicySpec => ({
      groups: {
        client: { rules: EGRESS_ALL },
        other: { rules: EGRESS_ALL },
        server: {
          rules: [{ dir: 'ingress', proto: 'tcp', ports: [443, 443], remoteGroup: 'client' }],
        },
      },
      ports: { a: { groups: aGroups }, b: { groups: ['server'] } },
    });
    await bed.apply(spec(['client']));
    const cli = await a.tcpClient(b.ip4!, 443);
    try {
      expect(cli.lines).toContain('CONNECTED');
      const mark = srv.lines.length;
      cli.write('member');
      expect(await srv.waitFor(/^RECV member$/, 2000, mark)).toBe(true);
      await bed.apply(spec(['other']));
      const mark2 = srv.lines.length;
      cli.write('former-member');
      expect(await srv.waitFor(/^RECV former-member$/, 1500, mark2)).toBe(false);
    } finally {
      cli.stop();
    }
  });
});

describe('same host', () => {
  const server = {
    rules: [{ dir: 'ingress' as const, proto: 'tcp', ports: [80, 80] as [number, number] }],
  };
  it('is judged by the egress rules of the sender AND the ingress rules of the receiver', async () => {
    const [a, b] = [vm('a'), vm('b')];
    // Receiver allows, sender has no egress rule.
    await bed.apply({
      groups: { server },
      ports: { a: { groups: [] }, b: { groups: ['server'] } },
    });
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    // Sender allows, receiver has no ingress rule.
    await bed.apply({
      groups: { client: { rules: EGRESS_ALL } },
      ports: { a: { groups: ['client'] } },
    });
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    // Sender allows only port 443, receiver only 80.
    await bed.apply({
      groups: { client: { rules: [{ dir: 'egress', proto: 'tcp', ports: [443, 443] }] }, server },
      ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
    });
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    expect(await a.tcpConnect(b.ip4!, 443)).toBe(false);
    // Both allow.
    await bed.apply({
      groups: { client: { rules: EGRESS_ALL }, server },
      ports: { a: { groups: ['client'] }, b: { groups: ['server'] } },
    });
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
  });
});

describe('broadcast and multicast', () => {
  it('reach only the ports whose ingress rules allow them', async () => {
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        open: {
          rules: [
            { dir: 'ingress', proto: 'udp', ports: [9999, 9999] },
            { dir: 'ingress', eth: 'IPv6', proto: 'udp', ports: [9999, 9999] },
          ],
        },
        closed: {
          rules: [
            { dir: 'ingress', proto: 'udp', ports: [53, 53] },
            { dir: 'ingress', eth: 'IPv6', proto: 'udp', ports: [53, 53] },
          ],
        },
      },
      ports: {
        a: { groups: ['client'] },
        b: { groups: ['open'] },
        c: { groups: ['closed'] },
        d: { portSecurity: false },
      },
    });
    const a = vm('a');
    const bcast = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/IP(src='${a.ip4}', dst='10.0.0.255')/UDP(sport=40001, dport=9999)/Raw(b'bc')`;
    const mcast = `Ether(src='${a.mac}', dst='01:00:5e:00:00:fb')/IP(src='${a.ip4}', dst='224.0.0.251', ttl=1)/UDP(sport=40002, dport=9999)/Raw(b'mc')`;
    const mcast6 = `Ether(src='${a.mac}', dst='33:33:00:00:00:fb')/IPv6(src='${a.ip6}', dst='ff02::fb', hlim=1)/UDP(sport=40003, dport=9999)/Raw(b'mc6')`;
    for (const [frame, port] of [
      [bcast, 40001],
      [mcast, 40002],
      [mcast6, 40003],
    ] as const) {
      const opts = { filter: `udp src port ${port}` };
      const ids = await Promise.all(['b', 'c', 'd'].map((n) => scapy[n]!.sniffStart(opts.filter)));
      await scapy.a!.send(frame);
      const [rb, rc, rd] = await Promise.all(
        ['b', 'c', 'd'].map((n, i) => scapy[n]!.sniffStop(ids[i]!, 400)),
      );
      expect(rb!.count, `b (ingress allows udp 9999) sees port ${port}`).toBeGreaterThan(0);
      expect(rc!.count, `c (ingress allows only udp 53) sees port ${port}`).toBe(0);
      expect(rd!.count, `d (port security off) sees port ${port}`).toBeGreaterThan(0);
    }
  });
});

describe('networks', () => {
  it('are isolated: no unicast, broadcast or ARP crosses from one network to another', async () => {
    const open = { rules: [...EGRESS_ALL, ...INGRESS_ALL] };
    await bed.apply({
      groups: { open },
      ports: {
        a: { groups: ['open'] },
        b: { groups: ['open'] },
        c: { groups: ['open'], network: 'net2' },
        d: { portSecurity: false, network: 'net2' },
      },
    });
    const [a, b, c, d] = [vm('a'), vm('b'), vm('c'), vm('d')];
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    // Nobody on a's network answers for c's address (ARP does not cross either).
    expect(['unreachable', 'timeout']).toContain(await a.tcpConnectOutcome(c.ip4!, 80));
    expect(await d.tcpConnect(c.ip4!, 80)).toBe(true);
    const uni = `Ether(src='${a.mac}', dst='${c.mac}')/IP(src='${a.ip4}', dst='${c.ip4}')/UDP(sport=40020, dport=9999)`;
    expect(await frameArrives(scapy.a!, scapy.c!, [uni], { filter: 'udp src port 40020' })).toBe(
      false,
    );
    const bcast = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/IP(src='${a.ip4}', dst='10.0.0.255')/UDP(sport=40021, dport=9999)`;
    const ids = await Promise.all(
      ['b', 'c', 'd'].map((n) => scapy[n]!.sniffStart('udp src port 40021')),
    );
    await scapy.a!.send(bcast);
    const [rb, rc, rd] = await Promise.all(
      ['b', 'c', 'd'].map((n, i) => scapy[n]!.sniffStop(ids[i]!, 400)),
    );
    expect(rb!.count, 'same network sees the broadcast').toBeGreaterThan(0);
    expect(rc!.count + rd!.count, 'the other network does not').toBe(0);
    // From the unfiltered port of net2 into net1: not delivered either.
    const fromD = `Ether(src='${d.mac}', dst='${a.mac}')/IP(src='${d.ip4}', dst='${a.ip4}')/UDP(sport=40022, dport=9999)`;
    expect(await frameArrives(scapy.d!, scapy.a!, [fromD], { filter: 'udp src port 40022' })).toBe(
      false,
    );
  });
});

describe('port security off', () => {
  it('is unfiltered both ways, even for forged sources; its peers still filter', async () => {
    await bed.apply({
      groups: { client: { rules: EGRESS_ALL }, open: { rules: INGRESS_ALL } },
      ports: { a: { groups: ['client'] }, b: { groups: ['open'] }, d: { portSecurity: false } },
    });
    const [a, b, d] = [vm('a'), vm('b'), vm('d')];
    // d has no rules at all and still receives and sends anything.
    expect(await a.tcpConnect(d.ip4!, 80)).toBe(true);
    expect(await a.ping(d.ip4!)).toBe(true);
    expect(await d.tcpConnect(b.ip4!, 80)).toBe(true);
    // A forged source from d passes (to a receiver that allows it)...
    const forged = (mac: string) =>
      `Ether(src='${mac}', dst='${b.mac}')/IP(src='10.0.0.77', dst='${b.ip4}')/UDP(sport=40010, dport=9999)`;
    const opts = { filter: 'udp src port 40010' };
    expect(await frameArrives(scapy.d!, scapy.b!, [forged(d.mac)], opts)).toBe(true);
    // ...the same from a (port security on) does not.
    expect(await frameArrives(scapy.a!, scapy.b!, [forged(a.mac)], opts)).toBe(false);
    // a's ingress still filters what d sends: a accepts no ingress here.
    expect(await d.tcpConnect(a.ip4!, 80)).toBe(false);
  });
});

describe('stateless groups', () => {
  it('need a rule for the replies; with one, the connection works', async () => {
    const [a, b] = [vm('a'), vm('b')];
    const ingress80 = {
      dir: 'ingress' as const,
      proto: 'tcp',
      ports: [80, 80] as [number, number],
    };
    await bed.apply({
      groups: { client: { rules: EGRESS_ALL }, sl: { stateful: false, rules: [ingress80] } },
      ports: { a: { groups: ['client'] }, b: { groups: ['sl'] } },
    });
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        sl: {
          stateful: false,
          rules: [ingress80, { dir: 'egress', proto: 'tcp', sports: [80, 80] }],
        },
      },
      ports: { a: { groups: ['client'] }, b: { groups: ['sl'] } },
    });
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 443)).toBe(false);
  });

  it('judge every packet on its own: a stray SYN-ACK passes a stateless rule, not a stateful one', async () => {
    const [b, c, d] = [vm('b'), vm('c'), vm('d')];
    // "tcp from source port 80": what a stateless web client needs for its replies.
    const rule = { dir: 'ingress' as const, proto: 'tcp', sports: [80, 80] as [number, number] };
    await bed.apply({
      groups: { sl: { stateful: false, rules: [rule] }, sf: { rules: [rule] } },
      ports: { b: { groups: ['sl'] }, c: { groups: ['sf'] }, d: { portSecurity: false } },
    });
    const synAck = (to: typeof b, dport: number) =>
      `Ether(src='${d.mac}', dst='${to.mac}')/IP(src='${d.ip4}', dst='${to.ip4}')/TCP(sport=80, dport=${dport}, flags='SA', seq=1, ack=1)`;
    expect(
      await frameArrives(scapy.d!, scapy.b!, [synAck(b, 46001)], { filter: 'tcp dst port 46001' }),
    ).toBe(true);
    // conntrack calls a SYN-ACK without a SYN invalid: the stateful port drops it.
    expect(
      await frameArrives(scapy.d!, scapy.c!, [synAck(c, 46002)], { filter: 'tcp dst port 46002' }),
    ).toBe(false);
  });

  it('a stateless UDP exchange needs rules both ways', async () => {
    const [a, b] = [vm('a'), vm('b')];
    await bed.apply({
      groups: {
        c1: { stateful: false, rules: [{ dir: 'egress', proto: 'udp', ports: [53, 53] }] },
        s1: { stateful: false, rules: [{ dir: 'ingress', proto: 'udp', ports: [53, 53] }] },
      },
      ports: { a: { groups: ['c1'] }, b: { groups: ['s1'] } },
    });
    // The query reaches b, but neither b's egress nor a's ingress lets the answer back.
    const srv = udpSrv.b!;
    const mark = srv.lines.length;
    expect(await a.udpSend(b.ip4!, 53, 'sl-q', { srcPort: 42053 })).toBe('timeout');
    expect(await srv.waitFor(/RECV 10\.0\.0\.1 42053 sl-q/, 500, mark)).toBe(true);
    await bed.apply({
      groups: {
        c1: {
          stateful: false,
          rules: [
            { dir: 'egress', proto: 'udp', ports: [53, 53] },
            { dir: 'ingress', proto: 'udp', sports: [53, 53] },
          ],
        },
        s1: {
          stateful: false,
          rules: [
            { dir: 'ingress', proto: 'udp', ports: [53, 53] },
            { dir: 'egress', proto: 'udp', sports: [53, 53] },
          ],
        },
      },
      ports: { a: { groups: ['c1'] }, b: { groups: ['s1'] } },
    });
    expect(await a.udpSend(b.ip4!, 53, 'sl-q2', { srcPort: 42054 })).toBe('reply');
  });
});
