/**
 * The OVSDB client against a real ovsdb-server: bridge creation on an empty database, the
 * monitor cache across a server restart (with changes made while the client was away), a
 * dropped connection, and echo answered over a tcp remote with an inactivity probe.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsdbClient, type ChangeEvent } from '../../src/ovsdb/client.js';
import type { Row } from '../../src/ovsdb/datum.js';
import { ensureBridge, VSWITCH_DB } from '../../src/ovsdb/vswitch.js';
import { PrivateOvsdb } from './server.js';

let db: PrivateOvsdb;
let client: OvsdbClient;
const events: ChangeEvent[] = [];

function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      const v = probe();
      if (v !== undefined) resolve(v);
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

function next(event: 'connected' | 'disconnected'): Promise<void> {
  return new Promise((resolve) => client.once(event, () => resolve()));
}

function bridgeByName(name: string): [string, Row] | undefined {
  return [...client.rows('mon', 'Bridge')].find(([, r]) => r['name'] === name);
}

/** The monitor cache, as plain comparable data. */
function snapshot(c: OvsdbClient, id: string): unknown {
  return ['Bridge', 'Port', 'Interface'].map((t) =>
    [...c.rows(id, t)]
      .map(([uuid, row]) => [
        uuid,
        JSON.stringify(row, (_k, v: unknown) => (v instanceof Map ? [...v] : v)),
      ])
      .sort(),
  );
}

beforeAll(async () => {
  db = await PrivateOvsdb.start();
  client = await OvsdbClient.connect(db.remote, { backoffMinMs: 50, backoffMaxMs: 400 });
  client.on('change', (e) => events.push(e));
});

afterAll(async () => {
  await client?.close();
  await db?.stop();
});

