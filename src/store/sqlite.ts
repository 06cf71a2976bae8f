/**
 * The SQLite backend of `Store` (better-sqlite3): one file, WAL journal, a writer
 * connection that runs one transaction at a time (BEGIN IMMEDIATE, so concurrent writers in
 * other processes queue on SQLite's lock instead of failing half-way) and a reader
 * connection that only ever sees committed data.
 *
 * Invariants: see store.ts. The revision lives in the `meta` table and is bumped inside the
 * same transaction as the rows it describes, so a crash can never leave a change without
 * its revision or the reverse. Settings share the `resources` table but record no change.
 * `read(fn)` holds one read transaction on a connection of its own (WAL gives it a stable
 * view). Watchers learn of commits made by this process at once and of commits made by
 * other processes by polling `PRAGMA data_version`.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Policy } from '../model/types.js';
import { followWatch } from './follow.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import {
  KINDS,
  POLICY_COLLECTION,
  isKind,
  type Kind,
  type ResourceOf,
  type StoreKind,
  type StoredOf,
} from './resources.js';
import {
  StoreCompactedError,
  batchByRevision,
  type Change,
  type ChangeListener,
  type ChangeOp,
  type FollowOptions,
  type Snapshot,
  type Store,
  type StoreReader,
  type StoreTx,
  type WatchOptions,
  type Watcher,
  type Where,
} from './store.js';

type Db = Database.Database;

export interface SqliteStoreOptions {
  /** Database file; created (with its directory) when missing. `:memory:` for tests. */
  path: string;
  /** How often watchers look for commits from other processes (ms). Default 100. */
  pollIntervalMs?: number;
}

interface ChangeRow {
  revision: number;
  kind: string;
  id: string;
  op: string;
  value: string;
}

/** Runs a synchronous body as a promise: a throw becomes a rejection, never a sync throw. */
function attempt<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

const FIELD_RE = /^[A-Za-z0-9_:-]+$/;

function whereClause(where: Where | undefined): { sql: string; args: (string | number)[] } {
  if (!where) return { sql: '', args: [] };
  let sql = '';
  const args: (string | number)[] = [];
  for (const [field, value] of Object.entries(where)) {
    if (!FIELD_RE.test(field)) throw new Error(`store: bad field name in filter: ${field}`);
    sql += ` AND json_extract(value, '$."${field}"') = ?`;
    args.push(typeof value === 'boolean' ? (value ? 1 : 0) : value);
  }
  return { sql, args };
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement, compiled once per connection. */
function stmt(db: Db, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let st = cache.get(sql);
  if (!st) {
    st = db.prepare(sql);
    cache.set(sql, st);
  }
  return st;
}

function applyMigrations(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
      (r) => r.version,
    ),
  );
  const newest = Math.max(0, ...applied);
  if (newest > SCHEMA_VERSION) {
    throw new Error(
      `store: database schema version ${newest} is newer than this sgflow supports (${SCHEMA_VERSION})`,
    );
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
    }).immediate();
  }
}

class SqliteReader implements StoreReader {
  constructor(protected readonly db: Db) {}

  getSync<K extends StoreKind>(kind: K, id: string): StoredOf<K> | undefined {
    const row = stmt(this.db, 'SELECT value FROM resources WHERE kind = ? AND id = ?').get(
      kind,
      id,
    ) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as StoredOf<K>) : undefined;
  }

  listSync<K extends StoreKind>(kind: K, where?: Where): StoredOf<K>[] {
    const w = whereClause(where);
    const rows = stmt(
      this.db,
      `SELECT value FROM resources WHERE kind = ?${w.sql} ORDER BY id`,
    ).all(kind, ...w.args) as { value: string }[];
    return rows.map((r) => JSON.parse(r.value) as StoredOf<K>);
  }

  get<K extends StoreKind>(kind: K, id: string): Promise<StoredOf<K> | undefined> {
    return attempt(() => this.getSync(kind, id));
  }

  list<K extends StoreKind>(kind: K, where?: Where): Promise<StoredOf<K>[]> {
    return attempt(() => this.listSync(kind, where));
  }
}

/** The writer's view during one transaction. Unusable once the transaction is over. */
class SqliteTx extends SqliteReader implements StoreTx {
  readonly changes: Change[] = [];
  open = true;

  constructor(
    db: Db,
    readonly revision: number,
  ) {
    super(db);
  }

  private check(): void {
    if (!this.open) throw new Error('store: transaction used after it ended');
  }

  override get<K extends StoreKind>(kind: K, id: string): Promise<StoredOf<K> | undefined> {
    return attempt(() => {
      this.check();
      return this.getSync(kind, id);
    });
  }

  override list<K extends StoreKind>(kind: K, where?: Where): Promise<StoredOf<K>[]> {
    return attempt(() => {
      this.check();
      return this.listSync(kind, where);
    });
  }

  put<K extends StoreKind>(kind: K, value: StoredOf<K>): Promise<void> {
    return attempt(() => this.putSync(kind, value));
  }

