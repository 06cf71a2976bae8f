/**
 * Packets the pipeline pauses at the controller — DCCP and UDP-Lite packets that a rule with a
 * port range may allow, since OVS cannot match their ports (docs/pipeline.md) — judged here the
 * way the flows would judge them if OVS could: by the reference semantics, at the port and in
 * the direction the packet-in's registers name, with the connection context its conntrack
 * metadata gives. The agent resumes the allowed (the pipeline goes on to Allow) and leaves the
 * rest paused, which drops them. `PuntLimiter` caps what one port may send to the agent.
 *
 * Invariant: `judgePunt` gives the verdict the reference World gives for the packet at that
 * stage (the differential test in src/sim checks it packet by packet).
 */
import { Flag, Reg } from '../compiler/index.js';
import type { Packet } from '../model/packet.js';
import type { NormalizedPolicy } from '../model/types.js';
import type { FieldName } from '../openflow/ir.js';
import { judge } from '../semantics/judge.js';
import { connContextOfKey, emptyFields } from '../sim/key.js';

export interface PuntJudgement {
  verdict: 'allow' | 'deny';
  reason: string;
}

/**
 * `metadata`: the pipeline fields at the pause (reg0, reg5, ct_state, ct_nw_* / ct_ipv6_*,
 * ct_tp_*, ct_nw_proto); `packet`: the paused frame, parsed; `portIdOf`: the store port of a
 * local ofport (the port key is the ofport).
 */
export function judgePunt(
  policy: NormalizedPolicy,
  portIdOf: (ofport: number) => string | undefined,
  metadata: Partial<Record<FieldName, bigint>>,
  packet: Packet | null,
): PuntJudgement {
  const ofport = Number(metadata[Reg.PortKey] ?? 0n);
  const portId = portIdOf(ofport);
  if (portId === undefined || !policy.ports.has(portId)) {
    return { verdict: 'deny', reason: `port key ${ofport} is no local port` };
  }
  if (!packet?.ip) return { verdict: 'deny', reason: 'not an IP packet' };
  const direction =
    ((metadata[Reg.Flags] ?? 0n) & BigInt(Flag.Ingress)) !== 0n ? 'ingress' : 'egress';
  const fields = emptyFields();
  for (const [name, value] of Object.entries(metadata)) fields[name as FieldName] = value;
  fields.eth_type = BigInt(packet.ethType);
  const conn = connContextOfKey({ fields, icmpId: 0, embedded: null });
  const j = judge(policy, portId, direction, packet, conn ?? undefined);
  return { verdict: j.verdict, reason: `${direction} ${portId}: ${j.reason}` };
}

/** A token bucket per port: at most `rate` punts a second, bursts of `burst`. */
export class PuntLimiter {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(
    private readonly rate = 200,
    private readonly burst = 400,
  ) {}

  /** Whether `port` may punt one more packet at time `nowMs`. */
  take(port: number, nowMs: number): boolean {
    let b = this.buckets.get(port);
    if (!b) this.buckets.set(port, (b = { tokens: this.burst, at: nowMs }));
    b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.rate);
    b.at = nowMs;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets ports no longer on the bridge. */
  keep(ports: ReadonlySet<number>): void {
    for (const p of this.buckets.keys()) if (!ports.has(p)) this.buckets.delete(p);
  }
}
