/**
 * B-flows and the pure part of B-compile (shared/BENCH.md) for the conntrack compiler.
 *
 *   npx tsx bench/compile/run.ts            # all sizes
 *   npx tsx bench/compile/run.ts --quick    # P ∈ {10, 100}
 *
 * For W(P, R), P ∈ {10, 100, 500}, R ∈ {0, 1000}: flows (total, per local port, rules
 * tables), the count a naive compiler would need (prefix-split port ranges, no conjunction,
 * one flow per port × remote address × destination entry × source entry), compile time from
 * scratch (median), and three incremental changes — one rule added to `web`, one remote member
 * added to `default`, one local port added — with their flow mods (adds, deletes and modifies
 * by (table, priority, match), actions and cookie compared), the time to compile the changed
 * policy from scratch, and the time the agent's incremental path takes for the change: the
 * incremental normaliser (src/agent/incremental.ts) fed the store change, then the
 * IncrementalCompiler primed with the unchanged policy (units compiled again reported too).
 * Times are reported raw and as ratios to baselines measured in the same run: normalising the
 * same policy (`normalizePolicy`), and compiling W(10, 0).
 * Writes bench/results/compile.json and compile.md (the Markdown table it prints).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IncrementalNormalizer } from '../../src/agent/incremental.js';
import { compile, IncrementalCompiler } from '../../src/compiler/index.js';
import { actionsKey, matchKey } from '../../src/compiler/emit.js';
import { prefixSplit } from '../../src/compiler/port-ranges.js';
import { rule } from '../../src/compiler/fixtures.js';
import { normalizePolicy } from '../../src/model/policy.js';
import type { NormalizedPolicy, Policy, Port, SecurityGroupRule } from '../../src/model/types.js';
import type { Change } from '../../src/store/store.js';
import type { Flow } from '../../src/openflow/ir.js';
import { Table } from '../../src/compiler/tables.js';
import { localPort, remotePort, UPLINK_OFPORT, workload } from './workload.js';

const quick = process.argv.includes('--quick');
const SIZES_P = quick ? [10, 100] : [10, 100, 500];
const SIZES_R = [0, 1000];

function now(): number {
  return performance.now();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeIt<T>(runs: number, f: () => T): { ms: number; value: T } {
  let value = f(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    value = f();
    times.push(now() - t0);
  }
  return { ms: median(times), value };
}

type LocalPorts = { portId: string; ofport: number }[];

function compileOf(np: NormalizedPolicy, localPorts: LocalPorts) {
  return compile({ policy: np, localPorts, uplinkOfport: UPLINK_OFPORT });
}

/** Flow mods to go from `a` to `b`: adds, deletes and modifies by (table, priority, match). */
function flowMods(
  a: readonly Flow[],
  b: readonly Flow[],
): { adds: number; deletes: number; modifies: number; total: number } {
  const key = (f: Flow) => `${f.table}|${f.priority}|${matchKey(f.match)}`;
  const val = (f: Flow) => `${actionsKey(f.actions)}|${f.cookie}`;
  const am = new Map(a.map((f) => [key(f), val(f)]));
  const bm = new Map(b.map((f) => [key(f), val(f)]));
  let adds = 0;
  let deletes = 0;
  let modifies = 0;
  for (const [k, v] of bm) {
    const old = am.get(k);
    if (old === undefined) adds++;
    else if (old !== v) modifies++;
  }
  for (const k of am.keys()) if (!bm.has(k)) deletes++;
  return { adds, deletes, modifies, total: adds + deletes + modifies };
}

/**
 * What a naive compiler needs: our non-rule flows, plus for every rule and every local port
 * with its group one flow per remote address × destination prefix entry × source prefix entry.
 */
