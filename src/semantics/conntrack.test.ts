import { describe, expect, it } from 'vitest';
import { TcpFlags, reversePacket, type Packet } from '../model/packet.js';
import { ConnTable } from './conntrack.js';

const A = 0x0a000001n;
const B = 0x0a000002n;

function icmp(src: bigint, dst: bigint, type: number, code = 0, id = 7): Packet {
  return {
    ethSrc: 1n,
    ethDst: 2n,
    ethType: 0x0800,
    ip: { family: 4, src, dst, proto: 1, ttl: 64 },
    icmp: { type, code, id },
  };
}

function l4(
  proto: number,
  src: bigint,
  dst: bigint,
  sport: number,
  dport: number,
  flags?: number,
): Packet {
  return {
    ethSrc: 1n,
    ethDst: 2n,
    ethType: 0x0800,
    ip: { family: 4, src, dst, proto, ttl: 64 },
    l4: { src: sport, dst: dport, ...(flags !== undefined ? { tcpFlags: flags } : {}) },
  };
}

function opened(p: Packet): ConnTable {
  const t = new ConnTable();
  const r = t.lookup(p);
  if (r.state !== 'new') throw new Error(`expected new, got ${r.state}`);
  t.commit(r.conn);
  return t;
}

describe('reference conntrack', () => {
  it('tracks ICMP echo by id: the reply matches, another id does not', () => {
    const t = opened(icmp(A, B, 8));
    expect(t.lookup(icmp(B, A, 0))).toMatchObject({ state: 'established', reply: true });
    expect(t.lookup(icmp(B, A, 0, 0, 8))).toMatchObject({ state: 'invalid' });
    expect(t.lookup(icmp(A, B, 8))).toMatchObject({ state: 'established', reply: false });
  });

  it('treats timestamp like echo, and untracked ICMP types or non-zero query codes as invalid', () => {
    const t = opened(icmp(A, B, 13));
    expect(t.lookup(icmp(B, A, 14))).toMatchObject({ state: 'established', reply: true });
    expect(new ConnTable().lookup(icmp(A, B, 9))).toMatchObject({ state: 'invalid' });
    expect(new ConnTable().lookup(icmp(A, B, 8, 1))).toMatchObject({ state: 'invalid' });
  });

  it('keys other protocols by addresses and protocol only', () => {
    const t = opened(l4(132, A, B, 1000, 80));
    expect(t.lookup(l4(132, A, B, 1001, 81))).toMatchObject({ state: 'established', reply: false });
    expect(t.lookup(l4(132, B, A, 5, 6))).toMatchObject({ state: 'established', reply: true });
    expect(t.lookup(l4(33, A, B, 1000, 80))).toMatchObject({ state: 'new' });
  });

  it('rejects TCP/UDP port 0 and never-valid TCP flags', () => {
    expect(new ConnTable().lookup(l4(17, A, B, 0, 53))).toMatchObject({ state: 'invalid' });
    expect(new ConnTable().lookup(l4(6, A, B, 1, 2, TcpFlags.SYN | TcpFlags.FIN))).toMatchObject({
      state: 'invalid',
    });
    expect(new ConnTable().lookup(l4(6, A, B, 1, 2, 0))).toMatchObject({ state: 'invalid' });
    expect(new ConnTable().lookup(l4(6, A, B, 1, 2, TcpFlags.RST))).toMatchObject({ state: 'new' });
    const t = opened(l4(6, A, B, 1, 2, TcpFlags.SYN));
    expect(t.lookup(reversePacket(l4(6, A, B, 1, 2, TcpFlags.SYN | TcpFlags.ACK)))).toMatchObject({
      state: 'established',
      reply: true,
    });
  });

  it('relates ICMPv6 errors to the connection they quote', () => {
    const a6 = (0xfd00n << 112n) | 1n;
    const b6 = (0xfd00n << 112n) | 2n;
    const udp: Packet = {
      ethSrc: 1n,
      ethDst: 2n,
      ethType: 0x86dd,
      ip: { family: 6, src: a6, dst: b6, proto: 17, ttl: 64 },
      l4: { src: 5, dst: 53 },
    };
    const t = opened(udp);
    const err = (src: bigint, dst: bigint, quoted: { src: bigint; dst: bigint }): Packet => ({
      ethSrc: 2n,
      ethDst: 1n,
      ethType: 0x86dd,
      ip: { family: 6, src, dst, proto: 58, ttl: 64 },
      icmp: {
        type: 1,
        code: 4,
        id: 0,
        embedded: { ...quoted, proto: 17, l4: { src: 5, dst: 53 } },
      },
    });
    expect(t.lookup(err(b6, a6, { src: a6, dst: b6 }))).toMatchObject({
      state: 'related',
      reply: true,
    });
    // A router on the path may send it too: only the quoted source must be the error's destination.
    expect(t.lookup(err(0xfe80n << 112n, a6, { src: a6, dst: b6 }))).toMatchObject({
      state: 'related',
      reply: true,
    });
    expect(t.lookup(err(b6, b6, { src: a6, dst: b6 }))).toMatchObject({ state: 'invalid' });
  });
});
