import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OvsdbClient, OvsdbError, type ChangeEvent } from './client.js';
import { JsonStreamSplitter } from './framing.js';

interface Msg {
  method?: string;
  params?: unknown[];
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

/** A scripted JSON-RPC peer on a unix socket: `onMessage` decides what to answer. */
class FakeServer {
  readonly conns: Socket[] = [];
  readonly received: Msg[] = [];
  onMessage: (msg: Msg, conn: Socket) => void = () => undefined;
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async start(path: string): Promise<FakeServer> {
    const server = createServer();
    const fake = new FakeServer(server, path);
    server.on('connection', (conn) => {
      fake.conns.push(conn);
      const splitter = new JsonStreamSplitter();
      conn.on('data', (chunk) => {
        for (const m of splitter.push(chunk)) {
          fake.received.push(m as Msg);
          fake.onMessage(m as Msg, conn);
        }
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(path, r));
    return fake;
  }

  /** Write a message byte by byte-ish: framing must not depend on chunk boundaries. */
  send(conn: Socket, msg: unknown): void {
    const text = JSON.stringify(msg);
    const mid = Math.floor(text.length / 2);
    conn.write(text.slice(0, mid));
    conn.write(text.slice(mid));
  }

  reply(conn: Socket, msg: Msg, result: unknown): void {
    this.send(conn, { id: msg.id, result, error: null });
  }

  dropAll(): void {
    for (const c of this.conns) c.destroy();
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function once<T>(client: OvsdbClient, event: 'connected' | 'disconnected' | 'change'): Promise<T> {
  return new Promise((resolve) =>
    client.once(event, (...args: unknown[]) => resolve(args[0] as T)),
  );
}

const SCHEMA = {
  name: 'Open_vSwitch',
  version: '8.3.1',
  tables: {
    Interface: {
      columns: {
        name: { type: 'string' },
        ofport: { type: { key: 'integer', min: 0, max: 1 } },
        external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
      },
    },
  },
};

let dir: string;
let fake: FakeServer;
let client: OvsdbClient | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgf-ovsdb-unit-'));
  fake = await FakeServer.start(join(dir, 'fake.sock'));
});

afterEach(async () => {
  await client?.close();
  client = undefined;
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('OvsdbClient (against a scripted peer)', () => {
  it('rejects a malformed target, naming the allowed forms', async () => {
    await expect(OvsdbClient.connect('ssl:1.2.3.4:6640')).rejects.toThrow(
      /invalid OVSDB target 'ssl:1.2.3.4:6640': allowed forms are unix:<path> and tcp:<host>:<port>/,
    );
    await expect(OvsdbClient.connect(`unix:${join(dir, 'nothing.sock')}`)).rejects.toMatchObject({
      code: 'connect',
    });
  });

  it('matches replies to requests by id, even when answered out of order', async () => {
    const held: Msg[] = [];
    fake.onMessage = (m, conn) => {
      held.push(m);
      if (held.length === 2) {
        fake.reply(conn, held[1]!, ['second']);
        fake.reply(conn, held[0]!, ['first']);
      }
    };
    client = await OvsdbClient.connect(`unix:${fake.path}`, { probeIntervalMs: 0 });
    const [a, b] = await Promise.all([client.listDbs(), client.request('list_dbs', [])]);
    expect(a).toEqual(['first']);
    expect(b).toEqual(['second']);
  });

  it("answers the server's echo with the same params", async () => {
    client = await OvsdbClient.connect(`unix:${fake.path}`, { probeIntervalMs: 0 });
    const answered = new Promise<Msg>((resolve) => {
      fake.onMessage = (m) => {
        if (m.id === 'echo-7') resolve(m);
      };
    });
    fake.send(fake.conns[0]!, { method: 'echo', params: ['x', 1], id: 'echo-7' });
    expect(await answered).toEqual({ result: ['x', 1], error: null, id: 'echo-7' });
  });

  it('probes a silent server with echo, drops it when it stays silent, and reconnects', async () => {
    client = await OvsdbClient.connect(`unix:${fake.path}`, {
      probeIntervalMs: 40,
      backoffMinMs: 10,
    });
    const reason = await once<Error>(client, 'disconnected');
    expect(reason).toBeInstanceOf(OvsdbError);
    expect((reason as OvsdbError).code).toBe('timeout');
    expect(fake.received.some((m) => m.method === 'echo')).toBe(true);
    await once(client, 'connected');
    expect(fake.conns.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps a connection whose server answers the probes', async () => {
    fake.onMessage = (m, conn) => {
      if (m.method === 'echo') fake.reply(conn, m, m.params);
    };
    client = await OvsdbClient.connect(`unix:${fake.path}`, { probeIntervalMs: 100 });
    let drops = 0;
    client.on('disconnected', () => drops++);
    // Wait until several probes went out and were answered.
    while (fake.received.filter((m) => m.method === 'echo').length < 3) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(drops).toBe(0);
    expect(client.connected).toBe(true);
  });

  it('surfaces a failed operation of a transaction, naming it', async () => {
    fake.onMessage = (m, conn) => {
      fake.reply(conn, m, [
        { uuid: ['uuid', '5f5b0c8e-93e7-4b44-9b4b-3c3e0e9b7e11'] },
        {
          error: 'constraint violation',
          details:
            'Transaction causes multiple rows in "Bridge" table to have identical values (br0) for index on column "name".',
        },
        null,
      ]);
    };
    client = await OvsdbClient.connect(`unix:${fake.path}`, { probeIntervalMs: 0 });
    const p = client.transact('Open_vSwitch', [
      { op: 'insert', table: 'Port', row: { name: 'br0' } },
      { op: 'insert', table: 'Bridge', row: { name: 'br0' } },
      { op: 'comment', comment: 'x' },
    ]);
    await expect(p).rejects.toThrow(
      /transact on Open_vSwitch: operation 1 \(insert Bridge\) failed: constraint violation: Transaction causes multiple rows/,
    );
    await expect(p).rejects.toMatchObject({ code: 'transact' });
  });

  it('rejects requests in flight when the connection drops', async () => {
    fake.onMessage = () => fake.dropAll();
    client = await OvsdbClient.connect(`unix:${fake.path}`, { probeIntervalMs: 0 });
    await expect(client.listDbs()).rejects.toMatchObject({ code: 'disconnected' });
  });

  it('falls back to monitor_cond + update2 and keeps the cache by the diffs', async () => {
    const U1 = '11111111-1111-1111-1111-111111111111';
    const U2 = '22222222-2222-2222-2222-222222222222';
    let conn: Socket | undefined;
    fake.onMessage = (m, c) => {
      conn = c;
      if (m.method === 'get_schema') fake.reply(c, m, SCHEMA);
      else if (m.method === 'monitor_cond_since') {
        fake.send(c, { id: m.id, result: null, error: { error: 'unknown method' } });
      } else if (m.method === 'monitor_cond') {
        fake.reply(c, m, { Interface: { [U1]: { initial: { name: 'p1' } } } });
      }
    };
    client = await OvsdbClient.connect(`unix:${fake.path}`, { probeIntervalMs: 0 });
    const events: ChangeEvent[] = [];
    client.on('change', (e) => events.push(e));
    const mon = await client.monitorCondSince('Open_vSwitch', 'mon', { Interface: {} });
    expect(mon.tables.get('Interface')?.get(U1)).toEqual({
      name: 'p1',
      ofport: null,
      external_ids: new Map(),
    });
    expect(events[0]?.tables.get('Interface')?.inserted.map((r) => r.uuid)).toEqual([U1]);

    const next = once<ChangeEvent>(client, 'change');
    fake.send(conn!, {
      method: 'update2',
      params: [
        'mon',
        {
          Interface: {
            [U1]: { modify: { ofport: 3, external_ids: ['map', [['iface-id', 'vm1']]] } },
            [U2]: { insert: { name: 'p2', ofport: 4 } },
          },
        },
      ],
      id: null,
    });
    const e = await next;
    const t = e.tables.get('Interface')!;
    expect(t.updated).toEqual([
      {
        uuid: U1,
        old: { name: 'p1', ofport: null, external_ids: new Map() },
        row: { name: 'p1', ofport: 3, external_ids: new Map([['iface-id', 'vm1']]) },
      },
    ]);
    expect(t.inserted.map((r) => r.row['name'])).toEqual(['p2']);
    expect(client.rows('mon', 'Interface').size).toBe(2);
    const asked = fake.received.find((m) => m.method === 'monitor_cond');
    expect(asked?.params?.[2]).toEqual({
      Interface: [{ columns: ['name', 'ofport', 'external_ids'] }],
    });
  });

  it('resumes from the last transaction id, and on a full resync reports only real changes', async () => {
    const U1 = '11111111-1111-1111-1111-111111111111';
    const U2 = '22222222-2222-2222-2222-222222222222';
    const U3 = '33333333-3333-3333-3333-333333333333';
    const T1 = 'aaaaaaaa-0000-0000-0000-000000000001';
    const T2 = 'aaaaaaaa-0000-0000-0000-000000000002';
    const T3 = 'aaaaaaaa-0000-0000-0000-000000000003';
    const sinceParams: unknown[] = [];
    let connection = 0;
    fake.onMessage = (m, c) => {
      if (m.method === 'get_schema') fake.reply(c, m, SCHEMA);
      else if (m.method === 'monitor_cond_since') {
        sinceParams.push(m.params?.[3]);
        connection++;
        if (connection === 1) {
          fake.reply(c, m, [
            false,
            T1,
            {
              Interface: {
                [U1]: { initial: { name: 'p1', ofport: 1 } },
                [U2]: { initial: { name: 'p2', ofport: 2 } },
              },
            },
          ]);
        } else if (connection === 2) {
          // The server still has T1: only what happened since.
          fake.reply(c, m, [true, T2, { Interface: { [U2]: { modify: { ofport: 5 } } } }]);
        } else {
          // History lost: everything again. p1 is unchanged, p2 is gone, p3 is new.
          fake.reply(c, m, [
            false,
            T3,
            {
              Interface: {
                [U1]: { initial: { name: 'p1', ofport: 1 } },
                [U3]: { initial: { name: 'p3', ofport: 3 } },
              },
            },
          ]);
        }
      }
    };
    client = await OvsdbClient.connect(`unix:${fake.path}`, {
      probeIntervalMs: 0,
      backoffMinMs: 5,
    });
    const mon = await client.monitorCondSince('Open_vSwitch', 'mon', { Interface: {} });
    expect(mon.lastTxnId).toBe(T1);

    const events: ChangeEvent[] = [];
    client.on('change', (e) => events.push(e));
    let up = once(client, 'connected');
    fake.dropAll();
    await up;
    expect(sinceParams[1]).toBe(T1);
    expect(mon.lastTxnId).toBe(T2);
    expect(events).toHaveLength(1);
    expect(
      events[0]!.tables.get('Interface')!.updated.map((u) => [u.old['ofport'], u.row['ofport']]),
    ).toEqual([[2, 5]]);

    events.length = 0;
    up = once(client, 'connected');
    fake.dropAll();
    await up;
    expect(sinceParams[2]).toBe(T2);
    expect(events).toHaveLength(1);
    const t = events[0]!.tables.get('Interface')!;
    expect(t.updated).toEqual([]);
    expect(t.deleted.map((d) => d.row['name'])).toEqual(['p2']);
    expect(t.inserted.map((d) => d.row['name'])).toEqual(['p3']);
    expect([...client.rows('mon', 'Interface').keys()].sort()).toEqual([U1, U3]);
  });
});
