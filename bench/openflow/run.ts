/**
 * Benchmark of the openflow layer (not a test): codec throughput, and the time to install
 * 100,000 flows into a private ovs-vswitchd through our connection (one atomic bundle) versus
 * `ovs-ofctl --bundle add-flows` of the same flows, measured in the same run.
 *
 *   npx tsx bench/openflow/run.ts [--flows N]
 *
 * Writes bench/results/openflow.json and prints a Markdown table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startOvs } from '../../test/support/ovs.js';
import { OpenFlowConnection } from '../../src/openflow/connection.js';
import { formatFlow, formatFlows, parseFlow } from '../../src/openflow/text.js';
import { decodeMessage, encodeMessage } from '../../src/openflow/wire/messages.js';
import type { Flow } from '../../src/openflow/ir.js';

const argFlows = process.argv.indexOf('--flows');
const N = argFlows > 0 ? Number(process.argv[argFlows + 1]) : 100_000;

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

async function main(): Promise<void> {
  const flows = workload(N);

  const enc = time(() =>
    flows.map((flow, i) => encodeMessage({ type: 'flow_mod', command: 'add', flow }, i + 1)),
  );
  const dec = time(() => enc.value.map((b) => decodeMessage(b)));
  const fmt = time(() => flows.map(formatFlow));
  const par = time(() => fmt.value.map(parseFlow));

  const ovs = await startOvs({ name: 'bench-of' });
  let ours: number;
  let ofctl: number;
  let dumpMs: number;
  try {
    const file = join(ovs.dir, 'flows.txt');
    writeFileSync(file, formatFlows(flows));

    // ovs-ofctl first (its own process: parse the file, connect, bundle, commit).
    const a = await timeAsync(() => ovs.ofctl('--bundle', 'add-flows', ovs.mgmt, file));
    ofctl = a.ms;
    await ovs.ofctl('del-flows', ovs.mgmt);

    const conn = await OpenFlowConnection.open({ target: ovs.mgmt });
    const b = await timeAsync(() =>
      conn.applyBundle(flows.map((flow) => ({ command: 'add' as const, flow }))),
    );
    ours = b.ms;
    const d = await timeAsync(() => conn.dumpFlows());
    dumpMs = d.ms;
    if (d.value.length !== flows.length)
      throw new Error(`installed ${d.value.length} of ${flows.length} flows`);
    await conn.close();
  } finally {
    await ovs.stop();
  }

  const result = {
    flows: N,
    encodeFlowModsPerSec: rate(N, enc.ms),
    decodeFlowModsPerSec: rate(N, dec.ms),
    formatTextPerSec: rate(N, fmt.ms),
    parseTextPerSec: rate(N, par.ms),
    installOursMs: Math.round(ours),
    installOfctlMs: Math.round(ofctl),
    installRatioOursOverOfctl: Number((ours / ofctl).toFixed(3)),
    dumpOursMs: Math.round(dumpMs),
    node: process.version,
  };
  mkdirSync(join(import.meta.dirname, '..', 'results'), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, '..', 'results', 'openflow.json'),
    JSON.stringify(result, null, 2) + '\n',
  );

  console.log(`## openflow (${N} flows)\n`);
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| encode flow-mods | ${result.encodeFlowModsPerSec} /s |`);
  console.log(`| decode flow-mods | ${result.decodeFlowModsPerSec} /s |`);
  console.log(`| format text | ${result.formatTextPerSec} /s |`);
  console.log(`| parse text | ${result.parseTextPerSec} /s |`);
  console.log(`| install, our connection (1 bundle) | ${result.installOursMs} ms |`);
  console.log(`| install, ovs-ofctl --bundle add-flows | ${result.installOfctlMs} ms |`);
  console.log(`| ratio ours / ovs-ofctl | ${result.installRatioOursOverOfctl} |`);
  console.log(`| dump ${N} flows back to IR | ${result.dumpOursMs} ms |`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
