// Fuzzing the API over real HTTP with fast-check: malformed and near-valid bodies, and
// arbitrary query strings, against every writing endpoint and every list. Whatever is sent,
// the answer is never a 5xx, an error is always a NeutronError body, and a failed request
// leaves the store exactly as it was (same revision, same contents); a successful one is a
// single transaction.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Reply, type TestServer } from './support.js';

let t: TestServer;
let ids: Record<string, string>;

beforeAll(async () => {
  t = await startTestServer({
    quotas: { security_group: 50, security_group_rule: 400, port: 100 },
  });
  const sg = await t.call('POST', '/v2.0/security-groups', { security_group: { name: 'fuzz' } });
  const net = await t.call('POST', '/v2.0/networks', { network: { name: 'fuzz' } });
  const ag = await t.call('POST', '/v2.0/address-groups', {
    address_group: { name: 'fuzz', addresses: ['10.0.0.0/8'] },
  });
  const port = await t.call('POST', '/v2.0/ports', { port: { network_id: net.body.network.id } });
  ids = {
    sg: sg.body.security_group.id,
    net: net.body.network.id,
    ag: ag.body.address_group.id,
    port: port.body.port.id,
  };
});
afterAll(async () => {
  await t.stop();
});

const weird = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1,
    80,
    65535,
    65536,
    256,
    Number.MAX_SAFE_INTEGER + 2,
    1.5,
    '',
    ' ',
    '80',
    'tcp',
    'TCP',
    'icmp',
    'any',
    'ipv6-icmp',
    '58',
    'IPv4',
    'IPv6',
    'ingress',
    'egress',
    '10.0.0.0/8',
    '::/0',
    'fd00::1',
    '10.0.0.1/33',
    'fa:16:3e:00:00:01',
    'zz',
    '\u0000',
    'default',
    [],
    {},
    [null],
    ['x'],
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -70000, max: 70000 }),
  fc.jsonValue({ maxDepth: 2 }),
);

const RULE_FIELDS = [
  'security_group_id',
  'direction',
  'ethertype',
  'protocol',
  'port_range_min',
  'port_range_max',
  'source_port_range_min',
  'source_port_range_max',
  'remote_ip_prefix',
  'remote_group_id',
  'remote_address_group_id',
  'description',
  'project_id',
  'id',
];
const GROUP_FIELDS = ['name', 'description', 'stateful', 'project_id', 'shared'];
const PORT_FIELDS = [
  'network_id',
  'name',
  'mac_address',
  'fixed_ips',
  'allowed_address_pairs',
  'security_groups',
  'port_security_enabled',
  'device_owner',
  'binding:host_id',
  'admin_state_up',
];
const NET_FIELDS = [
  'name',
  'port_security_enabled',
  'shared',
  'provider:segmentation_id',
  'provider:network_type',
  'enforcement_mode',
];

/** An object of known (and some unknown) keys with weird values; ids are sometimes real. */
function objectOf(fields: string[]): fc.Arbitrary<Record<string, unknown>> {
  const key = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...fields) },
    { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  );
  const value = fc.oneof(
    { weight: 4, arbitrary: weird },
    { weight: 1, arbitrary: fc.constant('<sg>') },
    { weight: 1, arbitrary: fc.constant('<net>') },
    { weight: 1, arbitrary: fc.constant('<ag>') },
  );
  return fc.dictionary(key, value, { maxKeys: 8 }).map((o) => {
    const real = { '<sg>': ids.sg, '<net>': ids.net, '<ag>': ids.ag } as Record<string, string>;
    return Object.fromEntries(
      Object.entries(o).map(([k, v]) => [k, typeof v === 'string' && v in real ? real[v] : v]),
    );
  });
}

const requests: fc.Arbitrary<{ method: string; path: string; body: string | undefined }> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('security_group_rule', 'security_group_rules'),
      objectOf(RULE_FIELDS),
      fc.array(objectOf(RULE_FIELDS), { maxLength: 3 }),
    )
    .map(([key, one, many]) => ({
      method: 'POST',
      path: '/v2.0/security-group-rules',
      body: JSON.stringify(key === 'security_group_rule' ? { [key]: one } : { [key]: many }),
    })),
  objectOf(GROUP_FIELDS).map((o) => ({
    method: 'POST',
    path: '/v2.0/security-groups',
    body: JSON.stringify({ security_group: o }),
  })),
  objectOf(GROUP_FIELDS).map((o) => ({
    method: 'PUT',
    path: `/v2.0/security-groups/<sg>`,
    body: JSON.stringify({ security_group: o }),
  })),
  objectOf(PORT_FIELDS).map((o) => ({
    method: 'POST',
    path: '/v2.0/ports',
    body: JSON.stringify({ port: o }),
  })),
  objectOf(PORT_FIELDS).map((o) => ({
    method: 'PUT',
    path: `/v2.0/ports/<port>`,
    body: JSON.stringify({ port: o }),
  })),
  objectOf(NET_FIELDS).map((o) => ({
    method: 'POST',
    path: '/v2.0/networks',
    body: JSON.stringify({ network: o }),
  })),
  fc.tuple(fc.constantFrom('add_addresses', 'remove_addresses'), weird).map(([op, v]) => ({
    method: 'PUT',
    path: `/v2.0/address-groups/<ag>/${op}`,
    body: JSON.stringify({ addresses: v }),
  })),
  weird.map((v) => ({
    method: 'PUT',
    path: `/v2.0/security-groups/<sg>/tags`,
    body: JSON.stringify({ tags: v }),
  })),
  fc
    .tuple(
      fc.constantFrom(
        '/v2.0/security-groups',
        '/v2.0/security-group-rules',
        '/v2.0/ports',
        '/v2.0/networks',
      ),
      fc.string({ maxLength: 40 }),
    )
    .map(([path, body]) => ({
      method: 'POST',
      path,
      body,
    })),
  fc
    .tuple(
      fc.constantFrom('PUT', 'DELETE', 'PATCH', 'POST'),
      fc.constantFrom(
        `/v2.0/security-group-rules/x`,
        `/v2.0/security-groups/<sg>/tags/%20`,
        `/v2.0/networks/%ZZ`,
        '/v2.0/ports/',
      ),
      fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
    )
    .map(([method, path, body]) => ({ method, path, body })),
);

