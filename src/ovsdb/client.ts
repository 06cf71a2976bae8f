/**
 * An RFC 7047 OVSDB client: JSON-RPC over a unix or tcp stream, transactions, and monitors
 * whose rows are kept in a local cache.
 *
 * Produces: request/response correlation with timeouts, answers to the server's `echo`, our
 * own `echo` probes (a silent peer is dropped after two probe intervals, as OVS does), and
 * `monitor_cond_since` monitors (falling back to `monitor_cond` + `update2` on servers that
 * lack it) that survive disconnection: the client reconnects with exponential backoff and
 * re-creates each monitor from its last transaction id.
 *
 * Invariant: after every monitor reply or update, a monitor's cache equals the server's view
 * of the monitored rows and columns, and each 'change' event holds exactly the rows whose
 * cached value changed — a resync after a reconnect (whether the server still had our
 * transaction id or sent everything again) reports only real differences, never the whole
 * table. Requests in flight when the connection drops are rejected ('disconnected'); a
 * transaction's outcome is then unknown, so callers write idempotent transactions.
 */
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import {
  applyRowDiff,
  decodeRow,
  parseSchema,
  rowsEqual,
  type DbSchema,
  type Json,
  type Row,
  type TableSchema,
} from './datum.js';
import { JsonStreamSplitter } from './framing.js';

export type OvsdbErrorCode =
  | 'bad-target'
  | 'connect'
  | 'timeout'
  | 'disconnected'
  | 'closed'
  | 'rpc'
  | 'transact'
  | 'protocol'
  | 'not-found'
  | 'invalid';

export class OvsdbError extends Error {
  constructor(
    readonly code: OvsdbErrorCode,
    message: string,
    /** The server's error object, for 'rpc' and 'transact'. */
    readonly serverError?: unknown,
  ) {
    super(message);
    this.name = 'OvsdbError';
  }
}

export type Condition = [
  column: string,
  fn: '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes',
  value: Json,
];
export type Mutation = [
  column: string,
  mutator: '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete',
  value: Json,
];
export type RowJson = Record<string, Json>;

/** An RFC 7047 §5.2 operation. */
export type Operation =
  | { op: 'insert'; table: string; row: RowJson; 'uuid-name'?: string }
  | { op: 'select'; table: string; where: Condition[]; columns?: string[] }
  | { op: 'update'; table: string; where: Condition[]; row: RowJson }
  | { op: 'mutate'; table: string; where: Condition[]; mutations: Mutation[] }
  | { op: 'delete'; table: string; where: Condition[] }
  | {
      op: 'wait';
      table: string;
      where: Condition[];
      columns?: string[];
      until: '==' | '!=';
      rows: RowJson[];
      timeout?: number;
    }
  | { op: 'commit'; durable: boolean }
  | { op: 'abort' }
  | { op: 'comment'; comment: string }
  | { op: 'assert'; lock: string };

/** One table's part of a monitor request (`columns` defaults to every column of the table). */
export interface MonitorRequest {
  columns?: string[];
  where?: Json[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}
export type MonitorRequests = Record<string, MonitorRequest>;

export interface RowEntry {
  uuid: string;
  row: Row;
}
export interface RowUpdate {
  uuid: string;
  old: Row;
  row: Row;
}
export interface TableChange {
  inserted: RowEntry[];
  updated: RowUpdate[];
  deleted: RowEntry[];
}
export interface ChangeEvent {
  db: string;
  monitorId: string;
  /** Only tables with at least one changed row. */
  tables: ReadonlyMap<string, TableChange>;
}

export interface OvsdbClientEvents {
  change: [ChangeEvent];
  /**
   * A reconnection is up and every monitor has been re-created on it (the first connection
   * is the resolution of `connect()`).
   */
  connected: [];
  disconnected: [reason: Error];
  /** A reconnect attempt or a resync failed (the client keeps retrying). */
  error: [Error];
}

export interface OvsdbClientOptions {
  /** Reject a request with no answer after this long. Default 30 s. */
  requestTimeoutMs?: number;
  /** Idle time before we send an echo (and again before we give up). 0 disables. Default 5 s. */
  probeIntervalMs?: number;
  /** Reconnect backoff: first delay, doubled per failure up to the max. Default 100 ms / 8 s. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/** A live monitor: its cache (table → uuid → row) and its resume point. */
export interface Monitor {
  readonly db: string;
  readonly id: string;
  readonly tables: ReadonlyMap<string, ReadonlyMap<string, Row>>;
  /** Transaction id of the newest change in the cache (null when the server has none). */
  readonly lastTxnId: string | null;
}

interface MonitorState extends Monitor {
  readonly requests: MonitorRequests;
  tables: Map<string, Map<string, Row>>;
  lastTxnId: string | null;
  schema: DbSchema;
  /** Resolved column list per table (what we asked for, so what the cache holds). */
  columns: Map<string, string[]>;
  useSince: boolean;
}

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

type Target = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

function parseTarget(target: string): Target {
  if (target.startsWith('unix:') && target.length > 5)
    return { kind: 'unix', path: target.slice(5) };
  const m = /^tcp:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target);
  if (m && Number(m[2]) > 0 && Number(m[2]) < 65536) {
    return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }
  throw new OvsdbError(
    'bad-target',
    `invalid OVSDB target '${target}': allowed forms are unix:<path> and tcp:<host>:<port>`,
  );
}

function describeServerError(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const head = typeof o['error'] === 'string' ? o['error'] : JSON.stringify(e);
    return typeof o['details'] === 'string' && o['details'] ? `${head}: ${o['details']}` : head;
  }
  return String(e);
}

