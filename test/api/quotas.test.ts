// Neutron's quota API over real HTTP on a real SQLite file: a project's limits (its
// overrides over the server's configurable defaults), defaults, usage details, the admin's
// list / set / reset; overrides that are enforced (also under concurrent creates), durable
// across a restart, and invisible to the agents' change feed; who may do what; and the
// real client, openstacksdk (the `openstack quota` commands cannot run without Keystone and
// Nova: see the last test).
/* eslint-disable @typescript-eslint/no-unsafe-call -- response bodies are untyped JSON */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/api/index.js';
import { SgflowError } from '../../src/model/errors.js';
import { startTestServer, writeTokens, type TestServer } from './support.js';

const run = promisify(execFile);

const NEUTRON_DEFAULTS = { network: 100, port: 500, security_group: 10, security_group_rule: 100 };

describe('quota API (noauth: admin)', () => {
  let t: TestServer;
  beforeAll(async () => {
    // The server's defaults are configurable (`sgflow server --quota port=50`).
    t = await startTestServer({ quotas: { port: 50 } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('shows the defaults for a project without overrides, and the configured defaults', async () => {
    const q = await t.call('GET', '/v2.0/quotas/fresh');
    expect(q.status).toBe(200);
    expect(q.body).toEqual({ quota: { ...NEUTRON_DEFAULTS, port: 50 } });
    expect((await t.call('GET', '/v2.0/quotas/fresh/default')).body).toEqual(q.body);
    expect((await t.call('GET', '/v2.0/quotas')).body).toEqual({ quotas: [] });
    expect((await t.call('GET', '/v2.0/quotas/tenant')).body).toEqual({
      tenant: { tenant_id: 'default' },
    });
    expect((await t.call('GET', '/v2.0/quotas/project')).body).toEqual({
      project: { project_id: 'default' },
    });
  });

  it('sets only the named limits, lists the project, resets it with DELETE', async () => {
    const set = await t.call('PUT', '/v2.0/quotas/p1', {
      quota: { security_group: 3, network: '-1' },
    });
    expect(set.status).toBe(200);
    expect(set.body.quota).toEqual({
      ...NEUTRON_DEFAULTS,
      port: 50,
      security_group: 3,
      network: -1,
    });
    const more = await t.call('PUT', '/v2.0/quotas/p1', { quota: { port: 7 } });
    expect(more.body.quota).toMatchObject({ security_group: 3, network: -1, port: 7 });
    expect((await t.call('GET', '/v2.0/quotas/p1')).body).toEqual(more.body);
    expect((await t.call('GET', '/v2.0/quotas')).body).toEqual({
      quotas: [{ ...more.body.quota, project_id: 'p1', tenant_id: 'p1' }],
    });
    // The defaults stay the defaults.
    expect((await t.call('GET', '/v2.0/quotas/p1/default')).body.quota.port).toBe(50);
    expect((await t.call('DELETE', '/v2.0/quotas/p1')).status).toBe(204);
    expect((await t.call('GET', '/v2.0/quotas/p1')).body.quota).toEqual({
      ...NEUTRON_DEFAULTS,
      port: 50,
    });
    const again = await t.call('DELETE', '/v2.0/quotas/p1');
    expect(again.status).toBe(404);
    expect(again.body.NeutronError).toEqual({
      type: 'TenantQuotaNotFound',
      message: 'Quota for tenant p1 could not be found.',
      detail: '',
    });
    expect((await t.call('GET', '/v2.0/quotas')).body).toEqual({ quotas: [] });
  });

  it('refuses bad limits naming the field, and writes nothing', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ port: -2 }, /Invalid input for port\. Reason: '-2' is too small - must be at least '-1'/],
      [{ network: 2147483648 }, /Invalid input for network\. Reason: .*too large/],
      [
        { security_group: 'ten' },
        /Invalid input for security_group\. Reason: 'ten' is not an integer/,
      ],
      [{ security_group_rule: 1.5 }, /security_group_rule.*not an integer/],
      [{ router: 1 }, /Unrecognized attribute\(s\) 'router'/],
    ];
    for (const [quota, message] of cases) {
      const r = await t.call('PUT', '/v2.0/quotas/p2', { quota });
      expect(r.status, JSON.stringify(quota)).toBe(400);
      expect(r.body.NeutronError.message).toMatch(message);
    }
    const noEnvelope = await t.call('PUT', '/v2.0/quotas/p2', { port: 1 });
    expect(noEnvelope.status).toBe(400);
    const badProject = await t.call('PUT', '/v2.0/quotas/has%20space', { quota: { port: 1 } });
    expect(badProject.status).toBe(400);
    expect(badProject.body.NeutronError.message).toMatch(/project_id/);
    // Half-valid: the good limit is not written either.
    const half = await t.call('PUT', '/v2.0/quotas/p2', { quota: { port: 5, network: 'x' } });
    expect(half.status).toBe(400);
    expect((await t.call('GET', '/v2.0/quotas')).body).toEqual({ quotas: [] });
    expect((await t.call('POST', '/v2.0/quotas', { quota: {} })).status).toBe(501);
  });

  it('enforces a project override (others keep the defaults); -1 is unlimited', async () => {
    const P = { 'X-Project-Id': 'small' };
    await t.call('PUT', '/v2.0/quotas/small', { quota: { network: 1 } });
    expect((await t.call('POST', '/v2.0/networks', { network: { name: 'a' } }, P)).status).toBe(
      201,
    );
    const over = await t.call('POST', '/v2.0/networks', { network: { name: 'b' } }, P);
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
    expect(
      (
        await t.call(
          'POST',
          '/v2.0/networks',
          { network: { name: 'b' } },
          { 'X-Project-Id': 'big' },
        )
      ).status,
    ).toBe(201);
    await t.call('PUT', '/v2.0/quotas/small', { quota: { network: -1 } });
    for (const name of ['b', 'c', 'd']) {
      expect((await t.call('POST', '/v2.0/networks', { network: { name } }, P)).status).toBe(201);
    }
    const details = await t.call('GET', '/v2.0/quotas/small/details');
    expect(details.body.quota).toEqual({
      network: { used: 4, limit: -1, reserved: 0 },
      port: { used: 0, limit: 50, reserved: 0 },
      security_group: { used: 0, limit: 10, reserved: 0 },
      security_group_rule: { used: 0, limit: 100, reserved: 0 },
    });
  });

  it('check_limit refuses a limit below usage; without it the limit is set', async () => {
    const P = { 'X-Project-Id': 'busy' };
    for (const name of ['x', 'y']) {
      await t.call('POST', '/v2.0/networks', { network: { name } }, P);
    }
    const refused = await t.call('PUT', '/v2.0/quotas/busy', {
      quota: { network: 1, check_limit: true },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.NeutronError.message).toBe(
      'Quota limit 1 for network must be greater than or equal to already used 2',
    );
    expect((await t.call('GET', '/v2.0/quotas/busy')).body.quota.network).toBe(100);
    const forced = await t.call('PUT', '/v2.0/quotas/busy', { quota: { network: 1, force: true } });
    expect(forced.body.quota.network).toBe(1);
    expect((await t.call('POST', '/v2.0/networks', { network: {} }, P)).status).toBe(409);
  });

  it('keeps no two concurrent creates past a lowered limit', async () => {
    const P = { 'X-Project-Id': 'race' };
    await t.call('PUT', '/v2.0/quotas/race', { quota: { security_group: 3 } });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.call('POST', '/v2.0/security-groups', { security_group: { name: `g${i}` } }, P),
      ),
    );
    // The default group counts: 1 + 2 created = 3.
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 409, 409, 409, 409, 409, 409]);
  });

  it('keeps overrides across a restart, outside the revision and change feed', async () => {
    const revision = await t.server.store.revision();
    await t.call('PUT', '/v2.0/quotas/durable', { quota: { port: 2 } });
    await t.call('DELETE', '/v2.0/quotas/small');
    expect(await t.server.store.revision()).toBe(revision);
    const changes = await t.server.store.changesSince(0);
    expect(changes.every((c) => c.kind !== ('quota' as string))).toBe(true);
    await t.restart();
    expect((await t.call('GET', '/v2.0/quotas/durable')).body.quota.port).toBe(2);
    expect(
      (await t.call('GET', '/v2.0/quotas')).body.quotas
        .map((q: { project_id: string }) => q.project_id)
        .sort(),
    ).toEqual(['busy', 'durable', 'race']);
  });
});

