/**
 * The end-to-end bed: one private OVS, a few VMs on one network (10.0.0.0/24, fd00::/64),
 * and `apply(spec)`, which builds a Neutron policy for those VMs, normalises it, compiles it
 * for this host and installs the flow table. Each test applies its own policy; the VMs and the
 * switch are shared by the tests of a file (starting them is the expensive part).
 *
 * Invariant: the tests never see how flows got into the switch — only `installFlows` knows
 * (today: `ovs-ofctl --bundle replace-flows`, one atomic transaction).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, Flag, tablesAt, type Tables } from '../../src/compiler/index.js';
import * as fx from '../../src/model/fixtures.js';
import { normalizePolicy } from '../../src/model/policy.js';
import type {
  AllowedAddressPair,
  Network,
  Direction,
  Ethertype,
  NormalizedPolicy,
  Policy,
  SecurityGroupRule,
} from '../../src/model/types.js';
import { CtState, type Flow, type FlowTable, type Match } from '../../src/openflow/ir.js';
import { formatFlows } from '../../src/openflow/text.js';
import { type OvsSandbox, startOvs } from '../support/ovs.js';
import { addVm, type Vm } from '../support/vm.js';

export const NET = 'net1';

export interface VmSpec {
  name: string;
  /** Host number n: MAC 02:00:00:00:00:nn, 10.0.0.n, fd00::n, ofport n, port id port-<name>. */
  n: number;
  /** Extra addresses configured on eth0 (CIDR). */
  extraAddrs?: string[];
}

export interface BedVm extends Vm {
  readonly portId: string;
}

export type CompileResult = ReturnType<typeof compile>;

/** Shorthand for one security-group rule. */
export interface RuleSpec {
  dir: Direction;
  eth?: Ethertype;
  proto?: string | null;
  /** Destination port range, or ICMP [type, code]. */
  ports?: [number | null, number | null];
  sports?: [number, number];
  remoteIp?: string;
  remoteGroup?: string;
  remoteAg?: string;
}

export interface GroupSpec {
  stateful?: boolean;
  rules: RuleSpec[];
}

export interface PortSpec {
  /** Network id (default NET); networks are created for every id used. */
  network?: string;
  groups?: string[];
  portSecurity?: boolean;
  aap?: AllowedAddressPair[];
}

export interface PolicySpec {
  /** Extra fields of networks (e.g. a VLAN segmentation id), by id. */
  networks?: Record<string, Partial<Network>>;
  groups?: Record<string, GroupSpec>;
  /** Ports not listed have no group (port security on: everything but §5 dropped). */
  ports?: Record<string, PortSpec>;
  addressGroups?: Record<string, string[]>;
}

export interface Bed {
  readonly ovs: OvsSandbox;
  readonly vms: Record<string, BedVm>;
  /** Build, normalise, compile and install the policy; returns the compiler's result. */
  apply(spec: PolicySpec, mutate?: Mutant): Promise<CompileResult>;
  policy(spec: PolicySpec): Policy;
  compile(spec: PolicySpec): { normalized: NormalizedPolicy; result: CompileResult };
  stop(): Promise<void>;
}

export const macOf = (n: number): string => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
export const ip4Of = (n: number): string => `10.0.0.${n}`;
export const ip6Of = (n: number): string => `fd00::${n.toString(16)}`;

/** Rules that let a port send anything (IPv4 and IPv6): Neutron's default egress pair. */
export const EGRESS_ALL: RuleSpec[] = [
  { dir: 'egress', eth: 'IPv4' },
  { dir: 'egress', eth: 'IPv6' },
];
export const INGRESS_ALL: RuleSpec[] = [
  { dir: 'ingress', eth: 'IPv4' },
  { dir: 'ingress', eth: 'IPv6' },
];

let flowFileSeq = 0;

function without(match: Match, ...fields: (keyof Match)[]): Match {
  const m = { ...match };
  for (const f of fields) delete m[f];
  return m;
}

const isDropFlow = (f: Flow) => f.actions.length === 0 || f.actions.every((a) => a.type === 'drop');

/** Flows with equal (table, priority, match) collapse to the last one (a mutant may make some). */
function dedupe(flows: FlowTable): Flow[] {
  const byKey = new Map<string, Flow>();
  for (const f of flows) {
    const match = Object.entries(f.match)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, m]) => `${k}=${m?.value}/${m?.mask}`)
      .join(',');
    byKey.set(`${f.table}|${f.priority}|${match}`, f);
  }
  return [...byKey.values()];
}

