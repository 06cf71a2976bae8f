/**
 * The agent: intent (a policy source following the store) + local interfaces (OVSDB) →
 * compiler → desired table → difference against what the switch holds → one atomic bundle.
 *
 * One reconcile runs at a time; changes that arrive meanwhile are coalesced into the next.
 * Each is incremental end to end: rule and port changes re-normalise only what they touch
 * (incremental.ts), the compiler (src/compiler/incremental.ts) compiles again only the
 * units whose inputs changed (one rule → its group's rules; one member → the groups that
 * name it; one port → that port, its network and its groups) and returns the difference of
 * the desired table, and that difference is the bundle. The agent's belief of what the switch
 * holds is the compiler's table. It reads the switch's flows back (a resync) on start, after
 * every reconnect (that includes an ovs-vswitchd restart, which loses all flows), after any
 * failed bundle and periodically, and then sends only the difference: flows that are already
 * right are never touched, so their counters and durations survive and no packet of an
 * allowed connection is ever dropped by the agent's own doing.
 *
 * Packets the pipeline pauses at the controller (DCCP and UDP-Lite port rules, which OVS
 * cannot match) are judged with the reference semantics (punt.ts) and resumed when allowed;
 * each port may send only so many a second.
 *
 * Invariants:
 * - Every difference goes out as one OpenFlow bundle (atomic); a failed bundle leaves the
 *   switch as it was, is logged with the switch's error, and is followed by a resync and a
 *   retry with backoff — never by a partial state.
 * - Only the agent's tables (base..base+9) are read or changed; flows of other tables are
 *   someone else's.
 * - `appliedRevision` only names a store revision whose flows the switch acknowledged.
 * - Without a pending resync, the switch holds exactly the compiler's table.
 */
import { Reg } from '../compiler/index.js';
import type { EnforcementMode, NormalizedPolicy } from '../model/types.js';
import type { Flow, FlowTable } from '../openflow/ir.js';
import { IncrementalNormalizer } from './incremental.js';
import { AgentMetrics, type Health } from './metrics.js';
import type { PolicySource } from './policy-source.js';
import type { FlowMod } from './reconcile.js';
import { parseFrame } from './frame.js';
import { judgePunt, PuntLimiter, type PuntJudgement } from './punt.js';
import type { FlowSwitch, LocalInterface, PortSource, PuntedPacket } from './switch.js';

/** Number of tables the pipeline uses (docs/pipeline.md). */
export const PIPELINE_TABLES = 10;

/** A local port as the compiler takes it: the store port id and its OpenFlow port. */
export interface LocalPort {
  portId: string;
  ofport: number;
}

/** What the agent hands the compiler (src/compiler `compile`'s input, structurally). */
export interface CompileInput {
  policy: NormalizedPolicy;
  localPorts: LocalPort[];
  uplinkOfport?: number;
  networkKeys?: ReadonlyMap<string, number>;
  options: { mode: EnforcementMode; baseTable: number };
}

/** What the agent reads of a whole-table compile (the stand-ins of tests produce it). */
export interface CompileResult {
  flows: FlowTable;
  warnings: readonly string[];
}

/** What one compile changed in the desired table. */
export interface CompilerUpdate {
  /** Delete these (strict), then add these (new flows, or replacements of the same identity). */
  change: { removed: readonly Flow[]; added: readonly Flow[] };
  /** The compiler started from nothing: the switch must be read back and diffed. */
  fresh: boolean;
  warnings: readonly string[];
  /** Units of the pipeline compiled again (when the compiler says). */
  recompiled?: number;
}

/**
 * The compiler as the agent drives it: it keeps the desired table and says what each new
 * input changes. The commands pass src/compiler's `IncrementalCompiler`; tests may wrap a
 * whole-table stand-in in `WholeTableCompiler` (reconcile.ts). An `update` that throws must
 * leave the table as it was.
 */
export interface FlowCompiler {
  update(input: CompileInput): CompilerUpdate;
  /** The whole desired table. */
  flows(): Flow[];
  readonly size: number;
}

export interface AgentLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: AgentLogger = { info() {}, warn() {}, error() {} };

export interface AgentOptions {
  compiler: FlowCompiler;
  source: PolicySource;
  switch: FlowSwitch;
  ports: PortSource;
  mode?: EnforcementMode;
  baseTable?: number;
  /** Name of the bridge interface that leads to other hosts (the uplink), if any. */
  uplink?: string;
  networkKeys?: ReadonlyMap<string, number>;
  metrics?: AgentMetrics;
  log?: AgentLogger;
  /** Wait before retrying after a failure; grows ×2 up to 30× this. Default 200 ms. */
  retryMs?: number;
  /**
   * Read the switch's flows back this often even when nothing happened, to undo changes
   * made behind the agent's back. Default 60 s; 0 = never.
   */
  resyncEveryMs?: number;
}

