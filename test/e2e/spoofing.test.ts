/**
 * Port security on real frames crafted with scapy: forged MACs and IPs, forged ARP and ND,
 * DHCP/DHCPv6 server replies and router advertisements from a VM are dropped whatever the
 * rules say; the port's own ARP, ND, RS, MLD, DHCP and DHCPv6 client traffic passes — also
 * from a port whose rules allow no egress at all, where nothing but that bypass can let it
 * through.
 *
 * VMs: a (the sender under test; its groups allow everything both ways unless a test says
 * otherwise), b (allows everything), d (port security off: an observer that sees whatever
 * leaves a's egress pipeline). A "dropped" frame is one d's sniffer did not see; each test
 * also shows that sniffer seeing a frame that passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameArrives, Scapy } from '../support/scapy.js';
import {
  type Bed,
  EGRESS_ALL,
  INGRESS_ALL,
  MUTANTS,
  type PolicySpec,
  startBed,
} from './harness.js';

let bed: Bed;
const scapy: Record<string, Scapy> = {};

/** a and b allow everything; d is unfiltered. */
const OPEN: PolicySpec = {
  groups: { open: { rules: [...EGRESS_ALL, ...INGRESS_ALL] } },
  ports: { a: { groups: ['open'] }, b: { groups: ['open'] }, d: { portSecurity: false } },
};

beforeAll(async () => {
  bed = await startBed('spoofing', [
    { name: 'a', n: 1 },
    { name: 'b', n: 2 },
    { name: 'd', n: 4 },
  ]);
  const started = await Promise.all(Object.values(bed.vms).map((v) => Scapy.start(v)));
  for (const s of started) scapy[s.vm.name] = s;
  await bed.apply(OPEN);
});

afterAll(async () => {
  for (const s of Object.values(scapy)) s.stop();
  await bed?.stop();
});

const vm = (name: string) => bed.vms[name]!;
const FOREIGN_MAC = '02:00:00:00:00:99';
/** EUI-64 link-local of 02:00:00:00:00:nn. */
const linkLocal = (n: number) => `fe80::ff:fe00:${n.toString(16)}`;

/** Does a frame sent by a reach the observer d? */
function fromAToD(frame: string, filter: string, lfilter?: string): Promise<boolean> {
  return frameArrives(scapy.a!, scapy.d!, [frame], {
    filter,
    ...(lfilter ? { lfilter } : {}),
    waitMs: 400,
  });
}

