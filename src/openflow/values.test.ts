import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cidrLength, formatIpv6, formatMac, parseIpv6, parseMac, prefixMask } from './values.js';

describe('value text', () => {
  // Expected strings are what ovs-ofctl ofp-print printed for these addresses (glibc inet_ntop).
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['1:0:0:2::3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::1:0:0:0', 'fe80::1:0:0:0'],
  ])('IPv6 %s prints as %s', (input, out) => {
    expect(formatIpv6(parseIpv6(input)!)).toBe(out);
  });

  it('IPv6 text round-trips for any address', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
        expect(parseIpv6(formatIpv6(v))).toBe(v);
      }),
    );
  });

  it('rejects malformed addresses', () => {
    for (const bad of ['1:2:3', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'x::1', '1.2.3.4']) {
      expect(parseIpv6(bad)).toBeUndefined();
    }
    expect(parseMac('00:11:22:33:44')).toBeUndefined();
    expect(formatMac(parseMac('0:1:a:BB:cc:ff')!)).toBe('00:01:0a:bb:cc:ff');
  });

  it('recognises CIDR masks and only them', () => {
    expect(cidrLength(prefixMask(24, 32), 32)).toBe(24);
    expect(cidrLength(0n, 32)).toBe(0);
    expect(cidrLength(0xffff00ffn, 32)).toBeUndefined();
    expect(cidrLength(prefixMask(64, 128), 128)).toBe(64);
  });
});