  delete(kind: StoreKind, id: string): Promise<void> {
    return attempt(() => this.deleteSync(kind, id));
  }

  private putSync<K extends StoreKind>(kind: K, value: StoredOf<K>): void {
    this.check();
    const id = value.id;
    if (typeof id !== 'string' || id === '') throw new Error('store: a value needs a string id');
    const json = JSON.stringify(value);
    // A setting is stamped with the revision it was written at; it does not make a new one.
    const stamp = isKind(kind) ? this.revision : this.revision - 1;
    stmt(
      this.db,
      `INSERT INTO resources (kind, id, value, mod_revision) VALUES (?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, mod_revision = excluded.mod_revision`,
    ).run(kind, id, json, stamp);
    if (isKind(kind)) this.record(kind, id, 'put', json);
  }

  private deleteSync(kind: StoreKind, id: string): void {
    this.check();
    const row = stmt(
      this.db,
      'DELETE FROM resources WHERE kind = ? AND id = ? RETURNING value',
    ).get(kind, id) as { value: string } | undefined;
    if (row && isKind(kind)) this.record(kind, id, 'delete', row.value);
  }

  private record(kind: Kind, id: string, op: ChangeOp, json: string): void {
    stmt(this.db, 'INSERT INTO changes (revision, kind, id, op, value) VALUES (?, ?, ?, ?, ?)').run(
      this.revision,
      kind,
      id,
      op,
      json,
    );
    this.changes.push({
      revision: this.revision,
      kind,
      id,
      op,
      value: JSON.parse(json) as ResourceOf<Kind>,
    });
  }
}

interface WatchState {
  delivered: number;
  onChanges: ChangeListener;
  onError: ((err: Error) => void) | undefined;
  onClose: (() => void) | undefined;
  closed: boolean;
}

