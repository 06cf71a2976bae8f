import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { Flow } from '../openflow/ir.js';
import { applyFlowMods, diffFlows, flowBody, flowIdentity } from './reconcile.js';

const flowArb: fc.Arbitrary<Flow> = fc.record({
  table: fc.integer({ min: 0, max: 3 }),
  priority: fc.constantFrom(0, 100, 1000),
  cookie: fc.bigInt({ min: 0n, max: 3n }),
  match: fc.record(
    {
      reg5: fc.record({ value: fc.bigInt({ min: 1n, max: 4n }) }),
      tcp_dst: fc.record({ value: fc.bigInt({ min: 0n, max: 3n }), mask: fc.constant(0xffffn) }),
    },
    { requiredKeys: [] },
  ),
  actions: fc.array(
    fc.record({ type: fc.constant('resubmit' as const), table: fc.integer({ min: 0, max: 9 }) }),
    { maxLength: 2 },
  ),
});

/** A table: at most one flow per identity, as a switch holds them. */
const tableArb = fc.uniqueArray(flowArb, { selector: flowIdentity, maxLength: 30 });

function canonical(t: readonly Flow[]): string[] {
  return t.map((f) => `${flowIdentity(f)} ${flowBody(f)}`).sort();
}

describe('diffFlows', () => {
  it('turns the installed table into the desired one exactly', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (installed, desired) => {
        expect(canonical(applyFlowMods(installed, diffFlows(installed, desired)))).toEqual(
          canonical(desired),
        );
      }),
    );
  });

  it('sends nothing when the table already holds what is desired', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        expect(diffFlows(t, [...t].reverse())).toEqual([]);
      }),
    );
  });

  it('a change and its revert restore the table exactly', () => {
    fc.assert(
      fc.property(tableArb, tableArb, (a, b) => {
        const afterChange = applyFlowMods(a, diffFlows(a, b));
        const afterRevert = applyFlowMods(afterChange, diffFlows(afterChange, a));
        expect(canonical(afterRevert)).toEqual(canonical(a));
      }),
    );
  });

  it('re-adds a flow whose actions or cookie changed, and only that flow', () => {
    const base: Flow = {
      table: 1,
      priority: 100,
      cookie: 1n,
      match: { reg5: { value: 1n } },
      actions: [],
    };
    const other: Flow = { ...base, match: { reg5: { value: 2n } } };
    const changed: Flow = { ...base, cookie: 2n };
    expect(diffFlows([base, other], [changed, other])).toEqual([{ command: 'add', flow: changed }]);
    expect(diffFlows([base, other], [other])).toEqual([{ command: 'delete_strict', flow: base }]);
  });
});
