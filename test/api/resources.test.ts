// Networks, ports, address groups and tags over real HTTP, and Neutron's list conventions
// (filters with OR, fields, sorting, pagination links, tag filters).
/* eslint-disable @typescript-eslint/no-unsafe-call -- response bodies are untyped JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rule, startTestServer, type TestServer } from './support.js';

let t: TestServer;
beforeAll(async () => {
  // One project makes every group of this file: more than Neutron's default quota of 10.
  t = await startTestServer({ quotas: { security_group: 20 } });
});
afterAll(async () => {
  await t.stop();
});

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await t.call('POST', path, body);
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return Object.values(r.body as Record<string, Record<string, unknown>>)[0]!;
}

describe('networks', () => {
  it('creates with defaults, updates, refuses deletion while ports exist', async () => {
    const n = await post('/v2.0/networks', {
      network: { name: 'net', 'provider:segmentation_id': 100 },
    });
    expect(n).toMatchObject({
      name: 'net',
      port_security_enabled: true,
      shared: false,
      'provider:segmentation_id': 100,
      status: 'ACTIVE',
      revision_number: 0,
    });
    const u = await t.call('PUT', `/v2.0/networks/${String(n['id'])}`, {
      network: { port_security_enabled: false, enforcement_mode: 'learn' },
    });
    expect(u.body.network).toMatchObject({
      port_security_enabled: false,
      enforcement_mode: 'learn',
      revision_number: 1,
    });
    const bad = await t.call('PUT', `/v2.0/networks/${String(n['id'])}`, {
      network: { enforcement_mode: 'magic' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toMatch(/enforcement_mode.*conntrack/);
    const vlan = await t.call('POST', '/v2.0/networks', {
      network: { 'provider:segmentation_id': 5000 },
    });
    expect(vlan.status).toBe(400);
    expect(vlan.body.NeutronError.message).toMatch(/provider:segmentation_id/);
    const p = await post('/v2.0/ports', { port: { network_id: n['id'] } });
    const del = await t.call('DELETE', `/v2.0/networks/${String(n['id'])}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError.type).toBe('NetworkInUse');
    await t.call('DELETE', `/v2.0/ports/${String(p['id'])}`);
    expect((await t.call('DELETE', `/v2.0/networks/${String(n['id'])}`)).status).toBe(204);
    expect((await t.call('GET', `/v2.0/networks/${String(n['id'])}`)).body.NeutronError.type).toBe(
      'NetworkNotFound',
    );
  });
});

describe('ports', () => {
  let net: string;
  beforeAll(async () => {
    net = (await post('/v2.0/networks', { network: { name: 'ports' } }))['id'] as string;
  });

  it('fills Neutron defaults: MAC fa:16:3e, default group, port security from the network', async () => {
    const p = await post('/v2.0/ports', {
      port: {
        network_id: net,
        name: 'vm1',
        fixed_ips: [{ ip_address: '10.0.0.10' }],
        'binding:host_id': 'h1',
      },
    });
    expect(p['mac_address']).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    const def = (await t.call('GET', '/v2.0/security-groups?name=default')).body.security_groups[0];
    expect(p).toMatchObject({
      network_id: net,
      name: 'vm1',
      security_groups: [def.id],
      port_security_enabled: true,
      'binding:host_id': 'h1',
      fixed_ips: [{ ip_address: '10.0.0.10' }],
      allowed_address_pairs: [],
      status: 'DOWN',
      device_owner: '',
    });
    const noIp = await post('/v2.0/ports', { port: { network_id: net } });
    expect(noIp['security_groups']).toEqual([]);
  });

  it('validates and enforces uniqueness on the network', async () => {
    await post('/v2.0/ports', {
      port: {
        network_id: net,
        mac_address: 'FA:16:3E:00:00:01',
        fixed_ips: [{ ip_address: '10.0.1.1' }],
      },
    });
    const mac = await t.call('POST', '/v2.0/ports', {
      port: { network_id: net, mac_address: 'fa:16:3e:00:00:01' },
    });
    expect(mac.status).toBe(409);
    expect(mac.body.NeutronError.type).toBe('MacAddressInUse');
    const ip = await t.call('POST', '/v2.0/ports', {
      port: { network_id: net, fixed_ips: [{ ip_address: '10.0.1.1' }] },
    });
    expect(ip.status).toBe(409);
    expect(ip.body.NeutronError.type).toBe('IpAddressAlreadyAllocated');
    const badMac = await t.call('POST', '/v2.0/ports', {
      port: { network_id: net, mac_address: 'zz' },
    });
    expect(badMac.status).toBe(400);
    expect(badMac.body.NeutronError.message).toMatch(/mac_address/);
    const noNet = await t.call('POST', '/v2.0/ports', { port: { network_id: 'nope' } });
    expect(noNet.status).toBe(404);
    expect(noNet.body.NeutronError.type).toBe('NetworkNotFound');
    const noSg = await t.call('POST', '/v2.0/ports', {
      port: { network_id: net, fixed_ips: [{ ip_address: '10.0.1.2' }], security_groups: ['nope'] },
    });
    expect(noSg.status).toBe(404);
    expect(noSg.body.NeutronError.type).toBe('SecurityGroupNotFound');
    const pairs = await t.call('POST', '/v2.0/ports', {
      port: {
        network_id: net,
        port_security_enabled: false,
        allowed_address_pairs: [{ ip_address: '10.9.0.0/16' }],
      },
    });
    expect(pairs.status).toBe(409);
    expect(pairs.body.NeutronError.type).toBe('AddressPairAndPortSecurityRequired');
  });

  it("answers port-security conflicts with Neutron's errors and changes nothing", async () => {
    const g = await post('/v2.0/security-groups', { security_group: { name: 'psec' } });
    const off = await post('/v2.0/networks', {
      network: { name: 'open', port_security_enabled: false },
    });
    const refusedCreates: [Record<string, unknown>, number, string][] = [
      // groups but no address: Neutron's InvalidInput
      [
        { network_id: net, security_groups: [g['id']] },
        400,
        'PortSecurityAndIPRequiredForSecurityGroups',
      ],
      // groups on a network without port security
      [
        {
          network_id: off['id'],
          fixed_ips: [{ ip_address: '10.0.4.1' }],
          security_groups: [g['id']],
        },
        400,
        'PortSecurityAndIPRequiredForSecurityGroups',
      ],
      // address pairs and groups without port security: the pairs are named first
      [
        {
          network_id: net,
          port_security_enabled: false,
          fixed_ips: [{ ip_address: '10.0.4.2' }],
          security_groups: [g['id']],
          allowed_address_pairs: [{ ip_address: '10.0.4.0/24' }],
        },
        409,
        'AddressPairAndPortSecurityRequired',
      ],
    ];
    const before = await t.call('GET', '/v2.0/ports');
    for (const [port, status, type] of refusedCreates) {
      const r = await t.call('POST', '/v2.0/ports', { port });
      expect(r.status, JSON.stringify(port)).toBe(status);
      expect(r.body.NeutronError.type).toBe(type);
      expect(r.body.NeutronError.message).toMatch(/Port security must be enabled|Port Security/);
    }
    expect((await t.call('GET', '/v2.0/ports')).body).toEqual(before.body);

    const p = await post('/v2.0/ports', {
      port: {
        network_id: net,
        fixed_ips: [{ ip_address: '10.0.4.3' }],
        security_groups: [g['id']],
      },
    });
    const url = `/v2.0/ports/${String(p['id'])}`;
    const refusedUpdates: [Record<string, unknown>, number, string][] = [
      [{ port_security_enabled: false }, 409, 'PortSecurityPortHasSecurityGroup'],
      [{ fixed_ips: [] }, 409, 'PortSecurityPortHasSecurityGroup'],
      [
        { port_security_enabled: false, security_groups: [g['id']] },
        400,
        'PortSecurityAndIPRequiredForSecurityGroups',
      ],
    ];
    for (const [port, status, type] of refusedUpdates) {
      const r = await t.call('PUT', url, { port });
      expect(r.status, JSON.stringify(port)).toBe(status);
      expect(r.body.NeutronError.type).toBe(type);
    }
    expect((await t.call('GET', url)).body.port).toMatchObject({
      revision_number: 0,
      port_security_enabled: true,
      security_groups: [g['id']],
    });
    // Naming the groups away in the same update is how Neutron lets port security go.
    const ok = await t.call('PUT', url, {
      port: { port_security_enabled: false, security_groups: [] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.port).toMatchObject({ port_security_enabled: false, security_groups: [] });
  });

  it('creates ports of network services (device_owner network:*) without port security', async () => {
    const dhcp = await post('/v2.0/ports', {
      port: {
        network_id: net,
        device_owner: 'network:dhcp',
        port_security_enabled: true,
        fixed_ips: [{ ip_address: '10.0.5.1' }],
      },
    });
    expect(dhcp).toMatchObject({ port_security_enabled: false, security_groups: [] });
    const g = await post('/v2.0/security-groups', { security_group: { name: 'router' } });
    const withGroup = await t.call('POST', '/v2.0/ports', {
      port: {
        network_id: net,
        device_owner: 'network:router_interface',
        fixed_ips: [{ ip_address: '10.0.5.2' }],
        security_groups: [g['id']],
      },
    });
    expect(withGroup.status).toBe(400);
    expect(withGroup.body.NeutronError.type).toBe('PortSecurityAndIPRequiredForSecurityGroups');
    // Only the `network:` prefix is trusted.
    const compute = await post('/v2.0/ports', {
      port: {
        network_id: net,
        device_owner: 'compute:nova',
        fixed_ips: [{ ip_address: '10.0.5.3' }],
      },
    });
    expect(compute['port_security_enabled']).toBe(true);
    expect(compute['security_groups']).toHaveLength(1);
  });

  it('refuses stateful and stateless groups together', async () => {
    const a = await post('/v2.0/security-groups', { security_group: { name: 'sf' } });
    const b = await post('/v2.0/security-groups', {
      security_group: { name: 'sl', stateful: false },
    });
    const r = await t.call('POST', '/v2.0/ports', {
      port: {
        network_id: net,
        fixed_ips: [{ ip_address: '10.0.2.1' }],
        security_groups: [a['id'], b['id']],
      },
    });
    expect(r.status).toBe(400);
    expect(r.body.NeutronError.type).toBe('SecurityGroupConflictingStatefulness');
  });

  it('updates groups, address pairs and port security together', async () => {
    const g = await post('/v2.0/security-groups', { security_group: { name: 'upd' } });
    const p = await post('/v2.0/ports', {
      port: { network_id: net, fixed_ips: [{ ip_address: '10.0.3.1' }] },
    });
    const u = await t.call('PUT', `/v2.0/ports/${String(p['id'])}`, {
      port: {
        security_groups: [g['id']],
        allowed_address_pairs: [{ ip_address: '10.0.3.0/24' }],
        name: 'renamed',
      },
    });
    expect(u.status).toBe(200);
    expect(u.body.port).toMatchObject({
      security_groups: [g['id']],
      allowed_address_pairs: [{ ip_address: '10.0.3.0/24', mac_address: p['mac_address'] }],
      name: 'renamed',
      revision_number: 1,
    });
    const conflict = await t.call('PUT', `/v2.0/ports/${String(p['id'])}`, {
      port: { port_security_enabled: false, allowed_address_pairs: [] },
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.NeutronError).toEqual({
      type: 'PortSecurityPortHasSecurityGroup',
      message:
        'Port has security group associated. Cannot disable port security or IP address until security group is removed.',
      detail: '',
    });
    const off = await t.call('PUT', `/v2.0/ports/${String(p['id'])}`, {
      port: { port_security_enabled: false, security_groups: [], allowed_address_pairs: [] },
    });
    expect(off.status).toBe(200);
    expect(off.body.port).toMatchObject({ port_security_enabled: false, security_groups: [] });
    const ro = await t.call('PUT', `/v2.0/ports/${String(p['id'])}`, { port: { network_id: net } });
    expect(ro.status).toBe(400);
    expect(ro.body.NeutronError.message).toMatch(/read-only attribute network_id/);
  });
});

describe('address groups', () => {
  it('creates, adds and removes addresses, is referenced by rules, refuses deletion in use', async () => {
    const a = await post('/v2.0/address-groups', {
      address_group: { name: 'ag', addresses: ['10.0.0.1', '192.168.1.7/24'] },
    });
    expect(a['addresses']).toEqual(['10.0.0.1/32', '192.168.1.0/24']);
    const id = a['id'] as string;
    const add = await t.call('PUT', `/v2.0/address-groups/${id}/add_addresses`, {
      addresses: ['fd00::1/64'],
    });
    expect(add.status).toBe(200);
    expect(add.body.address_group.addresses).toEqual([
      '10.0.0.1/32',
      '192.168.1.0/24',
      'fd00::/64',
    ]);
    const again = await t.call('PUT', `/v2.0/address-groups/${id}/add_addresses`, {
      addresses: ['10.0.0.1'],
    });
    expect(again.status).toBe(400);
    expect(again.body.NeutronError.type).toBe('AddressesAlreadyExist');
    const rm = await t.call('PUT', `/v2.0/address-groups/${id}/remove_addresses`, {
      addresses: ['10.0.0.1/32'],
    });
    expect(rm.body.address_group.addresses).toEqual(['192.168.1.0/24', 'fd00::/64']);
    const rmMissing = await t.call('PUT', `/v2.0/address-groups/${id}/remove_addresses`, {
      addresses: ['1.1.1.1'],
    });
    expect(rmMissing.status).toBe(404);
    expect(rmMissing.body.NeutronError.type).toBe('AddressesNotFound');
    const bad = await t.call('PUT', `/v2.0/address-groups/${id}/add_addresses`, {
      addresses: ['10.0.0.0/99'],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toMatch(/addresses\[0\]/);

    const g = await post('/v2.0/security-groups', { security_group: { name: 'agrules' } });
    const r = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rule: rule(g['id'] as string, { remote_address_group_id: id }),
    });
    expect(r.status).toBe(201);
    const del = await t.call('DELETE', `/v2.0/address-groups/${id}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError.type).toBe('AddressGroupInUse');
    await t.call('DELETE', `/v2.0/security-group-rules/${r.body.security_group_rule.id}`);
    expect((await t.call('DELETE', `/v2.0/address-groups/${id}`)).status).toBe(204);
  });
});

describe('tags', () => {
  it('replaces, adds, checks and removes tags, bumping the revision', async () => {
    const g = await post('/v2.0/security-groups', { security_group: { name: 'tagged' } });
    const base = `/v2.0/security-groups/${String(g['id'])}/tags`;
    expect((await t.call('PUT', base, { tags: ['red', 'blue'] })).body).toEqual({
      tags: ['red', 'blue'],
    });
    expect((await t.call('PUT', `${base}/green`)).status).toBe(201);
    expect((await t.call('GET', base)).body.tags).toEqual(['red', 'blue', 'green']);
    expect((await t.call('GET', `${base}/red`)).status).toBe(204);
    expect((await t.call('DELETE', `${base}/red`)).status).toBe(204);
    const missing = await t.call('GET', `${base}/red`);
    expect(missing.status).toBe(404);
    expect(missing.body.NeutronError.type).toBe('TagNotFound');
    expect((await t.call('DELETE', `${base}/red`)).status).toBe(404);
    const shown = (await t.call('GET', `/v2.0/security-groups/${String(g['id'])}`)).body
      .security_group;
    expect(shown.tags).toEqual(['blue', 'green']);
    expect(shown.revision_number).toBe(3);
    expect((await t.call('DELETE', base)).status).toBe(204);
    expect((await t.call('GET', base)).body.tags).toEqual([]);
    expect((await t.call('PUT', base, { tags: ['a,b'] })).status).toBe(400);
    expect((await t.call('PUT', '/v2.0/security-groups/nope/tags', { tags: [] })).status).toBe(404);
  });
});

describe('list conventions', () => {
  let ids: string[];
  beforeAll(async () => {
    ids = [];
    for (const [name, tags] of [
      ['alpha', ['x', 'y']],
      ['bravo', ['x']],
      ['charlie', []],
      ['delta', ['y']],
      ['echo', ['x', 'y', 'z']],
    ] as const) {
      const n = await post('/v2.0/networks', { network: { name, shared: name === 'bravo' } });
      ids.push(n['id'] as string);
      if (tags.length) await t.call('PUT', `/v2.0/networks/${String(n['id'])}/tags`, { tags });
    }
  });

  const names = (r: { body: { networks: { name: string }[] } }) =>
    r.body.networks.map((n) => n.name);
  const q = (s: string) => t.call('GET', `/v2.0/networks?${s}`);

  it('filters on any field, repeated values are OR, booleans and numbers by value', async () => {
    expect(names(await q('name=alpha&name=delta&sort_key=name'))).toEqual(['alpha', 'delta']);
    expect(names(await q('shared=true'))).toEqual(['bravo']);
    expect(names(await q('shared=True&name=alpha'))).toEqual([]);
    expect(names(await q(`id=${ids[2]!}`))).toEqual(['charlie']);
    expect(names(await q('revision_number=0&name=charlie'))).toEqual(['charlie']);
    expect(names(await q('revision_number=1&name=charlie'))).toEqual([]);
    expect(names(await q('revision_number=1&name=alpha'))).toEqual(['alpha']);
    const bad = await q('colour=red');
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toMatch(/colour.*filterable/);
  });

  it('filters on tags', async () => {
    const among = (r: Parameters<typeof names>[0]) =>
      names(r)
        .filter((n) => ['alpha', 'bravo', 'charlie', 'delta', 'echo'].includes(n))
        .sort();
    expect(among(await q('tags=x,y'))).toEqual(['alpha', 'echo']);
    expect(among(await q('tags=x&tags=y'))).toEqual(['alpha', 'echo']);
    expect(among(await q('tags-any=z,y'))).toEqual(['alpha', 'delta', 'echo']);
    expect(among(await q('not-tags=x,y'))).toEqual(['bravo', 'charlie', 'delta']);
    expect(among(await q('not-tags-any=x'))).toEqual(['charlie', 'delta']);
  });

  it('selects fields and sorts', async () => {
    const r = await q('fields=name&fields=shared&name=alpha');
    expect(r.body.networks).toEqual([{ name: 'alpha', shared: false }]);
    const five = 'name=alpha&name=bravo&name=charlie&name=delta&name=echo';
    expect(names(await q(`${five}&sort_key=name&sort_dir=desc`))).toEqual([
      'echo',
      'delta',
      'charlie',
      'bravo',
      'alpha',
    ]);
    expect(
      names(await q(`${five}&sort_key=shared&sort_dir=desc&sort_key=name&sort_dir=asc`)),
    ).toEqual(['bravo', 'alpha', 'charlie', 'delta', 'echo']);
    expect((await q('sort_key=tags')).status).toBe(400);
    expect((await q('sort_key=name&sort_dir=sideways')).status).toBe(400);
    expect((await q('sort_key=name&sort_key=id&sort_dir=asc')).status).toBe(400);
  });

  it('paginates with limit, marker and next/previous links', async () => {
    const five = 'name=alpha&name=bravo&name=charlie&name=delta&name=echo&sort_key=name';
    const p1 = await q(`${five}&limit=2`);
    expect(names(p1)).toEqual(['alpha', 'bravo']);
    const links1 = p1.body.networks_links as { rel: string; href: string }[];
    expect(links1.map((l) => l.rel)).toEqual(['next']);
    const next = new URL(links1[0]!.href);
    expect(next.searchParams.get('marker')).toBe(ids[1]);
    const p2 = await t.call('GET', next.pathname + next.search);
    expect(names(p2)).toEqual(['charlie', 'delta']);
    const rels2 = (p2.body.networks_links as { rel: string }[]).map((l) => l.rel);
    expect(rels2).toEqual(['next', 'previous']);
    const prev = new URL((p2.body.networks_links as { rel: string; href: string }[])[1]!.href);
    expect(prev.searchParams.get('page_reverse')).toBe('True');
    expect(names(await t.call('GET', prev.pathname + prev.search))).toEqual(['alpha', 'bravo']);
    const last = await q(`${five}&limit=2&marker=${ids[3]!}`);
    expect(names(last)).toEqual(['echo']);
    expect((last.body.networks_links as { rel: string }[]).map((l) => l.rel)).toEqual(['previous']);
    expect((await q('limit=-1')).status).toBe(400);
    expect((await q('limit=abc')).body.NeutronError.message).toMatch(/limit/i);
    expect((await q('marker=nope')).status).toBe(404);
  });
});

describe('odds and ends', () => {
  it('filters ports by group membership and fixed IP', async () => {
    const net = await post('/v2.0/networks', { network: { name: 'filters' } });
    const g = await post('/v2.0/security-groups', { security_group: { name: 'pf' } });
    const p1 = await post('/v2.0/ports', {
      port: {
        network_id: net['id'],
        fixed_ips: [{ ip_address: '10.7.0.1' }],
        security_groups: [g['id']],
      },
    });
    await post('/v2.0/ports', {
      port: { network_id: net['id'], fixed_ips: [{ ip_address: '10.7.0.2' }] },
    });
    const byGroup = await t.call('GET', `/v2.0/ports?security_groups=${String(g['id'])}`);
    expect(byGroup.body.ports.map((p: { id: string }) => p.id)).toEqual([p1['id']]);
    const byIp = await t.call('GET', `/v2.0/ports?fixed_ips=ip_address%3D10.7.0.1`);
    expect(byIp.body.ports.map((p: { id: string }) => p.id)).toEqual([p1['id']]);
    expect((await t.call('GET', '/v2.0/ports?fixed_ips=10.7.0.1')).status).toBe(400);
  });

  it('filters ports by MAC whatever its case', async () => {
    const net = await post('/v2.0/networks', { network: { name: 'macs' } });
    const p = await post('/v2.0/ports', {
      port: { network_id: net['id'], mac_address: 'fa:16:3e:aa:bb:0c' },
    });
    for (const mac of ['FA:16:3E:AA:BB:0C', 'fa:16:3e:aa:bb:0c', 'Fa:16:3e:Aa:bB:0c']) {
      const r = await t.call('GET', `/v2.0/ports?mac_address=${encodeURIComponent(mac)}`);
      expect(
        r.body.ports.map((x: { id: string }) => x.id),
        mac,
      ).toEqual([p['id']]);
    }
    expect((await t.call('GET', '/v2.0/ports?mac_address=nonsense')).body.ports).toEqual([]);
  });

  it('reads a body without Content-Type as JSON, as Neutron does', async () => {
    const r = await fetch(`${t.url}/v2.0/networks`, {
      method: 'POST',
      // A byte body: fetch adds no Content-Type of its own.
      body: new TextEncoder().encode(JSON.stringify({ network: { name: 'untyped' } })),
    });
    expect(r.status).toBe(201);
    expect(((await r.json()) as { network: { name: string } }).network.name).toBe('untyped');
  });

  it('honours If-Match on deletes and leaves the resource when it fails', async () => {
    const g = await post('/v2.0/security-groups', { security_group: { name: 'ifmatch' } });
    const path = `/v2.0/security-groups/${String(g['id'])}`;
    const stale = await t.call('DELETE', path, undefined, { 'If-Match': 'revision_number=7' });
    expect(stale.status).toBe(412);
    expect(stale.body.NeutronError.message).toBe('Constrained to 7, but current revision is 0');
    expect((await t.call('GET', path)).status).toBe(200);
    expect(
      (await t.call('DELETE', path, undefined, { 'If-Match': 'revision_number=0' })).status,
    ).toBe(204);
  });

  it('updates an address group name and shows single fields', async () => {
    const a = await post('/v2.0/address-groups', { address_group: { name: 'old' } });
    const u = await t.call('PUT', `/v2.0/address-groups/${String(a['id'])}`, {
      address_group: { name: 'new', description: 'd' },
    });
    expect(u.body.address_group).toMatchObject({
      name: 'new',
      description: 'd',
      addresses: [],
      revision_number: 1,
    });
    const ro = await t.call('PUT', `/v2.0/address-groups/${String(a['id'])}`, {
      address_group: { addresses: ['10.0.0.0/8'] },
    });
    expect(ro.status).toBe(400);
    expect(ro.body.NeutronError.message).toMatch(/read-only attribute addresses/);
    const shown = await t.call('GET', `/v2.0/address-groups/${String(a['id'])}?fields=name`);
    expect(shown.body).toEqual({ address_group: { name: 'new' } });
  });

  it('answers a body that is not a JSON object with a NeutronError', async () => {
    // Neutron reads every body as JSON, whatever its Content-Type says.
    for (const [type, body] of [
      ['application/xml', '<a/>'],
      ['text/plain', 'hello'],
    ]) {
      const r = await fetch(`${t.url}/v2.0/security-groups`, {
        method: 'POST',
        headers: { 'content-type': type! },
        body,
      });
      expect(r.status, type).toBe(400);
      expect(await r.json()).toMatchObject({
        NeutronError: {
          type: 'HTTPBadRequest',
          message: expect.stringMatching(/^Malformed request/),
        },
      });
    }
    const noObject = await t.raw('POST', '/v2.0/security-groups', '"text"');
    expect(noObject.status).toBe(400);
    expect(noObject.body.NeutronError.message).toMatch(/body.*object/);
    const arr = await t.call('POST', '/v2.0/security-groups', [1, 2]);
    expect(arr.status).toBe(400);
    const huge = await t.call('POST', '/v2.0/security-groups', {
      security_group: { description: 'x'.repeat(2 << 20) },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.NeutronError.type).toBe('HTTPRequestEntityTooLarge');
  });

  it('tags every kind of resource', async () => {
    const net = await post('/v2.0/networks', { network: { name: 'tags' } });
    const port = await post('/v2.0/ports', { port: { network_id: net['id'] } });
    const g = await post('/v2.0/security-groups', { security_group: { name: 'tags' } });
    const r = await post('/v2.0/security-group-rules', {
      security_group_rule: rule(g['id'] as string, { protocol: 'tcp' }),
    });
    const ag = await post('/v2.0/address-groups', { address_group: { name: 'tags' } });
    for (const [path, id] of [
      ['networks', net['id']],
      ['ports', port['id']],
      ['security-groups', g['id']],
      ['security-group-rules', r['id']],
      ['address-groups', ag['id']],
    ] as const) {
      expect((await t.call('PUT', `/v2.0/${path}/${String(id)}/tags/blue`)).status, path).toBe(201);
      expect(
        (await t.call('GET', `/v2.0/${path}?tags=blue`)).body[path.replaceAll('-', '_')].map(
          (x: { id: string }) => x.id,
        ),
      ).toEqual([id]);
    }
  });

  it('refuses an explicit id that exists, and echoes a request id', async () => {
    const g = await t.call('POST', '/v2.0/security-groups', {
      security_group: { name: 'fixed-id', id: 'my-fixed-id' },
    });
    expect(g.status).toBe(201);
    expect(g.body.security_group.id).toBe('my-fixed-id');
    const again = await t.call('POST', '/v2.0/security-groups', {
      security_group: { name: 'fixed-id-2', id: 'my-fixed-id' },
    });
    expect(again.status).toBe(409);
    expect(again.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
  });

  it('lets exactly one of many concurrent identical rule creates succeed', async () => {
    const g = await post('/v2.0/security-groups', { security_group: { name: 'race' } });
    const body = {
      security_group_rule: rule(g['id'] as string, {
        protocol: 'tcp',
        port_range_min: 5000,
        port_range_max: 5000,
      }),
    };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => t.call('POST', '/v2.0/security-group-rules', body)),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const list = await t.call(
      'GET',
      `/v2.0/security-group-rules?security_group_id=${String(g['id'])}&protocol=tcp`,
    );
    expect(list.body.security_group_rules).toHaveLength(1);
  });
});