function naiveCount(np: NormalizedPolicy, localPorts: LocalPorts, ours: readonly Flow[]): number {
  const nonRule = ours.filter(
    (f) => f.table !== Table.EgressRules && f.table !== Table.IngressRules,
  ).length;
  const local = new Set(localPorts.map((l) => l.portId));
  let n = 0;
  for (const g of np.groups.values()) {
    const holders = [...np.ports.values()].filter(
      (x) => local.has(x.id) && x.groupIds.includes(g.id),
    ).length;
    for (const r of g.rules) {
      const fam = r.ethertype === 'IPv4' ? 4 : 6;
      let remotes = 1;
      if (r.remote.kind === 'group') {
        const gid = r.remote.groupId;
        remotes = [...np.ports.values()]
          .filter((x) => x.groupIds.includes(gid))
          .reduce((s, x) => s + x.addresses.filter((b) => b.cidr.family === fam).length, 0);
      } else if (r.remote.kind === 'addressGroup') {
        remotes = (np.addressGroups.get(r.remote.addressGroupId) ?? []).filter(
          (c) => c.family === fam,
        ).length;
      }
      const dst = r.dstPorts ? prefixSplit(r.dstPorts.min, r.dstPorts.max).length : 1;
      const src = r.srcPorts ? prefixSplit(r.srcPorts.min, r.srcPorts.max).length : 1;
      n += holders * remotes * dst * src;
    }
  }
  return nonRule + n + 2; // + the two rules tables' drop flows
}

interface Row {
  P: number;
  R: number;
  flows: number;
  flowsPerLocalPort: number;
  ruleFlows: number;
  naiveFlows: number;
  naiveRuleFlows: number;
  normalizeMs: number;
  compileMs: number;
  compileVsNormalize: number;
  compileVsW10: number;
  incremental: Record<
    string,
    {
      compileMs: number;
      incrementalMs: number;
      recompiledUnits: number;
      units: number;
      flowMods: ReturnType<typeof flowMods>;
    }
  >;
}

const runsFor = (p: number, r: number) => (p * (r + p) > 200_000 ? 3 : 7);

