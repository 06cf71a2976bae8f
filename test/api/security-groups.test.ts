// Security groups and rules over real HTTP against a real SQLite file: every endpoint, the
// default group, Neutron's validation errors (type and status), duplicates, bulk
// all-or-nothing, immutability, revisions and If-Match, in-use and quota conflicts.
/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- response bodies are untyped JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/model/addr.js';
import { normalizePolicy } from '../../src/model/policy.js';
import { rule, startTestServer, type TestServer } from './support.js';

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
let t: TestServer;

async function createGroup(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await t.call('POST', '/v2.0/security-groups', { security_group: { name, ...extra } });
  expect(r.status).toBe(201);
  return r.body.security_group.id as string;
}

async function createRule(fields: Record<string, unknown>) {
  return t.call('POST', '/v2.0/security-group-rules', { security_group_rule: fields });
}

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

describe('discovery', () => {
  it('serves versions, resources, extensions (with source ports) and the OpenAPI document', async () => {
    const v = await t.call('GET', '/');
    expect(v.status).toBe(200);
    expect(v.body.versions[0]).toMatchObject({ id: 'v2.0', status: 'CURRENT' });
    expect(v.body.versions[0].links[0].href).toBe(`${t.url}/v2.0/`);
    const r = await t.call('GET', '/v2.0/');
    expect(r.body.resources.map((x: { collection: string }) => x.collection)).toContain(
      'security_group_rules',
    );
    const e = await t.call('GET', '/v2.0/extensions');
    const aliases = e.body.extensions.map((x: { alias: string }) => x.alias);
    expect(aliases).toEqual(
      expect.arrayContaining([
        'security-group',
        'security-groups-source-port-range',
        'standard-attr-tag',
      ]),
    );
    const one = await t.call('GET', '/v2.0/extensions/security-groups-source-port-range');
    expect(one.body.extension.description).toMatch(/source_port_range_min/);
    expect((await t.call('GET', '/v2.0/extensions/nope')).status).toBe(404);
    const doc = await t.call('GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    const post = doc.body.paths['/v2.0/security-group-rules'].post;
    const props =
      post.requestBody.content['application/json'].schema.properties.security_group_rule.properties;
    expect(Object.keys(props)).toEqual(
      expect.arrayContaining(['source_port_range_min', 'source_port_range_max', 'protocol']),
    );
    expect(doc.body.paths['/v2.0/security-groups/{id}'].delete.responses['409']).toBeDefined();
    expect(doc.body.paths['/v2.0/address-groups/{id}/add_addresses'].put).toBeDefined();
  });

  it('answers a known path asked with another method with 405 and Allow', async () => {
    const r = await t.call('PATCH', '/v2.0/security-groups/abc', { security_group: {} });
    expect(r.status).toBe(405);
    expect(r.body.NeutronError.type).toBe('HTTPMethodNotAllowed');
    expect(r.headers.get('allow')).toBe('DELETE, GET, HEAD, PUT');
    expect((await t.call('DELETE', '/v2.0/security-groups')).headers.get('allow')).toBe(
      'GET, HEAD, POST',
    );
  });

  it('answers unknown paths with a NeutronError 404', async () => {
    const r = await t.call('GET', '/v2.0/routers');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      NeutronError: {
        type: 'HTTPNotFound',
        message: expect.stringContaining('/v2.0/routers'),
        detail: '',
      },
    });
  });
});