describe('egress anti-spoofing (a allows everything, yet)', () => {
  it('a forged source MAC is dropped; the real one passes', async () => {
    const [a, d] = [vm('a'), vm('d')];
    const udp = (mac: string, sport: number) =>
      `Ether(src='${mac}', dst='${d.mac}')/IP(src='${a.ip4}', dst='${d.ip4}')/UDP(sport=${sport}, dport=9999)`;
    expect(await fromAToD(udp(FOREIGN_MAC, 50001), 'udp src port 50001')).toBe(false);
    expect(await fromAToD(udp(a.mac, 50002), 'udp src port 50002')).toBe(true);
  });

  it('a forged source IPv4 is dropped', async () => {
    const [a, d] = [vm('a'), vm('d')];
    const udp = (ip: string, sport: number) =>
      `Ether(src='${a.mac}', dst='${d.mac}')/IP(src='${ip}', dst='${d.ip4}')/UDP(sport=${sport}, dport=9999)`;
    expect(await fromAToD(udp('10.0.0.99', 50003), 'udp src port 50003')).toBe(false);
    expect(await fromAToD(udp(vm('b').ip4!, 50004), 'udp src port 50004')).toBe(false);
    expect(await fromAToD(udp(a.ip4!, 50005), 'udp src port 50005')).toBe(true);
  });

  it('a forged source IPv6 is dropped; its own and its link-local pass, a foreign link-local does not', async () => {
    const [a, d] = [vm('a'), vm('d')];
    const udp = (ip: string, sport: number) =>
      `Ether(src='${a.mac}', dst='${d.mac}')/IPv6(src='${ip}', dst='${d.ip6}')/UDP(sport=${sport}, dport=9999)`;
    expect(await fromAToD(udp('fd00::99', 50006), 'udp src port 50006')).toBe(false);
    expect(await fromAToD(udp(linkLocal(2), 50007), 'udp src port 50007')).toBe(false);
    expect(await fromAToD(udp(a.ip6!, 50008), 'udp src port 50008')).toBe(true);
    expect(await fromAToD(udp(linkLocal(1), 50009), 'udp src port 50009')).toBe(true);
  });

  it('ARP with a forged sender MAC or sender IP is dropped; its own ARP passes', async () => {
    const a = vm('a');
    const arp = (hwsrc: string, psrc: string, pdst: string) =>
      `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, hwsrc='${hwsrc}', psrc='${psrc}', pdst='${pdst}')`;
    const seen = (pdst: string) => `p.haslayer(ARP) and p[ARP].pdst == '${pdst}'`;
    expect(await fromAToD(arp(FOREIGN_MAC, a.ip4!, '10.0.0.241'), 'arp', seen('10.0.0.241'))).toBe(
      false,
    );
    expect(await fromAToD(arp(a.mac, '10.0.0.99', '10.0.0.242'), 'arp', seen('10.0.0.242'))).toBe(
      false,
    );
    expect(await fromAToD(arp(a.mac, a.ip4!, '10.0.0.243'), 'arp', seen('10.0.0.243'))).toBe(true);
    // ARP whose Ethernet source differs from a's MAC is dropped too.
    const ethForged = `Ether(src='${FOREIGN_MAC}', dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, hwsrc='${a.mac}', psrc='${a.ip4}', pdst='10.0.0.244')`;
    expect(await fromAToD(ethForged, 'arp', seen('10.0.0.244'))).toBe(false);
  });

  it('gratuitous ARP (reply or request) for a foreign IP is dropped; for its own IP it passes', async () => {
    const a = vm('a');
    const garp = (op: 1 | 2, ip: string) =>
      `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/ARP(op=${op}, hwsrc='${a.mac}', psrc='${ip}', hwdst='ff:ff:ff:ff:ff:ff', pdst='${ip}')`;
    const seen = (op: 1 | 2, ip: string) =>
      `p.haslayer(ARP) and p[ARP].op == ${op} and p[ARP].psrc == '${ip}'`;
    for (const op of [2, 1] as const) {
      expect(await fromAToD(garp(op, vm('b').ip4!), 'arp', seen(op, vm('b').ip4!))).toBe(false);
      expect(await fromAToD(garp(op, '10.0.0.98'), 'arp', seen(op, '10.0.0.98'))).toBe(false);
      expect(await fromAToD(garp(op, a.ip4!), 'arp', seen(op, a.ip4!))).toBe(true);
    }
  });

  it('ND advertisement for a foreign target is dropped; for its own it passes', async () => {
    const a = vm('a');
    const na = (tgt: string, lladdr: string) =>
      `Ether(src='${a.mac}', dst='33:33:00:00:00:01')/IPv6(src='${linkLocal(1)}', dst='ff02::1', hlim=255)/ICMPv6ND_NA(tgt='${tgt}', R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='${lladdr}')`;
    const seen = (tgt: string) => `p.haslayer(ICMPv6ND_NA) and p[ICMPv6ND_NA].tgt == '${tgt}'`;
    expect(await fromAToD(na(vm('b').ip6!, a.mac), 'icmp6', seen(vm('b').ip6!))).toBe(false);
    expect(await fromAToD(na('fd00::98', a.mac), 'icmp6', seen('fd00::98'))).toBe(false);
    // Its own target but another MAC as the link-layer address: dropped.
    expect(await fromAToD(na(a.ip6!, FOREIGN_MAC), 'icmp6', seen(a.ip6!))).toBe(false);
    expect(await fromAToD(na(a.ip6!, a.mac), 'icmp6', seen(a.ip6!))).toBe(true);
  });

  it('ND solicitation with a foreign source link-layer address is dropped; its own passes', async () => {
    const a = vm('a');
    const ns = (tgt: string, lladdr: string) =>
      `Ether(src='${a.mac}', dst='33:33:ff:00:00:${tgt.slice(-2).padStart(2, '0')}')/IPv6(src='${a.ip6}', dst='ff02::1:ff00:${tgt.split(':').pop()}', hlim=255)/ICMPv6ND_NS(tgt='${tgt}')/ICMPv6NDOptSrcLLAddr(lladdr='${lladdr}')`;
    const seen = (tgt: string) => `p.haslayer(ICMPv6ND_NS) and p[ICMPv6ND_NS].tgt == '${tgt}'`;
    expect(await fromAToD(ns('fd00::61', FOREIGN_MAC), 'icmp6', seen('fd00::61'))).toBe(false);
    expect(await fromAToD(ns('fd00::62', a.mac), 'icmp6', seen('fd00::62'))).toBe(true);
  });

  it('a DHCP offer from a VM is dropped; its DHCP discover passes', async () => {
    const a = vm('a');
    const chaddr = `bytes.fromhex('${a.mac.replace(/:/g, '')}')`;
    const offer = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/IP(src='${a.ip4}', dst='255.255.255.255')/UDP(sport=67, dport=68)/BOOTP(op=2, yiaddr='10.0.0.50', chaddr=${chaddr})/DHCP(options=[('message-type', 'offer'), 'end'])`;
    const discover = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/BOOTP(op=1, chaddr=${chaddr})/DHCP(options=[('message-type', 'discover'), 'end'])`;
    expect(await fromAToD(offer, 'udp src port 67')).toBe(false);
    expect(await fromAToD(discover, 'udp src port 68')).toBe(true);
  });

  it('a DHCPv6 advertise from a VM is dropped; its DHCPv6 solicit passes', async () => {
    const a = vm('a');
    const adv = `Ether(src='${a.mac}', dst='33:33:00:00:00:01')/IPv6(src='${linkLocal(1)}', dst='ff02::1')/UDP(sport=547, dport=546)/DHCP6_Advertise(trid=7)`;
    const sol = `Ether(src='${a.mac}', dst='33:33:00:01:00:02')/IPv6(src='${linkLocal(1)}', dst='ff02::1:2')/UDP(sport=546, dport=547)/DHCP6_Solicit(trid=8)`;
    expect(await fromAToD(adv, 'udp src port 547')).toBe(false);
    expect(await fromAToD(sol, 'udp src port 546')).toBe(true);
  });

  it('a router advertisement (and a redirect) from a VM is dropped', async () => {
    const a = vm('a');
    const ra = `Ether(src='${a.mac}', dst='33:33:00:00:00:01')/IPv6(src='${linkLocal(1)}', dst='ff02::1', hlim=255)/ICMPv6ND_RA()/ICMPv6NDOptSrcLLAddr(lladdr='${a.mac}')`;
    const redirect = `Ether(src='${a.mac}', dst='${vm('d').mac}')/IPv6(src='${linkLocal(1)}', dst='${linkLocal(4)}', hlim=255)/ICMPv6ND_Redirect(tgt='fe80::1', dst='fd00::77')`;
    expect(await fromAToD(ra, 'icmp6', 'p.haslayer(ICMPv6ND_RA)')).toBe(false);
    expect(await fromAToD(redirect, 'icmp6', 'p.haslayer(ICMPv6ND_Redirect)')).toBe(false);
    // Control: a router solicitation is the port's to send.
    const rs = `Ether(src='${a.mac}', dst='33:33:00:00:00:02')/IPv6(src='${linkLocal(1)}', dst='ff02::2', hlim=255)/ICMPv6ND_RS()`;
    expect(await fromAToD(rs, 'icmp6', 'p.haslayer(ICMPv6ND_RS)')).toBe(true);
    // From a stateful port conntrack alone would call an RA invalid; a stateless port that
    // may send anything shows the port-security guard itself.
    await bed.apply({
      groups: { ...OPEN.groups, sl: { stateful: false, rules: [...EGRESS_ALL, ...INGRESS_ALL] } },
      ports: { ...OPEN.ports, a: { groups: ['sl'] } },
    });
    try {
      expect(await fromAToD(ra, 'icmp6', 'p.haslayer(ICMPv6ND_RA)')).toBe(false);
      expect(await fromAToD(redirect, 'icmp6', 'p.haslayer(ICMPv6ND_Redirect)')).toBe(false);
      expect(await fromAToD(rs, 'icmp6', 'p.haslayer(ICMPv6ND_RS)')).toBe(true);
    } finally {
      await bed.apply(OPEN);
    }
  });

  it('other ethertypes are dropped (the same frame passes once port security is off)', async () => {
    const a = vm('a');
    const frame = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff', type=0x88b5)/Raw(b'local experimental')`;
    expect(await fromAToD(frame, 'ether proto 0x88b5')).toBe(false);
    await bed.apply({ ...OPEN, ports: { ...OPEN.ports, a: { portSecurity: false } } });
    try {
      expect(await fromAToD(frame, 'ether proto 0x88b5')).toBe(true);
    } finally {
      await bed.apply(OPEN);
    }
  });

  // OVS matches a tagged frame by its inner ethertype, so without the tag drop in egress port
  // security an 802.1Q frame carrying the port's own (MAC, IP) would pass, still tagged.
  it("a VLAN-tagged frame is not the port's to send, even with its own addresses", async () => {
    const a = vm('a');
    const tagged = `Ether(src='${a.mac}', dst='${vm('d').mac}')/Dot1Q(vlan=5)/IP(src='${a.ip4}', dst='${vm('d').ip4}')/UDP(sport=50400, dport=9999)`;
    const opts = ['', 'p.haslayer(UDP) and p[UDP].sport == 50400'] as const;
    expect(await fromAToD(tagged, ...opts)).toBe(false);
    // Control: from an unfiltered port the same tagged frame is forwarded, and d's sniffer
    // recognises it.
    await bed.apply({ ...OPEN, ports: { ...OPEN.ports, a: { portSecurity: false } } });
    try {
      expect(await fromAToD(tagged, ...opts)).toBe(true);
    } finally {
      await bed.apply(OPEN);
    }
  });

  it("the port's own ARP and ND resolve its neighbours (ping works both families)", async () => {
    const [a, b] = [vm('a'), vm('b')];
    await a.exec('ip', 'neigh', 'flush', 'all');
    expect(await a.ping(b.ip4!)).toBe(true);
    expect(await a.ping(b.ip6!)).toBe(true);
    const neigh = await a.exec('ip', 'neigh', 'show');
    expect(neigh).toMatch(new RegExp(`${b.ip4!.replace(/\./g, '\\.')} .*lladdr ${b.mac}`));
    expect(neigh).toMatch(new RegExp(`${b.ip6!} .*lladdr ${b.mac}`));
  });
});

