/**
 * The agent's health and Prometheus metrics, in a registry of its own (several agents can
 * live in one process, as they do in tests), and the HTTP endpoint that serves them:
 * `/metrics` (Prometheus text format) and `/healthz` (200 when the agent is connected to
 * OVSDB and to the switch and its last reconcile succeeded, 503 otherwise, with a JSON body
 * saying why).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Health {
  ok: boolean;
  ovsdb: boolean;
  openflow: boolean;
  policy: boolean;
  lastError?: string;
  appliedRevision: number;
  flows: number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly flowsInstalled = new Gauge({
    name: 'sgflow_flows_installed',
    help: 'Flows the agent holds installed in the tables it owns',
    registers: [this.registry],
  });
  readonly localPorts = new Gauge({
    name: 'sgflow_local_ports',
    help: 'Local interfaces joined with a store port by iface-id',
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'sgflow_reconcile_seconds',
    help: 'Time from a change being noticed to the switch acknowledging its flows (compile + diff + bundle + barrier)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly compileSeconds = new Histogram({
    name: 'sgflow_compile_seconds',
    help: 'Time spent compiling the policy into the desired table',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly changesApplied = new Counter({
    name: 'sgflow_changes_applied_total',
    help: 'Reconciles that sent a difference to the switch (one bundle each)',
    registers: [this.registry],
  });
  readonly flowMods = new Counter({
    name: 'sgflow_flow_mods_total',
    help: 'Flow mods sent to the switch',
    labelNames: ['command'] as const,
    registers: [this.registry],
  });
  readonly resyncs = new Counter({
    name: 'sgflow_resyncs_total',
    help: 'Times the agent read the switch flows back and reconciled against them (start, reconnect, after errors)',
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'sgflow_errors_total',
    help: 'Errors, by where they happened',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly connected = new Gauge({
    name: 'sgflow_connection_up',
    help: '1 when the connection is up',
    labelNames: ['peer'] as const,
    registers: [this.registry],
  });
  readonly packetIns = new Counter({
    name: 'sgflow_packet_ins_total',
    help: 'Packets the pipeline paused at the agent, by outcome: allowed (resumed), denied, rate_limited (per-port limit), unexpected (not paused by an sgflow flow)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly appliedRevision = new Gauge({
    name: 'sgflow_applied_revision',
    help: 'Store revision whose policy the switch holds',
    registers: [this.registry],
  });

  constructor() {
    this.connected.set({ peer: 'ovsdb' }, 0);
    this.connected.set({ peer: 'openflow' }, 0);
    for (const kind of ['bundle', 'compile', 'store', 'ovsdb', 'openflow'])
      this.errors.inc({ kind }, 0);
    this.flowMods.inc({ command: 'add' }, 0);
    this.flowMods.inc({ command: 'delete_strict' }, 0);
  }
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Parses `host:port` (IPv6 hosts in brackets); port 0 picks a free one. */
export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`--metrics must be host:port, got "${addr}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--metrics port must be 0..65535, got ${port}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function serveMetrics(
  listen: string,
  metrics: AgentMetrics,
  health: () => Health,
): Promise<MetricsServer> {
  const { host, port } = parseListen(listen);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        })
        .catch((e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(e));
        });
      return;
    }
    if (path === '/healthz') {
      const h = health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h) + '\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${h}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
