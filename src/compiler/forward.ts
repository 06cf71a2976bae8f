/**
 * Tables Forward and Output: where a judged packet goes.
 *
 * Forward: destination MAC of a local port on the reg6 network → ct_clear, reg5 := that port,
 * reg0 := its ingress flags → IngressPortSecurity (port security off: straight to Output).
 * Broadcast/multicast → one `clone` per local port of the network (same steps), then the
 * uplink unless the packet came from it. Other unicast → the uplink (VLAN tag pushed), or
 * dropped when the network has no uplink or the packet came from it.
 * Output: reg5 → `output:<ofport>`; never back out of the in_port (hairpin: dropped).
 */
import type { Action } from '../openflow/ir.js';
import { uplinkOutput } from './classify.js';
import {
  gotoTable,
  ingressFlags,
  PIPELINE,
  portOrigin,
  resubmit,
  setReg,
  type CompileContext,
  type LocalPortInfo,
} from './context.js';
import { exact, masked } from './emit.js';
import { Flag, Priority, Reg } from './tables.js';

const MULTICAST_BIT = 0x0100_0000_0000n;

/** Actions that hand the packet to `l`'s ingress half; `inClone` uses resubmit, not goto. */
function deliver(ctx: CompileContext, l: LocalPortInfo, inClone: boolean): Action[] {
  const next = l.port.portSecurity ? ctx.t.IngressPortSecurity : ctx.t.Output;
  return [
    { type: 'ct_clear' },
    setReg(Reg.PortKey, l.ofport),
    setReg(Reg.Flags, ingressFlags(l)),
    inClone ? resubmit(next) : gotoTable(next),
  ];
}

export function compileForward(ctx: CompileContext): void {
  const { t, sink } = ctx;
  for (const [networkId, ports] of ctx.byNetwork) {
    const key = ctx.networkKeys.get(networkId)!;
    const net = { [Reg.Network]: exact(key) };
    const origin = { kind: 'network', networkId } as const;
    const vlan = ctx.uplinkVlan.get(networkId);
    const toUplink =
      ctx.uplink !== null && vlan !== undefined ? uplinkOutput(vlan, ctx.uplink) : [];
    const macs = new Set<bigint>();
    for (const l of ports) {
      if (macs.has(l.port.mac)) {
        ctx.warnings.push(
          `port ${l.port.id} repeats the MAC of another local port on ${networkId}: unicast goes to the first`,
        );
        continue;
      }
      macs.add(l.port.mac);
      sink.add(
        t.Forward,
        Priority.Specific,
        { ...net, eth_dst: exact(l.port.mac) },
        deliver(ctx, l, false),
        portOrigin(l),
      );
    }
    const clones: Action[] = ports.map((l) => ({ type: 'clone', actions: deliver(ctx, l, true) }));
    const mcast = masked(MULTICAST_BIT, MULTICAST_BIT);
    sink.add(
      t.Forward,
      Priority.Broadcast,
      { ...net, [Reg.Flags]: masked(0, Flag.FromUplink), eth_dst: mcast },
      [...clones, ...toUplink],
      origin,
    );
    if (toUplink.length > 0) {
      sink.add(
        t.Forward,
        Priority.Broadcast,
        { ...net, [Reg.Flags]: masked(Flag.FromUplink, Flag.FromUplink), eth_dst: mcast },
        clones,
        origin,
      );
      sink.add(
        t.Forward,
        Priority.Default,
        { ...net, [Reg.Flags]: masked(0, Flag.FromUplink) },
        toUplink,
        origin,
      );
    }
  }
  sink.add(t.Forward, Priority.Drop, {}, [], PIPELINE);
}

export function compileOutput(ctx: CompileContext): void {
  const { t, sink } = ctx;
  for (const l of ctx.locals) {
    const port = { [Reg.PortKey]: exact(l.ofport) };
    if (!l.port.portSecurity) {
      // Ports with port security skip this: IngressPortSecurity already dropped the hairpin.
      sink.add(
        t.Output,
        Priority.Hairpin,
        { ...port, in_port: exact(l.ofport) },
        [],
        portOrigin(l),
      );
    }
    sink.add(
      t.Output,
      Priority.Specific,
      port,
      [{ type: 'output', port: l.ofport }],
      portOrigin(l),
    );
  }
  sink.add(t.Output, Priority.Drop, {}, [], PIPELINE);
}