/** The CIDRs (as `addr/prefix` of the normalised form) of every allowed address pair. */
function pairCidrs(policy: Policy): Set<string> {
  const text = (p: NormalizedPolicy) =>
    new Set(
      [...p.ports.values()].flatMap((port) =>
        port.addresses.map((a) => `${port.id} ${a.cidr.addr}/${a.cidr.prefix}`),
      ),
    );
  const all = text(normalizePolicy(policy));
  const fixed = text(
    normalizePolicy({
      ...policy,
      ports: policy.ports.map((p) => ({ ...p, allowed_address_pairs: [] })),
    }),
  );
  return new Set([...all].filter((a) => !fixed.has(a)).map((a) => a.split(' ')[1]!));
}

const REMOTE_FIELDS = [
  'ct_nw_src',
  'ct_nw_dst',
  'ct_ipv6_src',
  'ct_ipv6_dst',
  'ip_src',
  'ip_dst',
  'ipv6_src',
  'ipv6_dst',
] as const;

/** The prefix length of a CIDR mask of `bits` bits (undefined mask: a host). */
function prefixOf(mask: bigint | undefined, bits: number): number {
  if (mask === undefined) return bits;
  let n = 0;
  for (let i = bits - 1; i >= 0 && (mask >> BigInt(i)) & 1n; i--) n++;
  return n;
}

/** What a mutant may look at besides the flows: the resources and the table numbers. */
export interface MutantContext {
  policy: Policy;
  tables: Tables;
}

/**
 * A deliberately broken compiler: the compiled table (and the Neutron resources it came
 * from, compiled at `tables`) in, a broken table out.
 */
export type Mutant = (flows: FlowTable, ctx: MutantContext) => FlowTable;

/**
 * Deliberately broken compilers, to show the suite notices (mutation testing of the tests):
 * `SGF_E2E_MUTANT=<name> npx vitest run test/e2e/...` installs the mutated table wherever a
 * test installs flows (every file of test/e2e: `withEnvMutant`), and the tests that guard
 * that property must fail. The suites also apply some of them themselves ("the checks are
 * live" tests).
 */