describe('security groups', () => {
  it('creates the project default group on first use, with Neutron default rules', async () => {
    const list = await t.call('GET', '/v2.0/security-groups?name=default');
    expect(list.status).toBe(200);
    expect(list.body.security_groups).toHaveLength(1);
    const g = list.body.security_groups[0];
    expect(g).toMatchObject({
      name: 'default',
      project_id: 'default',
      tenant_id: 'default',
      stateful: true,
    });
    const shape = g.security_group_rules
      .map(
        (r: Record<string, unknown>) =>
          `${String(r['direction'])} ${String(r['ethertype'])} ${r['remote_group_id'] === g.id ? 'self' : String(r['remote_group_id'])} ${String(r['protocol'])} ${String(r['remote_ip_prefix'])}`,
      )
      .sort();
    expect(shape).toEqual([
      'egress IPv4 null null null',
      'egress IPv6 null null null',
      'ingress IPv4 self null null',
      'ingress IPv6 self null null',
    ]);
    expect(
      g.security_group_rules.every(
        (r: { belongs_to_default_sg: boolean }) => r.belongs_to_default_sg,
      ),
    ).toBe(true);
    // Listing again does not create a second one.
    expect(
      (await t.call('GET', '/v2.0/security-groups?name=default')).body.security_groups,
    ).toHaveLength(1);
  });

  it('creates, shows, updates and deletes a group', async () => {
    const c = await t.call('POST', '/v2.0/security-groups', {
      security_group: { name: 'web', description: 'front', stateful: false },
    });
    expect(c.status).toBe(201);
    const g = c.body.security_group;
    expect(g).toMatchObject({
      name: 'web',
      description: 'front',
      stateful: false,
      shared: false,
      tags: [],
      revision_number: 0,
    });
    expect(g.created_at).toMatch(TS);
    expect(g.updated_at).toMatch(TS);
    expect(
      g.security_group_rules
        .map((r: { direction: string; ethertype: string }) => `${r.direction} ${r.ethertype}`)
        .sort(),
    ).toEqual(['egress IPv4', 'egress IPv6']);
    const s = await t.call('GET', `/v2.0/security-groups/${g.id}?fields=id&fields=name`);
    expect(s.body).toEqual({ security_group: { id: g.id, name: 'web' } });

    const u = await t.call('PUT', `/v2.0/security-groups/${g.id}`, {
      security_group: { name: 'web2', stateful: true },
    });
    expect(u.status).toBe(200);
    expect(u.body.security_group).toMatchObject({
      name: 'web2',
      stateful: true,
      description: 'front',
      revision_number: 1,
    });

    const stale = await t.call(
      'PUT',
      `/v2.0/security-groups/${g.id}`,
      { security_group: { name: 'x' } },
      { 'If-Match': 'revision_number=0' },
    );
    expect(stale.status).toBe(412);
    expect(stale.body.NeutronError.type).toBe('RevisionNumberConstraintFailed');
    const fresh = await t.call(
      'PUT',
      `/v2.0/security-groups/${g.id}`,
      { security_group: { name: 'x' } },
      { 'If-Match': 'revision_number=1' },
    );
    expect(fresh.status).toBe(200);
    expect(fresh.body.security_group.revision_number).toBe(2);
    const bad = await t.call(
      'PUT',
      `/v2.0/security-groups/${g.id}`,
      { security_group: { name: 'y' } },
      { 'If-Match': 'etag' },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toMatch(/If-Match/);

    const ro = await t.call('PUT', `/v2.0/security-groups/${g.id}`, {
      security_group: { project_id: 'other' },
    });
    expect(ro.status).toBe(400);
    expect(ro.body.NeutronError.message).toMatch(/read-only attribute project_id/);

    expect((await t.call('DELETE', `/v2.0/security-groups/${g.id}`)).status).toBe(204);
    const gone = await t.call('GET', `/v2.0/security-groups/${g.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.NeutronError.type).toBe('SecurityGroupNotFound');
    const rules = await t.call('GET', `/v2.0/security-group-rules?security_group_id=${g.id}`);
    expect(rules.body.security_group_rules).toEqual([]);
  });

  it('keeps the default group special', async () => {
    const def = (await t.call('GET', '/v2.0/security-groups?name=default')).body.security_groups[0];
    const dup = await t.call('POST', '/v2.0/security-groups', {
      security_group: { name: 'default' },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('SecurityGroupDefaultAlreadyExists');
    const rename = await t.call('PUT', `/v2.0/security-groups/${def.id}`, {
      security_group: { name: 'other' },
    });
    expect(rename.status).toBe(409);
    expect(rename.body.NeutronError.type).toBe('SecurityGroupCannotUpdateDefault');
  });

  it('rejects bad group bodies naming the field', async () => {
    const r1 = await t.call('POST', '/v2.0/security-groups', { security_group: { name: 5 } });
    expect(r1.status).toBe(400);
    expect(r1.body.NeutronError.message).toMatch(/name/);
    const r2 = await t.call('POST', '/v2.0/security-groups', { security_group: { colour: 'red' } });
    expect(r2.status).toBe(400);
    expect(r2.body.NeutronError.message).toMatch(/colour/);
    const r3 = await t.call('POST', '/v2.0/security-groups', { group: {} });
    expect(r3.status).toBe(400);
    const r4 = await t.raw('POST', '/v2.0/security-groups', '{"security_group": ');
    expect(r4.status).toBe(400);
    expect(r4.body.NeutronError.type).toBe('HTTPBadRequest');
  });
});

describe('security group rules', () => {
  let sg: string;
  let other: string;
  beforeAll(async () => {
    sg = await createGroup('rules');
    other = await createGroup('peers');
  });

  it('creates a rule with every field, including source ports, and bumps the group revision', async () => {
    const before = (await t.call('GET', `/v2.0/security-groups/${sg}`)).body.security_group
      .revision_number;
    const r = await createRule(
      rule(sg, {
        protocol: 'TCP',
        ethertype: 'IPv4',
        port_range_min: 8000,
        port_range_max: 8999,
        source_port_range_min: 1024,
        source_port_range_max: 65535,
        remote_ip_prefix: '10.1.2.3/8',
        description: 'app',
      }),
    );
    expect(r.status).toBe(201);
    expect(r.body.security_group_rule).toMatchObject({
      security_group_id: sg,
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: 8000,
      port_range_max: 8999,
      source_port_range_min: 1024,
      source_port_range_max: 65535,
      // Neutron keeps the prefix as given and shows its network as normalized_cidr.
      remote_ip_prefix: '10.1.2.3/8',
      normalized_cidr: '10.0.0.0/8',
      remote_group_id: null,
      remote_address_group_id: null,
      description: 'app',
      project_id: 'default',
      revision_number: 0,
    });
    const id = r.body.security_group_rule.id as string;
    const shown = await t.call('GET', `/v2.0/security-group-rules/${id}`);
    expect(shown.body.security_group_rule).toEqual(r.body.security_group_rule);
    const after = (await t.call('GET', `/v2.0/security-groups/${sg}`)).body.security_group;
    expect(after.revision_number).toBe(before + 1);
    expect(after.security_group_rules.map((x: { id: string }) => x.id)).toContain(id);
  });

  it('keeps a prefix with host bits as given, matches its network, and keys duplicates as Neutron', async () => {
    const g = await createGroup('prefixes');
    const given = await createRule(
      rule(g, {
        protocol: 'tcp',
        remote_ip_prefix: '10.0.0.120/24',
        port_range_min: 9,
        port_range_max: 9,
      }),
    );
    expect(given.status).toBe(201);
    expect(given.body.security_group_rule).toMatchObject({
      remote_ip_prefix: '10.0.0.120/24',
      normalized_cidr: '10.0.0.0/24',
    });
    // Neutron's own normalized_cidr test: another host of the same network is another rule.
    const sibling = await createRule(
      rule(g, {
        protocol: 'tcp',
        remote_ip_prefix: '10.0.0.200/24',
        port_range_min: 9,
        port_range_max: 9,
      }),
    );
    expect(sibling.status).toBe(201);
    // The same text again (or spelled differently) is the same rule.
    for (const spelling of ['10.0.0.120/24', ' 10.0.0.120/24']) {
      const dup = await createRule(
        rule(g, {
          protocol: '6',
          remote_ip_prefix: spelling,
          port_range_min: 9,
          port_range_max: 9,
        }),
      );
      expect(dup.status, spelling).toBe(409);
      expect(dup.body.NeutronError.message).toContain(given.body.security_group_rule.id);
    }
    // A bare address gets its host prefix; IPv6 text is canonical.
    const host = await createRule(rule(g, { remote_ip_prefix: '192.168.7.7' }));
    expect(host.body.security_group_rule).toMatchObject({
      remote_ip_prefix: '192.168.7.7/32',
      normalized_cidr: '192.168.7.7/32',
    });
    const v6 = await createRule(
      rule(g, { ethertype: 'IPv6', remote_ip_prefix: 'FD00:0:0::1:5/64' }),
    );
    expect(v6.body.security_group_rule).toMatchObject({
      remote_ip_prefix: 'fd00::1:5/64',
      normalized_cidr: 'fd00::/64',
    });
    // Filters see the stored text.
    const listed = await t.call('GET', '/v2.0/security-group-rules?remote_ip_prefix=10.0.0.120/24');
    expect(listed.body.security_group_rules.map((r: { id: string }) => r.id)).toEqual([
      given.body.security_group_rule.id,
    ]);
    // What the agent enforces is the network.
    const { policy } = await t.server.store.snapshot();
    const normalized = normalizePolicy(policy);
    const enforced = normalized.groups
      .get(g)
      ?.rules.find((r) => r.id === given.body.security_group_rule.id);
    expect(enforced?.remote).toEqual({ kind: 'prefix', cidr: parseCidr('10.0.0.0/24') });
  });

  it('refuses a duplicate with 409 SecurityGroupRuleExists naming the existing rule', async () => {
    const first = await createRule(
      rule(sg, { protocol: 'udp', port_range_min: 53, port_range_max: 53 }),
    );
    expect(first.status).toBe(201);
    const dup = await createRule(
      rule(sg, { protocol: '17', port_range_min: '53', port_range_max: 53, description: 'other' }),
    );
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('SecurityGroupRuleExists');
    expect(dup.body.NeutronError.message).toContain(first.body.security_group_rule.id);
    // Same rule with a source-port range is a different rule.
    const withSrc = await createRule(
      rule(sg, {
        protocol: 'udp',
        port_range_min: 53,
        port_range_max: 53,
        source_port_range_min: 53,
        source_port_range_max: 53,
      }),
    );
    expect(withSrc.status).toBe(201);
  });

  const invalid: [string, Record<string, unknown>, number, string, RegExp?][] = [
    [
      'min > max',
      { protocol: 'tcp', port_range_min: 90, port_range_max: 80 },
      400,
      'SecurityGroupInvalidPortRange',
    ],
    // Neutron's _validate_port_range: 0 is an invalid port value for the port protocols
    // (whichever end, even alone); a value that is no port at all is one too, whatever the
    // protocol; a bad range of good ports is an invalid range.
    [
      'port 0',
      { protocol: 'tcp', port_range_min: 0, port_range_max: 80 },
      400,
      'SecurityGroupInvalidPortValue',
      /^Invalid value for port 0\. .*port_range_min and port_range_max must be between 1 and 65535/,
    ],
    [
      'port 0 as max',
      { protocol: 'udp', port_range_min: 1, port_range_max: 0 },
      400,
      'SecurityGroupInvalidPortValue',
    ],
    ['port 0 alone', { protocol: 'sctp', port_range_min: 0 }, 400, 'SecurityGroupInvalidPortValue'],
    [
      'source port 0',
      { protocol: 'tcp', source_port_range_min: 0, source_port_range_max: 9 },
      400,
      'SecurityGroupInvalidPortValue',
      /source_port_range_min/,
    ],
    [
      'port 65536',
      { protocol: 'tcp', port_range_min: 1, port_range_max: 65536 },
      400,
      'SecurityGroupInvalidPortValue',
      /^Invalid value for port 65536\./,
    ],
    [
      'negative port',
      { protocol: 'udp', port_range_min: -1, port_range_max: 80 },
      400,
      'SecurityGroupInvalidPortValue',
    ],
    [
      'icmp type 70000 (no port at all)',
      { protocol: 'icmp', port_range_min: 70000 },
      400,
      'SecurityGroupInvalidPortValue',
    ],
    [
      'ports without protocol',
      { port_range_min: 80, port_range_max: 80 },
      400,
      'SecurityGroupProtocolRequiredWithPorts',
    ],
    [
      'ports on gre',
      { protocol: 'gre', port_range_min: 80, port_range_max: 80 },
      400,
      'SecurityGroupInvalidProtocolForPort',
    ],
    [
      'source ports without protocol',
      { source_port_range_min: 1, source_port_range_max: 2 },
      400,
      'SecurityGroupProtocolRequiredWithPorts',
    ],
    [
      'source ports on icmp',
      { protocol: 'icmp', source_port_range_min: 1, source_port_range_max: 2 },
      400,
      'SecurityGroupInvalidProtocolForPort',
    ],
    [
      'source min > max',
      { protocol: 'udp', source_port_range_min: 9, source_port_range_max: 2 },
      400,
      'SecurityGroupInvalidPortRange',
    ],
    [
      'icmp type 256',
      { protocol: 'icmp', port_range_min: 256 },
      400,
      'SecurityGroupInvalidIcmpValue',
    ],
    [
      'icmp code without type',
      { protocol: 'icmp', port_range_max: 0 },
      400,
      'SecurityGroupMissingIcmpType',
    ],
    ['unknown protocol', { protocol: 'bogus' }, 400, 'SecurityGroupRuleInvalidProtocol', /bogus/],
    ['protocol 256', { protocol: 256 }, 400, 'SecurityGroupRuleInvalidProtocol'],
    [
      'IPv4 rule, IPv6 prefix',
      { ethertype: 'IPv4', remote_ip_prefix: 'fd00::/8' },
      400,
      'SecurityGroupRuleParameterConflict',
    ],
    [
      'IPv6 rule, IPv4 prefix',
      { ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/8' },
      400,
      'SecurityGroupRuleParameterConflict',
    ],
    [
      'IPv4 rule, ipv6-icmp',
      { ethertype: 'IPv4', protocol: 'ipv6-icmp' },
      400,
      'SecurityGroupEthertypeConflictWithProtocol',
    ],
    ['bad prefix', { remote_ip_prefix: '10.0.0.0/33' }, 400, 'HTTPBadRequest', /remote_ip_prefix/],
    ['bad direction', { direction: 'up' }, 400, 'HTTPBadRequest', /direction.*ingress, egress/],
    ['bad ethertype', { ethertype: 'IPX' }, 400, 'HTTPBadRequest', /ethertype/],
    [
      'port not a number',
      { protocol: 'tcp', port_range_min: 'eighty', port_range_max: 80 },
      400,
      'SecurityGroupInvalidPortValue',
      /Invalid value for port eighty\. port_range_min/,
    ],
    ['unknown field', { colour: 'red' }, 400, 'HTTPBadRequest', /colour/],
    ['unknown group', { security_group_id: 'nope' }, 404, 'SecurityGroupNotFound'],
    ['unknown remote group', { remote_group_id: 'nope' }, 404, 'SecurityGroupNotFound'],
    [
      'unknown remote address group',
      { remote_address_group_id: 'nope' },
      404,
      'AddressGroupNotFound',
    ],
  ];
  it.each(invalid)('rejects %s', async (_name, fields, status, type, message) => {
    const r = await createRule(rule(sg, fields));
    expect(r.status).toBe(status);
    expect(r.body.NeutronError.type).toBe(type);
    expect(r.body.NeutronError.detail).toBe('');
    if (message) expect(r.body.NeutronError.message).toMatch(message);
  });

  it('rejects two remotes at once', async () => {
    const r = await createRule(
      rule(sg, { remote_group_id: other, remote_ip_prefix: '10.0.0.0/8' }),
    );
    expect(r.status).toBe(400);
    expect(r.body.NeutronError.type).toBe('SecurityGroupRemoteGroupAndRemoteIpPrefix');
  });

  it('requires direction and security_group_id', async () => {
    const r = await createRule({ security_group_id: sg });
    expect(r.status).toBe(400);
    expect(r.body.NeutronError.message).toMatch(/direction/);
    const r2 = await createRule({ direction: 'ingress' });
    expect(r2.status).toBe(400);
    expect(r2.body.NeutronError.message).toMatch(/'security_group_id'/);
  });

  it('spells IPv6 ICMP as Neutron does and accepts ICMP type/code', async () => {
    const r = await createRule(
      rule(sg, { ethertype: 'IPv6', protocol: 'icmp', port_range_min: 128, port_range_max: 0 }),
    );
    expect(r.status).toBe(201);
    expect(r.body.security_group_rule).toMatchObject({
      protocol: 'ipv6-icmp',
      port_range_min: 128,
      port_range_max: 0,
    });
    const dup = await createRule(
      rule(sg, { ethertype: 'IPv6', protocol: '58', port_range_min: 128, port_range_max: 0 }),
    );
    expect(dup.status).toBe(409);
  });

  it('creates a bulk list in one transaction, all or nothing', async () => {
    const g = await createGroup('bulk');
    const revision = await t.server.store.revision();
    const bad = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rules: [
        rule(g, { protocol: 'tcp', port_range_min: 22, port_range_max: 22 }),
        rule(g, { protocol: 'tcp', port_range_min: 80, port_range_max: 70 }),
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toMatch(/security_group_rules\[1\]\.port_range_min/);
    const inPost = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rules: [rule(g, { protocol: 'tcp' }), rule(g, { protocol: '6' })],
    });
    expect(inPost.status).toBe(409);
    expect(inPost.body.NeutronError.type).toBe('DuplicateSecurityGroupRuleInPost');
    const missing = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rules: [rule(g, { protocol: 'tcp' }), rule('nope', { protocol: 'udp' })],
    });
    expect(missing.status).toBe(404);
    expect(await t.server.store.revision()).toBe(revision);

    const ok = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rules: [
        rule(g, { protocol: 'tcp', port_range_min: 22, port_range_max: 22 }),
        rule(g, { protocol: 'udp', remote_group_id: other }),
        rule(g, {
          direction: 'egress',
          protocol: 'sctp',
          source_port_range_min: 5000,
          source_port_range_max: 5001,
        }),
      ],
    });
    expect(ok.status).toBe(201);
    expect(ok.body.security_group_rules).toHaveLength(3);
    expect(await t.server.store.revision()).toBe(revision + 1);
    const both = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rule: rule(g),
      security_group_rules: [rule(g)],
    });
    expect(both.status).toBe(400);
  });

  it('treats rules as immutable and deletes them', async () => {
    const r = await createRule(
      rule(sg, { protocol: 'tcp', port_range_min: 443, port_range_max: 443 }),
    );
    const id = r.body.security_group_rule.id as string;
    const put = await t.call('PUT', `/v2.0/security-group-rules/${id}`, {
      security_group_rule: { description: 'x' },
    });
    expect(put.status).toBe(405);
    expect(put.body.NeutronError.type).toBe('HTTPMethodNotAllowed');
    expect((await t.call('DELETE', `/v2.0/security-group-rules/${id}`)).status).toBe(204);
    const gone = await t.call('GET', `/v2.0/security-group-rules/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.NeutronError.type).toBe('SecurityGroupRuleNotFound');
    expect((await t.call('DELETE', `/v2.0/security-group-rules/${id}`)).status).toBe(404);
  });

  it('deletes rules that name a deleted group as their remote', async () => {
    const target = await createGroup('target');
    const r = await createRule(rule(sg, { protocol: 'tcp', remote_group_id: target }));
    expect(r.status).toBe(201);
    expect((await t.call('DELETE', `/v2.0/security-groups/${target}`)).status).toBe(204);
    expect(
      (await t.call('GET', `/v2.0/security-group-rules/${r.body.security_group_rule.id}`)).status,
    ).toBe(404);
  });
});

describe('groups in use', () => {
  it('refuses to delete (or flip statefulness of) a group a port uses', async () => {
    const g = await createGroup('inuse');
    const net = await t.call('POST', '/v2.0/networks', { network: { name: 'n1' } });
    const port = await t.call('POST', '/v2.0/ports', {
      port: {
        network_id: net.body.network.id,
        fixed_ips: [{ ip_address: '10.0.0.5' }],
        security_groups: [g],
      },
    });
    expect(port.status).toBe(201);
    const del = await t.call('DELETE', `/v2.0/security-groups/${g}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError).toEqual({
      type: 'SecurityGroupInUse',
      message: `Security Group ${g} in use.`,
      detail: '',
    });
    const flip = await t.call('PUT', `/v2.0/security-groups/${g}`, {
      security_group: { stateful: false },
    });
    expect(flip.status).toBe(409);
    expect((await t.call('DELETE', `/v2.0/ports/${port.body.port.id}`)).status).toBe(204);
    expect((await t.call('DELETE', `/v2.0/security-groups/${g}`)).status).toBe(204);
  });
});

describe('quotas', () => {
  it('answers 409 OverQuota past the configured limits and writes nothing', async () => {
    const q = await startTestServer({ quotas: { security_group: 2, security_group_rule: 7 } });
    try {
      // default (4 rules) + one more group (2 egress rules) = 2 groups, 6 rules
      const a = await q.call('POST', '/v2.0/security-groups', { security_group: { name: 'a' } });
      expect(a.status).toBe(201);
      const b = await q.call('POST', '/v2.0/security-groups', { security_group: { name: 'b' } });
      expect(b.status).toBe(409);
      expect(b.body.NeutronError).toEqual({
        type: 'OverQuota',
        message: "Quota exceeded for resources: ['security_group'].",
        detail: '',
      });
      const gid = a.body.security_group.id as string;
      const revision = await q.server.store.revision();
      const bulk = await q.call('POST', '/v2.0/security-group-rules', {
        security_group_rules: [rule(gid, { protocol: 'tcp' }), rule(gid, { protocol: 'udp' })],
      });
      expect(bulk.status).toBe(409);
      expect(bulk.body.NeutronError.type).toBe('OverQuota');
      expect(await q.server.store.revision()).toBe(revision);
      expect(
        (
          await q.call('POST', '/v2.0/security-group-rules', {
            security_group_rule: rule(gid, { protocol: 'tcp' }),
          })
        ).status,
      ).toBe(201);
      // Concurrent creates cannot slip past the quota together.
      const r = await startTestServer({ quotas: { security_group: 4 } });
      try {
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            r.call('POST', '/v2.0/security-groups', { security_group: { name: `g${i}` } }),
          ),
        );
        expect(results.map((x) => x.status).sort()).toEqual([201, 201, 201, 409, 409, 409]);
      } finally {
        await r.stop();
      }
      const quota = await q.call('GET', '/v2.0/quotas/default');
      expect(quota.body.quota).toEqual({
        network: 100,
        port: 500,
        security_group: 2,
        security_group_rule: 7,
      });
    } finally {
      await q.stop();
    }
  });
});
