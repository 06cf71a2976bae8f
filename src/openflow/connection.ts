/**
 * The switch connection: the one file of the openflow layer that does I/O. It speaks OpenFlow
 * 1.5 (+ Nicira extensions) to ovs-vswitchd, either by connecting to the bridge's management
 * socket (`unix:<rundir>/<bridge>.mgmt`, or `tcp:host:port`) or by accepting ovs-vswitchd as a
 * controller (`ptcp:port[:host]`, `punix:path`).
 *
 * What it guarantees:
 * - handshake (HELLO version negotiation, FEATURES), echo keepalive both ways;
 * - requests correlated by xid, each with a timeout; multipart replies gathered until the last;
 * - `applyBundle` is atomic: open, add every mod, barrier, then commit only if no add failed
 *   (otherwise discard); a failure names the mod that failed and why;
 * - large batches are written with backpressure (waits for the socket to drain);
 * - reconnect with exponential backoff; pending requests fail with OF_CONNECTION on a drop;
 * - typed events: `state` (connected/disconnected), `packet_in`, `flow_removed`,
 *   `switch_error` (errors that answer no pending request);
 * - `resume(packetIn)` continues a packet paused by `controller(pause)` (NXT_RESUME): a packet-in
 *   with `continuation` set is waiting for it.
 *
 * Controller rate limiting (reactive mode): punts should go through a per-port meter —
 * `meterMod({ command: 'add', meterId, pktps: true, bands: [{ type: 'drop', rate, burst }] })`
 * then `controller(meter_id=<id>,userdata=...)` in the flow (NXAST_CONTROLLER2 meter_id), which
 * the userspace datapath enforces before the packet reaches us. When ovs-vswitchd connects to us
 * as its configured controller (ptcp mode), `ovs-vsctl set controller <br>
 * controller_rate_limit=N controller_burst_limit=M` is the global backstop (ovsdb layer's job).
 */
import { EventEmitter } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Action, Flow, PortNumber } from './ir.js';
import { FlowError, invalidFlow } from './errors.js';
import { formatFlow } from './text.js';
import {
  decodeMessage,
  encodeMessage,
  messageLength,
  OFP_VERSION,
  type AsyncConfig,
  type FlowFilter,
  type FlowMod,
  type FlowStats,
  type MeterBand,
  type OfMessage,
  type PacketIn,
  type FlowRemoved,
} from './wire/messages.js';

export type ConnectionState = 'connected' | 'disconnected';

export interface ConnectionOptions {
  /** `unix:/path`, `tcp:host:port`, `ptcp:port[:host]` or `punix:/path`. */
  readonly target: string;
  /** Echo request interval (default 5 s); the connection is dropped after 3 missed. */
  readonly echoIntervalMs?: number;
  /** Per-request timeout (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** Reconnect after a drop (default true). Backoff from 100 ms doubling to `maxBackoffMs`. */
  readonly reconnect?: boolean;
  readonly maxBackoffMs?: number;
  /** Ask for NXT_PACKET_IN2 (carries controller userdata). Default true. */
  readonly packetIn2?: boolean;
  /** Write batches of about this many bytes before waiting for the socket to drain. */
  readonly writeChunkBytes?: number;
  /** Which asynchronous messages to receive (default: every packet-in and flow-removed reason, port status). */
  readonly asyncConfig?: AsyncConfig;
}

const DEFAULT_ASYNC: AsyncConfig = {
  packetInMaster: 0x3f,
  packetInSlave: 0x3f,
  portStatusMaster: 0x7,
  portStatusSlave: 0x7,
  flowRemovedMaster: 0x3f,
  flowRemovedSlave: 0x3f,
};

/**
 * A bundle that the switch refused: which mod (index into the list), why, and whether the
 * switch refused it when it was added or only when the bundle was committed.
 */
export class BundleError extends FlowError {
  constructor(
    readonly index: number | undefined,
    readonly flow: Flow | undefined,
    readonly typeName: string,
    readonly codeName: string,
    readonly stage: 'add' | 'commit' = 'add',
  ) {
    super('OF_SWITCH_ERROR', {
      what:
        index === undefined
          ? 'bundle'
          : `bundle message #${index} (${flow ? formatFlow(flow) : '?'})`,
      reason: `${typeName} ${codeName}`,
    });
  }
}