export const MUTANTS: Record<string, Mutant> = {
  /** Egress port security forgets to check the IP source (MAC still checked). */
  'no-ip-antispoof': (flows, { tables: t }) =>
    flows.map((f) =>
      f.table === t.EgressPortSecurity
        ? { ...f, match: without(f.match, 'ip_src', 'ipv6_src') }
        : f,
    ),
  /** Egress port security forgets the source MAC. */
  'no-mac-antispoof': (flows, { tables: t }) =>
    flows.map((f) =>
      f.table === t.EgressPortSecurity ? { ...f, match: without(f.match, 'eth_src') } : f,
    ),
  /** ARP sender checks gone. */
  'no-arp-check': (flows, { tables: t }) =>
    flows.map((f) =>
      f.table === t.EgressPortSecurity
        ? { ...f, match: without(f.match, 'arp_spa', 'arp_sha') }
        : f,
    ),
  /** ND advertisements pass for any target: the `nd_target` check of the NA bypass is gone. */
  'no-nd-target-check': (flows, { tables: t }) =>
    dedupe(
      flows.map((f) =>
        f.table === t.EgressPortSecurity ? { ...f, match: without(f.match, 'nd_target') } : f,
      ),
    ),
  /**
   * The always-allowed egress (ARP, ND, RS, MLD, DHCP and DHCPv6 client) no longer bypasses
   * the rules: it goes to the state table like any other packet.
   */
  'no-egress-bypass': (flows, { tables: t }) =>
    flows.map((f) =>
      f.table === t.EgressPortSecurity
        ? {
            ...f,
            actions: f.actions.map((a) =>
              a.type === 'goto_table' && a.table === t.Forward ? { ...a, table: t.EgressState } : a,
            ),
          }
        : f,
    ),
  /** The always-dropped egress flows (802.1Q tag, DHCP server, RA, redirect) are missing. */
  'no-server-guards': (flows, { tables: t }) =>
    flows.filter((f) => !(f.table === t.EgressPortSecurity && f.priority > 100 && isDropFlow(f))),
  /** Every rule flow is gone: nothing is allowed by rules. */
  'no-rules': (flows, { tables: t }) =>
    flows.filter(
      (f) => !((f.table === t.EgressRules || f.table === t.IngressRules) && !isDropFlow(f)),
    ),
  /** A rules table that allows everything. */
  'allow-all': (flows, { tables: t }) => [
    ...flows.filter((f) => f.table !== t.EgressRules && f.table !== t.IngressRules),
    ...[t.EgressRules, t.IngressRules].map((table): Flow => ({
      table,
      priority: 0,
      cookie: 0n,
      match: {},
      actions: [{ type: 'goto_table', table: t.Allow }],
    })),
  ],
  /** Replies are judged by the replier's own rules instead of the connection's. */
  'no-reply-bypass': (flows, { tables: t }) =>
    flows.map((f) =>
      (f.table === t.EgressState || f.table === t.IngressState) && f.match.ct_state
        ? {
            ...f,
            match: {
              ...f.match,
              ct_state: {
                value: f.match.ct_state.value & ~0x08n,
                mask: (f.match.ct_state.mask ?? ~0n) & ~0x08n,
              },
            },
          }
        : f,
    ),
  /**
   * A stale allow: established connections skip the rules (the classic "-m state
   * ESTABLISHED -j ACCEPT"), so removing a rule no longer cuts its connections.
   */
  'established-bypass': (flows, { tables: t }) => [
    ...flows,
    ...[t.EgressState, t.IngressState].map((table): Flow => ({
      table,
      priority: 85,
      cookie: 0n,
      match: {
        ct_state: {
          value: BigInt(CtState.TRK | CtState.EST),
          mask: BigInt(CtState.TRK | CtState.EST | CtState.INV),
        },
        reg0: { value: BigInt(Flag.Stateful), mask: BigInt(Flag.Stateful) },
      },
      actions: [{ type: 'goto_table', table: t.Allow }],
    })),
  ],
  /**
   * ICMP errors (destination unreachable, time exceeded, packet too big) are let in without
   * asking conntrack whether they belong to a connection.
   */
  'icmp-errors-bypass': (flows, { tables: t }) => [
    ...flows,
    ...[
      { eth_type: 0x0800n, ip_proto: 1n, field: 'icmp_type', types: [3n, 11n] },
      { eth_type: 0x86ddn, ip_proto: 58n, field: 'icmpv6_type', types: [1n, 2n, 3n] },
    ].flatMap(({ eth_type, ip_proto, field, types }) =>
      types.map((type): Flow => ({
        table: t.IngressPortSecurity,
        priority: 95,
        cookie: 0n,
        match: {
          eth_type: { value: eth_type },
          ip_proto: { value: ip_proto },
          [field]: { value: type },
        },
        actions: [{ type: 'goto_table', table: t.Output }],
      })),
    ),
  ],
  /** Remote groups forget their members' allowed-address-pair IPs (fixed IPs still count). */
  'no-pair-remotes': (flows, { policy, tables: t }) => {
    const pairs = pairCidrs(policy);
    const isPairRemote = (f: Flow) =>
      REMOTE_FIELDS.some((name) => {
        const m = f.match[name];
        if (!m) return false;
        const bits = name.includes('ipv6') ? 128 : 32;
        return pairs.has(`${m.value}/${prefixOf(m.mask, bits)}`);
      });
    return flows.filter(
      (f) => !((f.table === t.EgressRules || f.table === t.IngressRules) && isPairRemote(f)),
    );
  },
};

const ENV_MUTANT = process.env.SGF_E2E_MUTANT;
if (ENV_MUTANT !== undefined && !(ENV_MUTANT in MUTANTS)) {
  throw new Error(
    `SGF_E2E_MUTANT=${ENV_MUTANT}: expected one of ${Object.keys(MUTANTS).join(', ')}`,
  );
}

/**
 * The table to install: `flows` (compiled from `policy` at `baseTable`), broken by the mutant
 * `SGF_E2E_MUTANT` names, if any.
 */
export function withEnvMutant(flows: FlowTable, policy: Policy, baseTable = 0): FlowTable {
  return ENV_MUTANT ? MUTANTS[ENV_MUTANT]!(flows, { policy, tables: tablesAt(baseTable) }) : flows;
}

/**
 * Install a desired flow table into the bridge, replacing whatever is there, atomically, and
 * return once it is in force for every packet: the datapath's cached megaflows are purged, so
 * the next packet of every flow is translated against the new table. Without the purge, a
 * megaflow translated under an earlier table was seen to outlive `replace-flows` and two
 * `revalidator/wait` rounds (OVS 3.1, netdev datapath; in ~3 of 8 runs of rules.test.ts a SYN
 * the new table allows was still dropped by it, seconds later).
 */
