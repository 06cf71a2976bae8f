/**
 * What the agent needs from a switch and from its port database, as two small interfaces,
 * so the agent's loop can run against the real OpenFlow/OVSDB connections or a fake.
 *
 * Invariant: `applyBundle` is all-or-nothing — it resolves only when the switch committed
 * every mod (and answered a barrier), and when it rejects the switch holds what it held
 * before (OpenFlow bundles with the atomic flag).
 */
import type { Flow } from '../openflow/ir.js';
import type { FlowMod } from './reconcile.js';

export type ConnectionState = 'connected' | 'disconnected';

/** The OpenFlow side: read the flows of some tables, apply a difference atomically. */
export interface FlowSwitch {
  /** Resolves when connected (the first time). */
  connect(): Promise<void>;
  /** Every flow of tables `first..last` the switch holds now. */
  dumpFlows(first: number, last: number): Promise<Flow[]>;
  /** One atomic bundle of `mods`, then a barrier. Rejects with the switch's error. */
  applyBundle(mods: readonly FlowMod[]): Promise<void>;
  /** Called on every (re)connection and disconnection; a reconnect means "resync". */
  onStateChange(listener: (state: ConnectionState) => void): void;
  close(): Promise<void>;
}

/** One interface on the bridge, as OVSDB reports it. */
export interface LocalInterface {
  name: string;
  /** -1 or 0 while OVS has not (or could not) attach it. */
  ofport: number;
  /** `external_ids:iface-id`: the logical (store) port id. */
  ifaceId?: string;
  /** `external_ids:attached-mac`. */
  attachedMac?: string;
}

/** The OVSDB side: the bridge's interfaces, followed by monitor. */
export interface PortSource {
  /** Makes sure the bridge exists with `fail_mode=secure`. */
  ensureBridge(): Promise<void>;
  /** Calls `listener` with the full interface list now and after every change. */
  watch(listener: (ifaces: readonly LocalInterface[]) => void): Promise<void>;
  onStateChange(listener: (state: ConnectionState) => void): void;
  close(): Promise<void>;
}