function describeOp(op: Operation): string {
  return 'table' in op ? `${op.op} ${op.table}` : op.op;
}

/** Accumulates old/new per row, then reports only rows whose value really changed. */
class ChangeCollector {
  private readonly rows = new Map<string, Map<string, { old?: Row; row?: Row }>>();

  note(table: string, uuid: string, old: Row | undefined, row: Row | undefined): void {
    let t = this.rows.get(table);
    if (!t) this.rows.set(table, (t = new Map<string, { old?: Row; row?: Row }>()));
    const prev = t.get(uuid);
    t.set(uuid, { old: prev ? prev.old : old, row });
  }

  result(): Map<string, TableChange> {
    const out = new Map<string, TableChange>();
    for (const [table, rows] of this.rows) {
      const c: TableChange = { inserted: [], updated: [], deleted: [] };
      for (const [uuid, { old, row }] of rows) {
        if (!old && row) c.inserted.push({ uuid, row });
        else if (old && !row) c.deleted.push({ uuid, row: old });
        else if (old && row && !rowsEqual(old, row)) c.updated.push({ uuid, old, row });
      }
      if (c.inserted.length + c.updated.length + c.deleted.length > 0) out.set(table, c);
    }
    return out;
  }
}

export class OvsdbClient extends EventEmitter<OvsdbClientEvents> {
  private socket: Socket | null = null;
  private splitter = new JsonStreamSplitter();
  private readonly pending = new Map<number, Pending>();
  private readonly monitors = new Map<string, MonitorState>();
  private readonly schemas = new Map<string, DbSchema>();
  private nextId = 1;
  private closed = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private readonly requestTimeoutMs: number;
  private readonly probeIntervalMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;

  private constructor(
    private readonly target: Target,
    readonly targetName: string,
    opts: OvsdbClientOptions,
  ) {
    super();
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.probeIntervalMs = opts.probeIntervalMs ?? 5_000;
    this.backoffMinMs = opts.backoffMinMs ?? 100;
    this.backoffMaxMs = opts.backoffMaxMs ?? 8_000;
    this.backoffMs = this.backoffMinMs;
  }

  /**
   * Connect to `unix:<path>` or `tcp:<host>:<port>`. Rejects if the first attempt fails; once
   * connected, the client reconnects by itself until `close()`.
   */
  static async connect(target: string, opts: OvsdbClientOptions = {}): Promise<OvsdbClient> {
    const client = new OvsdbClient(parseTarget(target), target, opts);
    await client.open();
    return client;
  }

  /** True while a connection is up (monitors may still be resyncing right after a reconnect). */
  get connected(): boolean {
    return this.socket !== null;
  }