/** The switch offered no OpenFlow version we speak (1.5). */
export class VersionMismatch extends FlowError {
  /**
   * `offered`: the versions in the peer's HELLO bitmap; without a bitmap, `highest` is its
   * header version (it speaks that version and below).
   */
  constructor(target: string, offered: readonly number[], highest?: number) {
    super('OF_CONNECTION', {
      target,
      reason:
        offered.length > 0
          ? `switch does not speak OpenFlow 1.5 (wire version 6); it offers wire versions ${offered.join(', ')}`
          : `switch does not speak OpenFlow 1.5 (wire version 6); its HELLO has no version bitmap and wire version ${highest ?? '?'} at most`,
    });
  }
}

interface Pending {
  resolve(msg: OfMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  what: string;
  /** Multipart replies gathered so far. */
  parts?: FlowStats[];
}

export interface ConnectionEvents {
  state: [ConnectionState];
  packet_in: [PacketIn];
  flow_removed: [FlowRemoved];
  switch_error: [{ xid: number; typeName: string; codeName: string; data: Uint8Array }];
}

/** Replies that complete a request. */
const REPLY_TYPES = new Set<OfMessage['type']>([
  'echo_reply',
  'features_reply',
  'barrier_reply',
  'flow_stats_reply',
  'aggregate_reply',
  'get_async_reply',
  'bundle_control',
  'other',
]);

export class OpenFlowConnection extends EventEmitter<ConnectionEvents> {
  private sock: Socket | undefined;
  private server: Server | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private nextXid = 1;
  private nextBundleId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Errors that arrived for xids a bundle is watching. */
  private readonly watched = new Map<number, { typeName: string; codeName: string }>();
  private watching: Set<number> | undefined;
  private echoTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private missedEchoes = 0;
  private lastError: FlowError | undefined;
  private bundleChain: Promise<unknown> = Promise.resolve();
  private backoff = 100;
  private closed = false;
  private connectedOnce: Promise<void>;
  private resolveConnected!: () => void;
  private rejectConnected!: (e: Error) => void;
  state: ConnectionState = 'disconnected';
  datapathId: bigint | undefined;
  /** How many times a batch write waited for the socket to drain (backpressure engaged). */
  drainWaits = 0;

  private constructor(private readonly opts: ConnectionOptions) {
    super();
    this.connectedOnce = new Promise((resolve, reject) => {
      this.resolveConnected = resolve;
      this.rejectConnected = reject;
    });
  }

  /** Connects (or starts listening) and resolves after the first handshake. */
  static async open(opts: ConnectionOptions): Promise<OpenFlowConnection> {
    const c = new OpenFlowConnection(opts);
    c.start();
    await c.connectedOnce;
    return c;
  }

  /** A connection object whose `ready` resolves on the first handshake (for callers that listen for events first). */
  static create(opts: ConnectionOptions): OpenFlowConnection {
    const c = new OpenFlowConnection(opts);
    c.start();
    c.connectedOnce.catch(() => undefined);
    return c;
  }

  /** Resolves when the first handshake completed. */
  ready(): Promise<void> {
    return this.connectedOnce;
  }

  private start(): void {
    const t = this.opts.target;
    if (t.startsWith('ptcp:') || t.startsWith('punix:')) {
      this.server = createServer((s) => {
        if (this.sock) {
          s.destroy();
          return;
        }
        this.attach(s);
      });
      this.server.on('error', (e) => this.rejectConnected(this.connError(e.message)));
      if (t.startsWith('punix:')) this.server.listen(t.slice(6));
      else {
        const [port, host] = t.slice(5).split(':');
        this.server.listen(Number(port), host || '127.0.0.1');
      }
      return;
    }
    this.dial();
  }

