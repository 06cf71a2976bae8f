// Token auth and project isolation over real HTTP: 401 without a valid token, a project
// never sees or changes another's objects (404, as Neutron), admin sees all, reader cannot
// write (403); and noauth's X-Project-Id.
/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- response bodies are untyped JSON */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rule, startTestServer, writeTokens, type TestServer } from './support.js';

const A = { 'X-Auth-Token': 'tok-a' };
const B = { 'X-Auth-Token': 'tok-b' };
const ADMIN = { 'X-Auth-Token': 'tok-admin' };
const READER = { 'X-Auth-Token': 'tok-reader-a' };

let dir: string;
let t: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgflow-auth-'));
  const tokensFile = writeTokens(dir, {
    'tok-a': { project_id: 'proj-a', roles: ['member'] },
    'tok-b': { project_id: 'proj-b', roles: 'member' },
    'tok-admin': { project_id: 'ops', roles: ['admin'] },
    'tok-reader-a': { project_id: 'proj-a', roles: ['reader'] },
  });
  // The form `sgflow server --auth token --tokens FILE` passes.
  t = await startTestServer({ auth: 'token', tokensFile }, dir);
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('token auth', () => {
  it('answers 401 without a token or with an unknown one, but serves discovery', async () => {
    const none = await t.call('GET', '/v2.0/security-groups');
    expect(none.status).toBe(401);
    expect(none.body.NeutronError.type).toBe('HTTPUnauthorized');
    expect(
      (await t.call('GET', '/v2.0/security-groups', undefined, { 'X-Auth-Token': 'nope' })).status,
    ).toBe(401);
    expect(
      (await t.call('POST', '/v2.0/security-groups', { security_group: { name: 'x' } })).status,
    ).toBe(401);
    expect((await t.call('GET', '/')).status).toBe(200);
    expect((await t.call('GET', '/openapi.json')).status).toBe(200);
  });

  it('isolates projects: 404 for the other project, admin sees all, reader cannot write', async () => {
    const ga = await t.call(
      'POST',
      '/v2.0/security-groups',
      { security_group: { name: 'a-web' } },
      A,
    );
    expect(ga.status).toBe(201);
    expect(ga.body.security_group.project_id).toBe('proj-a');
    const id = ga.body.security_group.id as string;
    const ra = await t.call(
      'POST',
      '/v2.0/security-group-rules',
      { security_group_rule: rule(id, { protocol: 'tcp' }) },
      A,
    );
    expect(ra.status).toBe(201);
    const ruleId = ra.body.security_group_rule.id as string;

    // B sees its own default group only, and nothing of A's.
    const listB = await t.call('GET', '/v2.0/security-groups', undefined, B);
    expect(listB.body.security_groups.map((g: { project_id: string }) => g.project_id)).toEqual([
      'proj-b',
    ]);
    for (const [method, path, body] of [
      ['GET', `/v2.0/security-groups/${id}`, undefined],
      ['PUT', `/v2.0/security-groups/${id}`, { security_group: { name: 'pwned' } }],
      ['DELETE', `/v2.0/security-groups/${id}`, undefined],
      ['GET', `/v2.0/security-group-rules/${ruleId}`, undefined],
      ['DELETE', `/v2.0/security-group-rules/${ruleId}`, undefined],
      ['PUT', `/v2.0/security-groups/${id}/tags/x`, undefined],
    ] as const) {
      const r = await t.call(method, path, body, B);
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    const intoA = await t.call(
      'POST',
      '/v2.0/security-group-rules',
      { security_group_rule: rule(id) },
      B,
    );
    expect(intoA.status).toBe(404);
    expect(intoA.body.NeutronError.type).toBe('SecurityGroupNotFound');
    const bRules = await t.call('GET', '/v2.0/security-group-rules', undefined, B);
    expect(
      bRules.body.security_group_rules.every(
        (r: { project_id: string }) => r.project_id === 'proj-b',
      ),
    ).toBe(true);
    // B may not name A's group as a remote either.
    const bDefault = listB.body.security_groups[0].id as string;
    const remote = await t.call(
      'POST',
      '/v2.0/security-group-rules',
      { security_group_rule: rule(bDefault, { remote_group_id: id }) },
      B,
    );
    expect(remote.status).toBe(404);
    // B may not create in A's project.
    const spoof = await t.call(
      'POST',
      '/v2.0/security-groups',
      { security_group: { name: 'x', project_id: 'proj-a' } },
      B,
    );
    expect(spoof.status).toBe(400);

    // The group is untouched.
    const still = await t.call('GET', `/v2.0/security-groups/${id}`, undefined, A);
    expect(still.body.security_group).toMatchObject({ name: 'a-web', revision_number: 1 });

    // Admin sees both projects and can act on A's group; can create for another project.
    const all = await t.call('GET', '/v2.0/security-groups', undefined, ADMIN);
    const projects = new Set(
      all.body.security_groups.map((g: { project_id: string }) => g.project_id),
    );
    expect(projects).toEqual(new Set(['proj-a', 'proj-b', 'ops']));
    expect(
      (await t.call('GET', `/v2.0/security-groups?project_id=proj-a&name=a-web`, undefined, ADMIN))
        .body.security_groups,
    ).toHaveLength(1);
    const forA = await t.call(
      'POST',
      '/v2.0/security-groups',
      { security_group: { name: 'by-admin', project_id: 'proj-a' } },
      ADMIN,
    );
    expect(forA.status).toBe(201);
    expect(forA.body.security_group.project_id).toBe('proj-a');

    // Reader of A reads A, writes nothing.
    expect((await t.call('GET', `/v2.0/security-groups/${id}`, undefined, READER)).status).toBe(
      200,
    );
    const w = await t.call(
      'PUT',
      `/v2.0/security-groups/${id}`,
      { security_group: { name: 'r' } },
      READER,
    );
    expect(w.status).toBe(403);
    expect(w.body.NeutronError.type).toBe('PolicyNotAuthorized');
    expect(
      (await t.call('DELETE', `/v2.0/security-group-rules/${ruleId}`, undefined, READER)).status,
    ).toBe(403);
    expect(
      (await t.call('POST', '/v2.0/security-groups', { security_group: { name: 'r' } }, READER))
        .status,
    ).toBe(403);
  });

  it('isolates networks (unless shared) and ports', async () => {
    const na = await t.call('POST', '/v2.0/networks', { network: { name: 'a-net' } }, A);
    const shared = await t.call(
      'POST',
      '/v2.0/networks',
      { network: { name: 'shared', shared: true } },
      ADMIN,
    );
    expect(shared.status).toBe(201);
    const notAdmin = await t.call(
      'POST',
      '/v2.0/networks',
      { network: { name: 's', shared: true } },
      A,
    );
    expect(notAdmin.status).toBe(403);
    const nets = await t.call('GET', '/v2.0/networks', undefined, B);
    expect(nets.body.networks.map((n: { name: string }) => n.name)).toEqual(['shared']);
    const onA = await t.call(
      'POST',
      '/v2.0/ports',
      { port: { network_id: na.body.network.id } },
      B,
    );
    expect(onA.status).toBe(404);
    const onShared = await t.call(
      'POST',
      '/v2.0/ports',
      { port: { network_id: shared.body.network.id, fixed_ips: [{ ip_address: '10.1.0.2' }] } },
      B,
    );
    expect(onShared.status).toBe(201);
    expect(onShared.body.port.project_id).toBe('proj-b');
    expect((await t.call('GET', `/v2.0/ports/${onShared.body.port.id}`, undefined, A)).status).toBe(
      404,
    );
    expect((await t.call('GET', '/v2.0/ports', undefined, A)).body.ports).toEqual([]);
  });
});

describe('admin-only attributes', () => {
  it('keeps quotas of other projects, provider attributes and MAC changes to admins', async () => {
    expect((await t.call('GET', '/v2.0/quotas/proj-a', undefined, A)).status).toBe(200);
    const other = await t.call('GET', '/v2.0/quotas/proj-b', undefined, A);
    expect(other.status).toBe(403);
    expect(other.body.NeutronError.type).toBe('PolicyNotAuthorized');
    expect((await t.call('GET', '/v2.0/quotas/proj-b', undefined, ADMIN)).status).toBe(200);
    const vlan = await t.call(
      'POST',
      '/v2.0/networks',
      { network: { 'provider:segmentation_id': 7 } },
      A,
    );
    expect(vlan.status).toBe(403);
    const net = await t.call('POST', '/v2.0/networks', { network: { name: 'mine' } }, A);
    const port = await t.call(
      'POST',
      '/v2.0/ports',
      { port: { network_id: net.body.network.id } },
      A,
    );
    const mac = await t.call(
      'PUT',
      `/v2.0/ports/${port.body.port.id}`,
      { port: { mac_address: 'fa:16:3e:11:22:33' } },
      A,
    );
    expect(mac.status).toBe(403);
    const byAdmin = await t.call(
      'PUT',
      `/v2.0/ports/${port.body.port.id}`,
      { port: { mac_address: 'fa:16:3e:11:22:33' } },
      ADMIN,
    );
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.port.mac_address).toBe('fa:16:3e:11:22:33');
  });

  it('refuses to start with a bad tokens file, naming the problem', async () => {
    const file = writeTokens(dir, { t1: { project_id: 'p', roles: ['root'] } });
    await expect(startTestServer({ auth: 'token' })).rejects.toThrow(
      /--tokens: --auth token needs a tokens file/,
    );
    await expect(startTestServer({ auth: { mode: 'token', tokensFile: file } })).rejects.toThrow(
      /role "root" is not one of admin, member, reader/,
    );
  });
});

describe('noauth', () => {
  it('treats every caller as admin of X-Project-Id (or the default project)', async () => {
    const n = await startTestServer();
    try {
      const g = await n.call(
        'POST',
        '/v2.0/security-groups',
        { security_group: { name: 'p1' } },
        { 'X-Project-Id': 'p1' },
      );
      expect(g.body.security_group.project_id).toBe('p1');
      const d = await n.call('POST', '/v2.0/security-groups', { security_group: { name: 'd' } });
      expect(d.body.security_group.project_id).toBe('default');
      const all = await n.call('GET', '/v2.0/security-groups?fields=project_id');
      const projects = new Set(
        all.body.security_groups.map((x: { project_id: string }) => x.project_id),
      );
      expect(projects).toEqual(new Set(['p1', 'default']));
      expect(
        (await n.call('GET', '/v2.0/security-groups', undefined, { 'X-Project-Id': 'bad id!' }))
          .status,
      ).toBe(400);
    } finally {
      await n.stop();
    }
  });
});
