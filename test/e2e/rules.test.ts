/**
 * Security-group rules on real traffic: each test installs a compiled policy and checks what
 * passes and what is dropped — protocols, directions, port ranges at their edges, remote
 * prefixes, remote groups (fixed IPs and allowed address pairs), address groups, IPv6.
 *
 * VMs: a (10.0.0.1, also 10.0.0.101 as an allowed address pair), b (10.0.0.2), c (10.0.0.3,
 * also 10.0.0.103 which is no pair of c). Unless a test says otherwise a and c may send
 * anything, and b's ingress rules are the subject.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LineProcess } from '../support/vm.js';
import {
  type Bed,
  EGRESS_ALL,
  INGRESS_ALL,
  MUTANTS,
  type PolicySpec,
  type RuleSpec,
  startBed,
} from './harness.js';

let bed: Bed;
const servers: LineProcess[] = [];
const TCP_PORTS = [22, 80, 999, 1000, 1999, 2000, 3000, 8080];
const UDP_PORTS = [53, 999, 1000, 1999, 2000, 5000];

beforeAll(async () => {
  bed = await startBed('rules', [
    { name: 'a', n: 1, extraAddrs: ['10.0.0.101/24'] },
    { name: 'b', n: 2 },
    { name: 'c', n: 3, extraAddrs: ['10.0.0.103/24'] },
  ]);
  const { a, b, c } = bed.vms;
  for (const vm of [a!, b!, c!]) {
    servers.push(await vm.listenTcp(TCP_PORTS), await vm.udpListen(UDP_PORTS));
  }
});

afterEach(() => {
  // A dead server would turn "dropped" into "refused": tcpConnect throws on that, udpSend
  // reports it; this says which server died.
  for (const s of servers) expect(s.running, `server ${s.child.spawnargs.join(' ')}`).toBe(true);
});

afterAll(async () => {
  for (const s of servers) s.stop();
  await bed?.stop();
});

const vm = (name: string) => bed.vms[name]!;

/** b's ingress rules under test; a and c send anything; b may reply (stateful). */
function ingressOnB(rules: RuleSpec[], extra: PolicySpec = {}): PolicySpec {
  return {
    ...extra,
    groups: { client: { rules: EGRESS_ALL }, subject: { rules }, ...(extra.groups ?? {}) },
    ports: {
      a: { groups: ['client'] },
      c: { groups: ['client'] },
      b: { groups: ['subject'] },
      ...(extra.ports ?? {}),
    },
  };
}

/** a's egress rules under test; b and c accept anything. */
function egressOnA(rules: RuleSpec[]): PolicySpec {
  return {
    groups: { server: { rules: INGRESS_ALL }, subject: { rules } },
    ports: { a: { groups: ['subject'] }, b: { groups: ['server'] }, c: { groups: ['server'] } },
  };
}