export async function installFlows(ovs: OvsSandbox, flows: FlowTable): Promise<void> {
  const file = join(ovs.dir, `flows-${++flowFileSeq}.txt`);
  writeFileSync(file, formatFlows(flows));
  await ovs.ofctl('--bundle', 'replace-flows', ovs.mgmt, file);
  await ovs.appctl('revalidator/purge');
}

/** The Neutron resources of a spec for these VMs (all of them, on any host). */
export function buildPolicy(vms: Record<string, BedVm>, spec: PolicySpec): Policy {
  let ruleSeq = 0;
  const groups = Object.entries(spec.groups ?? {});
  const rules: SecurityGroupRule[] = [];
  for (const [gid, g] of groups) {
    for (const r of g.rules) {
      const icmp = r.proto === 'icmp' || r.proto === 'ipv6-icmp' || r.proto === 'icmpv6';
      rules.push(
        fx.rule({
          id: `${gid}-r${++ruleSeq}`,
          security_group_id: gid,
          direction: r.dir,
          ethertype: r.eth ?? 'IPv4',
          protocol: r.proto ?? null,
          port_range_min: r.ports?.[0] ?? null,
          port_range_max: r.ports?.[1] ?? (icmp ? null : (r.ports?.[0] ?? null)),
          source_port_range_min: r.sports?.[0] ?? null,
          source_port_range_max: r.sports?.[1] ?? null,
          remote_ip_prefix: r.remoteIp ?? null,
          remote_group_id: r.remoteGroup ?? null,
          remote_address_group_id: r.remoteAg ?? null,
        }),
      );
    }
  }
  return fx.policy({
    networks: [
      ...new Set([
        NET,
        ...Object.keys(spec.networks ?? {}),
        ...Object.values(spec.ports ?? {}).map((p) => p.network ?? NET),
      ]),
    ]
      .sort()
      .map((id) => fx.network({ ...spec.networks?.[id], id })),
    ports: Object.values(vms).map((vm) => {
      const ps = spec.ports?.[vm.name] ?? {};
      const portSecurity = ps.portSecurity ?? true;
      return fx.port({
        id: vm.portId,
        network_id: ps.network ?? NET,
        mac_address: vm.mac,
        fixed_ips: [
          ...(vm.ip4 ? [{ ip_address: vm.ip4 }] : []),
          ...(vm.ip6 ? [{ ip_address: vm.ip6 }] : []),
        ],
        allowed_address_pairs: ps.aap ?? [],
        security_groups: portSecurity ? (ps.groups ?? []) : [],
        port_security_enabled: portSecurity,
      });
    }),
    security_groups: groups.map(([id, g]) => fx.group({ id, stateful: g.stateful ?? true })),
    security_group_rules: rules,
    address_groups: Object.entries(spec.addressGroups ?? {}).map(([id, addresses]) =>
      fx.addressGroup({ id, addresses }),
    ),
  });
}

/** Start OVS and the VMs (in parallel). */
export async function startBed(name: string, specs: VmSpec[]): Promise<Bed> {
  const ovs = await startOvs({ name });
  try {
    const list = await Promise.all(
      specs.map(async (s): Promise<BedVm> => {
        const vm = await addVm(ovs, {
          name: s.name,
          mac: macOf(s.n),
          ipv4: `${ip4Of(s.n)}/24`,
          ipv6: `${ip6Of(s.n)}/64`,
          ofport: s.n,
          ifaceId: `port-${s.name}`,
          ...(s.extraAddrs ? { extraAddrs: s.extraAddrs } : {}),
        });
        return Object.assign(vm, { portId: `port-${s.name}` });
      }),
    );
    const vms = Object.fromEntries(list.map((v) => [v.name, v]));
    const localPorts = list.map((v) => ({ portId: v.portId, ofport: v.ofport }));
    const compileSpec = (spec: PolicySpec) => {
      const normalized = normalizePolicy(buildPolicy(vms, spec));
      const result = compile({ policy: normalized, localPorts });
      return { normalized, result };
    };
    return {
      ovs,
      vms,
      policy: (spec) => buildPolicy(vms, spec),
      compile: compileSpec,
      async apply(spec, mutate) {
        const { result } = compileSpec(spec);
        const policy = buildPolicy(vms, spec);
        const flows = mutate ? mutate(result.flows, { policy, tables: tablesAt(0) }) : result.flows;
        await installFlows(ovs, withEnvMutant(flows, policy));
        return result;
      },
      stop: () => ovs.stop(),
    };
  } catch (e) {
    await ovs.stop();
    throw e;
  }
}
