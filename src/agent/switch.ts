/**
 * What the agent needs from a switch and from its port database, as two small interfaces,
 * so the agent's loop can run against the real OpenFlow/OVSDB connections or a fake.
 *
 * Invariant: `applyBundle` is all-or-nothing — it resolves only when the switch committed
 * every mod (and answered a barrier), and when it rejects the switch holds what it held
 * before (OpenFlow bundles with the atomic flag).
 */
import type { FieldName, Flow, FlowTable } from '../openflow/ir.js';
import { diffFlows, type FlowMod } from './reconcile.js';

export type ConnectionState = 'connected' | 'disconnected';

/** What a resync sent: counts always; the mods themselves when the switch reads back IR. */
export interface SyncResult {
  adds: number;
  deletes: number;
  mods?: readonly FlowMod[];
}

/** The OpenFlow side: read the flows of some tables, apply a difference atomically. */
export interface FlowSwitch {
  /** Resolves when connected (the first time). */
  connect(): Promise<void>;
  /**
   * Makes tables `first..last` hold exactly `desired`: reads the switch's flows back and sends
   * only the difference, as one atomic bundle (flows already right are not touched, so their
   * counters survive). Resolves with what it sent.
   */
  sync(desired: FlowTable, first: number, last: number): Promise<SyncResult>;
  /** One atomic bundle of `mods`, then a barrier. Rejects with the switch's error. */
  applyBundle(mods: readonly FlowMod[]): Promise<void>;
  /** Called on every (re)connection and disconnection; a reconnect means "resync". */
  onStateChange(listener: (state: ConnectionState) => void): void;
  /** Packets the pipeline sent to the controller (only drivers with a controller channel). */
  onPacketIn?(listener: (p: PuntedPacket) => void): void;
  close(): Promise<void>;
}

/** A packet the pipeline sent to the controller. */
export interface PuntedPacket {
  table: number;
  /** The cookie of the flow that sent it. */
  cookie: bigint;
  reason: string;
  /** Pipeline fields at the punt: in_port, registers, ct_state and the ct_* tuple. */
  metadata: Partial<Record<FieldName, bigint>>;
  /** The frame as it was at the punt. */
  data: Uint8Array;
  /** Paused by `controller(pause)`: it goes on only if resumed. */
  paused: boolean;
  /** Continues a paused packet's pipeline (rejects for a packet that was not paused). */
  resume(): Promise<void>;
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

/** `sync` for a switch that can dump its flows as IR: dump, diff, one bundle. */
export async function syncByDump(
  dump: (first: number, last: number) => Promise<Flow[]>,
  apply: (mods: readonly FlowMod[]) => Promise<void>,
  desired: FlowTable,
  first: number,
  last: number,
): Promise<SyncResult> {
  const installed = (await dump(first, last)).filter((f) => f.table >= first && f.table <= last);
  const mods = diffFlows(installed, desired);
  if (mods.length > 0) await apply(mods);
  const deletes = mods.filter((m) => m.command === 'delete_strict').length;
  return { adds: mods.length - deletes, deletes, mods };
}
