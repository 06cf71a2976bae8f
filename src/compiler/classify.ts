/**
 * Table Classify: where a packet came from decides its registers.
 *
 * - A local port: reg5 := its port key (ofport), reg6 := its network key, reg0 := its egress
 *   flags; then egress port security, or straight to Forward when port security is off.
 * - The uplink: by VLAN tag (or no tag, for the one untagged network) → reg6, FromUplink,
 *   tag popped → Forward (the uplink side skips the egress half).
 * - Anything else is dropped.
 */
import { EtherType } from '../model/port-security.js';
import type { Action } from '../openflow/ir.js';
import {
  egressFlags,
  gotoTable,
  PIPELINE,
  portOrigin,
  setReg,
  type CompileContext,
  type LocalPortInfo,
} from './context.js';
import { exact, masked, type FlowSink } from './emit.js';
import { Flag, Priority, Reg, type Tables } from './tables.js';

/** vlan_tci's CFI bit: OVS sets it when the frame carries an 802.1Q tag. */
export const VLAN_PRESENT = 0x1000;
const VLAN_VID_MASK = 0x0fff;

/** What the table does for anything it does not know: drop. */
export function compileClassifySkeleton(t: Tables, sink: FlowSink): void {
  sink.add(t.Classify, Priority.Drop, {}, [], PIPELINE);
}

/** A local port: its registers, then egress port security (or Forward when it has none). */
export function compileClassifyPort(ctx: CompileContext, sink: FlowSink, l: LocalPortInfo): void {
  const { t } = ctx;
  const next = l.port.portSecurity ? t.EgressPortSecurity : t.Forward;
  sink.add(
    t.Classify,
    Priority.Specific,
    { in_port: exact(l.ofport) },
    [
      setReg(Reg.PortKey, l.ofport),
      setReg(Reg.Network, l.networkKey),
      setReg(Reg.Flags, egressFlags(l)),
      gotoTable(next),
    ],
    portOrigin(l),
  );
}

/** The uplink: by VLAN tag (or none) to the network that owns it, tag popped, to Forward. */
export function compileClassifyUplink(ctx: CompileContext, sink: FlowSink): void {
  const { t } = ctx;
  if (ctx.uplink === null) return;
  for (const [networkId, vlan] of ctx.uplinkVlan) {
    if (ctx.uplinkOwner.get(vlan) !== networkId) continue;
    const key = ctx.networkKeys.get(networkId)!;
    const actions: Action[] = [];
    const match =
      vlan === null
        ? { in_port: exact(ctx.uplink), vlan_tci: masked(0, VLAN_PRESENT) }
        : {
            in_port: exact(ctx.uplink),
            vlan_tci: masked(VLAN_PRESENT | vlan, VLAN_PRESENT | VLAN_VID_MASK),
          };
    if (vlan !== null) actions.push({ type: 'pop_vlan' });
    actions.push(
      setReg(Reg.Network, key),
      setReg(Reg.Flags, Flag.FromUplink),
      gotoTable(ctx.t.Forward),
    );
    sink.add(t.Classify, Priority.Specific, match, actions, { kind: 'network', networkId });
  }
}

/** The actions that send a packet out of the uplink on a network (tag pushed if it has one). */
export function uplinkOutput(vlan: number | null, uplink: number): Action[] {
  if (vlan === null) return [{ type: 'output', port: uplink }];
  return [
    { type: 'push_vlan', ethertype: EtherType.VLAN },
    { type: 'set_field', field: 'vlan_tci', value: BigInt(VLAN_PRESENT | vlan) },
    { type: 'output', port: uplink },
  ];
}
