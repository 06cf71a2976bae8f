/**
 * Security-group rules → conjunctive keys (docs/pipeline.md, "Rules", "Conjunctions").
 *
 * Rules of one group that share (direction, ethertype, remote spec, form) form one key; its
 * dimensions are the ports that have the group (reg5), the remote CIDRs, and the services
 * (protocol + ports/ICMP type-code, the union over the key's rules). A rule whose destination
 * × source port masks outnumber their sum gets a key of its own with the two port dimensions
 * apart. conjunction.ts turns keys into flows.
 *
 * Forms: stateful rules judge the connection's original tuple (ct_*); stateless rules, and
 * SCTP port rules of stateful groups, judge the packet's own header (SCTP in forward form when
 * Reply is clear, reverse form when set). DCCP and UDP-Lite port rules cannot be matched by
 * OVS: packets that pass every other dimension are paused at the controller, below every
 * allow flow, never widened into an allow; the agent judges them and resumes the allowed.
 */
import { compareCidr } from '../model/addr.js';
import type {
  Cidr,
  IpFamily,
  NormalizedGroup,
  NormalizedPolicy,
  NormalizedPort,
  NormalizedRule,
  RemoteSpec,
} from '../model/types.js';
import { IpProto } from '../model/types.js';
import {
  CtState,
  type Action,
  type FieldMatch,
  type FieldName,
  type Match,
} from '../openflow/ir.js';
import type { CompileContext, LocalPortInfo } from './context.js';
import { ruleCookie } from './cookie.js';
import { exact, masked, matchKey, type FlowSink } from './emit.js';
import { portRangeToMasks } from './port-ranges.js';
import { cidrMatch } from './port-security.js';
import { Flag, Priority, Reg } from './tables.js';
import { EtherType } from '../model/port-security.js';

/** One value of a dimension: the fields it adds, and the rules it stands for. */
export interface DimValue {
  readonly match: Match;
  /** `matchKey(match)`. */
  readonly text: string;
  /** The rules the value stands for (empty for shared values: they stand for the key's). */
  readonly ruleIds: readonly string[];
  /**
   * The value belongs to the key as a whole (ports, remote addresses), not to some of its
   * rules: as a conjunction clause it carries the group's cookie, so adding a rule to the key
   * does not rewrite it. Shared values are long-lived objects (`DimSource`), one per port or
   * (address, field), and their lists are the same arrays while their inputs stay the same.
   */
  readonly shared?: boolean;
}

/**
 * Where keys get their shared dimensions — the local ports of a group, the addresses of a
 * remote side — as stable objects (incremental.ts keeps them across compiles), and the remote
 * CIDRs themselves (for punt flows).
 */
export interface DimSource {
  /** `reg5=` values of these ports (the local ports with port security of `groupId`). */
  ports(groupId: string, ports: readonly LocalPortInfo[]): readonly DimValue[];
  /** Values of `field` for the remote side's addresses; null when they include "anywhere". */
  remote(spec: RemoteSpec, family: IpFamily, field: FieldName): readonly DimValue[] | null;
  cidrs(spec: RemoteSpec, family: IpFamily): readonly Cidr[];
}

function dimValue(match: Match, ruleIds: readonly string[], shared?: boolean): DimValue {
  return { match, text: matchKey(match), ruleIds, ...(shared ? { shared } : {}) };
}

/** The shared value of a port (`reg5=ofport`). */
export function portValue(ofport: number): DimValue {
  return dimValue({ [Reg.PortKey]: exact(ofport) }, [], true);
}

/** The shared value of an address in a field. */
export function cidrValue(field: FieldName, c: Cidr): DimValue {
  return dimValue({ [field]: cidrMatch(c) }, [], true);
}

export interface ConjunctiveKey {
  /** Canonical text of the key; conjunction ids and priorities hash it. */
  readonly id: string;
  readonly groupId: string;
  readonly table: number;
  readonly ruleIds: readonly string[];
  /** Fields every flow of the key carries. */
  readonly constant: Match;
  /** Dimensions; an empty one means the key matches nothing (e.g. an empty remote group). */
  readonly dims: readonly (readonly DimValue[])[];
}

type Form = 'ct' | 'packet' | 'sctp-forward' | 'sctp-reverse';

const TRACKED_VALID = masked(CtState.TRK, CtState.TRK | CtState.INV);
const ICMP_BYTE = 0xff;

