/**
 * The Open_vSwitch database, as the agent needs it: the interfaces on one bridge (followed by
 * a monitor, never polled) and the bridge's own settings (`fail_mode=secure`, controllers).
 *
 * Produces `watchBridgePorts` — the join Bridge.ports → Port.interfaces → Interface, kept
 * current and reported as added/removed/updated interfaces — and `ensureBridge` /
 * `setController`, which converge the database to what was asked with as few writes as
 * possible.
 *
 * Invariants: `BridgePortWatch.interfaces` always equals the join over the monitor's cache,
 * and a 'change' is emitted only when an interface's reported fields really changed.
 * `ensureBridge` and `setController` are idempotent (a second call writes nothing) and safe
 * against a concurrent writer: each transaction `wait`s on what it read and is retried on a
 * fresh read if that changed.
 */
import { EventEmitter } from 'node:events';
import type { ChangeEvent, Operation, OvsdbClient, RowJson } from './client.js';
import { OvsdbError } from './client.js';
import { namedUuidRef, setOf, uuidRef, type Atom, type Json, type Row } from './datum.js';

export const VSWITCH_DB = 'Open_vSwitch';

/** One interface on the watched bridge. */
export interface BridgeInterface {
  uuid: string;
  name: string;
  /** OpenFlow port number; null while unassigned (empty) or failed (-1). */
  ofport: number | null;
  /** `external_ids:iface-id`: the logical port this interface plugs in. */
  ifaceId: string | null;
  /** `external_ids:attached-mac`. */
  attachedMac: string | null;
}

export interface BridgePortsChange {
  added: BridgeInterface[];
  removed: BridgeInterface[];
  updated: { old: BridgeInterface; now: BridgeInterface }[];
}

interface BridgePortWatchEvents {
  change: [BridgePortsChange];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function uuidList(v: unknown): string[] {
  return Array.isArray(v) ? (v as Atom[]).map(String) : [];
}

function externalId(row: Row, key: string): string | null {
  const ids = row['external_ids'];
  const v = ids instanceof Map ? (ids as ReadonlyMap<Atom, Atom>).get(key) : undefined;
  return typeof v === 'string' ? v : null;
}

/** The join Bridge(name) → ports → interfaces, keyed by interface name. */
export function bridgeInterfaces(
  bridgeName: string,
  bridges: ReadonlyMap<string, Row>,
  ports: ReadonlyMap<string, Row>,
  interfaces: ReadonlyMap<string, Row>,
): Map<string, BridgeInterface> {
  const out = new Map<string, BridgeInterface>();
  for (const bridge of bridges.values()) {
    if (bridge['name'] !== bridgeName) continue;
    for (const portUuid of uuidList(bridge['ports'])) {
      const port = ports.get(portUuid);
      if (!port) continue;
      for (const ifaceUuid of uuidList(port['interfaces'])) {
        const iface = interfaces.get(ifaceUuid);
        if (!iface) continue;
        const ofport = iface['ofport'];
        const name = str(iface['name']);
        out.set(name, {
          uuid: ifaceUuid,
          name,
          ofport: typeof ofport === 'number' && ofport >= 0 ? ofport : null,
          ifaceId: externalId(iface, 'iface-id'),
          attachedMac: externalId(iface, 'attached-mac'),
        });
      }
    }
  }
  return out;
}

function sameInterface(a: BridgeInterface, b: BridgeInterface): boolean {
  return (
    a.uuid === b.uuid &&
    a.ofport === b.ofport &&
    a.ifaceId === b.ifaceId &&
    a.attachedMac === b.attachedMac
  );
}

export function diffInterfaces(
  before: ReadonlyMap<string, BridgeInterface>,
  after: ReadonlyMap<string, BridgeInterface>,
): BridgePortsChange {
  const change: BridgePortsChange = { added: [], removed: [], updated: [] };
  for (const [name, old] of before) {
    const now = after.get(name);
    if (!now) change.removed.push(old);
    else if (!sameInterface(old, now)) change.updated.push({ old, now });
  }
  for (const [name, now] of after) if (!before.has(name)) change.added.push(now);
  return change;
}

/** The interfaces of one bridge, kept current by an OVSDB monitor. */
export class BridgePortWatch extends EventEmitter<BridgePortWatchEvents> {
  private current = new Map<string, BridgeInterface>();
  private readonly listener = (e: ChangeEvent): void => this.onChange(e);

  constructor(
    private readonly client: OvsdbClient,
    readonly bridge: string,
    readonly monitorId: string,
  ) {
    super();
  }

  /** Interface name → interface, as of the last update. */
  get interfaces(): ReadonlyMap<string, BridgeInterface> {
    return this.current;
  }

  async start(): Promise<void> {
    this.client.on('change', this.listener);
    try {
      await this.client.monitorCondSince(VSWITCH_DB, this.monitorId, {
        Bridge: { columns: ['name', 'ports'], where: [['name', '==', this.bridge]] },
        Port: { columns: ['name', 'interfaces'] },
        Interface: { columns: ['name', 'ofport', 'external_ids'] },
      });
    } catch (err) {
      this.client.off('change', this.listener);
      throw err;
    }
    this.recompute();
  }

