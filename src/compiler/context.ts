/**
 * What every stage of the compiler reads: the policy, the local ports with their keys and the
 * table numbers. `buildContext` checks the compiler's input (errors name the field) and
 * builds it once per compile; stages write their flows to the `FlowSink` of the unit they
 * compile (incremental.ts), never to the context.
 */
import { SgflowError } from '../model/errors.js';
import type { EnforcementMode, NormalizedPolicy, NormalizedPort } from '../model/types.js';
import { ENFORCEMENT_MODES } from '../model/types.js';
import type { Action } from '../openflow/ir.js';
import type { CompileInput } from './compile.js';
import type { CookieOrigin } from './cookie.js';
import { Flag, Reg, Table, tablesAt, type Tables } from './tables.js';

export interface LocalPortInfo {
  readonly port: NormalizedPort;
  readonly ofport: number;
  readonly networkKey: number;
}

export interface CompileContext {
  readonly policy: NormalizedPolicy;
  readonly mode: EnforcementMode;
  readonly t: Tables;
  /** Local ports sorted by ofport. */
  readonly locals: readonly LocalPortInfo[];
  /** Local ports by network id. */
  readonly byNetwork: ReadonlyMap<string, readonly LocalPortInfo[]>;
  readonly networkKeys: ReadonlyMap<string, number>;
  readonly uplink: number | null;
  /** Local networks → their VLAN on the uplink (null = untagged); empty without an uplink. */
  readonly uplinkVlan: ReadonlyMap<string, number | null>;
  /** VLAN tag (null = untagged) → the network traffic from the uplink with it belongs to. */
  readonly uplinkOwner: ReadonlyMap<number | null, string>;
  /** Warnings about the input as a whole (stages warn through their sink). */
  readonly warnings: readonly string[];
}

export const portOrigin = (l: LocalPortInfo): CookieOrigin => ({ kind: 'port', portId: l.port.id });
export const PIPELINE: CookieOrigin = { kind: 'pipeline' };

/** Flags the ingress half runs with for this receiving port. */
export function ingressFlags(l: LocalPortInfo): number {
  return Flag.Ingress | (l.port.portSecurity && l.port.stateful ? Flag.Stateful : 0);
}

/** Flags the egress half runs with for this sending port. */
export function egressFlags(l: LocalPortInfo): number {
  return l.port.portSecurity && l.port.stateful ? Flag.Stateful : 0;
}

export const setReg = (reg: (typeof Reg)[keyof typeof Reg], value: number): Action => ({
  type: 'set_field',
  field: reg,
  value: BigInt(value),
});

export const gotoTable = (table: number): Action => ({ type: 'goto_table', table });
export const resubmit = (table: number): Action => ({ type: 'resubmit', table });

const SUPPORTED_MODES: readonly EnforcementMode[] = ['conntrack'];
const LAST_TABLE = 254;
/** Port keys double as conntrack zones (reg5[0..15]) and must stay below OFPP_MAX. */
const MAX_OFPORT = 0xfeff;

function bad(field: string, reason: string): SgflowError {
  return new SgflowError('INVALID_LOCAL_PORTS', { field, reason });
}

function checkMode(mode: unknown, field: string): void {
  if (SUPPORTED_MODES.includes(mode as EnforcementMode)) return;
  if (ENFORCEMENT_MODES.includes(mode as EnforcementMode)) {
    throw new SgflowError('MODE_NOT_SUPPORTED', {
      mode: String(mode),
      field,
      supported: SUPPORTED_MODES.join(', '),
    });
  }
  throw new SgflowError('SG_INVALID_FIELD', {
    field,
    reason: `'${String(mode)}' is not an enforcement mode; expected one of ${ENFORCEMENT_MODES.join(', ')}`,
  });
}