/**
 * The "always allowed" egress of docs/pipeline.md must not depend on the rules: a port whose
 * groups allow no egress still sends its own ARP, ND, RS, MLD, DHCP and DHCPv6 client traffic,
 * while everything else it sends is dropped. With egress allowed (the tests above) a broken
 * bypass would go unnoticed, so here a has no egress rule at all.
 */
describe.each([
  ['no security group', { groups: [] as string[] }, {}],
  ['a stateful group with only ingress rules', { groups: ['in'] }, { in: { rules: INGRESS_ALL } }],
  [
    'a stateless group with only ingress rules',
    { groups: ['slin'] },
    { slin: { stateful: false, rules: INGRESS_ALL } },
  ],
] as const)('always-allowed egress from a port with %s', (_, aPort, groups) => {
  const spec: PolicySpec = {
    groups: { ...OPEN.groups, ...groups },
    ports: { ...OPEN.ports, a: { groups: [...aPort.groups] } },
  };
  beforeAll(async () => {
    await bed.apply(spec);
  });
  afterAll(async () => {
    await bed.apply(OPEN);
  });

  it('ordinary IPv4, IPv6 and ICMP traffic from it is dropped', async () => {
    const [a, d] = [vm('a'), vm('d')];
    const udp4 = `Ether(src='${a.mac}', dst='${d.mac}')/IP(src='${a.ip4}', dst='${d.ip4}')/UDP(sport=50501, dport=9999)`;
    const udp6 = `Ether(src='${a.mac}', dst='${d.mac}')/IPv6(src='${a.ip6}', dst='${d.ip6}')/UDP(sport=50502, dport=9999)`;
    const echo = `Ether(src='${a.mac}', dst='${d.mac}')/IP(src='${a.ip4}', dst='${d.ip4}')/ICMP(id=50503)`;
    // UDP from the DHCP client port, but not to the server port: not DHCP, not allowed.
    const notDhcp = `Ether(src='${a.mac}', dst='${d.mac}')/IP(src='${a.ip4}', dst='${d.ip4}')/UDP(sport=68, dport=9999)`;
    expect(await fromAToD(udp4, 'udp src port 50501')).toBe(false);
    expect(await fromAToD(udp6, 'udp src port 50502')).toBe(false);
    expect(await fromAToD(echo, 'icmp', 'p.haslayer(ICMP) and p[ICMP].id == 50503')).toBe(false);
    expect(await fromAToD(notDhcp, 'udp src port 68 and udp dst port 9999')).toBe(false);
  });

  it('its DHCP discover (from 0.0.0.0) and request/renew (from its own IP) pass; from a foreign IP not', async () => {
    const [a, d] = [vm('a'), vm('d')];
    const chaddr = `bytes.fromhex('${a.mac.replace(/:/g, '')}')`;
    const dhcp = (src: string, dstMac: string, dst: string, xid: number, type: string) =>
      `Ether(src='${a.mac}', dst='${dstMac}')/IP(src='${src}', dst='${dst}')/UDP(sport=68, dport=67)/BOOTP(op=1, xid=${xid}, ciaddr='${src}', chaddr=${chaddr})/DHCP(options=[('message-type', '${type}'), 'end'])`;
    const seen = (xid: number) => `p.haslayer(BOOTP) and p[BOOTP].xid == ${xid}`;
    const BC = 'ff:ff:ff:ff:ff:ff';
    const discover = dhcp('0.0.0.0', BC, '255.255.255.255', 501, 'discover');
    const request = dhcp(a.ip4!, BC, '255.255.255.255', 502, 'request');
    const renew = dhcp(a.ip4!, d.mac, d.ip4!, 503, 'request');
    const forged = dhcp('10.0.0.99', BC, '255.255.255.255', 504, 'request');
    expect(await fromAToD(discover, 'udp src port 68', seen(501))).toBe(true);
    expect(await fromAToD(request, 'udp src port 68', seen(502))).toBe(true);
    expect(await fromAToD(renew, 'udp src port 68', seen(503))).toBe(true);
    expect(await fromAToD(forged, 'udp src port 68', seen(504))).toBe(false);
  });

  it('its DHCPv6 solicit passes; one from a foreign link-local does not', async () => {
    const a = vm('a');
    const sol = (src: string, trid: number) =>
      `Ether(src='${a.mac}', dst='33:33:00:01:00:02')/IPv6(src='${src}', dst='ff02::1:2')/UDP(sport=546, dport=547)/DHCP6_Solicit(trid=${trid})`;
    const seen = (trid: number) => `p.haslayer(DHCP6_Solicit) and p[DHCP6_Solicit].trid == ${trid}`;
    expect(await fromAToD(sol(linkLocal(1), 511), 'udp src port 546', seen(511))).toBe(true);
    expect(await fromAToD(sol(linkLocal(2), 512), 'udp src port 546', seen(512))).toBe(false);
  });

  it('its RS, MLD report, NS and NA for its own addresses pass; an NA for a foreign target does not', async () => {
    const a = vm('a');
    const ip6 = (src: string, dstMac: string, dst: string, hlim = 255) =>
      `Ether(src='${a.mac}', dst='${dstMac}')/IPv6(src='${src}', dst='${dst}', hlim=${hlim})`;
    const rs = (src: string) =>
      `${ip6(src, '33:33:00:00:00:02', 'ff02::2')}/ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr='${a.mac}')`;
    const rsFromUnspecified = `${ip6('::', '33:33:00:00:00:02', 'ff02::2')}/ICMPv6ND_RS()`;
    const mld = `${ip6(linkLocal(1), '33:33:00:00:00:16', 'ff02::16', 1)}/ICMPv6MLReport(mladdr='ff05::5eed')`;
    const ns = (src: string, tgt: string, sll?: string) =>
      `${ip6(src, '33:33:ff:00:00:04', 'ff02::1:ff00:4')}/ICMPv6ND_NS(tgt='${tgt}')` +
      (sll ? `/ICMPv6NDOptSrcLLAddr(lladdr='${sll}')` : '');
    const na = (tgt: string) =>
      `${ip6(linkLocal(1), '33:33:00:00:00:01', 'ff02::1')}/ICMPv6ND_NA(tgt='${tgt}', R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='${a.mac}')`;
    const rsSeen = (src: string) => `p.haslayer(ICMPv6ND_RS) and p[IPv6].src == '${src}'`;
    const nsSeen = (tgt: string, src: string) =>
      `p.haslayer(ICMPv6ND_NS) and p[ICMPv6ND_NS].tgt == '${tgt}' and p[IPv6].src == '${src}'`;
    const naSeen = (tgt: string) => `p.haslayer(ICMPv6ND_NA) and p[ICMPv6ND_NA].tgt == '${tgt}'`;
    expect(await fromAToD(rs(linkLocal(1)), 'icmp6', rsSeen(linkLocal(1)))).toBe(true);
    expect(await fromAToD(rsFromUnspecified, 'icmp6', rsSeen('::'))).toBe(true);
    expect(
      await fromAToD(
        mld,
        'icmp6',
        "p.haslayer(ICMPv6MLReport) and p[ICMPv6MLReport].mladdr == 'ff05::5eed'",
      ),
    ).toBe(true);
    // Address resolution (own source, own sll) and duplicate address detection (from ::).
    expect(await fromAToD(ns(a.ip6!, 'fd00::4', a.mac), 'icmp6', nsSeen('fd00::4', a.ip6!))).toBe(
      true,
    );
    expect(await fromAToD(ns('::', 'fd00::1:1'), 'icmp6', nsSeen('fd00::1:1', '::'))).toBe(true);
    expect(await fromAToD(na(a.ip6!), 'icmp6', naSeen(a.ip6!))).toBe(true);
    expect(await fromAToD(na(linkLocal(1)), 'icmp6', naSeen(linkLocal(1)))).toBe(true);
    expect(await fromAToD(na(vm('b').ip6!), 'icmp6', naSeen(vm('b').ip6!))).toBe(false);
    expect(await fromAToD(na('fd00::97'), 'icmp6', naSeen('fd00::97'))).toBe(false);
  });

  it('its ARP requests and replies pass; a gratuitous request or reply for a foreign IP does not', async () => {
    const [a, d] = [vm('a'), vm('d')];
    const arp = (op: 1 | 2, psrc: string, pdst: string, dst = 'ff:ff:ff:ff:ff:ff') =>
      `Ether(src='${a.mac}', dst='${dst}')/ARP(op=${op}, hwsrc='${a.mac}', psrc='${psrc}', pdst='${pdst}')`;
    const seen = (op: 1 | 2, psrc: string, pdst: string) =>
      `p.haslayer(ARP) and p[ARP].op == ${op} and p[ARP].psrc == '${psrc}' and p[ARP].pdst == '${pdst}'`;
    expect(await fromAToD(arp(1, a.ip4!, '10.0.0.231'), 'arp', seen(1, a.ip4!, '10.0.0.231'))).toBe(
      true,
    );
    expect(await fromAToD(arp(2, a.ip4!, d.ip4!, d.mac), 'arp', seen(2, a.ip4!, d.ip4!))).toBe(
      true,
    );
    expect(
      await fromAToD(arp(1, '10.0.0.96', '10.0.0.96'), 'arp', seen(1, '10.0.0.96', '10.0.0.96')),
    ).toBe(false);
    expect(
      await fromAToD(arp(2, '10.0.0.96', '10.0.0.96'), 'arp', seen(2, '10.0.0.96', '10.0.0.96')),
    ).toBe(false);
  });

  it('its neighbours resolve (ARP and ND both ways) while its pings are dropped', async () => {
    const [a, b] = [vm('a'), vm('b')];
    await a.exec('ip', 'neigh', 'flush', 'all');
    expect(await a.ping(b.ip4!)).toBe(false);
    expect(await a.ping(b.ip6!)).toBe(false);
    const neigh = await a.exec('ip', 'neigh', 'show');
    expect(neigh).toMatch(new RegExp(`${b.ip4!.replace(/\./g, '\\.')} .*lladdr ${b.mac}`));
    expect(neigh).toMatch(new RegExp(`${b.ip6!} .*lladdr ${b.mac}`));
  });
});

