// The SQLite store on a real file: the whole Store contract (contract.ts), plus what is
// SQLite's own: schema migrations recorded in schema_migrations, WAL, and refusing a
// database written by a newer schema.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/index.js';
import { storeContract } from './contract.js';

storeContract('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sgflow-store-'));
  return Promise.resolve({
    open: () =>
      Promise.resolve(new SqliteStore({ path: join(dir, 'sgflow.db'), pollIntervalMs: 20 })),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
});

describe('SqliteStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sgflow-store-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('records schema version 1 and runs in WAL mode', async () => {
    const s = new SqliteStore({ path: join(dir, 'sub', 'sgflow.db') });
    await s.close();
    const db = new Database(join(dir, 'sub', 'sgflow.db'), { readonly: true });
    expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual([{ version: 1 }]);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuses a database written by a newer schema', async () => {
    const s = new SqliteStore({ path: join(dir, 'sgflow.db') });
    await s.close();
    const db = new Database(join(dir, 'sgflow.db'));
    db.prepare("INSERT INTO schema_migrations VALUES (99, 'future', 'x')").run();
    db.close();
    expect(() => new SqliteStore({ path: join(dir, 'sgflow.db') })).toThrow(
      /schema version 99 is newer/,
    );
  });

  it('works in memory for tests', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    await s.transact(async (tx) =>
      tx.put('network', {
        id: 'n',
        project_id: 'p',
        name: '',
        port_security_enabled: true,
        shared: false,
        description: '',
        tags: [],
        revision_number: 0,
        created_at: 'x',
        updated_at: 'x',
      }),
    );
    expect((await s.snapshot()).policy.networks.map((n) => n.id)).toEqual(['n']);
    // In memory, read() keeps writes out until it is done.
    let write: Promise<void> | undefined;
    const seen = await s.read(async (r) => {
      write = s.transact(async (tx) => tx.delete('network', 'n'));
      await Promise.race([write, new Promise((resolve) => setTimeout(resolve, 20))]);
      return r.get('network', 'n');
    });
    expect(seen?.id).toBe('n');
    await write;
    expect(await s.get('network', 'n')).toBeUndefined();
    await s.close();
  });

  it("refuses a file that is not a database, with SQLite's reason", () => {
    const file = join(dir, 'not-a-db');
    writeFileSync(file, 'hello, this is text and not SQLite at all '.repeat(40));
    expect(() => new SqliteStore({ path: file })).toThrow(/not a database/);
  });
});
