/**
 * `sgflow agent`: one agent for one bridge, assembled from its parts — the store's change
 * feed, the OVSDB port monitor, the compiler, the switch driver — plus the metrics endpoint.
 * `startAgentService` returns a running service (used by `sgflow up` and the tests);
 * `runAgentCommand` is the foreground command that stops on SIGINT/SIGTERM.
 *
 * Invariant: whatever fails while starting, everything already started is stopped again.
 */
import { dirname } from 'node:path';

import { pino } from 'pino';

import { IncrementalCompiler } from '../compiler/index.js';
import { SgflowError } from '../model/errors.js';
import { ENFORCEMENT_MODES, type EnforcementMode } from '../model/types.js';
import { formatFlow } from '../openflow/text.js';
import { openSqliteStore, type Store } from '../store/index.js';
import { Agent, type AgentLogger } from './agent.js';
import { AgentMetrics, serveMetrics, type MetricsServer } from './metrics.js';
import { OfctlSwitch } from './ofctl-switch.js';
import { OpenFlowSwitch } from './openflow-switch.js';
import { OvsdbPortSource } from './ovsdb-ports.js';
import { StorePolicySource } from './policy-source.js';
import type { FlowSwitch } from './switch.js';

export const DEFAULT_OVSDB = 'unix:/var/run/openvswitch/db.sock';
export const DEFAULT_METRICS = '127.0.0.1:9697';
export const DEFAULT_DRIVER: SwitchDriver =
  process.env['SGFLOW_OPENFLOW_DRIVER'] === 'ovs-ofctl' ? 'ovs-ofctl' : 'native';

export interface AgentServiceOptions {
  bridge: string;
  /** OVSDB remote (`unix:PATH`, `tcp:HOST:PORT`). */
  ovsdb?: string;
  /** OpenFlow target of the bridge; default `unix:<ovsdb socket dir>/<bridge>.mgmt`. */
  openflow?: string;
  /** `sqlite:FILE`, or an already open store (then `store` is not closed on stop). */
  store: string | Store;
  /** `host:port` for /metrics and /healthz; `off` = none. */
  metrics?: string;
  mode?: EnforcementMode;
  baseTable?: number;
  /** Name of the bridge interface towards other hosts. */
  uplink?: string;
  log?: AgentLogger;
  /** Environment for the ovs-* tools (OVS_RUNDIR...). */
  env?: NodeJS.ProcessEnv;
  /** How flows reach the switch: `native` OpenFlow connection (default) or `ovs-ofctl`. */
  driver?: SwitchDriver;
}

export const SWITCH_DRIVERS = ['native', 'ovs-ofctl'] as const;
export type SwitchDriver = (typeof SWITCH_DRIVERS)[number];

export function checkDriver(driver: string): SwitchDriver {
  if (!(SWITCH_DRIVERS as readonly string[]).includes(driver)) {
    throw new SgflowError('SG_INVALID_FIELD', {
      field: '--openflow-driver',
      reason: `'${driver}' is not a driver; allowed: ${SWITCH_DRIVERS.join(', ')}`,
    });
  }
  return driver as SwitchDriver;
}

export interface AgentService {
  readonly agent: Agent;
  readonly metricsUrl: string | undefined;
  stop(): Promise<void>;
}

/** Opens `sqlite:FILE`; other schemes are named in the error. */
export function openStore(spec: string): Store {
  const m = /^sqlite:(.+)$/.exec(spec);
  if (!m) {
    throw new SgflowError('SG_INVALID_FIELD', {
      field: '--store',
      reason: `'${spec}' is not a store address; allowed: sqlite:FILE`,
    });
  }
  return openSqliteStore({ path: m[1]! });
}

export function checkMode(mode: string): EnforcementMode {
  if (!(ENFORCEMENT_MODES as readonly string[]).includes(mode)) {
    throw new SgflowError('SG_INVALID_FIELD', {
      field: '--mode',
      reason: `'${mode}' is not a mode; allowed: ${ENFORCEMENT_MODES.join(', ')}`,
    });
  }
  return mode as EnforcementMode;
}

/** The bridge's management socket next to the OVSDB socket (where ovs-vswitchd puts it). */
export function defaultOpenflowTarget(ovsdb: string, bridge: string): string {
  const m = /^unix:(.+)$/.exec(ovsdb);
  const rundir = m ? dirname(m[1]!) : '/var/run/openvswitch';
  return `unix:${rundir}/${bridge}.mgmt`;
}

export function stderrLogger(level = process.env['SGFLOW_LOG_LEVEL'] ?? 'info'): AgentLogger {
  return pino({ level, base: { role: 'agent' } }, pino.destination(2));
}

export async function startAgentService(opts: AgentServiceOptions): Promise<AgentService> {
  const ovsdb = opts.ovsdb ?? DEFAULT_OVSDB;
  const target = opts.openflow ?? defaultOpenflowTarget(ovsdb, opts.bridge);
  const log = opts.log ?? stderrLogger();
  const cleanups: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    })());
  try {
    const ownStore = typeof opts.store === 'string';
    const store = typeof opts.store === 'string' ? openStore(opts.store) : opts.store;
    if (ownStore) cleanups.push(() => store.close());
    const ports = await OvsdbPortSource.connect(ovsdb, opts.bridge);
    const driver = opts.driver ?? DEFAULT_DRIVER;
    const sw: FlowSwitch =
      driver === 'native'
        ? new OpenFlowSwitch({ target })
        : new OfctlSwitch({ target, format: formatFlow, env: opts.env ?? process.env });
    const metrics = new AgentMetrics();
    const agent = new Agent({
      compiler: new IncrementalCompiler(),
      source: new StorePolicySource(store),
      switch: sw,
      ports,
      metrics,
      log,
      ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
      ...(opts.baseTable !== undefined ? { baseTable: opts.baseTable } : {}),
      ...(opts.uplink !== undefined ? { uplink: opts.uplink } : {}),
    });
    cleanups.push(() => agent.stop());
    let server: MetricsServer | undefined;
    if (opts.metrics !== undefined && opts.metrics !== 'off') {
      server = await serveMetrics(opts.metrics, metrics, () => agent.health());
      cleanups.push(() => server!.close());
    }
    await agent.start();
    log.info(
      {
        bridge: opts.bridge,
        ovsdb,
        openflow: target,
        driver,
        metrics: server?.url,
        flows: agent.installedFlows().length,
      },
      'agent running',
    );
    return { agent, metricsUrl: server?.url, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export interface AgentCommandOptions {
  bridge: string;
  ovsdb: string;
  openflow?: string;
  store: string;
  metrics: string;
  mode: string;
  baseTable: number;
  uplink?: string;
  openflowDriver?: string;
}

/** `sgflow agent ...` in the foreground, until SIGINT/SIGTERM. */
export async function runAgentCommand(opts: AgentCommandOptions): Promise<void> {
  const service = await startAgentService({
    bridge: opts.bridge,
    ovsdb: opts.ovsdb,
    ...(opts.openflow !== undefined ? { openflow: opts.openflow } : {}),
    store: opts.store,
    metrics: opts.metrics,
    mode: checkMode(opts.mode),
    baseTable: opts.baseTable,
    ...(opts.uplink !== undefined ? { uplink: opts.uplink } : {}),
    ...(opts.openflowDriver !== undefined ? { driver: checkDriver(opts.openflowDriver) } : {}),
  });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void service.stop().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