describe('allowed address pairs with their own MAC (a VRRP-style virtual address)', () => {
  const VMAC = '02:00:00:00:00:c9';
  const VIP = '10.0.0.201';
  const withPair: PolicySpec = {
    ...OPEN,
    ports: {
      ...OPEN.ports,
      a: { groups: ['open'], aap: [{ ip_address: VIP, mac_address: VMAC }] },
    },
  };

  it('the pair (MAC, IP) may be sent from; the pair MAC with another IP may not', async () => {
    await bed.apply(withPair);
    try {
      const d = vm('d');
      const udp = (mac: string, ip: string, sport: number) =>
        `Ether(src='${mac}', dst='${d.mac}')/IP(src='${ip}', dst='${d.ip4}')/UDP(sport=${sport}, dport=9999)`;
      expect(await fromAToD(udp(VMAC, VIP, 50201), 'udp src port 50201')).toBe(true);
      expect(await fromAToD(udp(VMAC, vm('a').ip4!, 50202), 'udp src port 50202')).toBe(false);
      expect(await fromAToD(udp(vm('a').mac, VIP, 50203), 'udp src port 50203')).toBe(false);
      const garp = `Ether(src='${VMAC}', dst='ff:ff:ff:ff:ff:ff')/ARP(op=2, hwsrc='${VMAC}', psrc='${VIP}', hwdst='ff:ff:ff:ff:ff:ff', pdst='${VIP}')`;
      expect(await fromAToD(garp, 'arp', `p.haslayer(ARP) and p[ARP].psrc == '${VIP}'`)).toBe(true);
    } finally {
      await bed.apply(OPEN);
    }
  });

  // A port claims its allowed-address-pair MACs too (a VRRP virtual MAC): frames to them
  // reach it through its ingress pipeline.
  it('frames to the pair MAC are delivered to the port', async () => {
    await bed.apply(withPair);
    try {
      const d = vm('d');
      const toVip = `Ether(src='${d.mac}', dst='${VMAC}')/IP(src='${d.ip4}', dst='${VIP}')/UDP(sport=50210, dport=9999)`;
      expect(
        await frameArrives(scapy.d!, scapy.a!, [toVip], {
          filter: 'udp src port 50210',
          waitMs: 400,
        }),
      ).toBe(true);
    } finally {
      await bed.apply(OPEN);
    }
  });
});