  /** The port a `ptcp:0` listener got. */
  listeningPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  private dial(): void {
    const t = this.opts.target;
    let s: Socket;
    if (t.startsWith('unix:')) s = createConnection(t.slice(5));
    else if (t.startsWith('tcp:')) {
      const rest = t.slice(4);
      const i = rest.lastIndexOf(':');
      s = createConnection(Number(rest.slice(i + 1)), rest.slice(0, i));
    } else {
      this.rejectConnected(this.connError(`unsupported target; use unix:, tcp:, ptcp: or punix:`));
      return;
    }
    this.attach(s);
  }

  private connError(reason: string): FlowError {
    return new FlowError('OF_CONNECTION', { target: this.opts.target, reason });
  }

  private attach(s: Socket): void {
    this.sock = s;
    this.buf = Buffer.alloc(0);
    s.setNoDelay(true);
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('error', (e) => {
      this.lastError = this.connError(e.message);
    });
    s.on('close', () => this.onClose(s));
    const begin = () => {
      this.handshake().catch((e: unknown) => {
        this.lastError = e instanceof FlowError ? e : this.connError(String(e));
        if (e instanceof VersionMismatch) {
          // Permanent: retrying cannot help.
          this.rejectConnected(e);
          void this.close();
          return;
        }
        if (!this.closed) s.destroy();
      });
    };
    if (s.connecting) s.once('connect', begin);
    else begin();
  }

  private async handshake(): Promise<void> {
    const hello = this.expect('hello');
    this.writeRaw(encodeMessage({ type: 'hello', versions: [OFP_VERSION] }, this.xid()));
    const peer = await hello;
    if (peer.type === 'hello') {
      // Without a bitmap the header's version is the peer's highest (OpenFlow 1.5 §7.5.1).
      const speaks15 = peer.versions
        ? peer.versions.includes(OFP_VERSION)
        : (peer.version ?? 0) >= OFP_VERSION;
      if (!speaks15) {
        const err = new VersionMismatch(this.opts.target, peer.versions ?? [], peer.version);
        // OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE, with a readable reason, before hanging up.
        const data = new TextEncoder().encode(err.message);
        this.send({ type: 'error', errType: 0, errCode: 0, typeName: '', codeName: '', data });
        throw err;
      }
    }
    const features = await this.request({ type: 'features_request' }, 'features');
    if (features.type === 'features_reply') this.datapathId = features.datapathId;
    if (this.opts.packetIn2 !== false) {
      this.send({ type: 'set_packet_in_format', format: 'nxt_packet_in2' });
    }
    // Service connections (the mgmt socket) get no asynchronous messages by default.
    this.send({ type: 'set_async', config: this.opts.asyncConfig ?? DEFAULT_ASYNC });
    await this.barrier();
    this.backoff = 100;
    this.missedEchoes = 0;
    this.startEcho();
    this.setState('connected');
    this.resolveConnected();
  }

  private helloWaiter: ((m: OfMessage) => void) | undefined;

