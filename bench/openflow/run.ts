/**
 * Benchmark of the openflow layer (not a test): codec throughput, and the time to install
 * 100,000 flows into a private ovs-vswitchd through our connection (one atomic bundle) versus
 * `ovs-ofctl --bundle add-flows` of the same flows, measured in the same run.
 *
 *   npx tsx bench/openflow/run.ts [--flows N] [--repeats R]
 *
 * Each install is repeated R times (default 3), alternating which tool goes first into the
 * emptied table; the table reports medians.
 *
 * Writes bench/results/openflow.json and bench/results/openflow.md (the same figures as a table).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startOvs } from '../../test/support/ovs.js';
import { OpenFlowConnection } from '../../src/openflow/connection.js';
import { formatFlow, formatFlows, parseFlow } from '../../src/openflow/text.js';
import { decodeMessage, encodeMessage } from '../../src/openflow/wire/messages.js';
import type { Flow } from '../../src/openflow/ir.js';

const argFlows = process.argv.indexOf('--flows');
const N = argFlows > 0 ? Number(process.argv[argFlows + 1]) : 100_000;
const argRepeats = process.argv.indexOf('--repeats');
const REPEATS = argRepeats > 0 ? Number(process.argv[argRepeats + 1]) : 3;

/** N distinct flows shaped like compiled rule flows (registers, ct tuple, conjunctions). */
function workload(n: number): Flow[] {
  const flows: Flow[] = [];
  for (let i = 0; i < n; i++) {
    flows.push({
      table: 3 + (i % 2) * 4,
      priority: 1000 + (i % 50),
      cookie: (3n << 56n) | BigInt(i),
      match: {
        ct_state: { value: 0x20n, mask: 0x30n },
        eth_type: { value: 0x800n },
        reg5: { value: BigInt(1 + (i % 500)) },
        ct_nw_src: { value: 0x0a000000n + BigInt(i), mask: 0xffffffffn },
        ct_nw_proto: { value: 6n },
        ct_tp_dst: { value: BigInt(i % 65536), mask: 0xfff0n },
      },
      actions:
        i % 3 === 0
          ? [{ type: 'conjunction', id: i, clause: 1, nClauses: 2 }]
          : [{ type: 'resubmit', table: 9 }],
    });
  }
  return flows;
}

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

function time<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: performance.now() - t0, value };
}

async function timeAsync<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const flows = workload(N);

  const enc = time(() =>
    flows.map((flow, i) => encodeMessage({ type: 'flow_mod', command: 'add', flow }, i + 1)),
  );
  const dec = time(() => enc.value.map((b) => decodeMessage(b)));
  const fmt = time(() => flows.map(formatFlow));
  const par = time(() => fmt.value.map(parseFlow));

  const ours: number[] = [];
  const ofctl: number[] = [];
  const dumps: number[] = [];
  const ovs = await startOvs({ name: 'bench-of' });
  try {
    const file = join(ovs.dir, 'flows.txt');
    writeFileSync(file, formatFlows(flows));
    const conn = await OpenFlowConnection.open({ target: ovs.mgmt });
    const empty = async () => {
      await ovs.ofctl('del-flows', ovs.mgmt);
      if ((await conn.aggregate()).flowCount !== 0) throw new Error('table not empty');
    };
    const installOfctl = async () => {
      // Its own process: parse the file, connect, open a bundle, add, commit.
      ofctl.push((await timeAsync(() => ovs.ofctl('--bundle', 'add-flows', ovs.mgmt, file))).ms);
      const n = (await conn.aggregate()).flowCount;
      if (n !== N) throw new Error(`ovs-ofctl installed ${n} of ${N} flows`);
    };
    const installOurs = async () => {
      const mods = flows.map((flow) => ({ command: 'add' as const, flow }));
      ours.push((await timeAsync(() => conn.applyBundle(mods))).ms);
      const d = await timeAsync(() => conn.dumpFlows());
      dumps.push(d.ms);
      if (d.value.length !== N) throw new Error(`installed ${d.value.length} of ${N} flows`);
    };
    // Alternate which goes first, so neither always meets a freshly emptied switch.
    for (let r = 0; r < REPEATS; r++) {
      for (const install of r % 2 === 0
        ? [installOfctl, installOurs]
        : [installOurs, installOfctl]) {
        await empty();
        await install();
      }
    }
    await conn.close();
  } finally {
    await ovs.stop();
  }

  const result = {
    flows: N,
    repeats: REPEATS,
    encodeFlowModsPerSec: rate(N, enc.ms),
    decodeFlowModsPerSec: rate(N, dec.ms),
    formatTextPerSec: rate(N, fmt.ms),
    parseTextPerSec: rate(N, par.ms),
    installOursMs: Math.round(median(ours)),
    installOfctlMs: Math.round(median(ofctl)),
    installRatioOursOverOfctl: Number((median(ours) / median(ofctl)).toFixed(3)),
    dumpOursMs: Math.round(median(dumps)),
    raw: { installOursMs: ours.map(Math.round), installOfctlMs: ofctl.map(Math.round) },
    node: process.version,
    date: new Date().toISOString(),
    loadAverage1m: {
      before: Number(loadBefore.toFixed(2)),
      after: Number(loadavg()[0]!.toFixed(2)),
    },
  };
  const dir = join(import.meta.dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'openflow.json'), JSON.stringify(result, null, 2) + '\n');

  const md = [
    `# openflow: codec throughput and ${N}-flow install`,
    '',
    `${N} rule-shaped flows (registers, ct tuple, conjunctions); node ${result.node}.`,
    'Both installs go into the same private ovs-vswitchd in the same run, one atomic bundle each;',
    'ours starts from the IR (encode + send + commit), ovs-ofctl from the text file of the same flows.',
    '',
    `Install and dump: medians of ${REPEATS} runs (alternating which tool goes first).`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| encode flow-mods | ${result.encodeFlowModsPerSec} flows/s |`,
    `| decode flow-mods | ${result.decodeFlowModsPerSec} flows/s |`,
    `| format text | ${result.formatTextPerSec} flows/s |`,
    `| parse text | ${result.parseTextPerSec} flows/s |`,
    `| install, our connection (1 bundle) | ${result.installOursMs} ms |`,
    `| install, \`ovs-ofctl --bundle add-flows\` of the same flows | ${result.installOfctlMs} ms |`,
    `| **ratio ours / ovs-ofctl** | **${result.installRatioOursOverOfctl}** |`,
    `| dump ${N} flows back to IR | ${result.dumpOursMs} ms |`,
    '',
    `Machine load (1-min average) ${result.loadAverage1m.before} before, ${result.loadAverage1m.after} after, on 2 shared cores: absolute times are noise, the ratio is the figure.`,
    '',
    `Runs (ms): ours ${result.raw.installOursMs.join(', ')}; ovs-ofctl ${result.raw.installOfctlMs.join(', ')}.`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'openflow.md'), md);
  process.stdout.write(md);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
