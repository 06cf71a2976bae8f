// The store's change feed behind the API: every API write is one revision; an agent's
// snapshot plus the changes after it reproduce the state; the feed survives a server
// restart; a watcher on its own connection to the same file sees API writes as they happen.
/* eslint-disable @typescript-eslint/no-unsafe-argument -- response bodies are untyped JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizePolicy } from '../../src/model/policy.js';
import { SqliteStore, type Change } from '../../src/store/index.js';
import { rule, startTestServer, type TestServer } from './support.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.stop();
});

describe('change feed', () => {
  it('follows API writes across a restart, consistently with snapshots', async () => {
    const g = await t.call('POST', '/v2.0/security-groups', { security_group: { name: 'feed' } });
    const gid = g.body.security_group.id as string;
    const snap = await t.server.store.snapshot();
    expect(snap.policy.security_groups.map((x) => x.name).sort()).toEqual(['default', 'feed']);

    const bulk = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rules: [
        rule(gid, { protocol: 'tcp', port_range_min: 22, port_range_max: 22 }),
        rule(gid, { protocol: 'udp', source_port_range_min: 53, source_port_range_max: 53 }),
      ],
    });
    expect(bulk.status).toBe(201);
    const afterBulk = await t.server.store.changesSince(snap.revision);
    // One transaction: one revision carrying both rules and the group's revision bump.
    expect(new Set(afterBulk.map((c) => c.revision))).toEqual(new Set([snap.revision + 1]));
    expect(afterBulk.map((c) => `${c.op} ${c.kind}`).sort()).toEqual([
      'put security_group',
      'put security_group_rule',
      'put security_group_rule',
    ]);

    await t.restart();
    const del = await t.call('DELETE', `/v2.0/security-groups/${gid}`);
    expect(del.status).toBe(204);
    const changes = await t.server.store.changesSince(snap.revision);
    expect(
      changes
        .filter((c) => c.op === 'delete')
        .map((c) => c.kind)
        .sort(),
    ).toEqual([
      'security_group',
      'security_group_rule',
      'security_group_rule',
      'security_group_rule',
      'security_group_rule',
    ]);

    // Replaying the feed on the snapshot gives the current state.
    const state = new Map<string, unknown>();
    for (const kind of ['security_groups', 'security_group_rules'] as const) {
      for (const v of snap.policy[kind]) state.set(`${kind}/${v.id}`, v);
    }
    for (const c of changes) {
      if (c.kind !== 'security_group' && c.kind !== 'security_group_rule') continue;
      const key = `${c.kind}s/${c.id}`;
      if (c.op === 'put') state.set(key, c.value);
      else state.delete(key);
    }
    const now = await t.server.store.snapshot();
    const expected = new Map<string, unknown>();
    for (const kind of ['security_groups', 'security_group_rules'] as const) {
      for (const v of now.policy[kind]) expected.set(`${kind}/${v.id}`, v);
    }
    expect(state).toEqual(expected);
  });

  it('a watcher on another connection sees each API write as one batch', async () => {
    const watcher = new SqliteStore({ path: t.db, pollIntervalMs: 20 });
    try {
      const from = await watcher.revision();
      const batches: (readonly Change[])[] = [];
      const got = new Promise<void>((resolve) => {
        const w = watcher.watch(from, (b) => {
          batches.push(b);
          if (b.some((c) => c.kind === 'port')) {
            w.close();
            resolve();
          }
        });
      });
      const net = await t.call('POST', '/v2.0/networks', { network: { name: 'w' } });
      await t.call('POST', '/v2.0/ports', {
        port: { network_id: net.body.network.id, fixed_ips: [{ ip_address: '10.0.0.9' }] },
      });
      await got;
      expect(batches.map((b) => b.map((c) => c.kind))).toEqual([['network'], ['port']]);
      expect(batches[1]![0]!.value).toMatchObject({ fixed_ips: [{ ip_address: '10.0.0.9' }] });
    } finally {
      await watcher.close();
    }
  });

  it('gives the agent a snapshot the model normalises: groups, rules with source ports, ports', async () => {
    const net = await t.call('POST', '/v2.0/networks', {
      network: { name: 'agent', 'provider:segmentation_id': 42 },
    });
    const ag = await t.call('POST', '/v2.0/address-groups', {
      address_group: { name: 'ag', addresses: ['192.0.2.0/24'] },
    });
    const g = await t.call('POST', '/v2.0/security-groups', { security_group: { name: 'agent' } });
    const gid = g.body.security_group.id as string;
    const r = await t.call('POST', '/v2.0/security-group-rules', {
      security_group_rules: [
        rule(gid, {
          protocol: 'udp',
          port_range_min: 53,
          port_range_max: 53,
          source_port_range_min: 1024,
          source_port_range_max: 2047,
        }),
        rule(gid, { protocol: 'tcp', remote_address_group_id: ag.body.address_group.id }),
      ],
    });
    expect(r.status).toBe(201);
    const port = await t.call('POST', '/v2.0/ports', {
      port: {
        network_id: net.body.network.id,
        fixed_ips: [{ ip_address: '10.2.0.5' }],
        security_groups: [gid],
        'binding:host_id': 'h1',
      },
    });
    expect(port.status).toBe(201);
    const policy = normalizePolicy((await t.server.store.snapshot()).policy);
    const rules = policy.groups.get(gid)!.rules;
    const udp = rules.find((x) => x.protocol === 17)!;
    expect(udp).toMatchObject({
      dstPorts: { min: 53, max: 53 },
      srcPorts: { min: 1024, max: 2047 },
      direction: 'ingress',
    });
    expect(rules.find((x) => x.protocol === 6)!.remote).toEqual({
      kind: 'addressGroup',
      addressGroupId: ag.body.address_group.id,
    });
    expect(policy.ports.get(port.body.port.id)).toMatchObject({
      groupIds: [gid],
      portSecurity: true,
    });
    expect(policy.networks.get(net.body.network.id)).toMatchObject({ vlan: 42 });
  });
});
