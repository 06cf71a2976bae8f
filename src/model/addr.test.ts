import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import {
  canonicalCidr,
  canonicalIp,
  canonicalMac,
  cidrContains,
  cidrContainsCidr,
  cidrMask,
  cidrRange,
  formatCidr,
  formatIp,
  formatMac,
  makeCidr,
  parseCidr,
  parseIp,
  parseMac,
  tryParseCidr,
} from './addr.js';
import { SgflowError } from './errors.js';
import type { IpFamily } from './types.js';

const family = fc.constantFrom<IpFamily>(4, 6);
const ipOf = (f: IpFamily) => fc.bigInt({ min: 0n, max: (1n << (f === 4 ? 32n : 128n)) - 1n });
const cidrArb = family.chain((f) =>
  fc
    .tuple(ipOf(f), fc.integer({ min: 0, max: f === 4 ? 32 : 128 }))
    .map(([a, p]) => makeCidr(f, a, p)),
);

describe('MAC', () => {
  it('parses and prints the canonical lower-case colon form', () => {
    expect(canonicalMac('02:00:00:00:01:01')).toBe('02:00:00:00:01:01');
    expect(canonicalMac('AA-BB-CC-DD-EE-0F')).toBe('aa:bb:cc:dd:ee:0f');
    expect(parseMac('ff:ff:ff:ff:ff:ff')).toBe(0xffffffffffffn);
  });

  it.each([
    '',
    '02:00:00:00:01',
    '02:00:00:00:01:01:01',
    '02:00-00:00:01:01',
    'zz:00:00:00:01:01',
    '2:0:0:0:1:1',
  ])('rejects %j naming the field and the expected form', (bad) => {
    try {
      parseMac(bad, 'ports[0].mac_address');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SgflowError);
      const err = e as SgflowError;
      expect(err.code).toBe('SG_INVALID_FIELD');
      expect(err.field).toBe('ports[0].mac_address');
      expect(err.message).toContain('02:00:00:00:01:01');
    }
  });

  it('rejects non-strings', () => {
    expect(() => parseMac(42)).toThrow(SgflowError);
  });

  it('round-trips every 48-bit value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), (m) => {
        const s = formatMac(m);
        expect(s).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        expect(parseMac(s)).toBe(m);
        expect(parseMac(s.toUpperCase())).toBe(m);
      }),
    );
  });
});

describe('IP addresses', () => {
  it('formats canonically', () => {
    expect(canonicalIp('10.1.0.11')).toBe('10.1.0.11');
    expect(canonicalIp('FD00:1:0:0:0:0:0:11')).toBe('fd00:1::11');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('::ffff:1.2.3.4')).toBe('::ffff:1.2.3.4');
  });

  it.each([
    '10.0.0',
    '010.0.0.1',
    '10.0.0.256',
    '1.2.3.4/32',
    'fe80::1%eth0',
    '1:2:3:4:5:6:7:8:9',
    'x',
    '',
  ])('rejects %j', (bad) => {
    expect(() => parseIp(bad, 'fixed_ips[0].ip_address')).toThrow(/fixed_ips\[0\]\.ip_address/);
  });

  it('agrees with ipaddr.js on IPv6 text and round-trips', () => {
    fc.assert(
      fc.property(
        family.chain((f) => ipOf(f).map((a) => [f, a] as const)),
        ([f, a]) => {
          const s = formatIp(f, a);
          expect(parseIp(s)).toEqual({ family: f, addr: a });
          if (f === 6 && a >> 32n !== 0xffffn) expect(s).toBe(ipaddr.parse(s).toString());
        },
      ),
    );
  });
});

describe('CIDR', () => {
  it('clears host bits like Neutron and makes bare addresses host CIDRs', () => {
    expect(canonicalCidr('10.0.0.5/8')).toBe('10.0.0.0/8');
    expect(canonicalCidr('10.1.0.11')).toBe('10.1.0.11/32');
    expect(canonicalCidr('fd00:1::11')).toBe('fd00:1::11/128');
    expect(canonicalCidr('fd00:1::11/64')).toBe('fd00:1::/64');
    expect(canonicalCidr('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(canonicalCidr('::/0')).toBe('::/0');
    expect(canonicalCidr('1.2.3.4/0')).toBe('0.0.0.0/0');
  });

  it.each([
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/08',
    '::/129',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    'a/8',
  ])('rejects %j with the allowed form', (bad) => {
    expect(tryParseCidr(bad)).toBeNull();
    expect(() => parseCidr(bad)).toThrow(/remote_ip_prefix.*10\.0\.0\.0\/8/);
  });

  it('computes masks and containment', () => {
    const c = parseCidr('10.1.0.0/16');
    expect(cidrMask(c)).toBe(0xffff0000n);
    expect(cidrMask(parseCidr('0.0.0.0/0'))).toBe(0n);
    expect(cidrMask(parseCidr('::1'))).toBe((1n << 128n) - 1n);
    expect(cidrContains(c, 4, parseIp('10.1.255.3').addr)).toBe(true);
    expect(cidrContains(c, 4, parseIp('10.2.0.1').addr)).toBe(false);
    expect(cidrContains(c, 6, parseIp('10.1.0.1').addr)).toBe(false);
    expect(cidrContainsCidr(parseCidr('10.0.0.0/8'), c)).toBe(true);
    expect(cidrContainsCidr(c, parseCidr('10.0.0.0/8'))).toBe(false);
  });

  it('round-trips, keeps host bits clear, and contains exactly its range', () => {
    fc.assert(
      fc.property(cidrArb, fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (c, probe) => {
        const again = parseCidr(formatCidr(c));
        expect(again).toEqual(c);
        expect(c.addr & ~cidrMask(c)).toBe(0n);
        const a = c.family === 4 ? probe & 0xffffffffn : probe;
        const { first, last } = cidrRange(c);
        expect(cidrContains(c, c.family, a)).toBe(a >= first && a <= last);
        expect(cidrContains(c, c.family, first)).toBe(true);
        expect(cidrContains(c, c.family, last)).toBe(true);
      }),
    );
  });
});