describe('always-allowed ingress', () => {
  it('a port with no groups still receives ARP, DHCP offers and RAs, nothing else', async () => {
    await bed.apply({ ...OPEN, ports: { ...OPEN.ports, b: { groups: [] } } });
    const [b, d] = [vm('b'), vm('d')];
    const to = (frame: string, filter: string) =>
      frameArrives(scapy.d!, scapy.b!, [frame], { filter, waitMs: 400 });
    const chaddr = `bytes.fromhex('${b.mac.replace(/:/g, '')}')`;
    const offer = `Ether(src='${d.mac}', dst='${b.mac}')/IP(src='${d.ip4}', dst='${b.ip4}')/UDP(sport=67, dport=68)/BOOTP(op=2, yiaddr='${b.ip4}', chaddr=${chaddr})/DHCP(options=[('message-type', 'offer'), 'end'])`;
    const ra = `Ether(src='${d.mac}', dst='33:33:00:00:00:01')/IPv6(src='${linkLocal(4)}', dst='ff02::1', hlim=255)/ICMPv6ND_RA()`;
    const arp = `Ether(src='${d.mac}', dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, hwsrc='${d.mac}', psrc='${d.ip4}', pdst='${b.ip4}')`;
    const udp = `Ether(src='${d.mac}', dst='${b.mac}')/IP(src='${d.ip4}', dst='${b.ip4}')/UDP(sport=50100, dport=9999)`;
    expect(await to(offer, 'udp src port 67')).toBe(true);
    expect(await to(ra, 'icmp6 and ip6[40] == 134')).toBe(true);
    expect(await to(arp, 'arp and arp[7] == 1')).toBe(true);
    expect(await to(udp, 'udp src port 50100')).toBe(false);
    await bed.apply(OPEN);
  });
});