describe('default deny', () => {
  it('a port with no group receives and sends nothing but ARP/ND/DHCP', async () => {
    await bed.apply({
      groups: { client: { rules: [...EGRESS_ALL, ...INGRESS_ALL] } },
      ports: { a: { groups: ['client'] } },
    });
    const { a, b } = { a: vm('a'), b: vm('b') };
    expect(await a.ping(b.ip4!)).toBe(false);
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    expect(await a.udpSend(b.ip4!, 53, 'x')).toBe('timeout');
    expect(await b.ping(a.ip4!)).toBe(false);
    expect(await a.ping(b.ip6!)).toBe(false);
    expect(await b.tcpConnect(a.ip4!, 80)).toBe(false);
    expect(await b.udpSend(a.ip6!, 53, 'x')).toBe('timeout');

    // ...but its ARP and ND do work: b resolves a (its request out, a's answer in).
    await b.exec('ip', 'neigh', 'flush', 'all');
    expect(await b.ping(a.ip4!)).toBe(false);
    expect(await b.ping(a.ip6!)).toBe(false);
    const neigh = await b.exec('ip', 'neigh', 'show');
    expect(neigh).toMatch(new RegExp(`${a.ip4!.replace(/\./g, '\\.')} .*lladdr ${a.mac}`));
    expect(neigh).toMatch(new RegExp(`${a.ip6!} .*lladdr ${a.mac}`));
    // ...and its DHCP and DHCPv6 client traffic (68→67, 546→547) reaches a server; the same
    // datagrams from another source port are ordinary traffic: dropped. (The server's answer
    // never comes back: a VM may not send DHCP server replies, whatever its rules.)
    const [dhcp, dhcp6] = [await a.udpListen(67), await a.udpListen(547)];
    try {
      const got = (srv: LineProcess, pattern: RegExp) => srv.waitFor(pattern, 500);
      expect(await b.udpSend(a.ip4!, 67, 'dhcp', { srcPort: 68 })).toBe('timeout');
      expect(await got(dhcp, /^RECV 10\.0\.0\.2 68 dhcp$/)).toBe(true);
      expect(await b.udpSend(a.ip6!, 547, 'dhcp6', { srcPort: 546 })).toBe('timeout');
      expect(await got(dhcp6, /^RECV fd00::2 546 dhcp6$/)).toBe(true);
      expect(await b.udpSend(a.ip4!, 67, 'not-dhcp', { srcPort: 69 })).toBe('timeout');
      expect(await got(dhcp, /not-dhcp$/)).toBe(false);
      expect(await b.udpSend(a.ip6!, 547, 'not-dhcp6', { srcPort: 545 })).toBe('timeout');
      expect(await got(dhcp6, /not-dhcp6$/)).toBe(false);
    } finally {
      dhcp.stop();
      dhcp6.stop();
    }
  });

  it('a group with only egress rules receives no new connections', async () => {
    await bed.apply({
      groups: { client: { rules: EGRESS_ALL } },
      ports: { a: { groups: ['client'] }, b: { groups: ['client'] } },
    });
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    expect(await b.tcpConnect(a.ip4!, 80)).toBe(false);
    expect(await a.udpSend(b.ip4!, 53, 'x')).toBe('timeout');
    expect(await a.ping(b.ip6!)).toBe(false);
    // Control: the same ports with an ingress rule for what was tried.
    await bed.apply({
      groups: {
        client: { rules: EGRESS_ALL },
        server: {
          rules: [
            { dir: 'ingress', proto: 'tcp', ports: [80, 80] },
            { dir: 'ingress', proto: 'udp', ports: [53, 53] },
            { dir: 'ingress', eth: 'IPv6', proto: 'ipv6-icmp' },
          ],
        },
      },
      ports: { a: { groups: ['client', 'server'] }, b: { groups: ['client', 'server'] } },
    });
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    expect(await b.tcpConnect(a.ip4!, 80)).toBe(true);
    expect(await a.udpSend(b.ip4!, 53, 'x')).toBe('reply');
    expect(await a.ping(b.ip6!)).toBe(true);
  });
});

describe('protocols, ingress', () => {
  it('tcp rule: the port opens, other ports, UDP and ICMP stay closed', async () => {
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [80, 80] }]));
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 8080)).toBe(false);
    expect(await a.udpSend(b.ip4!, 53, 'x')).toBe('timeout');
    expect(await a.ping(b.ip4!)).toBe(false);
  });

  it('udp rule: datagram and its reply pass, TCP on the same port does not', async () => {
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'udp', ports: [53, 53] }]));
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.udpSend(b.ip4!, 53, 'q1', { srcPort: 41001 })).toBe('reply');
    expect(await a.udpSend(b.ip4!, 5000, 'q2')).toBe('timeout');
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    expect(await a.ping(b.ip4!)).toBe(false);
  });

  it('icmp rule: ping passes; icmp type 8 only passes echo, type 13 does not', async () => {
    const [a, b] = [vm('a'), vm('b')];
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'icmp' }]));
    expect(await a.ping(b.ip4!)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'icmp', ports: [8, 0] }]));
    expect(await a.ping(b.ip4!)).toBe(true);
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'icmp', ports: [13, null] }]));
    expect(await a.ping(b.ip4!)).toBe(false);
  });

  it('protocol by number (6) behaves as tcp', async () => {
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: '6', ports: [22, 22] }]));
    expect(await vm('a').tcpConnect(vm('b').ip4!, 22)).toBe(true);
    expect(await vm('a').udpSend(vm('b').ip4!, 53, 'x')).toBe('timeout');
  });

  it('any-protocol rule of one ethertype leaves the other closed', async () => {
    await bed.apply(ingressOnB([{ dir: 'ingress', eth: 'IPv4' }]));
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.ping(b.ip4!)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 3000)).toBe(true);
    expect(await a.ping(b.ip6!)).toBe(false);
    expect(await a.tcpConnect(b.ip6!, 3000)).toBe(false);
  });
});