/** Checks the input (errors name the field) and builds what every stage reads. */
export function buildContext(input: CompileInput): CompileContext {
  const opts = input.options ?? {};
  checkMode(opts.mode ?? 'conntrack', 'options.mode');
  const base = opts.baseTable ?? 0;
  const lastOffset = Math.max(...Object.values(Table));
  if (!Number.isInteger(base) || base < 0 || base + lastOffset > LAST_TABLE) {
    throw bad(
      'options.baseTable',
      `${base} is not an integer from 0 to ${LAST_TABLE - lastOffset}`,
    );
  }
  const { policy } = input;
  const warnings: string[] = [];

  const seenIds = new Set<string>();
  const seenOfports = new Set<number>();
  const locals: {
    port: NonNullable<ReturnType<NormalizedPolicy['ports']['get']>>;
    ofport: number;
  }[] = [];
  input.localPorts.forEach((lp, i) => {
    const field = `localPorts[${i}]`;
    const port = policy.ports.get(lp.portId);
    if (!port) throw new SgflowError('PORT_NOT_FOUND', { id: lp.portId, field: `${field}.portId` });
    if (!Number.isInteger(lp.ofport) || lp.ofport < 1 || lp.ofport > MAX_OFPORT) {
      throw bad(
        `${field}.ofport`,
        `${lp.ofport} is not an OpenFlow port number from 1 to ${MAX_OFPORT}`,
      );
    }
    if (seenIds.has(lp.portId)) throw bad(`${field}.portId`, `port ${lp.portId} is listed twice`);
    if (seenOfports.has(lp.ofport))
      throw bad(`${field}.ofport`, `ofport ${lp.ofport} is used by two ports`);
    seenIds.add(lp.portId);
    seenOfports.add(lp.ofport);
    locals.push({ port, ofport: lp.ofport });
  });
  const uplink = input.uplinkOfport ?? null;
  if (uplink !== null) {
    if (!Number.isInteger(uplink) || uplink < 1 || uplink > MAX_OFPORT) {
      throw bad('uplinkOfport', `${uplink} is not an OpenFlow port number from 1 to ${MAX_OFPORT}`);
    }
    if (seenOfports.has(uplink)) throw bad('uplinkOfport', `ofport ${uplink} is also a local port`);
  }

  const networkIds = [...new Set(locals.map((l) => l.port.networkId))].sort();
  const networkKeys = new Map<string, number>();
  if (input.networkKeys) {
    const used = new Set<number>();
    for (const id of networkIds) {
      const k = input.networkKeys.get(id);
      if (k === undefined) throw bad('networkKeys', `no key for network ${id}`);
      if (!Number.isInteger(k) || k < 1 || k > 0xffffffff)
        throw bad('networkKeys', `key ${k} of network ${id} is not 1 to 2^32-1`);
      if (used.has(k)) throw bad('networkKeys', `key ${k} is given to two networks`);
      used.add(k);
      networkKeys.set(id, k);
    }
  } else {
    networkIds.forEach((id, i) => networkKeys.set(id, i + 1));
  }

  for (const id of networkIds) {
    const mode = policy.networks.get(id)?.mode;
    if (mode && !SUPPORTED_MODES.includes(mode)) {
      warnings.push(
        `network ${id} asks for enforcement mode '${mode}', not supported yet: using conntrack`,
      );
    }
  }

  // Every local network sends out of the uplink with its tag (or untagged); a tag (or no tag)
  // coming in belongs to the first network, by id, of the whole policy that uses it.
  const uplinkVlan = new Map<string, number | null>();
  const uplinkOwner = new Map<number | null, string>();
  if (uplink !== null) {
    const byTag = new Map<number | null, string[]>();
    for (const n of [...policy.networks.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const list = byTag.get(n.vlan) ?? [];
      list.push(n.id);
      byTag.set(n.vlan, list);
    }
    for (const [tag, ids] of byTag) {
      uplinkOwner.set(tag, ids[0]!);
      const local = ids.filter((id) => networkIds.includes(id));
      if (ids.length > 1 && local.length > 0) {
        warnings.push(
          `networks ${ids.join(', ')} share ${tag === null ? 'the untagged uplink' : `VLAN ${tag}`}: traffic from the uplink goes to ${ids[0]}`,
        );
      }
    }
    for (const id of networkIds) uplinkVlan.set(id, policy.networks.get(id)?.vlan ?? null);
  }

  const infos: LocalPortInfo[] = locals
    .map((l) => ({
      port: l.port,
      ofport: l.ofport,
      networkKey: networkKeys.get(l.port.networkId)!,
    }))
    .sort((a, b) => a.ofport - b.ofport);
  const byNetwork = new Map<string, LocalPortInfo[]>();
  for (const id of networkIds) byNetwork.set(id, []);
  for (const l of infos) byNetwork.get(l.port.networkId)!.push(l);

  return {
    policy,
    mode: opts.mode ?? 'conntrack',
    t: tablesAt(base),
    locals: infos,
    byNetwork,
    networkKeys,
    uplink,
    uplinkVlan,
    uplinkOwner,
    warnings,
  };
}