describe('OvsdbClient against ovsdb-server', () => {
  it('lists databases and reads the schema', async () => {
    expect(await client.listDbs()).toContain('Open_vSwitch');
    const schema = await client.getSchema(VSWITCH_DB);
    expect(Object.keys(schema.tables)).toEqual(
      expect.arrayContaining(['Bridge', 'Port', 'Interface']),
    );
  });

  it('creates a bridge the way ovs-vsctl add-br does, on a database with no root row', async () => {
    await ensureBridge(client, 'br0', {
      datapathType: 'netdev',
      protocols: ['OpenFlow13', 'OpenFlow15'],
    });
    expect(await db.vsctl('list-br')).toBe('br0');
    expect(await db.vsctl('get-fail-mode', 'br0')).toBe('secure');
    // Bridge br0 → Port br0 → Interface br0 (internal), as add-br links them.
    const portUuid = await db.vsctl('get', 'Port', 'br0', '_uuid');
    expect(await db.vsctl('get', 'Bridge', 'br0', 'ports')).toBe(`[${portUuid}]`);
    const ifaceUuid = await db.vsctl('get', 'Interface', 'br0', '_uuid');
    expect(await db.vsctl('get', 'Port', 'br0', 'interfaces')).toBe(`[${ifaceUuid}]`);
    expect(await db.vsctl('get', 'Interface', 'br0', 'type')).toBe('internal');
    expect(await db.vsctl('get', 'Bridge', 'br0', 'protocols')).toBe('[OpenFlow13, OpenFlow15]');
    // Nothing to do the second time: only reads reach the server.
    const writes = (): number =>
      (
        db
          .log()
          .match(/received request, method="transact".*"op":"(update|insert|mutate|delete)"/g) ?? []
      ).length;
    const before = writes();
    expect(before).toBe(1);
    await ensureBridge(client, 'br0', {
      datapathType: 'netdev',
      protocols: ['OpenFlow15', 'OpenFlow13'],
    });
    expect(writes()).toBe(before);
  });

  it('starts a monitor whose cache holds the rows, then follows changes', async () => {
    const mon = await client.monitorCondSince(VSWITCH_DB, 'mon', {
      Bridge: { columns: ['name', 'ports', 'fail_mode', 'external_ids'] },
      Port: { columns: ['name', 'interfaces'] },
      Interface: { columns: ['name', 'ofport', 'external_ids', 'type'] },
    });
    expect(mon.tables.get('Bridge')?.size).toBe(1);
    expect(bridgeByName('br0')?.[1]['fail_mode']).toBe('secure');

    events.length = 0;
    await db.vsctl('set', 'Bridge', 'br0', 'fail_mode=standalone', 'external_ids:a=1');
    const e = await waitFor('the bridge update', () => events.find((x) => x.tables.has('Bridge')));
    const upd = e.tables.get('Bridge')!.updated;
    expect(upd).toHaveLength(1);
    expect(upd[0]!.old['fail_mode']).toBe('secure');
    expect(upd[0]!.row['fail_mode']).toBe('standalone');
    expect(upd[0]!.row['external_ids']).toEqual(new Map([['a', '1']]));

    await ensureBridge(client, 'br0');
    await waitFor('fail_mode back to secure', () =>
      bridgeByName('br0')?.[1]['fail_mode'] === 'secure' ? true : undefined,
    );
    expect(await db.vsctl('get-fail-mode', 'br0')).toBe('secure');
  });

  it('resyncs after an ovsdb-server restart, reporting only what changed while it was away', async () => {
    // A restart with no change in between: the resync reports nothing.
    events.length = 0;
    let down = next('disconnected');
    await db.kill();
    await down;
    let up = next('connected');
    await db.restart();
    await up;
    expect(events).toEqual([]);

    // Now change the database file while the server (and so the client) is away.
    const before = snapshot(client, 'mon');
    down = next('disconnected');
    await db.kill();
    await down;
    await db.offlineTransact([
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', 'br0']],
        mutations: [['external_ids', 'insert', ['map', [['b', '2']]]]],
      },
    ]);
    up = next('connected');
    await db.restart();
    await up;
    expect(events).toHaveLength(1);
    const t = events[0]!.tables;
    expect([...t.keys()]).toEqual(['Bridge']);
    expect(t.get('Bridge')!.inserted).toEqual([]);
    expect(t.get('Bridge')!.deleted).toEqual([]);
    expect(t.get('Bridge')!.updated.map((u) => u.row['external_ids'])).toEqual([
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    ]);
    expect(snapshot(client, 'mon')).not.toEqual(before);

    // The monitor is live again, and its cache equals what a fresh client sees.
    await db.vsctl('add-br', 'br1');
    await waitFor('br1 in the cache', () => bridgeByName('br1'));
    const fresh = await OvsdbClient.connect(db.remote);
    try {
      await fresh.monitorCondSince(VSWITCH_DB, 'mon', {
        Bridge: { columns: ['name', 'ports', 'fail_mode', 'external_ids'] },
        Port: { columns: ['name', 'interfaces'] },
        Interface: { columns: ['name', 'ofport', 'external_ids', 'type'] },
      });
      expect(snapshot(client, 'mon')).toEqual(snapshot(fresh, 'mon'));
    } finally {
      await fresh.close();
    }
  });

  it('re-creates its monitor after a dropped connection and keeps up', async () => {
    const monitorRequests = (): number =>
      (
        db
          .log()
          .match(
            /received request, method="monitor_cond_since", params=\["Open_vSwitch","mon",/g,
          ) ?? []
      ).length;
    const before = monitorRequests();
    const up = next('connected');
    await db.appctl('ovsdb-server/reconnect');
    await db.vsctl('del-br', 'br1');
    await up;
    await waitFor('br1 gone from the cache', () => (bridgeByName('br1') ? undefined : true));
    expect(monitorRequests()).toBe(before + 1);
  });

  it('answers the echo probes of a tcp remote with an inactivity probe', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await db.vsctl('set-manager', `ptcp:${port}:127.0.0.1`);
    await db.vsctl('set', 'Manager', '.', 'inactivity_probe=1000');
    await db.appctl('ovsdb-server/add-remote', 'db:Open_vSwitch,Open_vSwitch,manager_options');
    let tcp: OvsdbClient | undefined;
    for (let i = 0; !tcp && i < 100; i++) {
      tcp = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`, { probeIntervalMs: 0 }).catch(
        () => undefined,
      );
      if (!tcp) await new Promise((r) => setTimeout(r, 50));
    }
    try {
      let drops = 0;
      tcp!.on('disconnected', () => drops++);
      // The server probes an idle client every second and drops it after two silent ones.
      await waitFor('an echo answered over tcp', () =>
        /tcp:127\.0\.0\.1:\d+: received reply, result=\[\], id="echo"/.test(db.log())
          ? true
          : undefined,
      );
      await waitFor('a second echo answered', () =>
        (db.log().match(/tcp:127\.0\.0\.1:\d+: received reply, result=\[\], id="echo"/g) ?? [])
          .length >= 2
          ? true
          : undefined,
      );
      expect(drops).toBe(0);
      expect(await tcp!.listDbs()).toContain('Open_vSwitch');
    } finally {
      await tcp?.close();
    }
  });
});