describe('protocols, egress', () => {
  it('egress tcp rule: that connection opens, others do not', async () => {
    await bed.apply(egressOnA([{ dir: 'egress', proto: 'tcp', ports: [80, 80] }]));
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 22)).toBe(false);
    expect(await a.udpSend(b.ip4!, 53, 'x')).toBe('timeout');
    expect(await a.ping(b.ip4!)).toBe(false);
  });

  it('egress udp and icmp rules', async () => {
    await bed.apply(
      egressOnA([
        { dir: 'egress', proto: 'udp', ports: [53, 53] },
        { dir: 'egress', proto: 'icmp' },
      ]),
    );
    const [a, b] = [vm('a'), vm('b')];
    expect(await a.udpSend(b.ip4!, 53, 'x')).toBe('reply');
    expect(await a.udpSend(b.ip4!, 5000, 'x')).toBe('timeout');
    expect(await a.ping(b.ip4!)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
  });

  it('egress rules do not open ingress: b cannot connect to a', async () => {
    await bed.apply({
      groups: {
        open: { rules: [...INGRESS_ALL, ...EGRESS_ALL] },
        subject: { rules: [{ dir: 'egress', proto: 'tcp' }] },
      },
      ports: { a: { groups: ['subject'] }, b: { groups: ['open'] } },
    });
    expect(await vm('a').tcpConnect(vm('b').ip4!, 3000)).toBe(true);
    expect(await vm('b').tcpConnect(vm('a').ip4!, 3000)).toBe(false);
  });
});

describe('port ranges at their edges', () => {
  it('tcp destination range 1000-1999', async () => {
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [1000, 1999] }]));
    const [a, b] = [vm('a'), vm('b')];
    const got = await Promise.all([999, 1000, 1999, 2000].map((p) => a.tcpConnect(b.ip4!, p)));
    expect(got).toEqual([false, true, true, false]);
  });

  it('udp destination range 1000-1999', async () => {
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'udp', ports: [1000, 1999] }]));
    const [a, b] = [vm('a'), vm('b')];
    const got = await Promise.all([999, 1000, 1999, 2000].map((p) => a.udpSend(b.ip4!, p, 'x')));
    expect(got).toEqual(['timeout', 'reply', 'reply', 'timeout']);
  });

  it('tcp source range 40000-40099 (extension)', async () => {
    await bed.apply(
      ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [3000, 3000], sports: [40000, 40099] }]),
    );
    const [a, b] = [vm('a'), vm('b')];
    const got = await Promise.all(
      [39999, 40000, 40099, 40100].map((sp) => a.tcpConnect(b.ip4!, 3000, { srcPort: sp })),
    );
    expect(got).toEqual([false, true, true, false]);
  });

  it('udp source range 41000-41010 (extension), egress', async () => {
    await bed.apply(egressOnA([{ dir: 'egress', proto: 'udp', sports: [41000, 41010] }]));
    const [a, b] = [vm('a'), vm('b')];
    const got = await Promise.all(
      [40999, 41000, 41010, 41011].map((sp) => a.udpSend(b.ip4!, 5000, 'x', { srcPort: sp })),
    );
    expect(got).toEqual(['timeout', 'reply', 'reply', 'timeout']);
  });

  it('single-port range (min = max) and the full range', async () => {
    const [a, b] = [vm('a'), vm('b')];
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [1999, 1999] }]));
    expect(await Promise.all([1000, 1999, 2000].map((p) => a.tcpConnect(b.ip4!, p)))).toEqual([
      false,
      true,
      false,
    ]);
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [1, 65535] }]));
    expect(await Promise.all([22, 8080].map((p) => a.tcpConnect(b.ip4!, p)))).toEqual([true, true]);
  });
});