export class SqliteStore implements Store {
  private readonly writer: Db;
  private readonly reader: SqliteReader;
  private readonly readerDb: Db;
  /** The connection `read(fn)` holds its read transaction on (the writer in memory). */
  private readonly consistentDb: Db;
  private readonly memory: boolean;
  private readonly watchers = new Set<WatchState>();
  private readonly pollIntervalMs: number;
  private poller: NodeJS.Timeout | undefined;
  private dataVersion = -1;
  private queue: Promise<void> = Promise.resolve();
  private readQueue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: SqliteStoreOptions) {
    this.memory = opts.path === ':memory:';
    if (!this.memory) mkdirSync(dirname(opts.path), { recursive: true });
    const opened: Db[] = [];
    const open = (readonly: boolean): Db => {
      const db = new Database(opts.path, { readonly });
      opened.push(db);
      db.pragma('busy_timeout = 5000');
      return db;
    };
    try {
      this.writer = open(false);
      if (!this.memory) this.writer.pragma('journal_mode = WAL');
      this.writer.pragma('synchronous = NORMAL');
      this.writer.pragma('foreign_keys = ON');
      applyMigrations(this.writer);
      this.readerDb = this.memory ? this.writer : open(true);
      this.consistentDb = this.memory ? this.writer : open(true);
    } catch (err) {
      // A file that cannot be opened or migrated leaves no connection behind.
      for (const db of opened) db.close();
      throw err;
    }
    this.reader = new SqliteReader(this.readerDb);
    this.pollIntervalMs = opts.pollIntervalMs ?? 100;
  }

  private meta(db: Db, key: 'revision' | 'compacted'): number {
    const row = stmt(db, 'SELECT value FROM meta WHERE key = ?').get(key) as { value: number };
    return row.value;
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error('store: closed');
  }

  revision(): Promise<number> {
    return attempt(() => {
      this.ensureOpen();
      return this.meta(this.readerDb, 'revision');
    });
  }

  get<K extends StoreKind>(kind: K, id: string): Promise<StoredOf<K> | undefined> {
    return attempt(() => {
      this.ensureOpen();
      return this.reader.getSync(kind, id);
    });
  }

  list<K extends StoreKind>(kind: K, where?: Where): Promise<StoredOf<K>[]> {
    return attempt(() => {
      this.ensureOpen();
      return this.reader.listSync(kind, where);
    });
  }

  read<T>(fn: (reader: StoreReader) => Promise<T>): Promise<T> {
    this.ensureOpen();
    // In memory there is one connection: running in the write queue keeps writes out.
    if (this.memory) return this.enqueueWrite(() => fn(new SqliteReader(this.writer)));
    const run = async (): Promise<T> => {
      this.ensureOpen();
      const db = this.consistentDb;
      db.exec('BEGIN');
      try {
        // The first read fixes the snapshot every later read of `fn` sees.
        this.meta(db, 'revision');
        return await fn(new SqliteReader(db));
      } finally {
        db.exec('COMMIT');
      }
    };
    const result = this.readQueue.then(run, run);
    this.readQueue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Runs `run` after every transaction queued before it. */
  private enqueueWrite<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run, run);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  transact<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.ensureOpen();
    const run = async (): Promise<T> => {
      this.ensureOpen();
      this.writer.exec('BEGIN IMMEDIATE');
      let tx: SqliteTx | undefined;
      try {
        tx = new SqliteTx(this.writer, this.meta(this.writer, 'revision') + 1);
        const result = await fn(tx);
        tx.open = false;
        if (tx.changes.length > 0) {
          stmt(this.writer, "UPDATE meta SET value = ? WHERE key = 'revision'").run(tx.revision);
        }
        this.writer.exec('COMMIT');
        if (tx.changes.length > 0) this.notify();
        return result;
      } catch (err) {
        if (tx) tx.open = false;
        if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
        throw err;
      }
    };
    return this.enqueueWrite(run);
  }

  snapshot(): Promise<Snapshot> {
    return attempt(() => this.snapshotSync());
  }

  private snapshotSync(): Snapshot {
    this.ensureOpen();
    // One read transaction: WAL gives it a stable view, so the revision and rows agree.
    const take = this.readerDb.transaction((): Snapshot => {
      const policy: Policy = {
        networks: [],
        ports: [],
        security_groups: [],
        security_group_rules: [],
        address_groups: [],
      };
      for (const kind of KINDS) {
        (policy[POLICY_COLLECTION[kind]] as unknown[]) = this.reader.listSync(kind);
      }
      return { revision: this.meta(this.readerDb, 'revision'), policy };
    });
    return take.deferred();
  }

  private changesSinceSync(revision: number): Change[] {
    const read = this.readerDb.transaction((): Change[] => {
      const compacted = this.meta(this.readerDb, 'compacted');
      if (revision < compacted) throw new StoreCompactedError(revision, compacted);
      const rows = stmt(
        this.readerDb,
        'SELECT revision, kind, id, op, value FROM changes WHERE revision > ? ORDER BY seq',
      ).all(revision) as ChangeRow[];
      return rows.map((r) => ({
        revision: r.revision,
        kind: r.kind as Kind,
        id: r.id,
        op: r.op as ChangeOp,
        value: JSON.parse(r.value) as ResourceOf<Kind>,
      }));
    });
    return read.deferred();
  }

  changesSince(revision: number): Promise<Change[]> {
    return attempt(() => {
      this.ensureOpen();
      return this.changesSinceSync(revision);
    });
  }

  watch(fromRevision: number, onChanges: ChangeListener, opts: WatchOptions = {}): Watcher {
    this.ensureOpen();
    const state: WatchState = {
      delivered: fromRevision,
      onChanges,
      onError: opts.onError,
      onClose: opts.onClose,
      closed: false,
    };
    this.watchers.add(state);
    this.startPolling();
    setImmediate(() => this.deliver(state));
    return {
      close: () => {
        state.closed = true;
        this.watchers.delete(state);
        if (this.watchers.size === 0) this.stopPolling();
      },
    };
  }

  follow(fromRevision: number, opts?: FollowOptions): AsyncIterableIterator<readonly Change[]> {
    return followWatch(this.watch.bind(this), fromRevision, opts);
  }

  async compact(revision: number): Promise<void> {
    await this.transact(() => {
      const current = this.meta(this.writer, 'revision');
      const upTo = Math.min(revision, current);
      if (upTo > this.meta(this.writer, 'compacted')) {
        this.writer.prepare('DELETE FROM changes WHERE revision <= ?').run(upTo);
        this.writer.prepare("UPDATE meta SET value = ? WHERE key = 'compacted'").run(upTo);
      }
      return Promise.resolve();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    await this.readQueue;
    this.closed = true;
    const live = [...this.watchers];
    for (const w of live) w.closed = true;
    this.watchers.clear();
    this.stopPolling();
    if (this.readerDb !== this.writer) this.readerDb.close();
    if (this.consistentDb !== this.writer) this.consistentDb.close();
    this.writer.close();
    for (const w of live) w.onClose?.();
  }

  /** Delivers to one watcher every stored change it has not seen, batch by batch. */
  private deliver(state: WatchState): void {
    if (state.closed || this.closed) return;
    let changes: Change[];
    try {
      changes = this.changesSinceSync(state.delivered);
    } catch (err) {
      state.closed = true;
      this.watchers.delete(state);
      state.onError?.(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    for (const batch of batchByRevision(changes)) {
      if (state.closed) return;
      state.delivered = batch[0]!.revision;
      try {
        state.onChanges(batch);
      } catch (err) {
        // A listener that throws stops its own watch, never the store or other watchers.
        state.closed = true;
        this.watchers.delete(state);
        state.onError?.(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
  }

  private notify(): void {
    for (const w of this.watchers) setImmediate(() => this.deliver(w));
  }

  private startPolling(): void {
    if (this.poller) return;
    this.poller = setInterval(() => {
      if (this.closed) return;
      const v = this.readerDb.pragma('data_version', { simple: true }) as number;
      if (v === this.dataVersion) return;
      this.dataVersion = v;
      for (const w of this.watchers) this.deliver(w);
    }, this.pollIntervalMs);
    this.poller.unref();
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }
}

export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(opts);
}
