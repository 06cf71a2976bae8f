/**
 * `ovs-appctl ofproto/trace` as a function: a flow key in (the simulator's FlowKey, written
 * in ovs-ofctl flow syntax), the ofports the real classifier sends it to out, with the
 * conntrack states to resume with (`--ct-next`) supplied by the caller.
 *
 * Invariant: outputs are reported as OpenFlow port numbers (the datapath numbers in
 * "Datapath actions" are mapped back through `dpif/show`), sorted and unique, so they compare
 * directly with the simulator's `SimResult.outputs`.
 */
import { CtState } from '../../src/openflow/ir.js';
import type { FlowKey } from '../../src/sim/key.js';
import type { OvsSandbox } from './ovs.js';

export interface TraceResult {
  outputs: number[];
  controller: boolean;
  /** Every "Datapath actions:" line, one per (re)circulation. */
  datapathActions: string[];
  raw: string;
}

export function macText(v: bigint): string {
  return v.toString(16).padStart(12, '0').match(/../g)!.join(':');
}

export function ip4Text(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
}

export function ip6Text(v: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(16 * i)) & 0xffffn).toString(16));
  return groups.join(':');
}

const CT_FLAG_NAMES: [number, string][] = [
  [CtState.NEW, 'new'],
  [CtState.EST, 'est'],
  [CtState.REL, 'rel'],
  [CtState.RPL, 'rpl'],
  [CtState.INV, 'inv'],
  [CtState.TRK, 'trk'],
  [CtState.SNAT, 'snat'],
  [CtState.DNAT, 'dnat'],
];

/** ct_state bits as ofproto/trace's `--ct-next` wants them: `trk,new`. */
export function ctStateText(state: number): string {
  return CT_FLAG_NAMES.filter(([bit]) => (state & bit) !== 0)
    .map(([, n]) => n)
    .join(',');
}

/**
 * The key in ovs-ofctl flow syntax. The ct_* fields are written when the key is tracked
 * (ct_state has +trk), since ofproto/trace takes the original-direction tuple only from the
 * flow it starts with.
 */
export function keyToFlowText(key: FlowKey): string {
  const f = key.fields;
  const parts: string[] = [`in_port=${f.in_port}`];
  if (f.ct_state !== 0n) {
    parts.push(`ct_state=${ctStateText(Number(f.ct_state)).replace(/,/g, '|')}`);
    if (f.eth_type === 0x0800n) {
      parts.push(`ct_nw_src=${ip4Text(f.ct_nw_src)}`, `ct_nw_dst=${ip4Text(f.ct_nw_dst)}`);
    } else if (f.eth_type === 0x86ddn) {
      parts.push(`ct_ipv6_src=${ip6Text(f.ct_ipv6_src)}`, `ct_ipv6_dst=${ip6Text(f.ct_ipv6_dst)}`);
    }
    parts.push(
      `ct_nw_proto=${f.ct_nw_proto}`,
      `ct_tp_src=${f.ct_tp_src}`,
      `ct_tp_dst=${f.ct_tp_dst}`,
    );
  }
  parts.push(`dl_src=${macText(f.eth_src)}`, `dl_dst=${macText(f.eth_dst)}`);
  if (f.vlan_tci !== 0n) parts.push(`vlan_tci=0x${f.vlan_tci.toString(16)}`);
  parts.push(`dl_type=0x${f.eth_type.toString(16).padStart(4, '0')}`);
  if (f.eth_type === 0x0806n) {
    parts.push(
      `arp_op=${f.arp_op}`,
      `arp_spa=${ip4Text(f.arp_spa)}`,
      `arp_tpa=${ip4Text(f.arp_tpa)}`,
      `arp_sha=${macText(f.arp_sha)}`,
      `arp_tha=${macText(f.arp_tha)}`,
    );
    return parts.join(',');
  }
  const v6 = f.eth_type === 0x86ddn;
  if (!v6 && f.eth_type !== 0x0800n) return parts.join(',');
  if (v6) parts.push(`ipv6_src=${ip6Text(f.ipv6_src)}`, `ipv6_dst=${ip6Text(f.ipv6_dst)}`);
  else parts.push(`nw_src=${ip4Text(f.ip_src)}`, `nw_dst=${ip4Text(f.ip_dst)}`);
  parts.push(`nw_proto=${f.ip_proto}`, `nw_ttl=${f.nw_ttl}`);
  const proto = f.ip_proto;
  if (proto === 6n) {
    parts.push(
      `tp_src=${f.tcp_src}`,
      `tp_dst=${f.tcp_dst}`,
      `tcp_flags=0x${f.tcp_flags.toString(16)}`,
    );
  } else if (proto === 17n) {
    parts.push(`udp_src=${f.udp_src}`, `udp_dst=${f.udp_dst}`);
  } else if (proto === 132n) {
    parts.push(`sctp_src=${f.sctp_src}`, `sctp_dst=${f.sctp_dst}`);
  } else if (proto === 1n && !v6) {
    parts.push(`icmp_type=${f.icmp_type}`, `icmp_code=${f.icmp_code}`);
  } else if (proto === 58n && v6) {
    parts.push(`icmpv6_type=${f.icmpv6_type}`, `icmpv6_code=${f.icmpv6_code}`);
    if (f.icmpv6_type === 135n || f.icmpv6_type === 136n) {
      parts.push(`nd_target=${ip6Text(f.nd_target)}`);
      if (f.icmpv6_type === 135n) parts.push(`nd_sll=${macText(f.nd_sll)}`);
      else parts.push(`nd_tll=${macText(f.nd_tll)}`);
    }
  }
  return parts.join(',');
}