describe('remote side', () => {
  it('remote prefix: only the prefix may connect', async () => {
    await bed.apply(
      ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [80, 80], remoteIp: '10.0.0.1/32' }]),
    );
    expect(await vm('a').tcpConnect(vm('b').ip4!, 80)).toBe(true);
    expect(await vm('c').tcpConnect(vm('b').ip4!, 80)).toBe(false);
  });

  it('egress remote prefix: only towards the prefix', async () => {
    await bed.apply(egressOnA([{ dir: 'egress', proto: 'tcp', remoteIp: '10.0.0.3/32' }]));
    expect(await vm('a').tcpConnect(vm('c').ip4!, 80)).toBe(true);
    expect(await vm('a').tcpConnect(vm('b').ip4!, 80)).toBe(false);
  });

  it("remote group: members' fixed IPs and allowed-address-pair IPs, nobody else", async () => {
    await bed.apply(
      ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [80, 80], remoteGroup: 'client' }], {
        groups: { client: { rules: EGRESS_ALL }, other: { rules: EGRESS_ALL } },
        ports: {
          a: { groups: ['client'], aap: [{ ip_address: '10.0.0.101' }] },
          c: { groups: ['other'], aap: [{ ip_address: '10.0.0.103' }] },
        },
      }),
    );
    const [a, b, c] = [vm('a'), vm('b'), vm('c')];
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 80, { srcAddr: '10.0.0.101' })).toBe(true);
    expect(await c.tcpConnect(b.ip4!, 80)).toBe(false);
    expect(await c.tcpConnect(b.ip4!, 80, { srcAddr: '10.0.0.103' })).toBe(false);
  });

  it('remote group membership follows the ports: c joins the group, c gets in', async () => {
    await bed.apply(
      ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [80, 80], remoteGroup: 'client' }], {
        groups: { other: { rules: EGRESS_ALL } },
        ports: { a: { groups: ['other'] }, c: { groups: ['client'] } },
      }),
    );
    expect(await vm('c').tcpConnect(vm('b').ip4!, 80)).toBe(true);
    expect(await vm('a').tcpConnect(vm('b').ip4!, 80)).toBe(false);
  });

  it("Neutron's default group (ingress from itself, egress anywhere): members talk, others do not", async () => {
    const selfRef: RuleSpec[] = [
      { dir: 'ingress', eth: 'IPv4', remoteGroup: 'default' },
      { dir: 'ingress', eth: 'IPv6', remoteGroup: 'default' },
      ...EGRESS_ALL,
    ];
    await bed.apply({
      groups: { default: { rules: selfRef }, client: { rules: EGRESS_ALL } },
      ports: { a: { groups: ['default'] }, b: { groups: ['default'] }, c: { groups: ['client'] } },
    });
    const [a, b, c] = [vm('a'), vm('b'), vm('c')];
    expect(await a.tcpConnect(b.ip4!, 22)).toBe(true);
    expect(await b.tcpConnect(a.ip4!, 8080)).toBe(true);
    expect(await a.ping(b.ip6!)).toBe(true);
    expect(await c.tcpConnect(a.ip4!, 22)).toBe(false);
    expect(await c.ping(b.ip4!)).toBe(false);
    // Egress anywhere: a reaches c only if c lets it in — c has no ingress rules.
    expect(await a.tcpConnect(c.ip4!, 22)).toBe(false);
  });

  it('address group: its CIDRs only', async () => {
    await bed.apply(
      ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [80, 80], remoteAg: 'ag' }], {
        addressGroups: { ag: ['10.0.0.3/32', '192.168.0.0/16'] },
      }),
    );
    expect(await vm('c').tcpConnect(vm('b').ip4!, 80)).toBe(true);
    expect(await vm('a').tcpConnect(vm('b').ip4!, 80)).toBe(false);
  });

  it('address group on egress, IPv4 and IPv6: towards its CIDRs only', async () => {
    await bed.apply({
      groups: {
        server: { rules: INGRESS_ALL },
        subject: {
          rules: [
            { dir: 'egress', eth: 'IPv4', proto: 'tcp', remoteAg: 'ag' },
            { dir: 'egress', eth: 'IPv6', proto: 'tcp', remoteAg: 'ag' },
          ],
        },
      },
      ports: { a: { groups: ['subject'] }, b: { groups: ['server'] }, c: { groups: ['server'] } },
      addressGroups: { ag: ['10.0.0.3/32', 'fd00::2/128'] },
    });
    const [a, b, c] = [vm('a'), vm('b'), vm('c')];
    expect(await a.tcpConnect(c.ip4!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
    expect(await a.tcpConnect(b.ip6!, 80)).toBe(true);
    expect(await a.tcpConnect(c.ip6!, 80)).toBe(false);
  });

  it('an address pair not bound to the port is not a source at all', async () => {
    // c has no pair for 10.0.0.103: its packets from that address die in port security,
    // even towards a rule that allows everything.
    await bed.apply(ingressOnB(INGRESS_ALL));
    expect(await vm('c').tcpConnect(vm('b').ip4!, 80)).toBe(true);
    expect(await vm('c').tcpConnect(vm('b').ip4!, 80, { srcAddr: '10.0.0.103' })).toBe(false);
  });
});

