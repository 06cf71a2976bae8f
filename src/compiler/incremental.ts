/**
 * The incremental compiler: keeps the desired table between compiles and, on each new input,
 * recompiles only the units whose inputs changed, then reports the difference.
 *
 * The pipeline is split into units, each a pure function of a few inputs:
 *   skeleton       the flows every bridge has (state, allow, table defaults) — the layout;
 *   port:<id>      classify, egress/ingress port security and output of one local port;
 *   uplink         classify of the uplink (VLAN tag → network);
 *   claim:<net>:<mac>  forwarding of unicast to one MAC local ports of a network claim;
 *   flood:<net>    flooding on one network (every local port), and unicast to the uplink;
 *   keys:<group>   one group's rules → conjunctive keys (and its punt flows), for the local
 *                  ports that have it and the addresses its remote groups/address groups name;
 *   part:<key>#<p> one part of a key's flows (conjunction.ts `keyParts`): the flows of one
 *                  dimension (a clause, or plain flows), or a single flow (conj_id).
 * A unit's signature names its inputs — objects by identity (the agent's normaliser keeps
 * unchanged groups and ports as the same objects), numbers by value — so a unit is compiled
 * again exactly when its signature changes. The dimensions keys share — a group's local ports,
 * a remote side's addresses — are long-lived lists of long-lived values (one object per port,
 * per address and field), rebuilt only when their inputs change; a part whose frame (priority,
 * conjunction id, constant fields) is unchanged keeps the flow of every value it had, so a
 * remote-group member joining costs a flow per key that names the group, not a re-emission of
 * the group's rules. Conjunction slots are assigned over all keys (a hash probed in canonical
 * order) and are part of the frames, so a key whose slot moves is re-emitted. The units' flows
 * meet in one `MergedTable` (table.ts), which merges equal flows across units and returns what
 * changed.
 *
 * Invariants: after every `update(input)`, `flows()` equals `compile(input)` from nothing
 * (property-tested); the change returned turns the previous table into the new one; an input
 * that fails its checks throws and changes nothing.
 */
import type {
  Cidr,
  IpFamily,
  NormalizedGroup,
  NormalizedPolicy,
  RemoteSpec,
} from '../model/types.js';
import type { FieldName, Flow } from '../openflow/ir.js';
import type { CompileInput } from './compile.js';
import { compileClassifyPort, compileClassifySkeleton, compileClassifyUplink } from './classify.js';
import {
  assignSlots,
  isConjunctive,
  keyParts,
  type ConjunctionSlots,
  type KeyPart,
} from './conjunction.js';
import { compileAllow, compileState } from './conntrack.js';
import { buildContext, PIPELINE, type CompileContext, type LocalPortInfo } from './context.js';
import type { CookieOrigin } from './cookie.js';
import { FlowSink, type Emitted } from './emit.js';
import {
  compileForwardClaim,
  compileForwardFlood,
  compileForwardSkeleton,
  macClaims,
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
  cidrValue,
  compileGroupKeys,
  groupMembers,
  portValue,
  pruneCidrs,
  remoteCidrs,
  newKeyMemo,
  remoteKey,
  type ConjunctiveKey,
  type KeyMemo,
  type DimSource,
  type DimValue,
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
  /** Units in the pipeline, and how many were compiled again by this update (and which). */
  readonly units: number;
  readonly recompiled: number;
  readonly recompiledUnits: readonly string[];
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
  /** The shared dimension lists the keys use (kept while the unit is). */
  readonly lists: readonly string[];
  /** What the group's keys remember for the next compile (rules.ts). */
  readonly memo: KeyMemo;
}

/** A group's key parts (their units), kept whole while its keys and slots are unchanged. */
interface RulesUnit extends Unit {
  readonly parts: readonly string[];
}

/** One key part's flows, by value (null: a single-flow part). */
interface PartUnit extends Unit {
  readonly byValue: ReadonlyMap<DimValue, Emitted> | null;
}

