/**
 * The compiler: policy + local ports + mode → the desired flow table (docs/pipeline.md).
 *
 * `compile` is a pure function: the same input always gives the same flows in the same order
 * (table, priority descending, canonical match). It runs the incremental compiler
 * (incremental.ts) once from nothing, so the one-shot and the agent's incremental tables come
 * from the same code; context.ts checks the input.
 */
import type { EnforcementMode, NormalizedPolicy } from '../model/types.js';
import type { FlowTable } from '../openflow/ir.js';
import type { CookieOrigin } from './cookie.js';
import { IncrementalCompiler } from './incremental.js';

export interface CompileOptions {
  /** Only 'conntrack' today; the others throw MODE_NOT_SUPPORTED. */
  mode?: EnforcementMode;
  /** First table sgflow owns (default 0); it uses this and the next 9. */
  baseTable?: number;
}

export interface LocalPort {
  portId: string;
  ofport: number;
}

export interface CompileInput {
  policy: NormalizedPolicy;
  localPorts: readonly LocalPort[];
  uplinkOfport?: number | null;
  /** Network id → network key (reg6); default: 1-based rank of the id among local networks. */
  networkKeys?: ReadonlyMap<string, number>;
  options?: CompileOptions;
}

export interface CompileResult {
  flows: FlowTable;
  cookies: ReadonlyMap<bigint, CookieOrigin>;
  warnings: string[];
}

export function compile(input: CompileInput): CompileResult {
  const compiler = new IncrementalCompiler();
  const { warnings } = compiler.update(input);
  return { flows: compiler.flows(), cookies: compiler.cookies(), warnings: [...warnings] };
}