const PORT_FIELDS: Readonly<Record<number, { src: FieldName; dst: FieldName }>> = {
  [IpProto.TCP]: { src: 'tcp_src', dst: 'tcp_dst' },
  [IpProto.UDP]: { src: 'udp_src', dst: 'udp_dst' },
  [IpProto.SCTP]: { src: 'sctp_src', dst: 'sctp_dst' },
};

const UNMATCHABLE_PORT_PROTOCOLS: ReadonlySet<number> = new Set([IpProto.DCCP, IpProto.UDPLITE]);

function familyOf(rule: NormalizedRule): IpFamily {
  return rule.ethertype === 'IPv4' ? 4 : 6;
}

export function remoteKey(r: RemoteSpec): string {
  switch (r.kind) {
    case 'any':
      return 'any';
    case 'prefix':
      return `prefix=${r.cidr.addr.toString(16)}/${r.cidr.prefix}`;
    case 'group':
      return `group=${r.groupId}`;
    case 'addressGroup':
      return `address-group=${r.addressGroupId}`;
  }
}

/** The field holding the remote address: the original direction's source for ingress rules. */
function remoteField(form: Form, ingress: boolean, family: IpFamily): FieldName {
  const srcSide = form === 'sctp-reverse' ? !ingress : ingress;
  if (form === 'ct') {
    if (family === 4) return srcSide ? 'ct_nw_src' : 'ct_nw_dst';
    return srcSide ? 'ct_ipv6_src' : 'ct_ipv6_dst';
  }
  if (family === 4) return srcSide ? 'ip_src' : 'ip_dst';
  return srcSide ? 'ipv6_src' : 'ipv6_dst';
}

/** CIDRs with those inside another removed (same addresses matched, fewer flows). */
export function pruneCidrs(cidrs: readonly Cidr[]): Cidr[] {
  const sorted = [...cidrs].sort(compareCidr);
  const out: Cidr[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === c.family && last.prefix <= c.prefix) {
      const bits = BigInt(c.family === 4 ? 32 : 128);
      const shift = bits - BigInt(last.prefix);
      if (c.addr >> shift === last.addr >> shift) continue;
    }
    out.push(c);
  }
  return out;
}

/** Group id → the ports (any host) that have the group, in the policy's port order. */
export type GroupMembers = ReadonlyMap<string, readonly NormalizedPort[]>;

export function groupMembers(policy: NormalizedPolicy): Map<string, NormalizedPort[]> {
  const m = new Map<string, NormalizedPort[]>();
  for (const p of policy.ports.values()) {
    for (const g of p.groupIds) {
      let list = m.get(g);
      if (!list) m.set(g, (list = []));
      list.push(p);
    }
  }
  return m;
}

/** The CIDRs a remote side names (remote groups: every member's addresses), before pruning. */
export function remoteCidrs(
  policy: NormalizedPolicy,
  members: GroupMembers,
  r: RemoteSpec,
): Cidr[] {
  switch (r.kind) {
    case 'any':
      return [
        { family: 4, addr: 0n, prefix: 0 },
        { family: 6, addr: 0n, prefix: 0 },
      ];
    case 'prefix':
      return [r.cidr];
    case 'addressGroup':
      return [...(policy.addressGroups.get(r.addressGroupId) ?? [])];
    case 'group':
      return (members.get(r.groupId) ?? []).flatMap((p) => p.addresses.map((b) => b.cidr));
  }
}

function portMasks(field: FieldName, min: number, max: number): Match[] {
  return portRangeToMasks(min, max).map((e) =>
    e.mask === 0 ? {} : { [field]: e.mask === 0xffff ? exact(e.value) : masked(e.value, e.mask) },
  );
}

interface Services {
  /** One dimension of services, or two (dst, src) for a rule that gets its own key. */
  readonly dims: Match[][];
}

