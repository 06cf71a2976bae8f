import { describe, expect, it } from 'vitest';
import { SgflowError } from '../model/errors.js';
import { checkIfMatch, newAttrs, timestamp, touch } from './standard-attrs.js';
import { parseListen } from './index.js';
import { pointerToField } from './errors.js';

describe('standard attributes', () => {
  it('prints timestamps as Neutron does: seconds, Z', () => {
    expect(timestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02T03:04:05Z');
  });

  it('bumps the revision and updated_at on every touch', () => {
    const a = { id: 'x', ...newAttrs('2026-01-01T00:00:00Z', 'd') };
    const b = touch(a, '2026-01-01T00:00:09Z', { description: 'e' });
    expect(b).toMatchObject({
      revision_number: 1,
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:09Z',
      description: 'e',
    });
    expect(touch(b, 'later').revision_number).toBe(2);
  });

  it('checks If-Match: any listed revision passes, a mismatch is 412, garbage is 400', () => {
    expect(() => checkIfMatch(undefined, 3)).not.toThrow();
    expect(() => checkIfMatch('revision_number=3', 3)).not.toThrow();
    expect(() => checkIfMatch('revision_number=1, revision_number=3', 3)).not.toThrow();
    const mismatch = (() => {
      try {
        checkIfMatch('revision_number=2', 3);
      } catch (e) {
        return e as SgflowError;
      }
      return undefined;
    })();
    expect(mismatch?.status).toBe(412);
    expect(mismatch?.type).toBe('RevisionNumberConstraintFailed');
    expect(() => checkIfMatch('"etag"', 3)).toThrow(/If-Match/);
  });
});

describe('helpers', () => {
  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:9696')).toEqual({ host: '127.0.0.1', port: 9696 });
    expect(parseListen(':80')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseListen('9696')).toEqual({ host: '127.0.0.1', port: 9696 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('0.0.0.0:9696')).toEqual({ host: '0.0.0.0', port: 9696 });
    expect(() => parseListen('host:99999')).toThrow(/--listen/);
    expect(() => parseListen('nope')).toThrow(/--listen/);
  });

  it('names schema fields the way the model does', () => {
    expect(pointerToField('/security_group_rule/port_range_min', 'body')).toBe('port_range_min');
    expect(pointerToField('/security_group_rules/2/port_range_min', 'body')).toBe(
      'security_group_rules[2].port_range_min',
    );
    expect(pointerToField('/port/fixed_ips/0/ip_address', 'body')).toBe('fixed_ips[0].ip_address');
    expect(pointerToField('', 'querystring')).toBe('querystring');
    expect(pointerToField('/limit', 'querystring')).toBe('limit');
  });
});