describe('the checks are live', () => {
  it('without the always-allowed bypass, a port with no egress rule cannot send its DHCP discover', async () => {
    const a = vm('a');
    const chaddr = `bytes.fromhex('${a.mac.replace(/:/g, '')}')`;
    const discover = `Ether(src='${a.mac}', dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/BOOTP(op=1, xid=601, chaddr=${chaddr})/DHCP(options=[('message-type', 'discover'), 'end'])`;
    const seen = 'p.haslayer(BOOTP) and p[BOOTP].xid == 601';
    const noEgress: PolicySpec = { ...OPEN, ports: { ...OPEN.ports, a: { groups: [] } } };
    await bed.apply(noEgress, MUTANTS['no-egress-bypass']);
    try {
      expect(await fromAToD(discover, 'udp src port 68', seen)).toBe(false);
    } finally {
      await bed.apply(noEgress);
    }
    try {
      expect(await fromAToD(discover, 'udp src port 68', seen)).toBe(true);
    } finally {
      await bed.apply(OPEN);
    }
  });

  it('without the source-IP check of port security, the forged source arrives', async () => {
    const [a, d] = [vm('a'), vm('d')];
    const forged = `Ether(src='${a.mac}', dst='${d.mac}')/IP(src='10.0.0.99', dst='${d.ip4}')/UDP(sport=50300, dport=9999)`;
    await bed.apply(OPEN, MUTANTS['no-ip-antispoof']);
    try {
      expect(await fromAToD(forged, 'udp src port 50300')).toBe(true);
    } finally {
      await bed.apply(OPEN);
    }
    expect(await fromAToD(forged, 'udp src port 50300')).toBe(false);
  });
});
