/**
 * The incremental compiler: keeps the desired table between compiles and, on each new input,
 * recompiles only the units whose inputs changed, then reports the difference.
 *
 * The pipeline is split into units, each a pure function of a few inputs:
 *   skeleton       the flows every bridge has (state, allow, table defaults) — the layout;
 *   port:<id>      classify, egress/ingress port security and output of one local port;
 *   uplink         classify of the uplink (VLAN tag → network);
 *   network:<id>   forwarding of one network (its local ports' MACs, flooding, uplink);
 *   keys:<group>   one group's rules → conjunctive keys (and its punt flows), for the local
 *                  ports that have it and the addresses its remote groups/address groups name;
 *   rules:<group>  the flows of those keys, given their conjunction priorities and ids.
 * A unit's signature names its inputs — objects by identity (the agent's normaliser keeps
 * unchanged groups and ports as the same objects), numbers by value — so a unit is compiled
 * again exactly when its signature changes. Conjunction slots are assigned over all keys (a
 * hash probed in canonical order) and feed `rules:` signatures, so a key whose slot moves is
 * re-emitted. The units' flows meet in one `MergedTable` (table.ts), which merges equal flows
 * across units and returns what changed.
 *
 * Invariants: after every `update(input)`, `flows()` equals `compile(input)` from nothing
 * (property-tested); the change returned turns the previous table into the new one; an input
 * that fails its checks throws and changes nothing.
 */
import type { NormalizedGroup, NormalizedPolicy } from '../model/types.js';
import type { Flow } from '../openflow/ir.js';
import type { CompileInput } from './compile.js';
import { compileClassifyPort, compileClassifySkeleton, compileClassifyUplink } from './classify.js';
import {
  assignSlots,
  compileKeyFlows,
  isConjunctive,
  type ConjunctionSlots,
} from './conjunction.js';
import { compileAllow, compileState } from './conntrack.js';
import { buildContext, PIPELINE, type CompileContext, type LocalPortInfo } from './context.js';
import type { CookieOrigin } from './cookie.js';
import { FlowSink, type Emitted } from './emit.js';
import {
  compileForwardNetwork,
  compileForwardSkeleton,
  compileOutputPort,
  compileOutputSkeleton,
} from './forward.js';
import {
  compileEgressPortSecurityPort,
  compileEgressPortSecuritySkeleton,
  compileIngressPortSecurityPort,
  compileIngressPortSecuritySkeleton,
} from './port-security.js';
import {
  compileGroupKeys,
  groupMembers,
  RemoteResolver,
  type ConjunctiveKey,
  type GroupMembers,
} from './rules.js';
import { Priority, type Tables } from './tables.js';
import { MergedTable, type TableChange } from './table.js';

export interface CompileUpdate {
  /** What to do to the previous table to get the new one: delete `removed`, add `added`. */
  readonly change: TableChange;
  /** The compiler started from nothing (first update, new layout): `change` adds every flow. */
  readonly fresh: boolean;
  readonly warnings: readonly string[];
  /** Units in the pipeline, and how many were compiled again by this update. */
  readonly units: number;
  readonly recompiled: number;
}

interface Unit {
  readonly sig: string;
  readonly items: readonly Emitted[];
  readonly warnings: readonly string[];
}

interface KeysUnit extends Unit {
  readonly keys: readonly ConjunctiveKey[];
  /** Keys that become conjunctions (need a slot). */
  readonly conjunctive: readonly ConjunctiveKey[];
}

function emit(fn: (sink: FlowSink) => void): { items: Emitted[]; warnings: string[] } {
  const sink = new FlowSink();
  fn(sink);
  return { items: sink.items, warnings: sink.warnings };
}

function compileSkeleton(t: Tables, sink: FlowSink): void {
  compileClassifySkeleton(t, sink);
  compileEgressPortSecuritySkeleton(t, sink);
  compileState(t, sink);
  for (const table of [t.EgressRules, t.IngressRules])
    sink.add(table, Priority.Drop, {}, [], PIPELINE);
  compileForwardSkeleton(t, sink);
  compileIngressPortSecuritySkeleton(t, sink);
  compileOutputSkeleton(t, sink);
  compileAllow(t, sink);
}

