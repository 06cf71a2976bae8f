/**
 * What every stage of the compiler reads: the policy, the local ports with their keys, the
 * table numbers and the sink flows go to. Built once per compile by compile.ts.
 */
import type { NormalizedPolicy, NormalizedPort } from '../model/types.js';
import type { Action } from '../openflow/ir.js';
import type { CookieOrigin } from './cookie.js';
import type { FlowSink } from './emit.js';
import { Flag, Reg, type Tables } from './tables.js';

export interface LocalPortInfo {
  readonly port: NormalizedPort;
  readonly ofport: number;
  readonly networkKey: number;
}

export interface CompileContext {
  readonly policy: NormalizedPolicy;
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
  readonly sink: FlowSink;
  readonly warnings: string[];
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
