/**
 * `sgflow compile`: policy file → the desired flow table of the file's host, printed in
 * ovs-ofctl syntax on stdout (one flow per line), warnings and statistics on stderr.
 */
import { compile, type LocalPort } from '../compiler/index.js';
import type { EnforcementMode } from '../model/types.js';
import { formatFlow } from '../openflow/text.js';
import { readPolicyFile } from './policy-file.js';

export interface CompileCommandOptions {
  policy: string;
  mode: EnforcementMode;
  baseTable: number;
  stats?: boolean;
}

export function localPortsOf(ofports: ReadonlyMap<string, number>): LocalPort[] {
  return [...ofports].map(([portId, ofport]) => ({ portId, ofport }));
}

export function runCompile(opts: CompileCommandOptions): void {
  const { normalized, host } = readPolicyFile(opts.policy);
  const result = compile({
    policy: normalized,
    localPorts: localPortsOf(host.ofports),
    uplinkOfport: host.uplinkOfport,
    options: { mode: opts.mode, baseTable: opts.baseTable },
  });
  for (const w of result.warnings) process.stderr.write(`sgflow: warning: ${w}\n`);
  process.stdout.write(result.flows.map((f) => formatFlow(f) + '\n').join(''));
  if (opts.stats) {
    const perTable = new Map<number, number>();
    for (const f of result.flows) perTable.set(f.table, (perTable.get(f.table) ?? 0) + 1);
    const parts = [...perTable].sort((a, b) => a[0] - b[0]).map(([t, n]) => `table ${t}: ${n}`);
    process.stderr.write(`${result.flows.length} flows (${parts.join(', ')})\n`);
  }
}