describe('IPv6', () => {
  it('ICMPv6 echo, TCP and UDP by their own rules', async () => {
    const [a, b] = [vm('a'), vm('b')];
    await bed.apply(
      ingressOnB([
        { dir: 'ingress', eth: 'IPv6', proto: 'ipv6-icmp' },
        { dir: 'ingress', eth: 'IPv6', proto: 'tcp', ports: [80, 80] },
        { dir: 'ingress', eth: 'IPv6', proto: 'udp', ports: [53, 53] },
      ]),
    );
    expect(await a.ping(b.ip6!)).toBe(true);
    expect(await a.tcpConnect(b.ip6!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip6!, 22)).toBe(false);
    expect(await a.udpSend(b.ip6!, 53, 'x')).toBe('reply');
    expect(await a.udpSend(b.ip6!, 5000, 'x')).toBe('timeout');
    // The IPv6 rules open nothing over IPv4.
    expect(await a.ping(b.ip4!)).toBe(false);
    expect(await a.tcpConnect(b.ip4!, 80)).toBe(false);
  });

  it('IPv6 remote prefix and remote group', async () => {
    const [a, b, c] = [vm('a'), vm('b'), vm('c')];
    await bed.apply(
      ingressOnB([{ dir: 'ingress', eth: 'IPv6', proto: 'tcp', remoteIp: 'fd00::1/128' }]),
    );
    expect(await a.tcpConnect(b.ip6!, 80)).toBe(true);
    expect(await c.tcpConnect(b.ip6!, 80)).toBe(false);
    await bed.apply(
      ingressOnB([{ dir: 'ingress', eth: 'IPv6', proto: 'tcp', remoteGroup: 'other' }], {
        groups: { other: { rules: EGRESS_ALL } },
        ports: { c: { groups: ['other'] } },
      }),
    );
    expect(await c.tcpConnect(b.ip6!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip6!, 80)).toBe(false);
  });

  it('IPv6 egress', async () => {
    const [a, b] = [vm('a'), vm('b')];
    await bed.apply(egressOnA([{ dir: 'egress', eth: 'IPv6', proto: 'tcp', ports: [80, 80] }]));
    expect(await a.tcpConnect(b.ip6!, 80)).toBe(true);
    expect(await a.tcpConnect(b.ip6!, 22)).toBe(false);
    expect(await a.ping(b.ip6!)).toBe(false);
  });
});

describe('fragments', () => {
  it('a fragmented UDP datagram to an allow-all rule passes', async () => {
    await bed.apply(ingressOnB(INGRESS_ALL));
    expect(await vm('a').udpSend(vm('b').ip4!, 53, 'f'.repeat(4000))).toBe('reply');
  });

  // KNOWN LIMITATION (reported): on the userspace datapath the fragments of a datagram come
  // out of conntrack without the original-direction ports the stateful rules match on
  // (ct_tp_dst), so a fragmented datagram to a port-specific rule is dropped in the rules
  // table although its small siblings pass. `it.fails` turns red once that is fixed.
  it.fails('a fragmented UDP datagram to a port-specific rule passes', async () => {
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'udp', ports: [53, 53] }]));
    expect(await vm('a').udpSend(vm('b').ip4!, 53, 'small')).toBe('reply');
    expect(await vm('a').udpSend(vm('b').ip4!, 53, 'f'.repeat(4000))).toBe('reply');
  });
});

describe('the checks are live', () => {
  it('with a rules table that allows everything, the denials above stop holding', async () => {
    await bed.apply(
      ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [80, 80] }]),
      MUTANTS['allow-all'],
    );
    expect(await vm('a').tcpConnect(vm('b').ip4!, 8080)).toBe(true);
    await bed.apply(ingressOnB([{ dir: 'ingress', proto: 'tcp', ports: [80, 80] }]));
    expect(await vm('a').tcpConnect(vm('b').ip4!, 8080)).toBe(false);
  });
});