function main(): void {
  const rows: Row[] = [];
  const w10 = workload(10, 0);
  const w10np = normalizePolicy(w10.policy);
  const baselineW10 = timeIt(15, () => compileOf(w10np, w10.localPorts)).ms;

  for (const P of SIZES_P) {
    for (const R of SIZES_R) {
      const runs = runsFor(P, R);
      const w = workload(P, R);
      const norm = timeIt(runs, () => normalizePolicy(w.policy));
      const np = norm.value;
      const full = timeIt(runs, () => compileOf(np, w.localPorts));
      const flows = full.value.flows;
      const ruleFlows = flows.filter(
        (f) => f.table === Table.EgressRules || f.table === Table.IngressRules,
      ).length;
      const naive = naiveCount(np, w.localPorts, flows);
      const naiveRule = naive - (flows.length - ruleFlows);

      const incremental: Row['incremental'] = {};
      const newRule = rule('web-8443', 'web', {
        protocol: 'tcp',
        port_range_min: 8443,
        port_range_max: 8443,
        remote_ip_prefix: '0.0.0.0/0',
      });
      const newRemote = remotePort(R + 5000, P);
      const newLocal = { ...localPort(P + R + 5000), id: 'local-new' };
      const variants: Record<
        string,
        { policy: Policy; localPorts: LocalPorts; changes: Change[] }
      > = {
        'rule added to web': {
          policy: {
            ...w.policy,
            security_group_rules: [...w.policy.security_group_rules, newRule],
          },
          localPorts: w.localPorts,
          changes: [ruleChange(newRule)],
        },
        'remote member added to default': {
          policy: { ...w.policy, ports: [...w.policy.ports, newRemote] },
          localPorts: w.localPorts,
          changes: [portChange(newRemote)],
        },
        'local port added': {
          policy: { ...w.policy, ports: [...w.policy.ports, newLocal] },
          localPorts: [...w.localPorts, { portId: 'local-new', ofport: P + 1 }],
          changes: [portChange(newLocal)],
        },
      };
      for (const [name, v] of Object.entries(variants)) {
        const vnp = normalizePolicy(v.policy);
        const t = timeIt(runs, () => compileOf(vnp, v.localPorts));
        const mods = flowMods(flows, t.value.flows);
        // The agent's path: primed with the unchanged policy, then fed the change.
        const times: number[] = [];
        let recompiledUnits = 0;
        let units = 0;
        for (let i = 0; i <= runs; i++) {
          const normalizer = new IncrementalNormalizer();
          const inc = new IncrementalCompiler();
          inc.update({
            policy: normalizer.normalize(w.policy),
            localPorts: w.localPorts,
            uplinkOfport: UPLINK_OFPORT,
          });
          const t0 = now();
          normalizer.changed(v.changes);
          const u = inc.update({
            policy: normalizer.normalize(v.policy),
            localPorts: v.localPorts,
            uplinkOfport: UPLINK_OFPORT,
          });
          if (i > 0) times.push(now() - t0);
          recompiledUnits = u.recompiled;
          units = u.units;
          const sent = u.change.added.length + u.change.removed.length;
          if (sent !== mods.total) {
            throw new Error(
              `${name}: the incremental compiler sent ${sent} mods, the diff says ${mods.total}`,
            );
          }
        }
        incremental[name] = {
          compileMs: round(t.ms),
          incrementalMs: round(median(times)),
          recompiledUnits,
          units,
          flowMods: mods,
        };
      }
      rows.push({
        P,
        R,
        flows: flows.length,
        flowsPerLocalPort: round(flows.length / P),
        ruleFlows,
        naiveFlows: naive,
        naiveRuleFlows: naiveRule,
        normalizeMs: round(norm.ms),
        compileMs: round(full.ms),
        compileVsNormalize: round(full.ms / norm.ms),
        compileVsW10: round(full.ms / baselineW10),
        incremental,
      });
      process.stderr.write(`W(${P},${R}) done\n`);
    }
  }

  const result = {
    benchmark: 'B-flows + B-compile (pure compiler, conntrack mode)',
    node: process.version,
    baselineW10CompileMs: round(baselineW10),
    notes:
      'Times are medians of several runs after a warm-up; ratios are against normalising the same policy and against compiling W(10,0), both measured in this run. flowMods = adds + deletes + modifies by (table, priority, match).',
    rows,
  };
  const here = dirname(fileURLToPath(import.meta.url));
  const out = join(here, '..', 'results', 'compile.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');

  const lines: string[] = [];
  lines.push(`W(10,0) compile baseline: ${round(baselineW10)} ms (${process.version})`, '');
  lines.push(
    '| P | R | flows | per local port | rule flows | naive flows | naive rule flows | compile ms | × normalize | × W(10,0) |',
  );
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    lines.push(
      `| ${r.P} | ${r.R} | ${r.flows} | ${r.flowsPerLocalPort} | ${r.ruleFlows} | ${r.naiveFlows} | ${r.naiveRuleFlows} | ${r.compileMs} | ${r.compileVsNormalize} | ${r.compileVsW10} |`,
    );
  }
  lines.push(
    '',
    '| P | R | change | flow mods (add/del/mod) | full compile ms | incremental ms | units compiled again |',
    '|---:|---:|---|---|---:|---:|---:|',
  );
  for (const r of rows) {
    for (const [name, v] of Object.entries(r.incremental)) {
      const m = v.flowMods;
      lines.push(
        `| ${r.P} | ${r.R} | ${name} | ${m.total} (${m.adds}/${m.deletes}/${m.modifies}) | ${v.compileMs} | ${v.incrementalMs} | ${v.recompiledUnits} of ${v.units} |`,
      );
    }
  }
  writeFileSync(join(here, '..', 'results', 'compile.md'), lines.join('\n') + '\n');
  process.stdout.write(lines.join('\n') + '\n');
}

// The store keeps standard attributes beside the resource (tags, revision...); the
// normaliser reads only the resource's own fields.
function ruleChange(r: SecurityGroupRule): Change {
  return { revision: 1, kind: 'security_group_rule', id: r.id, op: 'put', value: r as never };
}

function portChange(p: Port): Change {
  return { revision: 1, kind: 'port', id: p.id, op: 'put', value: p as never };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

main();
