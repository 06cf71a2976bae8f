/**
 * Tables Forward and Output: where a judged packet goes.
 *
 * Forward (per network: one unit per claimed MAC, one for flooding): destination MAC claimed
 * by local ports on the reg6 network (their own MAC or an
 * allowed-address-pair MAC) → for each of them: ct_clear, reg5 := that port, reg0 := its
 * ingress flags → IngressPortSecurity (port security off: straight to Output); one claimant
 * with its own MAC by goto, several by one `clone` each. A pair MAC no local port owns also
 * goes to the uplink (unless the packet came from it).
 * Broadcast/multicast → one `clone` per local port of the network (same steps), then the
 * uplink unless the packet came from it. Other unicast → the uplink (VLAN tag pushed), or
 * dropped when the network has no uplink or the packet came from it.
 * Output: reg5 → `output:<ofport>`; never back out of the in_port (hairpin: dropped).
 */
import type { Action, Match } from '../openflow/ir.js';
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

/** Local ports of a network that claim one unicast MAC. */
export interface MacClaim {
  readonly mac: bigint;
  readonly ports: readonly LocalPortInfo[];
  /** Some claimant has it as its own `mac_address` (it lives here, not behind the uplink). */
  readonly owned: boolean;
}

/**
 * Unicast claims of a network: every local port claims its `mac_address` and its allowed-
 * address-pair MACs (a VRRP virtual MAC may be claimed by several ports). Sorted by MAC;
 * warns when two ports have the same `mac_address`.
 */
export function macClaims(
  networkId: string,
  ports: readonly LocalPortInfo[],
  warn: (message: string) => void,
): MacClaim[] {
  const claims = new Map<bigint, { mac: bigint; ports: LocalPortInfo[]; owned: boolean }>();
  for (const l of ports) {
    for (const mac of portMacs(l)) {
      const c = claims.get(mac) ?? { mac, ports: [], owned: false };
      c.ports.push(l);
      if (mac === l.port.mac) {
        if (c.owned) {
          warn(
            `port ${l.port.id} repeats the MAC of another local port on ${networkId}: unicast goes to each`,
          );
        }
        c.owned = true;
      }
      claims.set(mac, c);
    }
  }
  return [...claims.values()].sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
}

function networkMatch(ctx: CompileContext, networkId: string): Match {
  return { [Reg.Network]: exact(ctx.networkKeys.get(networkId)!) };
}

function uplinkActions(ctx: CompileContext, networkId: string): Action[] {
  const vlan = ctx.uplinkVlan.get(networkId);
  return ctx.uplink !== null && vlan !== undefined ? uplinkOutput(vlan, ctx.uplink) : [];
}

/** Unicast to one claimed MAC: each claimant (never the sender), and the uplink for pair MACs. */
export function compileForwardClaim(
  ctx: CompileContext,
  sink: FlowSink,
  networkId: string,
  c: MacClaim,
): void {
  const { t } = ctx;
  const origin = { kind: 'network', networkId } as const;
  const toUplink = uplinkActions(ctx, networkId);
  const dst = { ...networkMatch(ctx, networkId), eth_dst: exact(c.mac) };
  const only = c.ports.length === 1 ? c.ports[0]! : undefined;
  const o = only ? portOrigin(only) : origin;
  // A port's own MAC is here; a pair MAC no local port owns may be claimed on another
  // host too (VRRP master elsewhere), so it also goes out of the uplink.
  const alsoUplink = !c.owned && toUplink.length > 0;
  if (only && !alsoUplink) {
    sink.add(t.Forward, Priority.Specific, dst, deliver(ctx, only, false), o);
    return;
  }
  const each: Action[] = c.ports.map((l) => ({
    type: 'clone',
    actions: deliver(ctx, l, true),
  }));
  if (!alsoUplink) {
    sink.add(t.Forward, Priority.Specific, dst, each, o);
    return;
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

/** Broadcast and multicast to every local port of the network, and other unicast to the uplink. */
export function compileForwardFlood(
  ctx: CompileContext,
  sink: FlowSink,
  networkId: string,
  ports: readonly LocalPortInfo[],
): void {
  const { t } = ctx;
  const net = networkMatch(ctx, networkId);
  const origin = { kind: 'network', networkId } as const;
  const toUplink = uplinkActions(ctx, networkId);
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