/** The service values of a rule in a form (protocol + ports / ICMP type and code). */
function servicesOf(rule: NormalizedRule, form: Form): Services {
  const p = rule.protocol;
  if (p === null) return { dims: [[{}]] };
  const ct = form === 'ct';
  const proto: Match = ct ? { ct_nw_proto: exact(p) } : { ip_proto: exact(p) };
  if (p === IpProto.ICMP || p === IpProto.ICMPV6) {
    const m: Record<string, FieldMatch> = { ...proto };
    const [typeF, codeF]: FieldName[] = ct
      ? ['ct_tp_src', 'ct_tp_dst']
      : p === IpProto.ICMP
        ? ['icmp_type', 'icmp_code']
        : ['icmpv6_type', 'icmpv6_code'];
    if (rule.icmpType !== null)
      m[typeF!] = ct ? masked(rule.icmpType, ICMP_BYTE) : exact(rule.icmpType);
    if (rule.icmpCode !== null)
      m[codeF!] = ct ? masked(rule.icmpCode, ICMP_BYTE) : exact(rule.icmpCode);
    return { dims: [[m]] };
  }
  if (!rule.dstPorts && !rule.srcPorts) return { dims: [[proto]] };
  let fields: { src: FieldName; dst: FieldName };
  if (ct) fields = { src: 'ct_tp_src', dst: 'ct_tp_dst' };
  else if (form === 'sctp-reverse') fields = { src: 'sctp_dst', dst: 'sctp_src' };
  else fields = PORT_FIELDS[p]!;
  const dst = rule.dstPorts ? portMasks(fields.dst, rule.dstPorts.min, rule.dstPorts.max) : [{}];
  const src = rule.srcPorts ? portMasks(fields.src, rule.srcPorts.min, rule.srcPorts.max) : [{}];
  if (dst.length * src.length > dst.length + src.length) {
    return { dims: [dst.map((d) => ({ ...proto, ...d })), src.map((s) => ({ ...proto, ...s }))] };
  }
  const out: Match[] = [];
  for (const d of dst) for (const s of src) out.push({ ...proto, ...d, ...s });
  return { dims: [out] };
}

function formsOf(rule: NormalizedRule, stateful: boolean): Form[] | 'punt' {
  const hasPorts = rule.dstPorts !== null || rule.srcPorts !== null;
  if (hasPorts && rule.protocol !== null && UNMATCHABLE_PORT_PROTOCOLS.has(rule.protocol))
    return 'punt';
  if (!stateful) return ['packet'];
  if (hasPorts && rule.protocol === IpProto.SCTP) return ['sctp-forward', 'sctp-reverse'];
  return ['ct'];
}

function constantOf(rule: NormalizedRule, form: Form): Match {
  const m: Record<string, FieldMatch> = {
    eth_type: exact(rule.ethertype === 'IPv4' ? EtherType.IPV4 : EtherType.IPV6),
  };
  if (form !== 'packet') m['ct_state'] = TRACKED_VALID;
  if (form === 'sctp-forward') m[Reg.Flags] = masked(0, Flag.Reply);
  if (form === 'sctp-reverse') m[Reg.Flags] = masked(Flag.Reply, Flag.Reply);
  if (form === 'sctp-forward' || form === 'sctp-reverse') m['ip_proto'] = exact(IpProto.SCTP);
  return m;
}

interface KeyBuilder {
  id: string;
  groupId: string;
  table: number;
  constant: Match;
  ruleIds: Set<string>;
  portsDim: readonly DimValue[];
  remoteDim: readonly DimValue[] | null;
  /** Services by canonical text. */
  services: Map<string, { match: Match; ruleIds: Set<string> }>;
  /** For own-key rules: the dst and src dimensions. */
  extraDims: Match[][] | null;
}

function svcKey(m: Match): string {
  return Object.keys(m)
    .sort()
    .map((k) => {
      const f = m[k as FieldName]!;
      return `${k}=${f.value}/${f.mask ?? ''}`;
    })
    .join(',');
}

/** What one rule brings to one key (one per form); a function of the rule and its group. */
interface Contribution {
  readonly keyId: string;
  readonly table: number;
  readonly constant: Match;
  readonly remote: RemoteSpec;
  readonly family: IpFamily;
  readonly field: FieldName;
  readonly services: Services;
  readonly own: boolean;
}

/**
 * What a group's keys remember between compiles (incremental.ts keeps one per group): each
 * rule's contributions, and each key with the signature of its inputs, so a rule change
 * rebuilds only the key it belongs to.
 */
export interface KeyMemo {
  readonly contributions: WeakMap<NormalizedRule, { sig: string; value: Contribution[] | 'punt' }>;
  readonly keys: Map<string, { sig: string; key: ConjunctiveKey }>;
  /** Service values by content, so a rebuilt key keeps the values it had (and their flows). */
  readonly values: Map<string, DimValue>;
  /** How many values were left after the last pruning. */
  readonly pruned: { size: number };
}

export function newKeyMemo(): KeyMemo {
  return { contributions: new WeakMap(), keys: new Map(), values: new Map(), pruned: { size: 0 } };
}

