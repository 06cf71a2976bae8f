/**
 * Tables EgressState, IngressState and Allow: conntrack, one zone per port (zone = reg5).
 *
 * State: an untracked IP packet of a stateful port goes through `ct(zone=reg5, table=<same
 * state table>)`; back with +trk, invalid packets drop, replies set Reply and are judged by the
 * OTHER direction's rules table (the connection was opened the other way), everything else by
 * this direction's. Stateless ports skip ct and are judged by this direction's rules.
 * Allow: +new packets of stateful ports are committed in the port's zone; then the egress
 * half continues at Forward, the ingress half at Output.
 *
 * Invariant: nothing about a past verdict is stored in conntrack; the rules tables judge every
 * packet of a connection by its original-direction tuple (docs/pipeline.md, "Key idea").
 */
import { EtherType } from '../model/port-security.js';
import { CtState, type Action } from '../openflow/ir.js';
import { gotoTable, PIPELINE, resubmit } from './context.js';
import { exact, masked, type FlowSink } from './emit.js';
import { Flag, Priority, Reg, ZoneSlice, type Tables } from './tables.js';

const ct = (flags: number, mask: number) => masked(flags, mask);

export function compileState(t: Tables, sink: FlowSink): void {
  const halves = [
    { table: t.EgressState, own: t.EgressRules, other: t.IngressRules },
    { table: t.IngressState, own: t.IngressRules, other: t.EgressRules },
  ];
  for (const h of halves) {
    const stateful = { [Reg.Flags]: masked(Flag.Stateful, Flag.Stateful) };
    for (const ethType of [EtherType.IPV4, EtherType.IPV6]) {
      sink.add(
        h.table,
        Priority.Track,
        { ...stateful, eth_type: exact(ethType), ct_state: ct(0, CtState.TRK) },
        [{ type: 'ct', zone: ZoneSlice, table: h.table }],
        PIPELINE,
      );
    }
    sink.add(
      h.table,
      Priority.Invalid,
      { ...stateful, ct_state: ct(CtState.TRK | CtState.INV, CtState.TRK | CtState.INV) },
      [],
      PIPELINE,
    );
    const judgeReply: Action[] = [
      { type: 'load', dst: { field: Reg.Flags, ofs: 2, nBits: 1 }, value: 1n },
      judge(h.table, h.other),
    ];
    sink.add(
      h.table,
      Priority.Tracked,
      {
        ...stateful,
        ct_state: ct(CtState.TRK | CtState.RPL, CtState.TRK | CtState.INV | CtState.RPL),
      },
      judgeReply,
      PIPELINE,
    );
    sink.add(
      h.table,
      Priority.Tracked,
      { ...stateful, ct_state: ct(CtState.TRK, CtState.TRK | CtState.INV | CtState.RPL) },
      [judge(h.table, h.own)],
      PIPELINE,
    );
    sink.add(
      h.table,
      Priority.Stateless,
      { [Reg.Flags]: masked(0, Flag.Stateful) },
      [judge(h.table, h.own)],
      PIPELINE,
    );
    sink.add(h.table, Priority.Drop, {}, [], PIPELINE);
  }
}

/** goto_table only moves forward; going back to an earlier table needs resubmit. */
function judge(from: number, to: number): Action {
  return to > from ? gotoTable(to) : resubmit(to);
}

export function compileAllow(t: Tables, sink: FlowSink): void {
  const commit: Action = { type: 'ct', commit: true, zone: ZoneSlice };
  const halves = [
    { ingress: 0, next: t.Forward },
    { ingress: Flag.Ingress, next: t.Output },
  ];
  for (const h of halves) {
    const flags = Flag.Stateful | Flag.Ingress;
    // ct() needs an IP match (OVS rejects it otherwise): one flow per ethertype.
    for (const ethType of [EtherType.IPV4, EtherType.IPV6]) {
      sink.add(
        t.Allow,
        Priority.Specific,
        {
          [Reg.Flags]: masked(Flag.Stateful | h.ingress, flags),
          eth_type: exact(ethType),
          ct_state: ct(CtState.TRK | CtState.NEW, CtState.TRK | CtState.NEW),
        },
        [commit, judge(t.Allow, h.next)],
        PIPELINE,
      );
    }
    sink.add(
      t.Allow,
      Priority.Default,
      { [Reg.Flags]: masked(h.ingress, Flag.Ingress) },
      [judge(t.Allow, h.next)],
      PIPELINE,
    );
  }
}