/** What one reconcile did (tests count flow mods per change with it). */
export interface ReconcileReport {
  /** Store revision the switch now holds. */
  revision: number;
  resync: boolean;
  /** The flow mods sent (on a resync through a switch that diffs by itself: empty, see counts). */
  mods: readonly FlowMod[];
  adds: number;
  deletes: number;
  flows: number;
  /** Units of the pipeline the compiler compiled again (undefined: it does not say). */
  recompiled: number | undefined;
  /** Policy normalisation (incremental for rule changes). */
  normalizeMs: number;
  /** The compiler (which also computes the difference of the desired table). */
  compileMs: number;
  /** Turning the difference into flow mods. */
  diffMs: number;
  /** Bundle + barrier (or read-back + bundle on a resync). */
  switchMs: number;
  totalMs: number;
}

interface Waiter {
  revision: number;
  portsGeneration: number;
  resolve: () => void;
}

function now(): number {
  return performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class Agent {
  readonly metrics: AgentMetrics;
  private readonly log: AgentLogger;
  private readonly baseTable: number;
  private readonly mode: EnforcementMode;
  private readonly retryMs: number;

  private ifaces: readonly LocalInterface[] = [];
  private portsGeneration = 0;
  private readonly compiler: FlowCompiler;
  private needResync = true;
  private dirty = false;
  private running: Promise<void> | undefined;
  private closed = false;
  private started = false;
  private failures = 0;
  private lastError: string | undefined;
  private policyOk = false;
  private switchUp = false;
  private ovsdbUp = false;
  private normalizedFor: { revision: number; policy: NormalizedPolicy } | undefined;
  /** Normalises only what changed when it can (rule changes); public for tests. */
  readonly normalizer = new IncrementalNormalizer();

  private applied = { revision: -1, portsGeneration: -1 };
  private readonly puntLimiter = new PuntLimiter();
  /** The local ports of the last reconcile (what the switch enforces), by ofport. */
  private portIdByOfport = new Map<number, string>();
  private waiters: Waiter[] = [];
  private reportListeners: ((r: ReconcileReport) => void)[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.compiler = opts.compiler;
    this.metrics = opts.metrics ?? new AgentMetrics();
    this.log = opts.log ?? silentLogger;
    this.baseTable = opts.baseTable ?? 0;
    this.mode = opts.mode ?? 'conntrack';
    this.retryMs = opts.retryMs ?? 200;
  }

  /** Connects everything, takes the first snapshot, and converges once before resolving. */
  async start(): Promise<void> {
    if (this.started) throw new Error('agent already started');
    this.started = true;
    const { source, ports } = this.opts;
    const sw = this.opts.switch;

    sw.onStateChange((state) => {
      this.switchUp = state === 'connected';
      this.metrics.connected.set({ peer: 'openflow' }, this.switchUp ? 1 : 0);
      this.log.info({ state }, 'openflow connection');
      if (this.switchUp) {
        this.needResync = true;
        this.kick();
      }
    });
    sw.onPacketIn?.((p) => this.onPunt(p));
    ports.onStateChange((state) => {
      this.ovsdbUp = state === 'connected';
      this.metrics.connected.set({ peer: 'ovsdb' }, this.ovsdbUp ? 1 : 0);
      this.log.info({ state }, 'ovsdb connection');
    });

    await ports.ensureBridge();
    this.ovsdbUp = true;
    this.metrics.connected.set({ peer: 'ovsdb' }, 1);
    await ports.watch((ifaces) => {
      this.ifaces = ifaces;
      this.portsGeneration++;
      this.kick();
    });
    await source.start({
      onReset: (revision) => {
        this.normalizer.reset();
        this.normalizedFor = undefined;
        this.log.info({ revision }, 'policy snapshot');
        this.kick();
      },
      onChanges: (revision, changes) => {
        this.normalizer.changed(changes);
        this.log.info({ revision, changes: changes.length }, 'policy change');
        this.kick();
      },
      onError: (err) => {
        this.metrics.errors.inc({ kind: 'store' });
        this.log.error({ err: err.message }, 'policy feed failed; taking a new snapshot');
      },
    });
    await sw.connect();
    const every = this.opts.resyncEveryMs ?? 60_000;
    if (every > 0) {
      this.resyncTimer = setInterval(() => {
        this.needResync = true;
        this.kick();
      }, every);
      this.resyncTimer.unref();
    }
    this.switchUp = true;
    this.metrics.connected.set({ peer: 'openflow' }, 1);
    this.kick();
    await this.settled();
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.opts.source.stop();
    await this.running?.catch(() => undefined);
    await this.opts.ports.close();
    await this.opts.switch.close();
  }

  /** Store revision whose flows the switch has acknowledged. */
  get appliedRevision(): number {
    return this.applied.revision;
  }

  /** The table the agent believes the switch holds (the compiler's desired table). */
  installedFlows(): Flow[] {
    return this.compiler.flows();
  }

  /** Local ports joined with the store (what the compiler gets). */
  localPorts(): LocalPort[] {
    const cache = this.opts.source.cache;
    const out: LocalPort[] = [];
    for (const i of this.ifaces) {
      if (i.ifaceId === undefined || i.ofport <= 0) continue;
      if (cache.port(i.ifaceId) === undefined) continue;
      out.push({ portId: i.ifaceId, ofport: i.ofport });
    }
    return out.sort((a, b) => a.ofport - b.ofport);
  }

  onReconcile(listener: (r: ReconcileReport) => void): () => void {
    this.reportListeners.push(listener);
    return () => {
      this.reportListeners = this.reportListeners.filter((l) => l !== listener);
    };
  }

  /** Resolves once the switch holds the policy of store revision `revision` (or later). */
  waitForRevision(revision: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push({ revision, portsGeneration: -1, resolve });
      this.flushWaiters();
    });
  }

  /** Resolves once everything the agent has seen so far (policy and interfaces) is on the switch. */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push({
        revision: this.opts.source.cache.revision,
        portsGeneration: this.portsGeneration,
        resolve,
      });
      this.flushWaiters();
    });
  }

  /** Forces a read-back of the switch's flows and a reconcile against them. */
  resync(): Promise<void> {
    this.needResync = true;
    this.kick();
    return this.settled();
  }

  health(): Health {
    const ok = this.switchUp && this.ovsdbUp && this.policyOk && this.failures === 0;
    return {
      ok,
      ovsdb: this.ovsdbUp,
      openflow: this.switchUp,
      policy: this.policyOk,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      appliedRevision: this.applied.revision,
      flows: this.compiler.size,
    };
  }

  private flushWaiters(): void {
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.applied.revision >= w.revision && this.applied.portsGeneration >= w.portsGeneration)
        w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  private kick(): void {
    if (this.closed || !this.started) return;
    this.dirty = true;
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.dirty && !this.closed && this.switchUp) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.closed) {
      if (!this.switchUp) return; // stays dirty; the reconnect kicks us again
      this.dirty = false;
      try {
        await this.reconcileOnce();
      } catch (e) {
        const err = e as Error & { kind?: string };
        this.failures++;
        this.lastError = err.message;
        const kind = err.kind ?? 'bundle';
        this.metrics.errors.inc({ kind });
        this.needResync = true;
        const delay = Math.min(this.retryMs * 2 ** (this.failures - 1), this.retryMs * 30);
        this.log.error(
          { err: err.message, failures: this.failures, retryInMs: delay },
          'reconcile failed; the switch keeps its previous table; resync and retry',
        );
        this.dirty = true;
        await sleep(delay);
      }
    }
  }

  /** A packet paused at the controller: judged by the reference semantics, resumed if allowed. */
  private onPunt(p: PuntedPacket): void {
    const count = (outcome: string, level: 'info' | 'warn', why: string): void => {
      this.metrics.packetIns.inc({ outcome });
      this.log[level](
        { outcome, table: p.table, cookie: `0x${p.cookie.toString(16)}`, why },
        'packet at the controller',
      );
    };
    if (!p.paused) {
      count('unexpected', 'warn', 'not paused by an sgflow flow; ignored');
      return;
    }
    const port = Number(p.metadata[Reg.PortKey] ?? 0n);
    if (!this.puntLimiter.take(port, now())) {
      this.metrics.packetIns.inc({ outcome: 'rate_limited' });
      return;
    }
    let verdict: PuntJudgement;
    try {
      verdict = judgePunt(
        this.normalized(),
        (ofport) => this.portIdByOfport.get(ofport),
        p.metadata,
        parseFrame(p.data),
      );
    } catch (e) {
      verdict = { verdict: 'deny', reason: `cannot judge: ${(e as Error).message}` };
    }
    if (verdict.verdict === 'deny') {
      count('denied', 'info', verdict.reason);
      return;
    }
    count('allowed', 'info', verdict.reason);
    p.resume().catch((e: unknown) => {
      this.metrics.errors.inc({ kind: 'resume' });
      this.log.warn({ err: (e as Error).message }, 'resuming a paused packet failed');
    });
  }

  private normalized(): NormalizedPolicy {
    const cache = this.opts.source.cache;
    if (this.normalizedFor?.revision === cache.revision) return this.normalizedFor.policy;
    const policy = this.normalizer.normalize(cache.policy());
    this.normalizedFor = { revision: cache.revision, policy };
    return policy;
  }

  private async reconcileOnce(): Promise<void> {
    const t0 = now();
    const sw = this.opts.switch;
    const revision = this.opts.source.cache.revision;
    const portsGeneration = this.portsGeneration;
    const base = this.baseTable;
    const localPorts = this.localPorts();
    this.puntLimiter.keep(new Set(localPorts.map((l) => l.ofport)));

    let update: CompilerUpdate;
    let normalizeMs: number;
    let compileMs: number;
    try {
      const tn = now();
      const policy = this.normalized();
      normalizeMs = now() - tn;
      const uplink =
        this.opts.uplink === undefined
          ? undefined
          : this.ifaces.find((i) => i.name === this.opts.uplink && i.ofport > 0)?.ofport;
      const tc = now();
      update = this.compiler.update({
        policy,
        localPorts,
        ...(uplink !== undefined ? { uplinkOfport: uplink } : {}),
        ...(this.opts.networkKeys ? { networkKeys: this.opts.networkKeys } : {}),
        options: { mode: this.mode, baseTable: base },
      });
      compileMs = now() - tc;
      this.policyOk = true;
    } catch (e) {
      // Bad intent is not retried (the next change kicks us); the switch keeps its table.
      this.policyOk = false;
      this.metrics.errors.inc({ kind: 'compile' });
      this.lastError = (e as Error).message;
      this.log.error(
        { err: (e as Error).message, revision },
        'compile failed; flows left as they are',
      );
      return;
    }
    this.metrics.compileSeconds.observe((normalizeMs + compileMs) / 1000);
    for (const w of update.warnings) this.log.warn({ revision }, w);

    let mods: readonly FlowMod[];
    let adds: number;
    let deletes: number;
    const resync = this.needResync || update.fresh;
    let diffMs = 0;
    const ts = now();
    // From here until the switch has acknowledged, the switch may not hold the compiler's table.
    this.needResync = true;
    try {
      if (resync) {
        // Read the switch's tables back and send only the difference (no flush).
        const r = await sw.sync(this.compiler.flows(), base, base + PIPELINE_TABLES - 1);
        mods = r.mods ?? [];
        adds = r.adds;
        deletes = r.deletes;
        this.metrics.resyncs.inc();
      } else {
        const td = now();
        const { removed, added } = update.change;
        const list: FlowMod[] = [];
        for (const flow of removed) list.push({ command: 'delete_strict', flow });
        for (const flow of added) list.push({ command: 'add', flow });
        mods = list;
        adds = added.length;
        deletes = removed.length;
        diffMs = now() - td;
        if (mods.length > 0) await sw.applyBundle(mods);
      }
      this.needResync = false;
    } catch (e) {
      this.log.error(
        { err: (e as Error).message, revision, resync },
        'the switch rejected the change (or the connection failed)',
      );
      throw e;
    }
    const switchMs = now() - ts - diffMs;
    if (adds + deletes > 0) this.metrics.changesApplied.inc();
    this.metrics.flowMods.inc({ command: 'add' }, adds);
    this.metrics.flowMods.inc({ command: 'delete_strict' }, deletes);
    this.metrics.flowsInstalled.set(this.compiler.size);
    this.metrics.localPorts.set(localPorts.length);
    this.portIdByOfport = new Map(localPorts.map((l) => [l.ofport, l.portId]));
    this.metrics.appliedRevision.set(revision);
    this.failures = 0;
    this.lastError = undefined;
    this.applied = { revision, portsGeneration };
    const totalMs = now() - t0;
    this.metrics.reconcileSeconds.observe(totalMs / 1000);
    const report: ReconcileReport = {
      revision,
      resync,
      mods,
      adds,
      deletes,
      flows: this.compiler.size,
      recompiled: update.recompiled,
      normalizeMs,
      compileMs,
      diffMs,
      switchMs,
      totalMs,
    };
    if (adds + deletes > 0 || resync) {
      this.log.info(
        {
          revision,
          resync,
          adds,
          deletes,
          flows: report.flows,
          normalizeMs: +normalizeMs.toFixed(2),
          compileMs: +compileMs.toFixed(2),
          diffMs: +diffMs.toFixed(2),
          switchMs: +switchMs.toFixed(2),
        },
        'reconciled',
      );
    }
    for (const l of this.reportListeners) l(report);
    this.flushWaiters();
  }
}