describe('quota API (token auth)', () => {
  let dir: string;
  let t: TestServer;
  const A = { 'X-Auth-Token': 'tok-a' };
  const READER = { 'X-Auth-Token': 'tok-reader' };
  const ADMIN = { 'X-Auth-Token': 'tok-admin' };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sgflow-quota-'));
    const tokensFile = writeTokens(dir, {
      'tok-a': { project_id: 'proj-a', roles: ['member'] },
      'tok-reader': { project_id: 'proj-a', roles: ['reader'] },
      'tok-admin': { project_id: 'ops', roles: ['admin'] },
    });
    t = await startTestServer({ auth: 'token', tokensFile }, dir);
  });
  afterAll(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a project read its own quotas; the rest is for admins', async () => {
    expect((await t.call('PUT', '/v2.0/quotas/proj-a', { quota: { port: 3 } }, ADMIN)).status).toBe(
      200,
    );
    for (const h of [A, READER]) {
      expect((await t.call('GET', '/v2.0/quotas/proj-a', undefined, h)).body.quota.port).toBe(3);
      expect((await t.call('GET', '/v2.0/quotas/proj-a/default', undefined, h)).status).toBe(200);
      const details = await t.call('GET', '/v2.0/quotas/proj-a/details', undefined, h);
      expect(details.body.quota.port).toEqual({ used: 0, limit: 3, reserved: 0 });
    }
    const denied: [string, string, unknown, string][] = [
      ['GET', '/v2.0/quotas/ops', undefined, 'PolicyNotAuthorized'],
      ['GET', '/v2.0/quotas/ops/default', undefined, 'PolicyNotAuthorized'],
      ['GET', '/v2.0/quotas/ops/details', undefined, 'AdminRequired'],
      ['GET', '/v2.0/quotas', undefined, 'PolicyNotAuthorized'],
      ['PUT', '/v2.0/quotas/proj-a', { quota: { port: 100 } }, 'PolicyNotAuthorized'],
      ['DELETE', '/v2.0/quotas/proj-a', undefined, 'PolicyNotAuthorized'],
    ];
    for (const [method, path, body, type] of denied) {
      const r = await t.call(method, path, body, A);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.NeutronError.type).toBe(type);
    }
    expect((await t.call('GET', '/v2.0/quotas/proj-a', undefined, ADMIN)).body.quota.port).toBe(3);
    expect((await t.call('GET', '/v2.0/quotas', undefined, ADMIN)).body.quotas).toHaveLength(1);
    expect((await t.call('DELETE', '/v2.0/quotas/proj-a', undefined, ADMIN)).status).toBe(204);
  });
});

