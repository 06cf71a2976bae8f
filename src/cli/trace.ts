/**
 * `sgflow trace`: one packet, sent by a local port, through the compiled tables of the policy
 * file's host (the simulator), explained table by table with the security-group rule behind
 * the verdict; beside it, the reference semantics' verdict for the same packet. The two must
 * agree; if they do not, that is a compiler bug and the command says so (exit status 1).
 *
 * Fields the packet text leaves out default from the sending port: its MAC, its first
 * address of the packet's family, the MAC of whichever port owns the destination address,
 * a source port of 40000 and a TCP SYN (a new connection).
 */
import { compile, tablesAt } from '../compiler/index.js';
import { SgflowError } from '../model/errors.js';
import type { EnforcementMode, NormalizedPolicy, NormalizedPort } from '../model/types.js';
import type { FieldName, Match } from '../openflow/ir.js';
import { parseMatch } from '../openflow/text.js';
import { World } from '../semantics/index.js';
import { keyFromMatch, newSimState, packetFromKey, simulate, trace } from '../sim/index.js';
import { localPortsOf } from './compile.js';
import { readPolicyFile } from './policy-file.js';

export interface TraceCommandOptions {
  policy: string;
  port: string;
  packet: string;
  mode: EnforcementMode;
  baseTable: number;
}

const ETH_IPV4 = 0x0800n;
const ETH_IPV6 = 0x86ddn;
const TCP_SYN = 0x002n;
const EPHEMERAL_PORT = 40000n;

function firstAddress(port: NormalizedPort, family: 4 | 6): bigint | undefined {
  return port.addresses.find(
    (a) => a.cidr.family === family && a.cidr.prefix === (family === 4 ? 32 : 128),
  )?.cidr.addr;
}

function ownerMac(policy: NormalizedPolicy, family: 4 | 6, addr: bigint): bigint | undefined {
  for (const p of policy.ports.values()) {
    for (const a of p.addresses) {
      if (
        a.cidr.family === family &&
        a.cidr.addr === addr &&
        a.cidr.prefix === (family === 4 ? 32 : 128)
      ) {
        return a.mac;
      }
    }
  }
  return undefined;
}

/** The packet text with the sending port's defaults filled in. */
export function completePacket(
  text: string,
  port: NormalizedPort,
  policy: NormalizedPolicy,
): Match {
  const m: Partial<Record<FieldName, { value: bigint; mask?: bigint }>> = { ...parseMatch(text) };
  const set = (f: FieldName, v: bigint | undefined): void => {
    if (m[f] === undefined && v !== undefined) m[f] = { value: v };
  };
  set('eth_src', port.mac);
  const ethType = m.eth_type?.value;
  if (ethType === ETH_IPV4 || ethType === ETH_IPV6) {
    const family = ethType === ETH_IPV4 ? 4 : 6;
    const [src, dst] =
      family === 4 ? (['ip_src', 'ip_dst'] as const) : (['ipv6_src', 'ipv6_dst'] as const);
    set(src, firstAddress(port, family));
    const dstAddr = m[dst]?.value;
    if (dstAddr !== undefined) set('eth_dst', ownerMac(policy, family, dstAddr));
    const proto = m.ip_proto?.value;
    const l4 = proto === 6n ? 'tcp' : proto === 17n ? 'udp' : proto === 132n ? 'sctp' : null;
    if (l4 !== null) set(`${l4}_src`, EPHEMERAL_PORT);
    if (proto === 6n) set('tcp_flags', TCP_SYN);
  } else if (ethType === 0x0806n) {
    set('eth_dst', 0xffffffffffffn);
    set('arp_sha', port.mac);
    set('arp_spa', firstAddress(port, 4));
    set('arp_op', 1n);
  }
  return m;
}

export function traceLines(opts: TraceCommandOptions): { lines: string[]; agree: boolean } {
  const { normalized, host } = readPolicyFile(opts.policy);
  const port = normalized.ports.get(opts.port);
  const ofport = host.ofports.get(opts.port);
  if (port === undefined || ofport === undefined) {
    const local = [...host.ofports.keys()].join(', ') || '(none)';
    throw new SgflowError('SG_INVALID_FIELD', {
      field: '--port',
      reason: `${opts.port} is not a local port of the policy file's host; local ports: ${local}`,
    });
  }
  const localPorts = localPortsOf(host.ofports);
  const compiled = compile({
    policy: normalized,
    localPorts,
    uplinkOfport: host.uplinkOfport,
    options: { mode: opts.mode, baseTable: opts.baseTable },
  });
  const key = keyFromMatch(completePacket(opts.packet, port, normalized), ofport);
  const tables = tablesAt(opts.baseTable);
  const result = simulate(compiled.flows, newSimState(), ofport, key, tables.Classify);
  const tableNames = new Map(Object.entries(tables).map(([name, n]) => [n, name]));
  const lines = trace(result, compiled.cookies, { tableNames });

  const world = new World({
    policy: normalized,
    ports: localPorts,
    ...(host.uplinkOfport !== null ? { uplink: host.uplinkOfport } : {}),
  });
  const reference = world.deliver(ofport, packetFromKey(key));
  const simulated = result.outputs.join(',');
  const agree = result.verdict !== 'controller' ? simulated === reference.outputs.join(',') : true;
  lines.push(
    `reference semantics: ${reference.outputs.length > 0 ? `output to ${reference.outputs.join(', ')}` : 'drop'}`,
    ...reference.trace.map((t) => `  ${t}`),
  );
  if (!agree)
    lines.push(
      'DISAGREEMENT: the compiled tables and the reference semantics differ (a compiler bug)',
    );
  return { lines, agree };
}

export function runTrace(opts: TraceCommandOptions): void {
  const { lines, agree } = traceLines(opts);
  process.stdout.write(lines.join('\n') + '\n');
  if (!agree) process.exitCode = 1;
}