/** A part's flows, keeping the flow of every value the part had under the same frame. */
function emitPart(part: KeyPart, sig: string, before: PartUnit | undefined): PartUnit {
  const sink = new FlowSink();
  if (part.values === null) {
    part.emit(sink, null);
    return { sig, items: sink.items, warnings: [], byValue: null };
  }
  const reuse = before && before.sig.startsWith(`${part.frame}|`) ? before.byValue : null;
  const byValue = new Map<DimValue, Emitted>();
  for (const v of part.values) {
    const old = reuse?.get(v);
    if (old) sink.items.push(old);
    else part.emit(sink, v);
    byValue.set(v, sink.items[sink.items.length - 1]!);
  }
  return { sig, items: sink.items, warnings: [], byValue };
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
  private slots: { ids: ReadonlySet<string>; slots: ConjunctionSlots } | undefined;
  /** Shared dimension lists by key (DimSource), with the signature they were built for. */
  private readonly lists = new Map<string, { sig: string; value: unknown }>();
  private readonly portValues = new Map<number, DimValue>();
  private readonly cidrValues = new Map<FieldName, WeakMap<Cidr, DimValue>>();
  /** The part units of a key object, and the slot they were emitted at. */
  private keyParts = new WeakMap<ConjunctiveKey, { slot: string; parts: readonly string[] }>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  /** Compiles `input`, reusing every unit whose inputs are unchanged; returns the difference. */
  update(input: CompileInput): CompileUpdate {
    const ctx = buildContext(input);
    const layout = `${ctx.t.Classify}|${ctx.mode}`;
    const fresh = this.layout !== layout;
    const prev = fresh ? new Map<string, Unit>() : this.units;
    const next = new Map<string, Unit>();
    const recompiled: string[] = [];
    const unit = (id: string, sig: string, fn: (sink: FlowSink) => void): Unit => {
      const old = prev.get(id);
      if (old && old.sig === sig) {
        next.set(id, old);
        return old;
      }
      recompiled.push(id);
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
      const network = [ctx.networkKeys.get(networkId), ctx.uplink, ctx.uplinkVlan.get(networkId)];
      const portSig = (l: LocalPortInfo): string => `${this.id(l.port)}:${l.ofport}`;
      for (const c of macClaims(networkId, ports, (w) => networkWarnings.push(w))) {
        unit(
          `claim:${networkId}:${c.mac.toString(16)}`,
          [...network, c.owned, ...c.ports.map(portSig)].join('|'),
          (sink) => compileForwardClaim(ctx, sink, networkId, c),
        );
      }
      unit(`flood:${networkId}`, [...network, ...ports.map(portSig)].join('|'), (sink) =>
        compileForwardFlood(ctx, sink, networkId, ports),
      );
    }
    this.compileRules(ctx, prev, next, recompiled);

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
        recompiled: recompiled.length,
        recompiledUnits: recompiled,
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
    this.lists.clear();
    this.keyParts = new WeakMap();
  }

  /**
   * keys:<group> units (a group's conjunctive keys and punt flows), and for every key one unit
   * per part (keyParts: a dimension's flows, or a single flow); adds the ids of the units it
   * compiled again to `recompiled`. A part whose frame is unchanged keeps the flow of every
   * value it had.
   */
  private compileRules(
    ctx: CompileContext,
    prev: ReadonlyMap<string, Unit>,
    next: Map<string, Unit>,
    recompiled: string[],
  ): void {
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
    const membersOf = (): GroupMembers => (members ??= groupMembers(ctx.policy));
    const memberSigs = new Map<string, string>();
    const memberSig = (groupId: string): string => {
      let sig = memberSigs.get(groupId);
      if (sig === undefined) {
        sig = (membersOf().get(groupId) ?? []).map((p) => this.id(p)).join(',');
        memberSigs.set(groupId, sig);
      }
      return sig;
    };
    const dims = this.dimSource(ctx.policy, membersOf, memberSig);

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
        for (const k of old.lists) dims.keep(k);
        continue;
      }
      recompiled.push(id);
      const sink = new FlowSink();
      dims.record();
      const memo = old?.memo ?? newKeyMemo();
      const keys = compileGroupKeys(ctx, sink, dims, group, ports, memo, (o) => this.id(o));
      const u: KeysUnit = {
        sig,
        items: sink.items,
        warnings: sink.warnings,
        keys,
        conjunctive: keys.filter(isConjunctive),
        lists: dims.recorded(),
        memo,
      };
      next.set(id, u);
      keyUnits.push([group, u]);
    }
    dims.sweep();

    // Slots depend on the set of conjunctive keys only; most changes leave it as it was.
    // Slots depend on the set of conjunctive keys only: most changes leave it as it was.
    const conjunctive = keyUnits.flatMap(([, u]) => u.conjunctive);
    const ids = new Set(conjunctive.map((k) => `${k.table}:${k.id}`));
    const same =
      this.slots !== undefined &&
      this.slots.ids.size === ids.size &&
      [...ids].every((id) => this.slots!.ids.has(id));
    if (!same) this.slots = { ids, slots: assignSlots(conjunctive) };
    const slots = this.slots!.slots;

    for (const [group, u] of keyUnits) {
      // The group's keys and their slots unchanged: every part stays as it was.
      const sig = [
        this.id(u.keys),
        ...u.conjunctive.map((k) => `${slots.priority.get(k.id)}/${slots.conjId.get(k.id)}`),
      ].join('|');
      const id = `rules:${group.id}`;
      const old = prev.get(id) as RulesUnit | undefined;
      if (old && old.sig === sig) {
        next.set(id, old);
        for (const partId of old.parts) next.set(partId, prev.get(partId)!);
        continue;
      }
      const parts: string[] = [];
      for (const k of u.keys) {
        // A key that is the same object as last time, at the same slot: its parts stay.
        const slot = isConjunctive(k)
          ? `${slots.priority.get(k.id)}/${slots.conjId.get(k.id)}`
          : '';
        const known = this.keyParts.get(k);
        if (known && known.slot === slot && known.parts.every((id) => prev.has(id))) {
          for (const partId of known.parts) {
            parts.push(partId);
            next.set(partId, prev.get(partId)!);
          }
          continue;
        }
        const own: string[] = [];
        for (const part of keyParts(ctx.t, k, slots)) {
          const partId = `part:${k.id}#${part.name}`;
          parts.push(partId);
          own.push(partId);
          const psig = `${part.frame}|${this.valuesSig(part.values)}`;
          const before = prev.get(partId) as PartUnit | undefined;
          if (before && before.sig === psig) {
            next.set(partId, before);
            continue;
          }
          recompiled.push(partId);
          next.set(partId, emitPart(part, psig, before));
        }
        this.keyParts.set(k, { slot, parts: own });
      }
      const unit: RulesUnit = { sig, items: [], warnings: [], parts };
      next.set(id, unit);
      recompiled.push(id);
    }
  }

  /** Shared dimension values for this update, kept across updates while their inputs stay. */
  private dimSource(
    policy: NormalizedPolicy,
    members: () => GroupMembers,
    memberSig: (groupId: string) => string,
  ): DimSource & {
    record(): void;
    recorded(): string[];
    keep(list: string): void;
    sweep(): void;
  } {
    const lists = this.lists;
    const used = new Set<string>();
    let recording: string[] = [];
    const stable = <T>(key: string, sig: string, build: () => T): T => {
      used.add(key);
      recording.push(key);
      const old = lists.get(key);
      if (old && old.sig === sig) return old.value as T;
      const value = build();
      lists.set(key, { sig, value });
      return value;
    };
    const cidrs = new Map<string, Cidr[]>();
    const cidrsOf = (spec: RemoteSpec, family: IpFamily): Cidr[] => {
      const k = `${remoteKey(spec)}|${family}`;
      let v = cidrs.get(k);
      if (!v) {
        v = pruneCidrs(remoteCidrs(policy, members(), spec).filter((c) => c.family === family));
        cidrs.set(k, v);
      }
      return v;
    };
    const remoteSig = (spec: RemoteSpec): string => {
      if (spec.kind === 'group') return memberSig(spec.groupId);
      if (spec.kind === 'addressGroup') {
        const list = policy.addressGroups.get(spec.addressGroupId);
        return list ? String(this.id(list)) : '-';
      }
      return remoteKey(spec);
    };
    return {
      ports: (groupId, ports) =>
        stable(`ports|${groupId}`, ports.map((l) => l.ofport).join(','), () =>
          ports.map((l) => this.portValue(l.ofport)),
        ),
      remote: (spec, family, field) =>
        stable(`remote|${remoteKey(spec)}|${family}|${field}`, remoteSig(spec), () => {
          const list = cidrsOf(spec, family);
          return list.some((c) => c.prefix === 0)
            ? null
            : list.map((c) => this.cidrValue(field, c));
        }),
      cidrs: cidrsOf,
      record: () => {
        recording = [];
      },
      recorded: () => [...new Set(recording)],
      keep: (key) => void used.add(key),
      sweep: () => {
        for (const key of [...lists.keys()]) if (!used.has(key)) lists.delete(key);
      },
    };
  }

  /** Shared lists are long-lived arrays (their identity says it all); others by their values. */
  private valuesSig(values: readonly DimValue[] | null): string {
    if (values === null) return '';
    if (values[0]?.shared) return `list ${this.id(values)}`;
    return values.map((v) => this.id(v)).join(',');
  }

  private portValue(ofport: number): DimValue {
    let v = this.portValues.get(ofport);
    if (!v) this.portValues.set(ofport, (v = portValue(ofport)));
    return v;
  }

  private cidrValue(field: FieldName, c: Cidr): DimValue {
    let byCidr = this.cidrValues.get(field);
    if (!byCidr) this.cidrValues.set(field, (byCidr = new WeakMap()));
    let v = byCidr.get(c);
    if (!v) byCidr.set(c, (v = cidrValue(field, c)));
    return v;
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