function compilePort(ctx: CompileContext, sink: FlowSink, l: LocalPortInfo): void {
  compileClassifyPort(ctx, sink, l);
  compileEgressPortSecurityPort(ctx, sink, l);
  compileIngressPortSecurityPort(ctx, sink, l);
  compileOutputPort(ctx, sink, l);
}

export class IncrementalCompiler {
  private readonly table = new MergedTable();
  private units = new Map<string, Unit>();
  private layout: string | undefined;
  private slots: { sig: string; slots: ConjunctionSlots } | undefined;
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  /** Compiles `input`, reusing every unit whose inputs are unchanged; returns the difference. */
  update(input: CompileInput): CompileUpdate {
    const ctx = buildContext(input);
    const layout = `${ctx.t.Classify}|${ctx.mode}`;
    const fresh = this.layout !== layout;
    const prev = fresh ? new Map<string, Unit>() : this.units;
    const next = new Map<string, Unit>();
    let recompiled = 0;
    const unit = (id: string, sig: string, fn: (sink: FlowSink) => void): Unit => {
      const old = prev.get(id);
      if (old && old.sig === sig) {
        next.set(id, old);
        return old;
      }
      recompiled++;
      const u = { sig, ...emit(fn) };
      next.set(id, u);
      return u;
    };

    unit('skeleton', layout, (sink) => compileSkeleton(ctx.t, sink));
    for (const l of ctx.locals) {
      unit(`port:${l.port.id}`, `${this.id(l.port)}|${l.ofport}|${l.networkKey}`, (sink) =>
        compilePort(ctx, sink, l),
      );
    }
    unit('uplink', this.uplinkSig(ctx), (sink) => compileClassifyUplink(ctx, sink));
    const networkWarnings: string[] = [];
    for (const [networkId, ports] of ctx.byNetwork) {
      const sig = [
        ctx.networkKeys.get(networkId),
        ctx.uplink,
        ctx.uplinkVlan.get(networkId),
        ...ports.map((l) => `${this.id(l.port)}:${l.ofport}`),
      ].join('|');
      const u = unit(`network:${networkId}`, sig, (sink) =>
        compileForwardNetwork(ctx, sink, networkId, ports),
      );
      networkWarnings.push(...u.warnings);
    }
    recompiled += this.compileRules(ctx, prev, next);

    // Everything compiled: now swap the units' flows in the merged table.
    try {
      if (fresh) this.table.clear();
      for (const [id, old] of prev) if (!next.has(id)) this.table.replace(old.items, []);
      for (const [id, u] of next) this.table.replace(prev.get(id)?.items ?? [], u.items);
      const change = this.table.settle();
      this.units = next;
      this.layout = layout;
      return {
        change,
        fresh,
        warnings: [...ctx.warnings, ...networkWarnings],
        units: next.size,
        recompiled,
      };
    } catch (e) {
      // A merge conflict is a compiler bug; start from nothing next time.
      this.reset();
      throw e;
    }
  }

  /** The desired table, in canonical order. */
  flows(): Flow[] {
    return this.table.flows();
  }

  get size(): number {
    return this.table.size;
  }

  /** Cookie → what produced the flows that carry it. */
  cookies(): Map<bigint, CookieOrigin> {
    return this.table.cookies();
  }

  /** Forgets everything: the next update compiles every unit (and reports `fresh`). */
  reset(): void {
    this.table.clear();
    this.units = new Map();
    this.layout = undefined;
    this.slots = undefined;
  }

