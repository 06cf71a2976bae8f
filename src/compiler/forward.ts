/**
 * Tables Forward and Output: where a judged packet goes.
 *
 * Forward: destination MAC claimed by local ports on the reg6 network (their own MAC or an
 * allowed-address-pair MAC) → for each of them: ct_clear, reg5 := that port, reg0 := its
 * ingress flags → IngressPortSecurity (port security off: straight to Output); one claimant
 * with its own MAC by goto, several by one `clone` each. A pair MAC no local port owns also
 * goes to the uplink (unless the packet came from it).
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
import { exact, masked, type FlowSink } from './emit.js';
import { portMacs } from './port-security.js';
import { Flag, Priority, Reg, type Tables } from './tables.js';

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

/** Forward's default: what no network flow claims is dropped. */
export function compileForwardSkeleton(t: Tables, sink: FlowSink): void {
  sink.add(t.Forward, Priority.Drop, {}, [], PIPELINE);
}

/** Forward for one network: unicast to its claimants, flooding, the uplink. */
export function compileForwardNetwork(
  ctx: CompileContext,
  sink: FlowSink,
  networkId: string,
  ports: readonly LocalPortInfo[],
): void {
  const { t } = ctx;
  const key = ctx.networkKeys.get(networkId)!;
  const net = { [Reg.Network]: exact(key) };
  const origin = { kind: 'network', networkId } as const;
  const vlan = ctx.uplinkVlan.get(networkId);
  const toUplink = ctx.uplink !== null && vlan !== undefined ? uplinkOutput(vlan, ctx.uplink) : [];
  // Unicast: every local port of the network that claims the MAC, as its own `mac_address`
  // or as an allowed-address-pair MAC (a VRRP virtual MAC may be claimed by several ports).
  const claims = new Map<bigint, { ports: LocalPortInfo[]; owned: boolean }>();
  for (const l of ports) {
    for (const mac of portMacs(l)) {
      const c = claims.get(mac) ?? { ports: [], owned: false };
      c.ports.push(l);
      if (mac === l.port.mac) {
        if (c.owned) {
          sink.warn(
            `port ${l.port.id} repeats the MAC of another local port on ${networkId}: unicast goes to each`,
          );
        }
        c.owned = true;
      }
      claims.set(mac, c);
    }
  }
  for (const [mac, c] of [...claims].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const dst = { ...net, eth_dst: exact(mac) };
    const only = c.ports.length === 1 ? c.ports[0]! : undefined;
    const o = only ? portOrigin(only) : origin;
    // A port's own MAC is here; a pair MAC no local port owns may be claimed on another
    // host too (VRRP master elsewhere), so it also goes out of the uplink.
    const alsoUplink = !c.owned && toUplink.length > 0;
    if (only && !alsoUplink) {
      sink.add(t.Forward, Priority.Specific, dst, deliver(ctx, only, false), o);
      continue;
    }
    const each: Action[] = c.ports.map((l) => ({
      type: 'clone',
      actions: deliver(ctx, l, true),
    }));
    if (!alsoUplink) {
      sink.add(t.Forward, Priority.Specific, dst, each, o);
      continue;
    }
    const fromUplink = (set: boolean) => ({
      [Reg.Flags]: masked(set ? Flag.FromUplink : 0, Flag.FromUplink),
    });
    sink.add(
      t.Forward,
      Priority.Specific,
      { ...dst, ...fromUplink(false) },
      [...each, ...toUplink],
      o,
    );
    sink.add(t.Forward, Priority.Specific, { ...dst, ...fromUplink(true) }, each, o);
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

export function compileOutputSkeleton(t: Tables, sink: FlowSink): void {
  sink.add(t.Output, Priority.Drop, {}, [], PIPELINE);
}

/** Output for one local port: reg5 → its ofport (hairpin dropped when it has no port security). */
export function compileOutputPort(ctx: CompileContext, sink: FlowSink, l: LocalPortInfo): void {
  const { t } = ctx;
  const port = { [Reg.PortKey]: exact(l.ofport) };
  if (!l.port.portSecurity) {
    // Ports with port security skip this: IngressPortSecurity already dropped the hairpin.
    sink.add(t.Output, Priority.Hairpin, { ...port, in_port: exact(l.ofport) }, [], portOrigin(l));
  }
  sink.add(t.Output, Priority.Specific, port, [{ type: 'output', port: l.ofport }], portOrigin(l));
}
