import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  IP_PROTOCOL_MAP,
  canonicalProtocolForEthertype,
  isIcmpProtocol,
  isIpv6OnlyProtocol,
  isPortProtocol,
  parseProtocol,
  protocolName,
  protocolNumber,
  protocolNumberAsGiven,
} from './protocols.js';
import { SgflowError } from './errors.js';

describe('parseProtocol', () => {
  it('accepts names in any case, numbers and numeric strings, and any/null', () => {
    expect(parseProtocol('TCP')).toBe('tcp');
    expect(parseProtocol('ipv6-icmp')).toBe('ipv6-icmp');
    expect(parseProtocol('icmpv6')).toBe('icmpv6');
    expect(parseProtocol(6)).toBe('6');
    expect(parseProtocol('017')).toBe('17');
    expect(parseProtocol('0')).toBe('0');
    expect(parseProtocol('any')).toBeNull();
    expect(parseProtocol('ANY')).toBeNull();
    expect(parseProtocol(null)).toBeNull();
    expect(parseProtocol(undefined)).toBeNull();
  });

  it.each([256, -1, 1.5, '256', 'foo', '', true, {}])(
    'rejects %j listing the allowed values',
    (bad) => {
      try {
        parseProtocol(bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(SgflowError);
        expect((e as SgflowError).code).toBe('SG_INVALID_PROTOCOL');
        expect((e as SgflowError).message).toContain('udplite');
        expect((e as SgflowError).message).toContain('[0 to 255]');
      }
    },
  );

  it('accepts every integer 0..255 and every Neutron name', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (n) => {
        expect(protocolNumberAsGiven(parseProtocol(n), 'IPv4')).toBe(n);
        expect(protocolNumber(parseProtocol(String(n)), 'IPv4')).toBe(n === 0 ? null : n);
      }),
    );
    for (const [name, num] of Object.entries(IP_PROTOCOL_MAP)) {
      expect(protocolNumberAsGiven(parseProtocol(name.toUpperCase()), 'IPv4')).toBe(num);
    }
  });
});

describe('protocol numbers under an ethertype', () => {
  it('maps icmp and 1 to 58 under IPv6 only', () => {
    expect(protocolNumber('icmp', 'IPv4')).toBe(1);
    expect(protocolNumber('icmp', 'IPv6')).toBe(58);
    expect(protocolNumber('1', 'IPv6')).toBe(58);
    expect(protocolNumber('icmpv6', 'IPv6')).toBe(58);
    expect(protocolNumber('ipv6-icmp', 'IPv6')).toBe(58);
    expect(protocolNumber('tcp', 'IPv6')).toBe(6);
    expect(protocolNumber(null, 'IPv6')).toBeNull();
    expect(protocolNumber('0', 'IPv4')).toBeNull();
    expect(protocolNumber('ip', 'IPv6')).toBeNull();
    expect(protocolNumberAsGiven('ip', 'IPv6')).toBe(0);
  });

  it('canonicalises IPv6 ICMP spellings the way Neutron stores them', () => {
    expect(canonicalProtocolForEthertype('icmp', 'IPv6')).toBe('ipv6-icmp');
    expect(canonicalProtocolForEthertype('icmpv6', 'IPv6')).toBe('ipv6-icmp');
    expect(canonicalProtocolForEthertype('1', 'IPv6')).toBe('58');
    expect(canonicalProtocolForEthertype('icmp', 'IPv4')).toBe('icmp');
    expect(canonicalProtocolForEthertype('tcp', 'IPv6')).toBe('tcp');
  });

  it('classifies protocols', () => {
    expect([6, 17, 33, 132, 136].every(isPortProtocol)).toBe(true);
    expect(isPortProtocol(1)).toBe(false);
    expect(isPortProtocol(null)).toBe(false);
    expect(isIcmpProtocol(1) && isIcmpProtocol(58)).toBe(true);
    expect(isIcmpProtocol(6)).toBe(false);
    expect([41, 43, 44, 58, 59, 60].every(isIpv6OnlyProtocol)).toBe(true);
    expect(isIpv6OnlyProtocol(1)).toBe(false);
    expect(protocolName(58)).toBe('ipv6-icmp');
    expect(protocolName(0)).toBe('ip');
    expect(protocolName(6)).toBe('tcp');
    expect(protocolName(200)).toBe('200');
  });
});