  private expect(type: 'hello'): Promise<OfMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(this.connError('no HELLO from the switch')),
        this.opts.requestTimeoutMs ?? 60_000,
      );
      this.helloWaiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      void type;
    });
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  private startEcho(): void {
    clearInterval(this.echoTimer);
    const every = this.opts.echoIntervalMs ?? 5000;
    this.echoTimer = setInterval(() => {
      if (this.missedEchoes >= 3) {
        this.lastError = this.connError(`no echo reply for ${3 * every} ms; dropped the switch`);
        this.sock?.destroy();
        return;
      }
      this.missedEchoes++;
      this.request({ type: 'echo_request' }, 'echo', every * 3)
        .then(() => {
          this.missedEchoes = 0;
        })
        .catch(() => undefined);
    }, every);
    this.echoTimer.unref();
  }

  private onClose(s: Socket): void {
    if (this.sock !== s) return;
    this.sock = undefined;
    clearInterval(this.echoTimer);
    const err = this.lastError ?? this.connError('connection lost');
    this.lastError = undefined;
    for (const [xid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(xid);
    }
    this.setState('disconnected');
    if (this.closed) return;
    if (this.server) return; // listening: wait for the switch to connect again
    if (this.opts.reconnect === false) {
      this.rejectConnected(err);
      return;
    }
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      const len = messageLength(this.buf);
      if (len === undefined || this.buf.length < len) break;
      if (len < 8) {
        this.sock?.destroy();
        return;
      }
      const bytes = new Uint8Array(this.buf.buffer, this.buf.byteOffset, len);
      this.buf = this.buf.subarray(len);
      let decoded;
      try {
        decoded = decodeMessage(bytes);
      } catch (e) {
        // A reply we cannot read fails its request now rather than by timeout.
        const xid = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
        const p = this.pending.get(xid);
        if (p) {
          this.pending.delete(xid);
          clearTimeout(p.timer);
          p.reject(e instanceof Error ? e : new Error(String(e)));
        }
        continue;
      }
      this.dispatch(decoded.xid, decoded.msg);
    }
  }

  private dispatch(xid: number, msg: OfMessage): void {
    if (msg.type === 'hello') {
      const w = this.helloWaiter;
      this.helloWaiter = undefined;
      w?.(msg);
      return;
    }
    if (msg.type === 'echo_request') {
      this.send({ type: 'echo_reply', data: msg.data ?? new Uint8Array(0) }, xid);
      return;
    }
    if (msg.type === 'packet_in') {
      this.emit('packet_in', msg);
      return;
    }
    if (msg.type === 'flow_removed') {
      this.emit('flow_removed', msg);
      return;
    }
    if (msg.type === 'error') {
      if (this.watching?.has(xid))
        this.watched.set(xid, { typeName: msg.typeName, codeName: msg.codeName });
      const p = this.pending.get(xid);
      if (p) {
        this.pending.delete(xid);
        clearTimeout(p.timer);
        p.reject(
          Object.assign(
            new FlowError('OF_SWITCH_ERROR', {
              what: p.what,
              reason: `${msg.typeName} ${msg.codeName}`,
            }),
            {
              typeName: msg.typeName,
              codeName: msg.codeName,
            },
          ),
        );
      } else if (!this.watching?.has(xid)) {
        this.emit('switch_error', {
          xid,
          typeName: msg.typeName,
          codeName: msg.codeName,
          data: msg.data,
        });
      }
      return;
    }
    const p = this.pending.get(xid);
    if (!p || !REPLY_TYPES.has(msg.type)) return;
    if (msg.type === 'flow_stats_reply') {
      (p.parts ??= []).push(...msg.flows);
      if (msg.more) return;
      this.pending.delete(xid);
      clearTimeout(p.timer);
      p.resolve({ type: 'flow_stats_reply', more: false, flows: p.parts });
      return;
    }
    this.pending.delete(xid);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  private xid(): number {
    const x = this.nextXid;
    this.nextXid = this.nextXid >= 0xfffffff0 ? 1 : this.nextXid + 1;
    return x;
  }

  private writeRaw(bytes: Uint8Array): boolean {
    if (!this.sock || this.sock.destroyed) throw this.connError('not connected');
    return this.sock.write(bytes);
  }

  private async drain(): Promise<void> {
    const s = this.sock;
    if (!s || !s.writableNeedDrain) return;
    this.drainWaits++;
    await new Promise<void>((resolve) => {
      const done = () => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  /** Sends a message that expects no reply; returns its xid. */
  send(msg: OfMessage, xid = this.xid()): number {
    this.writeRaw(encodeMessage(msg, xid));
    return xid;
  }

  /** Sends `msg` and resolves with the switch's reply (rejects on its ERROR or on timeout). */
  request(msg: OfMessage, what: string = msg.type, timeoutMs?: number): Promise<OfMessage> {
    const xid = this.xid();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(xid);
          reject(
            this.connError(
              `${what}: no reply within ${timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000} ms`,
            ),
          );
        },
        timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000,
      );
      this.pending.set(xid, { resolve, reject, timer, what });
      try {
        this.writeRaw(encodeMessage(msg, xid));
      } catch (e) {
        this.pending.delete(xid);
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Resolves when the switch has processed everything sent before. */
  async barrier(): Promise<void> {
    await this.request({ type: 'barrier_request' }, 'barrier');
  }

  /** Sends one flow-mod (no reply; errors surface on the next barrier as `switch_error`). */
  flowMod(mod: FlowMod): number {
    return this.send({ type: 'flow_mod', ...mod });
  }

  /**
   * Applies `mods` atomically in one bundle. Resolves after commit and barrier. Rejects with a
   * BundleError naming the failing mod when the switch refuses one; the table is then unchanged.
   */
  applyBundle(mods: readonly FlowMod[], opts: { ordered?: boolean } = {}): Promise<void> {
    // One bundle at a time: the error bookkeeping (which xid is which mod) is per bundle.
    const run = this.bundleChain.then(() => this.applyBundleNow(mods, opts));
    this.bundleChain = run.catch(() => undefined);
    return run;
  }

  private async applyBundleNow(
    mods: readonly FlowMod[],
    opts: { ordered?: boolean },
  ): Promise<void> {
    if (mods.length === 0) return;
    const bundleId = this.nextBundleId++;
    const flags = { atomic: true, ordered: opts.ordered ?? false };
    const open = await this.request(
      { type: 'bundle_control', bundleId, ctype: 'open_request', ...flags },
      'bundle open',
    );
    if (open.type !== 'bundle_control' || open.ctype !== 'open_reply')
      throw this.connError('unexpected reply to bundle open');
    const indexOf = new Map<number, number>();
    this.watching = new Set();
    this.watched.clear();
    try {
      const chunk = this.opts.writeChunkBytes ?? 256 * 1024;
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const ok = this.writeRaw(Buffer.concat(batch));
        batch = [];
        batchBytes = 0;
        if (!ok) await this.drain();
      };
      for (let i = 0; i < mods.length; i++) {
        // The inner message carries the bundle-add's own xid (OpenFlow 1.4 §7.3.9.6).
        const xid = this.xid();
        indexOf.set(xid, i);
        this.watching.add(xid);
        const bytes = encodeMessage(
          {
            type: 'bundle_add',
            bundleId,
            ...flags,
            innerXid: xid,
            message: { type: 'flow_mod', ...mods[i]! },
          },
          xid,
        );
        batch.push(bytes);
        batchBytes += bytes.length;
        if (batchBytes >= chunk) await flush();
      }
      await flush();
      await this.barrier();
      const failedAdd = this.firstFailure(indexOf, mods, 'add');
      if (failedAdd) {
        await this.request(
          { type: 'bundle_control', bundleId, ctype: 'discard_request', ...flags },
          'bundle discard',
        ).catch(() => undefined);
        throw failedAdd;
      }
      try {
        await this.request(
          { type: 'bundle_control', bundleId, ctype: 'commit_request', ...flags },
          'bundle commit',
        );
      } catch (e) {
        const failed = this.firstFailure(indexOf, mods, 'commit');
        if (failed) throw failed;
        const err = e as { typeName?: string; codeName?: string };
        throw new BundleError(
          undefined,
          undefined,
          err.typeName ?? 'OFPET_BUNDLE_FAILED',
          err.codeName ?? String(e),
          'commit',
        );
      }
      await this.barrier();
    } finally {
      this.watching = undefined;
      this.watched.clear();
    }
  }

  private firstFailure(
    indexOf: Map<number, number>,
    mods: readonly FlowMod[],
    stage: 'add' | 'commit',
  ): BundleError | undefined {
    let best: BundleError | undefined;
    for (const [xid, e] of this.watched) {
      const i = indexOf.get(xid);
      if (i === undefined) continue;
      if (!best || (best.index !== undefined && i < best.index))
        best = new BundleError(i, mods[i]?.flow, e.typeName, e.codeName, stage);
    }
    return best;
  }

  /** Flows with their counters, as the switch holds them (multipart flow-desc). */
  async dumpFlowStats(filter: FlowFilter = {}): Promise<FlowStats[]> {
    const r = await this.request({ type: 'flow_stats_request', filter }, 'dump flows');
    return r.type === 'flow_stats_reply' ? [...r.flows] : [];
  }

  /** The switch's flows as IR (filter: table, match, cookie/mask, out_port). */
  async dumpFlows(filter: FlowFilter = {}): Promise<Flow[]> {
    return (await this.dumpFlowStats(filter)).map((s) => s.flow);
  }

  async aggregate(
    filter: FlowFilter = {},
  ): Promise<{ flowCount: number; packetCount: bigint; byteCount: bigint }> {
    const r = await this.request({ type: 'aggregate_request', filter }, 'aggregate stats');
    if (r.type !== 'aggregate_reply') throw this.connError('unexpected reply to aggregate request');
    return { flowCount: r.flowCount, packetCount: r.packetCount, byteCount: r.byteCount };
  }

  /** Sends a packet into the switch as if it arrived on `inPort` (then runs `actions`). */
  packetOut(
    data: Uint8Array,
    inPort: PortNumber,
    actions: readonly Action[],
    bufferId?: number,
  ): void {
    this.send({
      type: 'packet_out',
      inPort,
      actions,
      data,
      ...(bufferId !== undefined ? { bufferId } : {}),
    });
  }

  setAsync(config: AsyncConfig): void {
    this.send({ type: 'set_async', config });
  }

  /** Which asynchronous messages the switch sends this connection, per reason (GET_ASYNC). */
  async getAsync(): Promise<AsyncConfig> {
    const r = await this.request({ type: 'get_async_request' }, 'get async');
    if (r.type !== 'get_async_reply') throw this.connError('unexpected reply to get async');
    return r.config;
  }

  /** Adds, modifies or deletes a meter (e.g. per-port punt rate limits); resolves after a barrier. */
  meterMod(m: {
    command: 'add' | 'modify' | 'delete';
    meterId: number;
    pktps?: boolean;
    burst?: boolean;
    bands: readonly MeterBand[];
  }): Promise<void> {
    return this.sendChecked({ type: 'meter_mod', ...m }, `meter ${m.meterId}`);
  }

  /**
   * Continues the pipeline of a packet paused by `controller(pause)`: sends NXT_RESUME with the
   * packet-in's continuation, so ovs-vswitchd runs the actions after the pause with the state
   * it froze (registers, conntrack state, stack, action set). Pass a copy of the packet-in with
   * a changed `match` (e.g. a register) or `data` to resume with those instead. Resolves once
   * the switch has processed it (barrier); rejects with its error (e.g. a stale continuation
   * after the bridge was reconfigured). A paused packet that is never resumed is dropped.
   */
  resume(p: PacketIn): Promise<void> {
    if (!p.continuation) {
      return Promise.reject(
        invalidFlow(
          'continuation',
          'this packet-in was not paused by controller(pause); only paused packets can be resumed',
        ),
      );
    }
    const { data, totalLen, reason, table, cookie, match, continuation } = p;
    return this.sendChecked(
      { type: 'resume', data, totalLen, reason, table, cookie, match, continuation },
      'resume',
    );
  }

  /** Sends a message that has no reply, then a barrier; rejects if the switch refuses it. */
  private async sendChecked(msg: OfMessage, what: string): Promise<void> {
    const xid = this.xid();
    let onErr: ((e: ConnectionEvents['switch_error'][0]) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      onErr = (e) => {
        if (e.xid === xid) {
          reject(
            Object.assign(
              new FlowError('OF_SWITCH_ERROR', { what, reason: `${e.typeName} ${e.codeName}` }),
              { typeName: e.typeName, codeName: e.codeName },
            ),
          );
        }
      };
      this.on('switch_error', onErr);
    });
    try {
      this.send(msg, xid);
      await Promise.race([this.barrier(), failed]);
    } finally {
      if (onErr) this.off('switch_error', onErr);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.echoTimer);
    clearTimeout(this.reconnectTimer);
    const s = this.sock;
    this.sock = undefined;
    if (s) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => s.destroy(), 500).unref();
      });
    }
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(this.connError('closed'));
    }
    this.pending.clear();
    this.setState('disconnected');
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