  /** keys:<group> and rules:<group> units; returns how many were compiled again. */
  private compileRules(
    ctx: CompileContext,
    prev: ReadonlyMap<string, Unit>,
    next: Map<string, Unit>,
  ): number {
    let recompiled = 0;
    const portsByGroup = new Map<string, LocalPortInfo[]>();
    for (const l of ctx.locals) {
      if (!l.port.portSecurity) continue;
      for (const g of l.port.groupIds) {
        let list = portsByGroup.get(g);
        if (!list) portsByGroup.set(g, (list = []));
        list.push(l);
      }
    }
    let members: GroupMembers | undefined;
    let resolver: RemoteResolver | undefined;
    const memberSigs = new Map<string, string>();
    const memberSig = (groupId: string): string => {
      let sig = memberSigs.get(groupId);
      if (sig === undefined) {
        members ??= groupMembers(ctx.policy);
        sig = (members.get(groupId) ?? []).map((p) => this.id(p)).join(',');
        memberSigs.set(groupId, sig);
      }
      return sig;
    };

    const keyUnits: [NormalizedGroup, KeysUnit][] = [];
    for (const gid of [...portsByGroup.keys()].sort()) {
      const group = ctx.policy.groups.get(gid);
      if (!group) continue;
      const ports = portsByGroup.get(gid)!;
      const sig = [
        this.id(group),
        ports.map((l) => l.ofport).join(','),
        ...this.remoteSigs(ctx.policy, group, memberSig),
      ].join('|');
      const id = `keys:${gid}`;
      const old = prev.get(id) as KeysUnit | undefined;
      if (old && old.sig === sig) {
        next.set(id, old);
        keyUnits.push([group, old]);
        continue;
      }
      recompiled++;
      members ??= groupMembers(ctx.policy);
      resolver ??= new RemoteResolver(ctx.policy, members);
      const sink = new FlowSink();
      const keys = compileGroupKeys(ctx, sink, resolver, group, ports);
      const u: KeysUnit = {
        sig,
        items: sink.items,
        warnings: sink.warnings,
        keys,
        conjunctive: keys.filter(isConjunctive),
      };
      next.set(id, u);
      keyUnits.push([group, u]);
    }

    // Slots depend on the set of conjunctive keys only; most changes leave it as it was.
    const conjunctive = keyUnits.flatMap(([, u]) => u.conjunctive);
    const slotsSig = conjunctive
      .map((k) => `${k.table}:${k.id}`)
      .sort()
      .join('\n');
    if (this.slots?.sig !== slotsSig) {
      this.slots = { sig: slotsSig, slots: assignSlots(conjunctive) };
    }
    const slots = this.slots.slots;

    for (const [group, u] of keyUnits) {
      const sig = [
        this.id(u.keys),
        ...u.conjunctive.map((k) => `${slots.priority.get(k.id)}/${slots.conjId.get(k.id)}`),
      ].join('|');
      const id = `rules:${group.id}`;
      const old = prev.get(id);
      if (old && old.sig === sig) {
        next.set(id, old);
        continue;
      }
      recompiled++;
      next.set(id, {
        sig,
        ...emit((sink) => {
          for (const k of u.keys) compileKeyFlows(ctx.t, sink, k, slots);
        }),
      });
    }
    return recompiled;
  }

  /** What a group's remote sides resolve to: members of remote groups, address groups. */
  private remoteSigs(
    policy: NormalizedPolicy,
    group: NormalizedGroup,
    memberSig: (groupId: string) => string,
  ): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const r of group.rules) {
      const remote = r.remote;
      let key: string;
      if (remote.kind === 'group') key = `g:${remote.groupId}`;
      else if (remote.kind === 'addressGroup') key = `a:${remote.addressGroupId}`;
      else continue;
      if (seen.has(key)) continue;
      seen.add(key);
      if (remote.kind === 'group') out.push(`${key}=${memberSig(remote.groupId)}`);
      else {
        const cidrs = policy.addressGroups.get(remote.addressGroupId);
        out.push(`${key}=${cidrs ? this.id(cidrs) : '-'}`);
      }
    }
    return out.sort();
  }

  private uplinkSig(ctx: CompileContext): string {
    if (ctx.uplink === null) return '-';
    const owned: string[] = [];
    for (const [networkId, vlan] of ctx.uplinkVlan) {
      if (ctx.uplinkOwner.get(vlan) !== networkId) continue;
      owned.push(`${networkId}=${vlan}:${ctx.networkKeys.get(networkId)}`);
    }
    return `${ctx.uplink}|${owned.join(',')}`;
  }

  /** A number per object, for signatures: equal objects by identity, not content. */
  private id(o: object): number {
    let n = this.ids.get(o);
    if (n === undefined) {
      n = this.nextId++;
      this.ids.set(o, n);
    }
    return n;
  }
}
