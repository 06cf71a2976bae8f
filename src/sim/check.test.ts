import { describe, expect, it } from 'vitest';

import type { Action, Flow, Match } from '../openflow/ir.js';
import { checkFlows } from './check.js';

const flow = (table: number, priority: number, match: Match, actions: Action[]): Flow => ({
  table,
  priority,
  cookie: 0n,
  match,
  actions,
});
const conj = (id: number, clause: number, nClauses: number): Action => ({
  type: 'conjunction',
  id,
  clause,
  nClauses,
});

describe('checkFlows: what ovs-vswitchd would refuse or mishandle', () => {
  it('a well-formed conjunction passes', () => {
    expect(
      checkFlows([
        flow(3, 1000, { reg5: { value: 1n } }, [conj(7, 1, 2)]),
        flow(3, 1000, { ip_proto: { value: 6n }, eth_type: { value: 0x800n } }, [conj(7, 2, 2)]),
        flow(3, 1000, { conj_id: { value: 7n } }, [{ type: 'goto_table', table: 9 }]),
      ]),
    ).toEqual([]);
  });

  it('names each problem', () => {
    const problems = checkFlows([
      flow(3, 1, { tcp_dst: { value: 80n } }, []),
      flow(5, 1, {}, [{ type: 'goto_table', table: 5 }]),
      flow(3, 2, { reg1: { value: 1n } }, [conj(1, 1, 2), { type: 'goto_table', table: 9 }]),
      flow(3, 3, { reg1: { value: 2n } }, [conj(2, 3, 2)]),
      flow(3, 4, { reg1: { value: 3n } }, [conj(1, 2, 2)]),
      flow(3, 4, { reg1: { value: 4n } }, [conj(8, 1, 2)]),
      flow(3, 5, { reg2: { value: 1n } }, []),
      flow(3, 5, { reg2: { value: 1n } }, []),
    ]).map((p) => p.problem);
    expect(problems).toEqual([
      'matches tcp_dst without tcp or tcp6',
      'goto_table:5 does not go forward from table 5',
      'conjunctive flow also has a goto_table action',
      'malformed conjunction(2,3/2)',
      'conjunction 1 used with different priorities or clause counts',
      'conjunctions 1 and 8 share priority 4 in table 3',
      'same table, priority and match as another flow',
    ]);
  });
});