function memoValue(memo: KeyMemo, match: Match, ruleIds: readonly string[]): DimValue {
  const text = `${matchKey(match)}|${ruleIds.join(' ')}`;
  let v = memo.values.get(text);
  if (!v) memo.values.set(text, (v = dimValue(match, ruleIds)));
  return v;
}

function contributionsOf(
  ctx: CompileContext,
  group: NormalizedGroup,
  rule: NormalizedRule,
): Contribution[] | 'punt' {
  const ingress = rule.direction === 'ingress';
  const table = ingress ? ctx.t.IngressRules : ctx.t.EgressRules;
  const family = familyOf(rule);
  const forms = formsOf(rule, group.stateful);
  if (forms === 'punt') return 'punt';
  return forms.map((form) => {
    const services = servicesOf(rule, form);
    const base = `${group.id}|${rule.direction}|${rule.ethertype}|${remoteKey(rule.remote)}|${form}`;
    const own = services.dims.length > 1;
    return {
      keyId: own ? `${base}|rule=${rule.id}` : base,
      table,
      constant: constantOf(rule, form),
      remote: rule.remote,
      family,
      field: remoteField(form, ingress, family),
      services,
      own,
    };
  });
}

/**
 * One group's rules, for the local ports (with port security) that have it → its keys; punt
 * flows go straight to the sink. With a `memo` (and `idOf`, an object's identity as a number),
 * a key whose rules and shared dimensions are the same objects as last time is the same
 * object as last time.
 */
export function compileGroupKeys(
  ctx: CompileContext,
  sink: FlowSink,
  dims: DimSource,
  group: NormalizedGroup,
  ports: readonly LocalPortInfo[],
  memo: KeyMemo = newKeyMemo(),
  idOf: (o: object) => number = () => 0,
): ConjunctiveKey[] {
  const punts: Punts = new Map();
  const rules = [...group.rules].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const portsDim = dims.ports(group.id, ports);
  const contributionSig = `${group.id}|${group.stateful}|${ctx.t.IngressRules}`;
  const buckets = new Map<string, { rules: NormalizedRule[]; parts: Contribution[] }>();
  for (const rule of rules) {
    let c = memo.contributions.get(rule);
    if (!c || c.sig !== contributionSig) {
      c = { sig: contributionSig, value: contributionsOf(ctx, group, rule) };
      memo.contributions.set(rule, c);
    }
    if (c.value === 'punt') {
      const family = familyOf(rule);
      emitPunts(
        punts,
        rule,
        group.stateful ? 'ct' : 'packet',
        rule.direction === 'ingress' ? ctx.t.IngressRules : ctx.t.EgressRules,
        portsDim,
        dims.cidrs(rule.remote, family),
        rule.direction === 'ingress',
        family,
      );
      continue;
    }
    for (const part of c.value) {
      let b = buckets.get(part.keyId);
      if (!b) buckets.set(part.keyId, (b = { rules: [], parts: [] }));
      b.rules.push(rule);
      b.parts.push(part);
    }
  }
  emitAllPunts(sink, punts, ctx.t.Allow);
  const keys: ConjunctiveKey[] = [];
  const kept = new Map<string, { sig: string; key: ConjunctiveKey }>();
  for (const [id, b] of buckets) {
    const first = b.parts[0]!;
    const remoteDim = dims.remote(first.remote, first.family, first.field);
    const sig = [
      group.stateful,
      idOf(portsDim),
      remoteDim === null ? '-' : idOf(remoteDim),
      ...b.rules.map((r) => idOf(r)),
    ].join(',');
    const old = memo.keys.get(id);
    if (old && old.sig === sig) {
      keys.push(old.key);
      kept.set(id, old);
      continue;
    }
    const k: KeyBuilder = {
      id,
      groupId: group.id,
      table: first.table,
      constant: first.constant,
      ruleIds: new Set(),
      portsDim,
      remoteDim,
      services: new Map(),
      extraDims: first.own ? first.services.dims : null,
    };
    b.parts.forEach((part, i) => {
      const ruleId = b.rules[i]!.id;
      k.ruleIds.add(ruleId);
      if (part.own) return;
      for (const m of part.services.dims[0]!) {
        const sk = svcKey(m);
        let sv = k.services.get(sk);
        if (!sv) k.services.set(sk, (sv = { match: m, ruleIds: new Set() }));
        sv.ruleIds.add(ruleId);
      }
    });
    const key = finishKey(k, (match, ruleIds) => memoValue(memo, match, ruleIds));
    keys.push(key);
    kept.set(id, { sig, key });
  }
  memo.keys.clear();
  for (const [id, v] of kept) memo.keys.set(id, v);
  // Forget values no key holds any more, once the memo has doubled since it was last pruned.
  if (memo.values.size > 2 * memo.pruned.size + 64) {
    const live = new Set(keys.flatMap((k) => k.dims.flat().filter((v) => !v.shared)));
    for (const [text, v] of [...memo.values]) if (!live.has(v)) memo.values.delete(text);
    memo.pruned.size = memo.values.size;
  }
  return keys;
}

