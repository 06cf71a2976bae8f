import { describe, expect, it } from 'vitest';
import { parseIp, parseMac } from '../model/addr.js';
import * as fx from '../model/fixtures.js';
import { TcpFlags, reversePacket, type Packet } from '../model/packet.js';
import { normalizePolicy } from '../model/policy.js';
import { linkLocalFromMac } from '../model/port-security.js';
import type { Policy, SecurityGroupRule } from '../model/types.js';
import { judge } from './judge.js';
import { World } from './world.js';

const mac = (s: string): bigint => parseMac(s);
const ip = (s: string): bigint => parseIp(s).addr;
const MAC = {
  a: mac('02:00:00:00:00:0a'),
  b: mac('02:00:00:00:00:0b'),
  c: mac('02:00:00:00:00:0c'),
};
const IP = { a: ip('10.0.0.10'), b: ip('10.0.0.11'), c: ip('10.0.0.12'), out: ip('192.0.2.1') };
const BCAST = 0xffffffffffffn;

function basePolicy(
  rules: Partial<SecurityGroupRule>[],
  opts: { stateless?: boolean; cSecurity?: boolean } = {},
): Policy {
  return fx.policy({
    networks: [fx.network({ id: 'net1' })],
    security_groups: [fx.group({ id: 'sg', stateful: !opts.stateless })],
    security_group_rules: rules.map((r, i) =>
      fx.rule({ id: `r${i}`, security_group_id: 'sg', direction: 'ingress', ...r }),
    ),
    ports: [
      fx.port({
        id: 'a',
        network_id: 'net1',
        mac_address: '02:00:00:00:00:0a',
        fixed_ips: [{ ip_address: '10.0.0.10' }],
        security_groups: ['sg'],
      }),
      fx.port({
        id: 'b',
        network_id: 'net1',
        mac_address: '02:00:00:00:00:0b',
        fixed_ips: [{ ip_address: '10.0.0.11' }],
        security_groups: ['sg'],
      }),
      fx.port({
        id: 'c',
        network_id: 'net1',
        mac_address: '02:00:00:00:00:0c',
        fixed_ips: [{ ip_address: '10.0.0.12' }],
        security_groups: opts.cSecurity === false ? [] : ['sg'],
        port_security_enabled: opts.cSecurity !== false,
      }),
    ],
  });
}

function world(p: Policy, uplink?: number): World {
  return new World({
    policy: normalizePolicy(p),
    ports: [
      { portId: 'a', ofport: 1 },
      { portId: 'b', ofport: 2 },
      { portId: 'c', ofport: 3 },
    ],
    ...(uplink !== undefined ? { uplink } : {}),
  });
}

function tcp(
  from: 'a' | 'b' | 'c',
  to: 'a' | 'b' | 'c',
  sport: number,
  dport: number,
  flags: number = TcpFlags.SYN,
): Packet {
  return {
    ethSrc: MAC[from],
    ethDst: MAC[to],
    ethType: 0x0800,
    ip: { family: 4, src: IP[from], dst: IP[to], proto: 6, ttl: 64 },
    l4: { src: sport, dst: dport, tcpFlags: flags },
  };
}

const egressAll: Partial<SecurityGroupRule> = { direction: 'egress' };