const LIST_KEYS = [
  'fields',
  'sort_key',
  'sort_dir',
  'limit',
  'marker',
  'page_reverse',
  'tags',
  'tags-any',
  'not-tags',
  'not-tags-any',
  'name',
  'id',
  'shared',
  'stateful',
  'revision_number',
  'protocol',
  'port_range_min',
  'fixed_ips',
  'security_groups',
  'security_group_rules',
];
const queryStrings = fc.tuple(
  fc.constantFrom(
    '/v2.0/security-groups',
    '/v2.0/security-group-rules',
    '/v2.0/ports',
    '/v2.0/networks',
    '/v2.0/address-groups',
    '/v2.0/security-groups/<sg>',
  ),
  fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...LIST_KEYS), fc.string({ maxLength: 5 })),
      fc.oneof(
        fc.constantFrom(
          'asc',
          'desc',
          '0',
          '2',
          '-1',
          'true',
          'True',
          'name',
          'id',
          'tags',
          'ip_address=10.0.0.1',
          '<sg>',
        ),
        fc.string({ maxLength: 8 }),
      ),
    ),
    { maxLength: 6 },
  ),
  fc.constantFrom('', '&', '&%', '&%ZZ=1', '&=&=', '&a[b]=c'),
);

/** Paths name the fixtures by placeholder: the ids exist only once the server runs. */
function resolve(path: string): string {
  return path.replace(/<(sg|net|ag|port)>/g, (_, k: string) => ids[k]!);
}

function checkAnswer(r: Reply): void {
  expect(r.status).toBeLessThan(500);
  if (r.status >= 400) {
    expect(r.body).toEqual({
      NeutronError: { type: expect.any(String), message: expect.any(String), detail: '' },
    });
  }
}

describe('fuzz', () => {
  it('malformed and near-valid writes: never a 5xx, never a partial write', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(requests, async ({ method, path, body }) => {
        const before = await t.server.store.snapshot();
        const r = await t.raw(method, resolve(path), body);
        seen.add(Math.floor(r.status / 100));
        checkAnswer(r);
        const after = await t.server.store.snapshot();
        if (r.status >= 400) expect(after).toEqual(before);
        else expect(after.revision - before.revision).toBeLessThanOrEqual(1);
      }),
      { numRuns: 400 },
    );
    // The generator reaches both sides: accepted writes and refused ones.
    expect([...seen].sort()).toEqual([2, 4]);
  });

  it('malformed quota updates: never a 5xx; a refused one changes no limit', async () => {
    const QUOTA_FIELDS = [
      'network',
      'port',
      'security_group',
      'security_group_rule',
      'force',
      'check_limit',
    ];
    const bodies = fc.oneof(
      objectOf(QUOTA_FIELDS).map((o) => JSON.stringify({ quota: o })),
      objectOf(QUOTA_FIELDS).map((o) => JSON.stringify(o)),
      fc.string({ maxLength: 30 }),
    );
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(bodies, fc.constantFrom('fuzz', 'default', '%20'), async (body, p) => {
        const before = (await t.call('GET', '/v2.0/quotas')).body as unknown;
        const r = await t.raw('PUT', `/v2.0/quotas/${p}`, body);
        seen.add(Math.floor(r.status / 100));
        checkAnswer(r);
        if (r.status >= 400) expect((await t.call('GET', '/v2.0/quotas')).body).toEqual(before);
      }),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual([2, 4]);
  });

  it('arbitrary list and show query strings: never a 5xx, never a write', async () => {
    await fc.assert(
      fc.asyncProperty(queryStrings, async ([path, pairs, tail]) => {
        const params = new URLSearchParams();
        for (const [k, v] of pairs) params.append(k, v === '<sg>' ? ids.sg! : v);
        const revision = await t.server.store.revision();
        const r = await t.raw('GET', `${resolve(path)}?${params.toString()}${tail}`, undefined);
        checkAnswer(r);
        expect(await t.server.store.revision()).toBe(revision);
      }),
      { numRuns: 300 },
    );
  });
});
