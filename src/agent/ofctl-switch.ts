/**
 * A `FlowSwitch` that drives the bridge through `ovs-ofctl` on its management socket: every
 * difference is one `ovs-ofctl --bundle add-flows` run (an atomic, ordered OpenFlow bundle;
 * ovs-ofctl returns only after the switch acknowledged the commit), and a resync asks the
 * switch itself for the difference (`ovs-ofctl diff-flows`), so flows are compared in the
 * switch's own canonical form — a flow that is already right is never rewritten and keeps
 * its counters, whatever notation our formatter chose for it.
 *
 * Reconnects are detected by watching the management socket: ovs-vswitchd creates a new
 * one when it (re)starts, so a new socket file (inode and change time) means "a new switch,
 * resync".
 *
 * Invariant: only tables `first..last` are read or written by `sync`; an add-flows run that
 * fails leaves the switch as it was (the bundle is discarded) and rejects with the switch's
 * error text.
 */
import { execFile } from 'node:child_process';
import { statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Flow, FlowTable } from '../openflow/ir.js';
import type { FlowMod } from './reconcile.js';
import type { ConnectionState, FlowSwitch, SyncResult } from './switch.js';

export interface OfctlSwitchOptions {
  /** `unix:<rundir>/<bridge>.mgmt` (or any ovs-ofctl switch argument). */
  target: string;
  /** Formats one flow in ovs-ofctl add-flow syntax (src/openflow/text.ts `formatFlow`). */
  format: (flow: Flow) => string;
  env?: NodeJS.ProcessEnv;
  /** How often the management socket is checked for a restarted switch. Default 250 ms. */
  pollMs?: number;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ofctl(args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      'ovs-ofctl',
      ['-O', 'OpenFlow15', ...args],
      { env, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
        const code = e === null ? 0 : typeof e.code === 'number' ? e.code : 127;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (e?.message ?? '') });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

const NOT_IDENTITY =
  /^(cookie|idle_timeout|hard_timeout|importance|duration|n_packets|n_bytes|idle_age|hard_age|reset_counts|send_flow_rem|check_overlap|no_packet_counts|no_byte_counts|no_readonly_table|out_port|out_group)(=|$)/;

/** The identity part of a flow in ovs-ofctl text (table, priority, match): what delete_strict takes. */
export function identityText(text: string): string {
  const cut = text.search(/(^|[\s,])actions=/);
  const head = cut >= 0 ? text.slice(0, cut) : text;
  return head
    .split(/[\s,]+/)
    .filter((t) => t.length > 0 && !NOT_IDENTITY.test(t))
    .join(',');
}

/**
 * The same actions in one spelling: ovs-ofctl keeps `load:V->NXM_NX_REGn[a..b]` as written,
 * while the switch reports the same action as `set_field:V'/M->regn` — equal, not a change.
 */
export function normalizeFlowText(text: string): string {
  return text.replace(
    /load:(0x[0-9a-fA-F]+|\d+)->NXM_NX_REG(\d+)\[(?:(\d+)(?:\.\.(\d+))?)?\]/g,
    (_all, v: string, reg: string, a: string | undefined, b: string | undefined) => {
      const lo = a === undefined ? 0 : Number(a);
      const hi = a === undefined ? 31 : b === undefined ? lo : Number(b);
      const mask = ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
      const value = BigInt(v) << BigInt(lo);
      return mask === 0xffffffffn
        ? `set_field:0x${value.toString(16)}->reg${reg}`
        : `set_field:0x${value.toString(16)}/0x${mask.toString(16)}->reg${reg}`;
    },
  );
}

function tableOf(text: string): number {
  const m = /(?:^|[\s,])table=(\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

export class OfctlSwitch implements FlowSwitch {
  private readonly env: NodeJS.ProcessEnv;
  private readonly socketPath: string | undefined;
  private listeners: ((s: ConnectionState) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Identity of the management socket file (inode + change time); new socket = new switch. */
  private inode: string | undefined;

  constructor(private readonly opts: OfctlSwitchOptions) {
    this.env = opts.env ?? process.env;
    this.socketPath = opts.target.startsWith('unix:') ? opts.target.slice(5) : undefined;
  }

  private currentInode(): string | undefined {
    if (this.socketPath === undefined) return '';
    try {
      const st = statSync(this.socketPath, { bigint: true });
      // Inode numbers are reused when the socket is recreated; the change time is not.
      return `${st.ino}:${st.ctimeNs}:${st.birthtimeNs}`;
    } catch {
      return undefined;
    }
  }

  async connect(): Promise<void> {
    for (let i = 0; ; i++) {
      const r = await ofctl(['show', this.opts.target], this.env);
      if (r.code === 0) break;
      if (i >= 200)
        throw new Error(`cannot reach the switch at ${this.opts.target}: ${r.stderr.trim()}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    this.inode = this.currentInode();
    this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 250);
    this.timer.unref();
  }

  private poll(): void {
    const ino = this.currentInode();
    if (ino === this.inode) return;
    const was = this.inode;
    this.inode = ino;
    if (was !== undefined) this.emit('disconnected');
    if (ino !== undefined) this.emit('connected');
  }

  private emit(s: ConnectionState): void {
    for (const l of this.listeners) l(s);
  }

  onStateChange(listener: (state: ConnectionState) => void): void {
    this.listeners.push(listener);
  }

  private async bundle(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const r = await ofctl(
      ['--bundle', 'add-flows', this.opts.target, '-'],
      this.env,
      lines.join('\n') + '\n',
    );
    if (r.code !== 0) {
      throw new Error(`the bundle was refused (${lines.length} flow mods): ${r.stderr.trim()}`);
    }
  }

  async applyBundle(mods: readonly FlowMod[]): Promise<void> {
    await this.bundle(
      mods.map((m) => {
        const text = this.opts.format(m.flow);
        return m.command === 'add' ? `add ${text}` : `delete_strict ${identityText(text)}`;
      }),
    );
  }

  async sync(desired: FlowTable, first: number, last: number): Promise<SyncResult> {
    const scratch = mkdtempSync(join(tmpdir(), 'sgflow-ofctl-'));
    const file = join(scratch, 'desired.flows');
    let r: Run;
    try {
      writeFileSync(file, desired.map((f) => this.opts.format(f) + '\n').join(''));
      r = await ofctl(['diff-flows', this.opts.target, file], this.env);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    if (r.code !== 0 && r.code !== 2) {
      throw new Error(`reading the switch's flows failed: ${r.stderr.trim()}`);
    }
    const adds = new Map<string, string>();
    const deletes = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const sign = line[0];
      const text = line.slice(1).trim();
      if (text.length === 0 || (sign !== '-' && sign !== '+')) continue;
      if (tableOf(text) < first || tableOf(text) > last) continue;
      (sign === '+' ? adds : deletes).set(identityText(text), text);
    }
    for (const [id, add] of adds) {
      const old = deletes.get(id);
      if (old === undefined) continue;
      // Same identity: the add replaces the old flow in place — unless they only differ in
      // spelling, then nothing changes.
      deletes.delete(id);
      if (normalizeFlowText(old) === normalizeFlowText(add)) adds.delete(id);
    }
    await this.bundle([
      ...[...deletes.keys()].map((id) => `delete_strict ${id}`),
      ...[...adds.values()].map((a) => `add ${a}`),
    ]);
    return { adds: adds.size, deletes: deletes.size };
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    return Promise.resolve();
  }
}