  // -------------------------------------------------------------------------------------
  // Connection

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = this.target;
      const sock = t.kind === 'unix' ? createConnection(t.path) : createConnection(t.port, t.host);
      const onError = (err: Error): void => {
        sock.destroy();
        reject(new OvsdbError('connect', `cannot connect to ${this.targetName}: ${err.message}`));
      };
      sock.once('error', onError);
      sock.once('connect', () => {
        sock.off('error', onError);
        sock.setNoDelay(true);
        this.attach(sock);
        resolve();
      });
    });
  }

  private attach(sock: Socket): void {
    this.socket = sock;
    this.splitter = new JsonStreamSplitter();
    sock.on('data', (chunk: Buffer) => this.onData(sock, chunk));
    sock.on('error', () => undefined); // 'close' follows and carries the consequence
    sock.on('close', () =>
      this.onClose(sock, new OvsdbError('disconnected', `connection to ${this.targetName} closed`)),
    );
    this.armProbe();
  }

  private drop(sock: Socket, reason: Error): void {
    sock.destroy();
    this.onClose(sock, reason);
  }

  private onClose(sock: Socket, reason: Error): void {
    if (this.socket !== sock) return;
    this.socket = null;
    this.clearProbe();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new OvsdbError('disconnected', `${p.method}: ${reason.message}`));
      this.pending.delete(id);
    }
    if (this.closed) return;
    this.emit('disconnected', reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.backoffMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (this.closed) return;
    try {
      await this.open();
      if (this.closed) {
        this.socket?.destroy();
        return;
      }
      for (const m of this.monitors.values()) await this.startMonitor(m);
      this.backoffMs = this.backoffMinMs;
      this.emit('connected');
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      if (this.socket)
        this.drop(this.socket, err as Error); // resync failed: start over
      else this.scheduleReconnect();
    }
  }

  /** Stop for good: rejects pending requests, cancels reconnection. */
  close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const sock = this.socket;
    if (!sock) return Promise.resolve();
    return new Promise((resolve) => {
      sock.once('close', () => resolve());
      this.drop(sock, new OvsdbError('closed', 'client closed'));
    });
  }

  // Inactivity probe: after `probeIntervalMs` of silence send an echo; after another
  // interval of silence the peer is gone.
  private armProbe(): void {
    if (this.probeIntervalMs <= 0 || !this.socket) return;
    this.clearProbe();
    const sock = this.socket;
    this.probeTimer = setTimeout(() => {
      this.request('echo', ['probe']).catch(() => undefined);
      this.probeTimer = setTimeout(
        () =>
          this.drop(
            sock,
            new OvsdbError(
              'timeout',
              `no answer from ${this.targetName} for ${2 * this.probeIntervalMs} ms`,
            ),
          ),
        this.probeIntervalMs,
      );
    }, this.probeIntervalMs);
  }

  private clearProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  // -------------------------------------------------------------------------------------
  // JSON-RPC

  private send(msg: Json): void {
    if (!this.socket) throw new OvsdbError('disconnected', `not connected to ${this.targetName}`);
    this.socket.write(JSON.stringify(msg));
  }

  /** Send one JSON-RPC request; resolves with its result, rejects with its error. */
  request(method: string, params: Json[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new OvsdbError('closed', `${method}: client closed`));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      try {
        this.send({ method, params, id });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new OvsdbError(
            'timeout',
            `${method}: no reply from ${this.targetName} within ${this.requestTimeoutMs} ms`,
          ),
        );
      }, this.requestTimeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
    });
  }

  private onData(sock: Socket, chunk: Buffer): void {
    if (this.socket !== sock) return;
    this.armProbe();
    let messages: unknown[];
    try {
      messages = this.splitter.push(chunk);
    } catch (err) {
      this.drop(
        sock,
        new OvsdbError('protocol', `from ${this.targetName}: ${(err as Error).message}`),
      );
      return;
    }
    for (const msg of messages) {
      if (this.socket !== sock) return;
      try {
        this.onMessage(msg);
      } catch (err) {
        this.drop(sock, err as Error);
      }
    }
  }

  private onMessage(msg: unknown): void {
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
      throw new OvsdbError('protocol', `from ${this.targetName}: a message must be a JSON object`);
    }
    const m = msg as {
      method?: unknown;
      params?: unknown;
      id?: unknown;
      result?: unknown;
      error?: unknown;
    };
    if (typeof m.method === 'string') {
      const params = Array.isArray(m.params) ? (m.params as Json[]) : [];
      if (m.id !== null && m.id !== undefined) {
        const id = m.id as Json;
        if (m.method === 'echo') this.send({ result: params, error: null, id });
        else this.send({ result: null, error: { error: 'unknown method', details: m.method }, id });
        return;
      }
      if (m.method === 'update3') this.onUpdate(params[0], params[2], params[1]);
      else if (m.method === 'update2') this.onUpdate(params[0], params[1], undefined);
      return; // other notifications (v1 `update`, `locked`, ...) we never subscribe to
    }
    if (typeof m.id !== 'number') return; // not an answer to anything we asked
    const p = this.pending.get(m.id);
    if (!p) return; // timed out already
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error !== null && m.error !== undefined) {
      p.reject(new OvsdbError('rpc', `${p.method}: ${describeServerError(m.error)}`, m.error));
    } else p.resolve(m.result);
  }

  // -------------------------------------------------------------------------------------
  // Database methods

  async listDbs(): Promise<string[]> {
    const r = await this.request('list_dbs', []);
    if (!Array.isArray(r) || !r.every((x) => typeof x === 'string')) {
      throw new OvsdbError('protocol', 'list_dbs: expected an array of names');
    }
    return r;
  }

  /** The parsed schema of `db` (fetched from the server; cached until a reconnect). */
  async getSchema(db: string): Promise<DbSchema> {
    const cached = this.schemas.get(db);
    if (cached) return cached;
    const schema = parseSchema(await this.request('get_schema', [db]));
    this.schemas.set(db, schema);
    return schema;
  }

  /**
   * Run one transaction. Resolves with the per-operation results; if any operation (or the
   * commit) failed, rejects with an error naming the operation and the server's reason.
   */
  async transact(db: string, ops: Operation[]): Promise<unknown[]> {
    const results = await this.request('transact', [db, ...(ops as unknown as Json[])]);
    if (!Array.isArray(results))
      throw new OvsdbError('protocol', 'transact: expected an array result');
    results.forEach((r, i) => {
      const err = r && typeof r === 'object' ? (r as Record<string, unknown>)['error'] : undefined;
      if (err === undefined || err === null) return;
      const op = ops[i];
      const what = op ? `operation ${i} (${describeOp(op)})` : 'commit';
      throw new OvsdbError(
        'transact',
        `transact on ${db}: ${what} failed: ${describeServerError(r)}`,
        r,
      );
    });
    return results as unknown[];
  }

  /** `select` rows of one table, decoded with the schema (uuid → row). */
  async select(
    db: string,
    table: string,
    where: Condition[],
    columns?: string[],
  ): Promise<Map<string, Row>> {
    const { tableSchema, cols } = await this.resolveColumns(db, table, columns);
    const [res] = await this.transact(db, [
      { op: 'select', table, where, columns: [...cols, '_uuid'] },
    ]);
    const rows = (res as { rows?: unknown[] }).rows ?? [];
    const out = new Map<string, Row>();
    for (const r of rows) {
      const row = decodeRow(r, tableSchema, table, [...cols, '_uuid']);
      const { _uuid, ...rest } = row;
      out.set(_uuid as string, rest);
    }
    return out;
  }

  private async resolveColumns(
    db: string,
    table: string,
    columns: string[] | undefined,
  ): Promise<{ tableSchema: TableSchema; cols: string[] }> {
    const schema = await this.getSchema(db);
    const tableSchema = schema.tables[table];
    if (!tableSchema) {
      throw new OvsdbError(
        'protocol',
        `database ${db} has no table '${table}' (tables: ${Object.keys(schema.tables).join(', ')})`,
      );
    }
    const cols = columns ?? Object.keys(tableSchema.columns).filter((c) => !c.startsWith('_'));
    for (const c of cols) {
      if (!tableSchema.columns[c])
        throw new OvsdbError('protocol', `table ${table} has no column '${c}'`);
    }
    return { tableSchema, cols };
  }

  // -------------------------------------------------------------------------------------
  // Monitors

  /**
   * Start a monitor kept across reconnects. The initial rows arrive as one 'change' event
   * (inserted rows) before this resolves; later changes arrive as further 'change' events.
   */
  async monitorCondSince(
    db: string,
    monitorId: string,
    requests: MonitorRequests,
    lastTxnId: string | null = null,
  ): Promise<Monitor> {
    if (this.monitors.has(monitorId))
      throw new OvsdbError('protocol', `monitor '${monitorId}' already exists`);
    const m: MonitorState = {
      db,
      id: monitorId,
      requests,
      tables: new Map(),
      lastTxnId,
      schema: await this.getSchema(db),
      columns: new Map(),
      useSince: true,
    };
    await this.startMonitor(m);
    this.monitors.set(monitorId, m);
    return m;
  }

  async cancelMonitor(monitorId: string): Promise<void> {
    if (!this.monitors.delete(monitorId)) return;
    if (this.socket) await this.request('monitor_cancel', [monitorId]);
  }

  /** The cache of a monitor: table → uuid → row. */
  rows(monitorId: string, table: string): ReadonlyMap<string, Row> {
    return this.monitors.get(monitorId)?.tables.get(table) ?? new Map();
  }

  private async startMonitor(m: MonitorState): Promise<void> {
    this.schemas.delete(m.db); // the server may have been upgraded while we were away
    m.schema = await this.getSchema(m.db);
    const wire: Record<string, Json> = {};
    for (const [table, req] of Object.entries(m.requests)) {
      const { cols } = await this.resolveColumns(m.db, table, req.columns);
      m.columns.set(table, cols);
      const r: Record<string, Json> = { columns: cols };
      if (req.where) r['where'] = req.where;
      if (req.select) r['select'] = req.select;
      wire[table] = [r];
    }
    if (m.useSince) {
      try {
        const res = await this.request('monitor_cond_since', [
          m.db,
          m.id,
          wire,
          m.lastTxnId ?? ZERO_UUID,
        ]);
        if (!Array.isArray(res) || res.length !== 3 || typeof res[0] !== 'boolean') {
          throw new OvsdbError(
            'protocol',
            'monitor_cond_since: expected [found, last-txn-id, updates]',
          );
        }
        const [found, last, updates] = res as [boolean, unknown, unknown];
        this.applyUpdates(m, updates, typeof last === 'string' ? last : null, !found);
        return;
      } catch (err) {
        if (!(
          err instanceof OvsdbError &&
          err.code === 'rpc' &&
          /unknown method/.test(err.message)
        ))
          throw err;
        m.useSince = false;
      }
    }
    const updates = await this.request('monitor_cond', [m.db, m.id, wire]);
    this.applyUpdates(m, updates, null, true);
  }

  private onUpdate(monitorId: unknown, updates: unknown, lastTxnId: unknown): void {
    const m = typeof monitorId === 'string' ? this.monitors.get(monitorId) : undefined;
    if (!m) return; // cancelled, or an update racing our monitor reply on a dead id
    this.applyUpdates(m, updates, typeof lastTxnId === 'string' ? lastTxnId : m.lastTxnId, false);
  }

  /**
   * Apply `<table-updates2>` to a monitor's cache. With `replace`, the updates are the whole
   * contents: rows absent from them are gone. Emits one 'change' with the real differences.
   */
  private applyUpdates(
    m: MonitorState,
    updates: unknown,
    lastTxnId: string | null,
    replace: boolean,
  ): void {
    if (!updates || typeof updates !== 'object') {
      throw new OvsdbError('protocol', `monitor ${m.id}: <table-updates2> must be an object`);
    }
    const changes = new ChangeCollector();
    const next = new Map<string, Map<string, Row>>();
    for (const table of m.columns.keys()) {
      next.set(table, new Map<string, Row>(replace ? [] : m.tables.get(table)));
    }
    for (const [table, rowUpdates] of Object.entries(updates as Record<string, unknown>)) {
      const cache = next.get(table);
      const tableSchema = m.schema.tables[table];
      if (!cache || !tableSchema) continue;
      const cols = m.columns.get(table)!;
      for (const [uuid, u] of Object.entries(
        rowUpdates as Record<string, Record<string, unknown>>,
      )) {
        const old = replace ? undefined : cache.get(uuid);
        if ('initial' in u || 'insert' in u) {
          const row = decodeRow(u['initial'] ?? u['insert'], tableSchema, table, cols);
          cache.set(uuid, row);
          if (!replace) changes.note(table, uuid, old, row);
        } else if ('delete' in u) {
          cache.delete(uuid);
          if (!replace) changes.note(table, uuid, old, undefined);
        } else if ('modify' in u) {
          if (!old) {
            m.lastTxnId = null; // our cache is wrong: resync everything on the next connection
            throw new OvsdbError(
              'protocol',
              `monitor ${m.id}: modify of unknown row ${table} ${uuid}`,
            );
          }
          const row = applyRowDiff(old, u['modify'], tableSchema, table);
          cache.set(uuid, row);
          changes.note(table, uuid, old, row);
        }
      }
    }
    if (replace) {
      for (const [table, cache] of next) {
        const before = m.tables.get(table) ?? new Map<string, Row>();
        for (const [uuid, row] of before) changes.note(table, uuid, row, cache.get(uuid));
        for (const [uuid, row] of cache)
          if (!before.has(uuid)) changes.note(table, uuid, undefined, row);
      }
    }
    m.tables = next;
    m.lastTxnId = lastTxnId === ZERO_UUID ? null : lastTxnId;
    const tables = changes.result();
    if (tables.size > 0) this.emit('change', { db: m.db, monitorId: m.id, tables });
  }
}
