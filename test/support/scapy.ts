/**
 * Crafted frames and sniffers inside VMs, through one long-lived scapy process per VM
 * (scapy_agent.py). Frames are scapy expressions, e.g.
 * `Ether(src='02:..', dst='ff:ff:ff:ff:ff:ff')/ARP(op=2, hwsrc='02:..', psrc='10.0.0.99')`.
 *
 * Invariant: `frameArrives` starts the sniffer on the receiver and waits until it is
 * capturing before the sender sends, so "not seen" means dropped, not "sniffer was late".
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PYTHON } from './ovs.js';
import type { LineProcess, Vm } from './vm.js';

const AGENT = join(dirname(fileURLToPath(import.meta.url)), 'scapy_agent.py');

export interface SniffResult {
  count: number;
  summaries: string[];
}

interface AgentReply {
  ok: boolean;
  error?: string;
  count?: number;
  summaries?: string[];
}

export class Scapy {
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;

  private constructor(
    readonly vm: Vm,
    private readonly proc: LineProcess,
  ) {}

  /** Start scapy inside `vm` (takes about a second: start several in parallel). */
  static async start(vm: Vm): Promise<Scapy> {
    const proc = vm.spawn(SYSTEM_PYTHON, '-u', AGENT);
    if (!(await proc.waitFor(/"ready": true/, 20_000))) {
      throw new Error(`scapy did not start in ${vm.name}: ${proc.lines.join('\n')}`);
    }
    return new Scapy(vm, proc);
  }

  private call(cmd: Record<string, unknown>, timeoutMs = 10_000): Promise<AgentReply> {
    const next = this.queue.then(async () => {
      const from = this.proc.lines.length;
      this.proc.write(JSON.stringify(cmd));
      if (!(await this.proc.waitFor(/^\{/, timeoutMs, from))) {
        throw new Error(`scapy in ${this.vm.name} did not answer ${JSON.stringify(cmd)}`);
      }
      const line = this.proc.lines.slice(from).find((l) => l.startsWith('{'))!;
      const r = JSON.parse(line) as AgentReply;
      if (!r.ok)
        throw new Error(`scapy in ${this.vm.name}: ${r.error} (command ${JSON.stringify(cmd)})`);
      return r;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Send frames out of eth0 (layer 2, as given). */
  async send(...frames: string[]): Promise<void> {
    await this.call({ op: 'send', frames });
  }

  /** Start capturing on eth0; `lfilter` is a python expression on the packet `p`. */
  async sniffStart(filter: string, lfilter?: string): Promise<string> {
    const id = `s${++this.seq}`;
    await this.call({ op: 'sniff_start', id, filter, ...(lfilter ? { lfilter } : {}) });
    return id;
  }

  /** Wait `waitMs`, stop the capture, return what it saw. */
  async sniffStop(id: string, waitMs = 500): Promise<SniffResult> {
    const r = await this.call({ op: 'sniff_stop', id, wait: waitMs / 1000 });
    return { count: r.count ?? 0, summaries: r.summaries ?? [] };
  }

  stop(): void {
    this.proc.stop();
  }
}

export interface ArrivalOptions {
  /** BPF filter on the receiver. */
  filter: string;
  /** Extra python predicate on the captured packet `p`. */
  lfilter?: string;
  /** How long after sending to keep listening (default 500 ms). */
  waitMs?: number;
}

/** Send `frames` from `sender` and report how many matching frames `receiver` captured. */
export async function captureWhileSending(
  sender: Scapy,
  receiver: Scapy,
  frames: string[],
  o: ArrivalOptions,
): Promise<SniffResult> {
  const id = await receiver.sniffStart(o.filter, o.lfilter);
  await sender.send(...frames);
  return receiver.sniffStop(id, o.waitMs ?? 500);
}

/** True when at least one matching frame reached `receiver`. */
export async function frameArrives(
  sender: Scapy,
  receiver: Scapy,
  frames: string[],
  o: ArrivalOptions,
): Promise<boolean> {
  return (await captureWhileSending(sender, receiver, frames, o)).count > 0;
}
