/**
 * B-converge (shared/BENCH.md): intent to dataplane through the real stack — Neutron API →
 * SQLite store → agent → a private userspace OVS — for the reference workload W(P, R):
 *   - full start: agent start → every flow of W(P,R) acknowledged by the switch;
 *   - one rule added to `web`: API call returned → its flows acknowledged;
 *   - one remote member added to `default`: API call returned → its flows acknowledged.
 * "Acknowledged" = the agent's bundle was committed by ovs-vswitchd (ovs-ofctl --bundle
 * returns after the commit reply). Median and p95 over repeats, plus the compile time and
 * flow mods of each change (the agent's reconcile report).
 *
 * Usage: npx tsx bench/converge/run.ts [--sizes 10x0,100x0,100x1000,500x1000] [--repeats 20]
 * Writes bench/results/converge.json and bench/results/converge.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { silentLogger, type ReconcileReport } from '../../src/agent/agent.js';
import { startAgentService } from '../../src/agent/command.js';
import { OvsSandbox } from '../../src/agent/sandbox.js';
import { startServer } from '../../src/api/index.js';
import { openSqliteStore } from '../../src/store/index.js';

interface Args {
  sizes: [number, number][];
  repeats: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    sizes: [
      [10, 0],
      [100, 0],
      [100, 1000],
    ],
    repeats: 20,
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sizes') {
      args.sizes = argv[++i]!.split(',').map((s) => {
        const [p, r] = s.split('x').map(Number);
        return [p!, r ?? 0];
      });
    } else if (argv[i] === '--repeats') args.repeats = Number(argv[++i]);
  }
  return args;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

class Api {
  constructor(readonly url: string) {}
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      ...(body !== undefined
        ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
        : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }
  async group(name: string): Promise<string> {
    return (
      await this.call<{ security_group: { id: string } }>('POST', '/v2.0/security-groups', {
        security_group: { name },
      })
    ).security_group.id;
  }
  async rule(sg: string, r: Record<string, unknown>): Promise<string> {
    return (
      await this.call<{ security_group_rule: { id: string } }>(
        'POST',
        '/v2.0/security-group-rules',
        {
          security_group_rule: { ethertype: 'IPv4', ...r, security_group_id: sg },
        },
      )
    ).security_group_rule.id;
  }
}

function hex(n: number, w: number): string {
  return n.toString(16).padStart(w, '0');
}

/** Port n of W(P,R): MAC, IPv4 in 10.1.0.0/16, IPv6 in fd00:1::/64. */
function portAddr(n: number): { mac: string; ip: string; ip6: string } {
  return {
    mac: `02:00:${hex((n >> 16) & 0xff, 2)}:${hex((n >> 8) & 0xff, 2)}:${hex(n & 0xff, 2)}:01`,
    ip: `10.1.${(n >> 8) & 0xff}.${n & 0xff}`,
    ip6: `fd00:1::${(n >> 16).toString(16)}:${(n & 0xffff).toString(16)}`,
  };
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

interface ChangeSample {
  ms: number;
  /** Inside the agent: normalise + compile + diff + bundle + barrier. */
  agentMs: number;
  normalizeMs: number;
  compileMs: number;
  diffMs: number;
  switchMs: number;
  flowMods: number;
}

interface SizeResult {
  P: number;
  R: number;
  flows: number;
  fullStartMs: number;
  fullStartCompileMs: number;
  rule: ChangeSample[];
  member: ChangeSample[];
}

async function measure(P: number, R: number, repeats: number): Promise<SizeResult> {
  const box = await OvsSandbox.start({ name: `bench-${P}x${R}` });
  const store = openSqliteStore({ path: join(box.dir, 'sgflow.db') });
  const server = await startServer({
    store,
    listen: '127.0.0.1:0',
    auth: { mode: 'noauth' },
    logger: false,
    quotas: { network: -1, port: -1, security_group: -1, security_group_rule: -1 },
  });
  try {
    const api = new Api(server.url);
    const net = (
      await api.call<{ network: { id: string } }>('POST', '/v2.0/networks', {
        network: { name: 'net1', port_security_enabled: true },
      })
    ).network.id;
    // A new group comes with Neutron's egress-any rules (IPv4, IPv6).
    const dflt = await api.group('wdefault');
    const web = await api.group('web');
    const admin = await api.group('admin');
    await api.rule(dflt, { direction: 'ingress', remote_group_id: dflt });
    await api.rule(dflt, { direction: 'ingress', ethertype: 'IPv6', remote_group_id: dflt });
    const webRules: Record<string, unknown>[] = [
      { protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '0.0.0.0/0' },
      { protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_ip_prefix: '0.0.0.0/0' },
      {
        protocol: 'tcp',
        port_range_min: 8000,
        port_range_max: 8999,
        remote_ip_prefix: '10.0.0.0/8',
      },
      { protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_ip_prefix: '10.0.0.0/8' },
      { protocol: 'icmp', port_range_min: 8, remote_ip_prefix: '0.0.0.0/0' },
      { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: admin },
    ];
    for (const r of webRules) await api.rule(web, { direction: 'ingress', ...r });
    await api.rule(admin, {
      direction: 'ingress',
      protocol: 'tcp',
      port_range_min: 1024,
      port_range_max: 65535,
      remote_ip_prefix: '10.1.0.0/16',
    });
    const mkPort = async (n: number, local: boolean): Promise<void> => {
      const a = portAddr(n);
      const groups = local ? [dflt, web] : [dflt];
      if (n % 10 === 0) groups.push(admin);
      await api.call('POST', '/v2.0/ports', {
        port: {
          id: `${local ? 'local' : 'remote'}-${n}`,
          network_id: net,
          mac_address: a.mac,
          fixed_ips: [{ ip_address: a.ip }, { ip_address: a.ip6 }],
          security_groups: groups,
          'binding:host_id': local ? 'this-host' : 'other-host',
        },
      });
    };
    await pool(
      Array.from({ length: P }, (_, i) => i + 1),
      8,
      (n) => mkPort(n, true),
    );
    await pool(
      Array.from({ length: R }, (_, i) => P + i + 1),
      8,
      (n) => mkPort(n, false),
    );
    // Local ports on the bridge: internal interfaces carrying the iface-id.
    for (let n = 1; n <= P; n++) {
      await box.vsctl(
        'add-port',
        box.bridge,
        `w${n}`,
        '--',
        'set',
        'Interface',
        `w${n}`,
        'type=internal',
        `ofport_request=${n}`,
        `external_ids:iface-id=local-${n}`,
        `external_ids:attached-mac=${portAddr(n).mac}`,
      );
    }

    const t0 = performance.now();
    const service = await startAgentService({
      bridge: box.bridge,
      ovsdb: box.dbRemote,
      openflow: box.mgmt,
      store,
      metrics: 'off',
      env: box.env,
      log: silentLogger,
    });
    const agent = service.agent;
    for (let i = 0; i < 400 && agent.localPorts().length < P; i++)
      await new Promise((r) => setTimeout(r, 25));
    await agent.settled();
    const fullStartMs = performance.now() - t0;
    const compileHist = await agent.metrics.compileSeconds.get();
    const fullStartCompileMs =
      1000 *
      (compileHist.values.find((v) => v.metricName === 'sgflow_compile_seconds_sum')?.value ?? NaN);
    const flows = agent.installedFlows().length;

    const reports: ReconcileReport[] = [];
    agent.onReconcile((r) => reports.push(r));
    const change = async (fn: () => Promise<void>): Promise<ChangeSample> => {
      reports.length = 0;
      const t = performance.now();
      await fn();
      await agent.waitForRevision(await store.revision());
      const ms = performance.now() - t;
      return {
        ms,
        agentMs: reports.reduce((x, r) => x + r.totalMs, 0),
        normalizeMs: reports.reduce((x, r) => x + r.normalizeMs, 0),
        compileMs: reports.reduce((x, r) => x + r.compileMs, 0),
        diffMs: reports.reduce((x, r) => x + r.diffMs, 0),
        switchMs: reports.reduce((x, r) => x + r.switchMs, 0),
        flowMods: reports.reduce((x, r) => x + r.adds + r.deletes, 0),
      };
    };

    const rule: ChangeSample[] = [];
    const member: ChangeSample[] = [];
    for (let i = 0; i < repeats; i++) {
      let ruleId = '';
      rule.push(
        await change(async () => {
          ruleId = await api.rule(web, {
            direction: 'ingress',
            protocol: 'tcp',
            port_range_min: 20000 + i,
            port_range_max: 20000 + i,
            remote_ip_prefix: '192.168.0.0/16',
          });
        }),
      );
      await api.call('DELETE', `/v2.0/security-group-rules/${ruleId}`);
      await agent.waitForRevision(await store.revision());
      member.push(await change(() => mkPort(P + R + 1 + i, false)));
    }
    await service.stop();
    return { P, R, flows, fullStartMs, fullStartCompileMs, rule, member };
  } finally {
    await server.close();
    await store.close();
    await box.stop();
  }
}

type Summary = Record<
  | 'medianMs'
  | 'p95Ms'
  | 'agentMedianMs'
  | 'normalizeMedianMs'
  | 'compileMedianMs'
  | 'diffMedianMs'
  | 'switchMedianMs'
  | 'flowModsMedian',
  number
>;

function summary(xs: ChangeSample[]): Summary {
  const med = (f: (x: ChangeSample) => number): number => quantile(xs.map(f), 0.5);
  return {
    medianMs: med((x) => x.ms),
    p95Ms: quantile(
      xs.map((x) => x.ms),
      0.95,
    ),
    agentMedianMs: med((x) => x.agentMs),
    normalizeMedianMs: med((x) => x.normalizeMs),
    compileMedianMs: med((x) => x.compileMs),
    diffMedianMs: med((x) => x.diffMs),
    switchMedianMs: med((x) => x.switchMs),
    flowModsMedian: med((x) => x.flowMods),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const results: (Omit<SizeResult, 'rule' | 'member'> & {
    rule: Summary;
    member: Summary;
    raw: { rule: ChangeSample[]; member: ChangeSample[] };
  })[] = [];
  for (const [P, R] of args.sizes) {
    process.stderr.write(`W(${P},${R})...\n`);
    const r = await measure(P, R, args.repeats);
    results.push({
      P: r.P,
      R: r.R,
      flows: r.flows,
      fullStartMs: r.fullStartMs,
      fullStartCompileMs: r.fullStartCompileMs,
      rule: summary(r.rule),
      member: summary(r.member),
      raw: { rule: r.rule, member: r.member },
    });
  }
  const dir = join(import.meta.dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const doc = {
    benchmark: 'B-converge',
    date: new Date().toISOString(),
    repeats: args.repeats,
    note: 'API call returned → flows acknowledged by ovs-vswitchd (bundle commit). Times in ms. The agent compiles incrementally and sends only the difference.',
    results,
  };
  writeFileSync(join(dir, 'converge.json'), JSON.stringify(doc, null, 2) + '\n');
  const f = (x: number): string => x.toFixed(1);
  const row = (r: (typeof results)[number], what: 'rule' | 'member'): string => {
    const x = r[what];
    return `| W(${r.P},${r.R}) | one ${what} | ${f(x.medianMs)} | ${f(x.p95Ms)} | ${f(x.agentMedianMs)} | ${f(x.normalizeMedianMs)} | ${f(x.compileMedianMs)} | ${f(x.diffMedianMs)} | ${f(x.switchMedianMs)} | ${x.flowModsMedian} |`;
  };
  const md = [
    '# B-converge: intent to dataplane',
    '',
    `API call returned → flows acknowledged by the switch (bundle commit + barrier); ${args.repeats} repeats; ms.`,
    'The agent normalises and compiles incrementally (only the units of the pipeline a change',
    'touches; the compiler returns the difference, so "diff" is only turning it into flow mods)',
    'and sends the difference as one bundle. "switch" is the bundle commit and barrier.',
    '',
    '| W(P,R) | flows | full start | full start: normalise+compile |',
    '|---|---|---|---|',
    ...results.map(
      (r) => `| W(${r.P},${r.R}) | ${r.flows} | ${f(r.fullStartMs)} | ${f(r.fullStartCompileMs)} |`,
    ),
    '',
    '| W(P,R) | change | median | p95 | in agent | normalise | compile | diff | switch | flow mods |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...results.flatMap((r) => [row(r, 'rule'), row(r, 'member')]),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'converge.md'), md);
  process.stdout.write(md);
}

await main();