describe('World', () => {
  it('allows a connection the rules allow, and its replies, and nothing unsolicited', () => {
    const w = world(
      basePolicy([egressAll, { protocol: 'tcp', port_range_min: 80, port_range_max: 80 }]),
    );
    expect(w.deliver(2, tcp('b', 'a', 5000, 22)).outputs).toEqual([]);
    expect(w.deliver(1, tcp('a', 'b', 1234, 80)).outputs).toEqual([2]);
    expect(
      w.deliver(
        2,
        reversePacket({
          ...tcp('a', 'b', 1234, 80),
          l4: { src: 1234, dst: 80, tcpFlags: TcpFlags.SYN | TcpFlags.ACK },
        }),
      ).outputs,
    ).toEqual([1]);
    expect(w.connectionCount(1)).toBe(1);
    // b's egress committed its own unanswered attempt to a:22 as well.
    expect(w.connectionCount(2)).toBe(2);
  });

  it('drops SYN+ACK with no connection and invalid flags even when rules allow all', () => {
    const w = world(basePolicy([egressAll, {}]));
    expect(w.deliver(1, tcp('a', 'b', 1, 2, TcpFlags.SYN | TcpFlags.ACK)).outputs).toEqual([]);
    expect(w.deliver(1, tcp('a', 'b', 1, 2, TcpFlags.FIN)).outputs).toEqual([]);
    expect(w.deliver(1, tcp('a', 'b', 1, 2, TcpFlags.ACK)).outputs).toEqual([2]);
  });

  it('cuts established connections when the rule goes, both ways, and restores them', () => {
    const withRule = basePolicy([
      egressAll,
      { protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
    ]);
    const without = basePolicy([egressAll]);
    const w = world(withRule);
    const syn = tcp('a', 'b', 1234, 80);
    const reply = reversePacket({ ...syn, l4: { ...syn.l4!, tcpFlags: TcpFlags.ACK } });
    expect(w.deliver(1, syn).outputs).toEqual([2]);
    w.setPolicy(normalizePolicy(without));
    expect(w.deliver(1, { ...syn, l4: { ...syn.l4!, tcpFlags: TcpFlags.ACK } }).outputs).toEqual(
      [],
    );
    expect(w.deliver(2, reply).outputs).toEqual([]);
    w.setPolicy(normalizePolicy(withRule));
    expect(w.deliver(2, reply).outputs).toEqual([1]);
  });

  it('judges stateless groups per packet, both ways', () => {
    const w = world(
      basePolicy([egressAll, { protocol: 'tcp', port_range_min: 80, port_range_max: 80 }], {
        stateless: true,
      }),
    );
    expect(w.deliver(1, tcp('a', 'b', 1234, 80)).outputs).toEqual([2]);
    // The reply needs an ingress rule of its own: source port 80 is not destination port 80.
    expect(w.deliver(2, tcp('b', 'a', 80, 1234, TcpFlags.ACK)).outputs).toEqual([]);
    // And an unsolicited SYN+ACK passes when a rule allows it: nothing is tracked.
    expect(w.deliver(2, tcp('b', 'a', 5555, 80, TcpFlags.SYN | TcpFlags.ACK)).outputs).toEqual([1]);
  });

  it('drops spoofed sources, leaves port-security-off ports unfiltered', () => {
    const w = world(basePolicy([egressAll, {}], { cSecurity: false }));
    const spoofed = {
      ...tcp('a', 'b', 1, 2),
      ip: { family: 4 as const, src: IP.c, dst: IP.b, proto: 6, ttl: 64 },
    };
    expect(w.deliver(1, spoofed).outputs).toEqual([]);
    expect(w.deliver(1, { ...tcp('a', 'b', 1, 2), ethSrc: MAC.c }).outputs).toEqual([]);
    const fromC = {
      ...tcp('c', 'b', 1, 2),
      ip: { family: 4 as const, src: IP.out, dst: IP.b, proto: 6, ttl: 64 },
    };
    expect(w.deliver(3, fromC).outputs).toEqual([2]);
    // c receives anything b may send.
    expect(w.deliver(2, tcp('b', 'c', 9, 9, TcpFlags.ACK)).outputs).toEqual([3]);
  });

  it('floods broadcast to the other ports of the network and the uplink; ARP always allowed', () => {
    const w = world(basePolicy([]), 9);
    const arp: Packet = {
      ethSrc: MAC.a,
      ethDst: BCAST,
      ethType: 0x0806,
      arp: { op: 1, sha: MAC.a, spa: IP.a, tha: 0n, tpa: IP.b },
    };
    expect(w.deliver(1, arp).outputs).toEqual([2, 3, 9]);
    expect(w.deliver(1, { ...arp, arp: { ...arp.arp!, spa: IP.c } }).outputs).toEqual([]);
    // Unknown unicast goes to the uplink only when the sender's rules allow it.
    expect(w.deliver(1, { ...tcp('a', 'b', 1, 2), ethDst: 0x02000000ffffn }).outputs).toEqual([]);
  });

  it('lets ICMP errors of allowed connections through, and drops stray ones', () => {
    const w = world(
      basePolicy([egressAll, { protocol: 'udp', port_range_min: 53, port_range_max: 53 }]),
    );
    const q: Packet = {
      ethSrc: MAC.a,
      ethDst: MAC.b,
      ethType: 0x0800,
      ip: { family: 4, src: IP.a, dst: IP.b, proto: 17, ttl: 64 },
      l4: { src: 4000, dst: 53 },
    };
    expect(w.deliver(1, q).outputs).toEqual([2]);
    const err = (sport: number): Packet => ({
      ethSrc: MAC.b,
      ethDst: MAC.a,
      ethType: 0x0800,
      ip: { family: 4, src: IP.b, dst: IP.a, proto: 1, ttl: 64 },
      icmp: {
        type: 3,
        code: 3,
        id: 0,
        embedded: { src: IP.a, dst: IP.b, proto: 17, l4: { src: sport, dst: 53 } },
      },
    });
    expect(w.deliver(2, err(4000)).outputs).toEqual([1]);
    expect(w.deliver(2, err(4001)).outputs).toEqual([]);
  });

  it('judges IPv6 link-local sources and always allows ND', () => {
    const w = world(
      basePolicy([{ direction: 'egress', ethertype: 'IPv6' }, { ethertype: 'IPv6' }]),
    );
    const ll = linkLocalFromMac(MAC.a);
    const ns: Packet = {
      ethSrc: MAC.a,
      ethDst: 0x3333ff000000n,
      ethType: 0x86dd,
      ip: { family: 6, src: ll, dst: ip('ff02::1:ff00:0'), proto: 58, ttl: 255 },
      icmp: { type: 135, code: 0, id: 0, nd: { target: ip('fe80::1'), sll: MAC.a, tll: 0n } },
    };
    expect(w.deliver(1, ns).outputs).toEqual([2, 3]);
    expect(
      w.deliver(1, { ...ns, icmp: { ...ns.icmp!, nd: { target: 0n, sll: MAC.c, tll: 0n } } })
        .outputs,
    ).toEqual([]);
    const ra: Packet = { ...ns, icmp: { type: 134, code: 0, id: 0 } };
    expect(w.deliver(1, ra).outputs).toEqual([]);
  });
});

describe('World: VLAN tags and allowed-address-pair MACs', () => {
  it('drops a tagged frame from a filtered port, even with its own addresses; unfiltered ports pass', () => {
    const w = world(basePolicy([egressAll, {}], { cSecurity: false }), 9);
    expect(w.deliver(1, tcp('a', 'b', 1, 2)).outputs).toEqual([2]);
    const d = w.deliver(1, { ...tcp('a', 'b', 1, 3), vlan: 5 });
    expect(d.outputs).toEqual([]);
    expect(d.trace.join('\n')).toMatch(/VLAN-tagged frame \(VLAN 5\)/);
    const arp: Packet = {
      ethSrc: MAC.a,
      ethDst: BCAST,
      ethType: 0x0806,
      vlan: 5,
      arp: { op: 1, sha: MAC.a, spa: IP.a, tha: 0n, tpa: IP.b },
    };
    expect(w.deliver(1, arp).outputs).toEqual([]);
    expect(w.deliver(3, { ...tcp('c', 'b', 1, 4), vlan: 5 }).outputs).toEqual([2]);
  });

  const VMAC = mac('02:00:00:00:00:c9');
  function vrrp(): Policy {
    const p = basePolicy([egressAll, {}]);
    const pair = [{ ip_address: '10.0.0.200', mac_address: '02:00:00:00:00:c9' }];
    return {
      ...p,
      ports: p.ports.map((x) => (x.id === 'c' ? x : { ...x, allowed_address_pairs: pair })),
    };
  }
  const toVip = (from: 'a' | 'b' | 'c'): Packet => ({
    ...tcp(from, 'a', 7, 80),
    ethDst: VMAC,
    ip: { family: 4, src: IP[from], dst: ip('10.0.0.200'), proto: 6, ttl: 64 },
  });

  it('delivers to every local port claiming a pair MAC, and to the uplink (not back to it)', () => {
    const w = world(vrrp(), 9);
    expect(w.deliver(3, toVip('c')).outputs).toEqual([1, 2, 9]);
    // A claimant sending to the pair MAC: the other claimant and the uplink, never itself.
    expect(w.deliver(1, toVip('a')).outputs).toEqual([2, 9]);
    expect(w.deliver(9, toVip('c')).outputs).toEqual([1, 2]);
    expect(world(vrrp()).deliver(3, toVip('c')).outputs).toEqual([1, 2]);
  });

  it("a pair MAC that is a local port's own MAC reaches both ports, not the uplink", () => {
    const p = basePolicy([egressAll, {}]);
    const stolen = {
      ...p,
      ports: p.ports.map((x) =>
        x.id === 'a'
          ? {
              ...x,
              allowed_address_pairs: [
                { ip_address: '10.0.0.12', mac_address: '02:00:00:00:00:0c' },
              ],
            }
          : x,
      ),
    };
    expect(world(stolen, 9).deliver(2, tcp('b', 'c', 7, 80)).outputs).toEqual([1, 3]);
  });
});

describe('judge', () => {
  it('names the rules that allow a packet, and why one is denied', () => {
    const p = normalizePolicy(
      basePolicy([
        { protocol: 'tcp', port_range_min: 80, port_range_max: 90 },
        { protocol: 'tcp', port_range_min: 85, port_range_max: 85 },
      ]),
    );
    const j = judge(p, 'a', 'ingress', tcp('b', 'a', 1, 85));
    expect(j.verdict).toBe('allow');
    expect(j.rules.map((r) => r.id)).toEqual(['r0', 'r1']);
    const d = judge(p, 'a', 'ingress', tcp('b', 'a', 1, 91));
    expect(d).toMatchObject({ verdict: 'deny', rules: [] });
    expect(d.reason).toMatch(/no ingress rule/);
    expect(judge(p, 'a', 'egress', { ...tcp('a', 'b', 1, 2), ethSrc: MAC.b }).reason).toMatch(
      /spoofed/,
    );
  });

  it('judges SCTP replies by the reversed ports', () => {
    const p = normalizePolicy(
      basePolicy([{ protocol: 'sctp', port_range_min: 80, port_range_max: 80 }]),
    );
    const original = {
      family: 4 as const,
      src: IP.b,
      dst: IP.a,
      proto: 132,
      srcPort: null,
      dstPort: null,
      icmpType: null,
      icmpCode: null,
    };
    const reply: Packet = {
      ethSrc: MAC.a,
      ethDst: MAC.b,
      ethType: 0x0800,
      ip: { family: 4, src: IP.a, dst: IP.b, proto: 132, ttl: 64 },
      l4: { src: 80, dst: 999 },
    };
    expect(
      judge(p, 'a', 'egress', reply, { state: 'established', reply: true, original }).verdict,
    ).toBe('allow');
    expect(
      judge(
        p,
        'a',
        'egress',
        { ...reply, l4: { src: 81, dst: 999 } },
        { state: 'established', reply: true, original },
      ).verdict,
    ).toBe('deny');
  });
});
