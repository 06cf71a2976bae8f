/**
 * What ovs-vswitchd would refuse (or silently mishandle) in a flow table, checked before
 * simulating it, so the simulator never passes a table the real switch would not run.
 *
 * Produces one problem per violation: a match field without its prerequisites (OFPBMC_BAD_PREREQ),
 * `goto_table` to a table not after the flow's own (OFPBRC_BAD_TABLE_ID), a conjunctive flow
 * with actions other than `conjunction` / `note`, a malformed conjunction (n < 2, k outside
 * 1..n), one conjunction id at several priorities or with different n, two conjunctions at
 * one priority of a table (ovs-fields(7): conjunctive flows of one priority must not overlap;
 * sgflow never relies on their not overlapping), and two flows with the same table, priority
 * and match (the second replaces the first in OVS).
 */
import { unmetPrerequisites } from '../openflow/fields.js';
import type { FieldName, Flow } from '../openflow/ir.js';

export interface FlowProblem {
  flow: Flow;
  problem: string;
}

function matchKey(f: Flow): string {
  const parts = (Object.keys(f.match) as FieldName[])
    .sort()
    .map((k) => `${k}=${f.match[k]!.value}/${f.match[k]!.mask ?? 'exact'}`);
  return `${f.table}|${f.priority}|${parts.join(',')}`;
}

export function checkFlows(flows: readonly Flow[]): FlowProblem[] {
  const out: FlowProblem[] = [];
  const seen = new Map<string, Flow>();
  const conj = new Map<string, { priority: number; n: number }>();
  const idAtPriority = new Map<string, number>();
  for (const flow of flows) {
    for (const u of unmetPrerequisites(flow.match)) {
      out.push({ flow, problem: `matches ${u.field} without ${u.needs}` });
    }
    const conjunctive = flow.actions.some((a) => a.type === 'conjunction');
    for (const a of flow.actions) {
      if (a.type === 'goto_table' && a.table <= flow.table) {
        out.push({
          flow,
          problem: `goto_table:${a.table} does not go forward from table ${flow.table}`,
        });
      }
      if (conjunctive && a.type !== 'conjunction' && a.type !== 'note') {
        out.push({ flow, problem: `conjunctive flow also has a ${a.type} action` });
      }
      if (a.type === 'conjunction') {
        if (a.nClauses < 2 || a.clause < 1 || a.clause > a.nClauses) {
          out.push({ flow, problem: `malformed conjunction(${a.id},${a.clause}/${a.nClauses})` });
        }
        const at = `${flow.table}|${flow.priority}`;
        const other = idAtPriority.get(at);
        if (other === undefined) idAtPriority.set(at, a.id);
        else if (other !== a.id) {
          out.push({
            flow,
            problem: `conjunctions ${other} and ${a.id} share priority ${flow.priority} in table ${flow.table}`,
          });
        }
        const k = `${flow.table}|${a.id}`;
        const prev = conj.get(k);
        if (!prev) conj.set(k, { priority: flow.priority, n: a.nClauses });
        else if (prev.priority !== flow.priority || prev.n !== a.nClauses) {
          out.push({
            flow,
            problem: `conjunction ${a.id} used with different priorities or clause counts`,
          });
        }
      }
    }
    const key = matchKey(flow);
    if (seen.has(key))
      out.push({ flow, problem: 'same table, priority and match as another flow' });
    else seen.set(key, flow);
  }
  return out;
}