  private onChange(e: ChangeEvent): void {
    if (e.monitorId === this.monitorId) this.recompute();
  }

  private recompute(): void {
    const rows = (t: string): ReadonlyMap<string, Row> => this.client.rows(this.monitorId, t);
    const next = bridgeInterfaces(this.bridge, rows('Bridge'), rows('Port'), rows('Interface'));
    const change = diffInterfaces(this.current, next);
    this.current = next;
    if (change.added.length + change.removed.length + change.updated.length > 0) {
      this.emit('change', change);
    }
  }

  async close(): Promise<void> {
    this.client.off('change', this.listener);
    await this.client.cancelMonitor(this.monitorId).catch(() => undefined);
  }
}

let watchCounter = 0;

/**
 * Follow the interfaces of `bridgeName`. When this resolves, `interfaces` holds the current
 * set; 'change' events report every later difference (including across reconnects).
 */
export async function watchBridgePorts(
  client: OvsdbClient,
  bridgeName: string,
): Promise<BridgePortWatch> {
  const id = `sgflow-bridge-ports-${bridgeName}-${++watchCounter}`;
  const watch = new BridgePortWatch(client, bridgeName, id);
  await watch.start();
  return watch;
}

// ---------------------------------------------------------------------------------------
// Writing the bridge

export const FAIL_MODES = ['secure', 'standalone'] as const;
export type FailMode = (typeof FAIL_MODES)[number];
export const OPENFLOW_VERSIONS = [
  'OpenFlow10',
  'OpenFlow11',
  'OpenFlow12',
  'OpenFlow13',
  'OpenFlow14',
  'OpenFlow15',
] as const;

export interface BridgeOptions {
  /** Default 'secure': a bridge without its controller forwards nothing by itself. */
  failMode?: FailMode;
  /** e.g. 'netdev' for the userspace datapath; left alone when absent. */
  datapathType?: string;
  /** Controller targets (`tcp:…`, `unix:…`, `punix:…`); left alone when absent. */
  controller?: string[];
  /** OpenFlow versions the bridge speaks; left alone when absent. */
  protocols?: string[];
}

const MAX_ATTEMPTS = 5;

function isWaitFailure(err: unknown): boolean {
  const e =
    err instanceof OvsdbError ? (err.serverError as { error?: unknown } | undefined) : undefined;
  return e?.error === 'timed out';
}

/** Run `attempt` until its transaction's `wait` guards hold (a concurrent writer lost). */
async function withRetry<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isWaitFailure(err) || i >= MAX_ATTEMPTS) {
        if (isWaitFailure(err)) {
          throw new OvsdbError(
            'transact',
            `${what}: the database kept changing under us (${i} attempts)`,
            err,
          );
        }
        throw err;
      }
    }
  }
}

function validate(opts: BridgeOptions): void {
  if (opts.failMode !== undefined && !FAIL_MODES.includes(opts.failMode)) {
    throw new OvsdbError(
      'invalid',
      `fail_mode: '${String(opts.failMode)}' is not allowed (allowed: ${FAIL_MODES.join(', ')})`,
    );
  }
  for (const p of opts.protocols ?? []) {
    if (!(OPENFLOW_VERSIONS as readonly string[]).includes(p)) {
      throw new OvsdbError(
        'invalid',
        `protocols: '${p}' is not allowed (allowed: ${OPENFLOW_VERSIONS.join(', ')})`,
      );
    }
  }
  for (const t of opts.controller ?? []) {
    if (!/^(tcp|ssl|unix|ptcp|pssl|punix):./.test(t)) {
      throw new OvsdbError(
        'invalid',
        `controller: '${t}' is not a controller target (allowed forms: tcp:IP[:PORT], ssl:IP[:PORT], unix:FILE, ptcp:[PORT][:IP], pssl:[PORT][:IP], punix:FILE)`,
      );
    }
  }
}

function sameSet(a: readonly Atom[], b: readonly Atom[]): boolean {
  const sb = new Set(b);
  return a.length === b.length && a.every((x) => sb.has(x));
}

/** Controller ops: keep rows whose target is wanted, insert the rest; null if nothing changes. */
async function controllerOps(
  client: OvsdbClient,
  bridge: string,
  current: readonly string[],
  targets: readonly string[],
): Promise<{ ops: Operation[]; controller: Json } | null> {
  const rows = await client.select(VSWITCH_DB, 'Controller', [], ['target']);
  const kept: string[] = [];
  const have = new Set<string>();
  for (const uuid of current) {
    const target = str(rows.get(uuid)?.['target']);
    if (targets.includes(target) && !have.has(target)) {
      kept.push(uuid);
      have.add(target);
    }
  }
  const missing = [...new Set(targets)].filter((t) => !have.has(t));
  if (missing.length === 0 && kept.length === current.length) return null;
  const ops: Operation[] = [
    {
      op: 'wait',
      table: 'Bridge',
      where: [['name', '==', bridge]],
      columns: ['controller'],
      until: '==',
      rows: [{ controller: setOf(current.map(uuidRef)) }],
      timeout: 0,
    },
  ];
  missing.forEach((target, i) => {
    ops.push({ op: 'insert', table: 'Controller', row: { target }, 'uuid-name': `ctrl${i}` });
  });
  const controller = setOf([
    ...kept.map(uuidRef),
    ...missing.map((_, i) => namedUuidRef(`ctrl${i}`)),
  ]);
  return { ops, controller };
}