/** OpenFlow port number by datapath port number, from `dpif/show`. */
export async function datapathPortMap(ovs: OvsSandbox): Promise<Map<number, number>> {
  const text = await ovs.appctl('dpif/show');
  const map = new Map<number, number>();
  for (const m of text.matchAll(/^\s+\S+ (\d+)\/(\d+):/gm)) map.set(Number(m[2]), Number(m[1]));
  return map;
}

/** Output port numbers named in one "Datapath actions" line (inside clone() too). */
export function datapathOutputs(actions: string): { ports: number[]; controller: boolean } {
  const controller = /userspace\(/.test(actions) && /controller\(/.test(actions);
  // Drop arguments of actions whose arguments can be bare numbers.
  const cleaned = actions.replace(
    /(meter|recirc|userspace|sample|trunc)\([^()]*(\([^()]*\)[^()]*)*\)/g,
    '',
  );
  const ports = cleaned
    .split(/[(),]/)
    .map((t) => t.trim())
    .filter((t) => /^\d+$/.test(t))
    .map(Number);
  return { ports, controller };
}

/** Trace a key through the bridge. `ctNext`: states for successive conntrack recirculations. */
export async function traceKey(
  ovs: OvsSandbox,
  key: FlowKey,
  ctNext: readonly number[],
  portMap: ReadonlyMap<number, number>,
): Promise<TraceResult> {
  const args = ['ofproto/trace', ovs.bridge, keyToFlowText(key)];
  for (const s of ctNext) args.push('--ct-next', ctStateText(s));
  const raw = await ovs.appctl(...args);
  const datapathActions = [...raw.matchAll(/^Datapath actions: (.*)$/gm)].map((m) => m[1]!);
  const outputs = new Set<number>();
  let controller = false;
  for (const line of datapathActions) {
    const d = datapathOutputs(line);
    controller ||= d.controller;
    for (const p of d.ports) {
      const of = portMap.get(p);
      if (of === undefined) throw new Error(`datapath port ${p} not in dpif/show: ${line}`);
      outputs.add(of);
    }
  }
  return { outputs: [...outputs].sort((a, b) => a - b), controller, datapathActions, raw };
}