describe('quota defaults given in code', () => {
  it('refuses a bad default naming the resource', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgflow-quota-'));
    try {
      for (const [quotas, field] of [
        [{ port: -5 }, 'port'],
        [{ routers: 3 }, 'routers'],
      ] as const) {
        const err = await startServer({
          db: join(dir, 'x.db'),
          listen: '127.0.0.1:0',
          logger: false,
          quotas: quotas as Record<string, number>,
        }).then(
          (s) => s.close().then(() => undefined),
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SgflowError);
        expect((err as SgflowError).field).toBe(field);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('real clients', { timeout: 120_000 }, () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('openstacksdk shows, sets, details, lists and resets quotas', async () => {
    const script = `
import json, sys, openstack
conn = openstack.connection.Connection(auth_type='none', auth={'endpoint': sys.argv[1]})
net = conn.network
out = {}
out['show'] = net.get_quota('demo').ports
out['set'] = net.update_quota('demo', ports=5, security_group_rules=-1).ports
out['details'] = net.get_quota('demo', details=True).ports
out['default'] = net.get_quota_default('demo').ports
out['list'] = [(q.project_id, q.ports, q.security_group_rules) for q in net.quotas()]
net.delete_quota('demo')
out['reset'] = net.get_quota('demo').ports
print(json.dumps(out))
`;
    const r = await run('/usr/bin/python3', ['-c', script, t.url], { timeout: 60_000 });
    expect(JSON.parse(r.stdout)).toEqual({
      show: 500,
      set: 5,
      details: { used: 0, limit: 5, reserved: 0 },
      default: 500,
      list: [['demo', 5, -1]],
      reset: 500,
    });
  });

  it('the openstack CLI cannot: `quota show/set` also ask Nova and Keystone', async () => {
    // `quota show` reads compute's os-quota-sets before Neutron's quotas, and `quota set`
    // looks the project up in Keystone; with --os-auth-type none every service is our
    // endpoint, which serves neither. This pins that limit down, so the docs stay true.
    const env = { ...process.env, OS_AUTH_TYPE: 'none', OS_ENDPOINT: t.url, OS_CLOUD: '' };
    const show = await run('openstack', ['quota', 'show'], { env, timeout: 60_000 }).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(show).toMatch(/os-quota-sets/);
    const set = await run('openstack', ['quota', 'set', '--ports', '5', 'default'], {
      env,
      timeout: 60_000,
    }).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(set).toMatch(/No project with a name or ID of 'default'/);
  });
});