/**
 * Make sure bridge `name` exists with the given settings (default `fail_mode=secure`). A new
 * bridge gets what `ovs-vsctl add-br` writes: a Port and an internal Interface of its own
 * name, and its place in Open_vSwitch.bridges (the root row is created if the database has
 * none). Writes nothing when the bridge already matches.
 */
export async function ensureBridge(
  client: OvsdbClient,
  name: string,
  opts: BridgeOptions = {},
): Promise<void> {
  validate(opts);
  const failMode = opts.failMode ?? 'secure';
  await withRetry(`ensureBridge ${name}`, async () => {
    const found = await client.select(
      VSWITCH_DB,
      'Bridge',
      [['name', '==', name]],
      ['fail_mode', 'datapath_type', 'protocols', 'controller'],
    );
    const existing = [...found.values()][0];
    if (existing) {
      const row: RowJson = {};
      if (existing['fail_mode'] !== failMode) row['fail_mode'] = failMode;
      if (opts.datapathType !== undefined && existing['datapath_type'] !== opts.datapathType) {
        row['datapath_type'] = opts.datapathType;
      }
      if (opts.protocols && !sameSet(existing['protocols'] as Atom[], opts.protocols)) {
        row['protocols'] = setOf(opts.protocols);
      }
      const ops: Operation[] = [];
      if (opts.controller) {
        const c = await controllerOps(
          client,
          name,
          uuidList(existing['controller']),
          opts.controller,
        );
        if (c) {
          ops.push(...c.ops);
          row['controller'] = c.controller;
        }
      }
      if (Object.keys(row).length === 0) return;
      ops.push({ op: 'update', table: 'Bridge', where: [['name', '==', name]], row });
      await client.transact(VSWITCH_DB, ops);
      return;
    }

    const roots = await client.select(VSWITCH_DB, 'Open_vSwitch', [], []);
    const root = [...roots.keys()][0];
    const bridgeRow: RowJson = {
      name,
      ports: namedUuidRef('port'),
      fail_mode: failMode,
    };
    if (opts.datapathType !== undefined) bridgeRow['datapath_type'] = opts.datapathType;
    if (opts.protocols) bridgeRow['protocols'] = setOf(opts.protocols);
    const ops: Operation[] = [
      // Someone else may be creating it right now: then this fails and we re-read.
      {
        op: 'wait',
        table: 'Bridge',
        where: [['name', '==', name]],
        until: '==',
        rows: [],
        timeout: 0,
      },
      { op: 'insert', table: 'Interface', row: { name, type: 'internal' }, 'uuid-name': 'iface' },
      {
        op: 'insert',
        table: 'Port',
        row: { name, interfaces: namedUuidRef('iface') },
        'uuid-name': 'port',
      },
    ];
    if (opts.controller) {
      const c = [...new Set(opts.controller)];
      c.forEach((target, i) => {
        ops.push({ op: 'insert', table: 'Controller', row: { target }, 'uuid-name': `ctrl${i}` });
      });
      bridgeRow['controller'] = setOf(c.map((_, i) => namedUuidRef(`ctrl${i}`)));
    }
    ops.push({ op: 'insert', table: 'Bridge', row: bridgeRow, 'uuid-name': 'bridge' });
    if (root) {
      ops.push({
        op: 'mutate',
        table: 'Open_vSwitch',
        where: [['_uuid', '==', uuidRef(root)]],
        mutations: [['bridges', 'insert', setOf([namedUuidRef('bridge')])]],
      });
    } else {
      ops.push(
        { op: 'wait', table: 'Open_vSwitch', where: [], until: '==', rows: [], timeout: 0 },
        { op: 'insert', table: 'Open_vSwitch', row: { bridges: namedUuidRef('bridge') } },
      );
    }
    ops.push({ op: 'comment', comment: `sgflow: ensure bridge ${name}` });
    await client.transact(VSWITCH_DB, ops);
  });
}

/** Set the bridge's controllers to exactly `targets` (an empty list removes them all). */
export async function setController(
  client: OvsdbClient,
  bridge: string,
  targets: string[],
): Promise<void> {
  validate({ controller: targets });
  await withRetry(`setController ${bridge}`, async () => {
    const found = await client.select(
      VSWITCH_DB,
      'Bridge',
      [['name', '==', bridge]],
      ['controller'],
    );
    const existing = [...found.values()][0];
    if (!existing) throw new OvsdbError('not-found', `bridge '${bridge}' does not exist`);
    const c = await controllerOps(client, bridge, uuidList(existing['controller']), targets);
    if (!c) return;
    await client.transact(VSWITCH_DB, [
      ...c.ops,
      {
        op: 'update',
        table: 'Bridge',
        where: [['name', '==', bridge]],
        row: { controller: c.controller },
      },
    ]);
  });
}
