import { describe, expect, it } from 'vitest';

import { parseFrame } from './frame.js';
import { PuntLimiter } from './punt.js';

const hex = (s: string): number[] =>
  s
    .replace(/\s+/g, '')
    .match(/../g)!
    .map((b) => parseInt(b, 16));

const ETH = (type: string): number[] => hex(`020000000002 020000000001 ${type}`);

/** IPv4 header (no options) with this protocol, 10.0.0.1 → 10.0.0.2, TTL 64. */
const ipv4 = (proto: number, fragment = '0000'): number[] =>
  hex(`45000040 0001${fragment} 40${proto.toString(16).padStart(2, '0')}0000 0a000001 0a000002`);

/** IPv6 header with this next header, fd00::1 → fd00::2, hop limit 63. */
const ipv6 = (next: number): number[] =>
  hex(
    `60000000 0020${next.toString(16).padStart(2, '0')}3f fd000000000000000000000000000001 fd000000000000000000000000000002`,
  );

describe('parseFrame', () => {
  it('reads a DCCP packet over IPv4: addresses, protocol, ports', () => {
    const p = parseFrame(
      new Uint8Array([...ETH('0800'), ...ipv4(33), ...hex('9c40 1388 0400 0000')]),
    )!;
    expect(p.ethSrc).toBe(0x020000000001n);
    expect(p.ip).toEqual({ family: 4, src: 0x0a000001n, dst: 0x0a000002n, proto: 33, ttl: 64 });
    expect(p.l4).toEqual({ src: 40000, dst: 5000 });
  });

  it('reads UDP-Lite over IPv6 past hop-by-hop and destination options headers', () => {
    const hbh = hex('3c00 0000 0000 0000'); // next: destination options (60), 8 bytes
    const dst = hex('8800 0000 0000 0000'); // next: UDP-Lite (136), 8 bytes
    const p = parseFrame(
      new Uint8Array([...ETH('86dd'), ...ipv6(0), ...hbh, ...dst, ...hex('1389 138a 0008 0000')]),
    )!;
    expect(p.ip).toMatchObject({
      family: 6,
      proto: 136,
      ttl: 63,
      dst: 0xfd00_0000_0000_0000_0000_0000_0000_0002n,
    });
    expect(p.l4).toEqual({ src: 5001, dst: 5002 });
  });

  it('a VLAN tag is read and skipped; TCP flags come with TCP ports', () => {
    const tcp = hex('0050 1f90 00000000 00000000 5012 ffff 0000 0000');
    const p = parseFrame(
      new Uint8Array([...ETH('8100'), ...hex('0064 0800'), ...ipv4(6), ...tcp]),
    )!;
    expect(p.vlan).toBe(100);
    expect(p.l4).toEqual({ src: 80, dst: 8080, tcpFlags: 0x012 });
  });

  it('a non-first fragment has no ports; a first fragment has them', () => {
    const later = parseFrame(
      new Uint8Array([...ETH('0800'), ...ipv4(33, '00b9'), ...hex('9c40 1388 0000 0000')]),
    )!;
    expect(later.ip?.proto).toBe(33);
    expect(later.l4).toBeUndefined();
    const first = parseFrame(
      new Uint8Array([...ETH('0800'), ...ipv4(33, '2000'), ...hex('9c40 1388 0000 0000')]),
    )!;
    expect(first.l4).toEqual({ src: 40000, dst: 5000 });
  });

  it('a truncated frame reports only what it carries', () => {
    expect(parseFrame(new Uint8Array(hex('0200 0000')))).toBeNull();
    const cut = parseFrame(new Uint8Array([...ETH('0800'), ...ipv4(33), ...hex('9c40')]))!;
    expect(cut.ip?.proto).toBe(33);
    expect(cut.l4).toBeUndefined();
    const noIp = parseFrame(new Uint8Array([...ETH('0800'), ...hex('4500')]))!;
    expect(noIp.ip).toBeUndefined();
  });

  it('reads ARP and ICMP echo', () => {
    const arp = parseFrame(
      new Uint8Array([
        ...ETH('0806'),
        ...hex('0001 0800 0604 0001 020000000001 0a000001 000000000000 0a000002'),
      ]),
    )!;
    expect(arp.arp).toEqual({
      op: 1,
      sha: 0x020000000001n,
      spa: 0x0a000001n,
      tha: 0n,
      tpa: 0x0a000002n,
    });
    const ping = parseFrame(
      new Uint8Array([...ETH('0800'), ...ipv4(1), ...hex('0800 0000 1234 0001')]),
    )!;
    expect(ping.icmp).toEqual({ type: 8, code: 0, id: 0x1234 });
  });
});

describe('PuntLimiter', () => {
  it('lets a burst through, then the rate, per port', () => {
    const l = new PuntLimiter(10, 5);
    const taken = Array.from({ length: 8 }, () => l.take(1, 0)).filter(Boolean).length;
    expect(taken).toBe(5);
    expect(l.take(2, 0)).toBe(true); // another port has its own bucket
    expect(l.take(1, 50)).toBe(false); // half a token after 50 ms at 10/s
    expect(l.take(1, 100)).toBe(true);
    expect(l.take(1, 100)).toBe(false);
  });
});
