/**
 * A `FlowSwitch` over the native OpenFlow connection (src/openflow/connection.ts): each
 * difference is one atomic bundle (commit + barrier) on the bridge's management socket; a
 * resync dumps the agent's tables as IR and sends the difference in one bundle.
 *
 * Invariant: a flow read back from the switch is compared with the desired one in canonical
 * text form (formatFlow of both, matches canonicalised), so a flow the switch merely spells
 * differently is not rewritten; a flow that is right is never touched.
 */
import { OpenFlowConnection } from '../openflow/connection.js';
import { FIELDS } from '../openflow/fields.js';
import type { Action, FieldName, Flow, FlowTable } from '../openflow/ir.js';
import { canonicalMatch } from '../openflow/text.js';
import type { FlowMod } from './reconcile.js';
import {
  syncByDump,
  type ConnectionState,
  type FlowSwitch,
  type PuntedPacket,
  type SyncResult,
} from './switch.js';

export interface OpenFlowSwitchOptions {
  /** `unix:<rundir>/<bridge>.mgmt`, `tcp:HOST:PORT`... */
  target: string;
}

/**
 * One spelling per action: a `load` into a field slice is the masked `set_field` the switch
 * reports for it; a mask covering the whole field is no mask.
 */
function canonicalAction(a: Action): Action {
  if (a.type === 'load') {
    const bits = FIELDS[a.dst.field].bits;
    const mask = ((1n << BigInt(a.dst.nBits)) - 1n) << BigInt(a.dst.ofs);
    const full = (1n << BigInt(bits)) - 1n;
    return {
      type: 'set_field',
      field: a.dst.field,
      value: a.value << BigInt(a.dst.ofs),
      ...(mask === full ? {} : { mask }),
    };
  }
  if (a.type === 'set_field' && a.mask !== undefined) {
    const full = (1n << BigInt(FIELDS[a.field].bits)) - 1n;
    if (a.mask === full) return { type: 'set_field', field: a.field, value: a.value };
  }
  if (a.type === 'clone') return { type: 'clone', actions: a.actions.map(canonicalAction) };
  if (a.type === 'ct' && a.exec) return { ...a, exec: a.exec.map(canonicalAction) };
  return a;
}

function canonical(f: Flow): Flow {
  return { ...f, match: canonicalMatch(f.match), actions: f.actions.map(canonicalAction) };
}

export class OpenFlowSwitch implements FlowSwitch {
  private conn: OpenFlowConnection | undefined;
  private listeners: ((s: ConnectionState) => void)[] = [];
  private packetListeners: ((p: PuntedPacket) => void)[] = [];

  constructor(private readonly opts: OpenFlowSwitchOptions) {}

  /** The underlying connection (packet-in events, meters), once connected. */
  get connection(): OpenFlowConnection | undefined {
    return this.conn;
  }

  async connect(): Promise<void> {
    const conn = OpenFlowConnection.create({ target: this.opts.target });
    this.conn = conn;
    let first = true;
    conn.on('state', (s) => {
      // The first 'connected' is the one connect() waits for; later ones are reconnects.
      if (first && s === 'connected') {
        first = false;
        return;
      }
      for (const l of this.listeners) l(s);
    });
    conn.on('packet_in', (p) => {
      const metadata: PuntedPacket['metadata'] = {};
      for (const [name, f] of Object.entries(p.match)) metadata[name as FieldName] = f.value;
      const punted: PuntedPacket = {
        table: p.table,
        cookie: p.cookie,
        reason: p.reason,
        metadata,
        data: p.data,
        paused: p.continuation !== undefined,
        resume: () => conn.resume(p),
      };
      for (const l of this.packetListeners) l(punted);
    });
    await conn.ready();
    first = false;
  }

  onStateChange(listener: (state: ConnectionState) => void): void {
    this.listeners.push(listener);
  }

  onPacketIn(listener: (p: PuntedPacket) => void): void {
    this.packetListeners.push(listener);
  }

  private get c(): OpenFlowConnection {
    if (!this.conn) throw new Error('not connected to the switch');
    return this.conn;
  }

  async applyBundle(mods: readonly FlowMod[]): Promise<void> {
    await this.c.applyBundle(
      mods.map((m) => ({ command: m.command, flow: m.flow })),
      { ordered: true },
    );
  }

  async sync(desired: FlowTable, first: number, last: number): Promise<SyncResult> {
    const dump = async (a: number, b: number): Promise<Flow[]> => {
      const out: Flow[] = [];
      for (let t = a; t <= b; t++) out.push(...(await this.c.dumpFlows({ table: t })));
      return out.map(canonical);
    };
    return syncByDump(dump, (mods) => this.applyBundle(mods), desired.map(canonical), first, last);
  }

  async close(): Promise<void> {
    await this.conn?.close();
  }
}