function finishKey(
  k: KeyBuilder,
  value: (match: Match, ruleIds: readonly string[]) => DimValue,
): ConjunctiveKey {
  const ruleIds = [...k.ruleIds].sort();
  const all = (ms: readonly Match[]): DimValue[] => ms.map((match) => value(match, ruleIds));
  const dims: (readonly DimValue[])[] = [k.portsDim];
  if (k.remoteDim) dims.push(k.remoteDim);
  if (k.extraDims) {
    for (const d of k.extraDims)
      if (!(d.length === 1 && Object.keys(d[0]!).length === 0)) dims.push(all(d));
  } else {
    // Services by their canonical text (the map's keys).
    let svcs = [...k.services].map(([key, s]) => ({ key, ...s }));
    // A service that matches everything, or a whole protocol, swallows the narrower ones.
    const universal = svcs.find((s) => Object.keys(s.match).length === 0);
    if (universal) svcs = [universal];
    else {
      const whole = new Set(
        svcs.filter((s) => Object.keys(s.match).length === 1).map((s) => s.key),
      );
      if (whole.size > 0) {
        svcs = svcs.filter((s) => {
          if (Object.keys(s.match).length === 1) return true;
          const protoOnly = Object.entries(s.match).filter(
            ([f]) => f === 'ct_nw_proto' || f === 'ip_proto',
          );
          return !protoOnly.some(([f, v]) => whole.has(svcKey({ [f]: v })));
        });
      }
    }
    svcs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (!(svcs.length === 1 && Object.keys(svcs[0]!.match).length === 0)) {
      dims.push(svcs.map((s) => value(s.match, [...s.ruleIds].sort())));
    }
  }
  return { id: k.id, groupId: k.groupId, table: k.table, ruleIds, constant: k.constant, dims };
}

/** Punt flows by (table, match): rules with equal punt matches share one flow. */
type Punts = Map<string, { table: number; match: Match; ruleIds: Set<string> }>;

/**
 * A punted packet is paused at the controller (`controller(pause)`): the agent judges it with
 * the reference semantics and resumes it — the rest of the flow's actions then run as for a
 * rule hit (to Allow, which commits and forwards) — or leaves it paused, which drops it. The
 * agent reads the rules concerned from the packet-in's cookie (the flow's); equal punt matches
 * of several groups merge into one flow whose cookie names all their rules.
 */
function emitAllPunts(sink: FlowSink, punts: Punts, allowTable: number): void {
  const actions: Action[] = [
    { type: 'controller', maxLen: 65535, pause: true },
    { type: 'resubmit', table: allowTable },
  ];
  for (const p of punts.values()) {
    sink.add(p.table, Priority.Punt, p.match, actions, ruleCookie([...p.ruleIds]).origin);
  }
}

function emitPunts(
  punts: Punts,
  rule: NormalizedRule,
  form: Form,
  table: number,
  portsDim: readonly DimValue[],
  cidrs: readonly Cidr[],
  ingress: boolean,
  family: IpFamily,
): void {
  const field = remoteField(form, ingress, family);
  const constant: Match = {
    ...constantOf(rule, form),
    ...(form === 'ct'
      ? { ct_nw_proto: exact(rule.protocol!) }
      : { ip_proto: exact(rule.protocol!) }),
  };
  const remotes: Match[] = cidrs.some((c) => c.prefix === 0)
    ? [{}]
    : cidrs.map((c) => ({ [field]: cidrMatch(c) }));
  for (const p of portsDim) {
    for (const r of remotes) {
      const match = { ...constant, ...p.match, ...r };
      const k = `${table}|${svcKey(match)}`;
      let entry = punts.get(k);
      if (!entry) punts.set(k, (entry = { table, match, ruleIds: new Set() }));
      entry.ruleIds.add(rule.id);
    }
  }
}
