/**
 * The policy model: Neutron v2.0 resources as the API serves them (snake_case, Neutron's
 * field names) and the normalised forms the enforcement layers (semantics, compiler) read.
 *
 * Invariant: an enforcement layer never sees a raw resource. `normalizePolicy` (policy.ts)
 * turns validated resources into a `NormalizedPolicy` whose rules carry IP protocol numbers,
 * parsed CIDRs and port ranges, so "tcp" and "6", "icmp" under IPv6 and 58, "any" and null
 * are the same thing everywhere downstream.
 */

export type Ethertype = 'IPv4' | 'IPv6';
/** Always from the port's point of view: ingress = towards the port. */
export type Direction = 'ingress' | 'egress';

// ---------------------------------------------------------------------------------------
// Resources (API shapes; also the policy file format, see docs/policy-file.md)
// ---------------------------------------------------------------------------------------

export interface Network {
  id: string;
  project_id: string;
  name: string;
  port_security_enabled: boolean;
  shared: boolean;
  /** VLAN tag used on the uplink for this network; null = untagged / local only. */
  'provider:segmentation_id'?: number | null;
  'provider:network_type'?: string | null;
  /** sgflow extension: per-network enforcement mode override (DESIGN.md §6). */
  enforcement_mode?: EnforcementMode | null;
}

export interface FixedIp {
  subnet_id?: string;
  ip_address: string;
}

export interface AllowedAddressPair {
  /** An address or a CIDR. */
  ip_address: string;
  /** Defaults to the port's own MAC. */
  mac_address?: string;
}

export interface Port {
  id: string;
  project_id: string;
  network_id: string;
  name: string;
  /** Canonical form: lower-case, colon-separated. */
  mac_address: string;
  fixed_ips: FixedIp[];
  allowed_address_pairs: AllowedAddressPair[];
  security_groups: string[];
  port_security_enabled: boolean;
  device_owner: string;
  device_id: string;
  'binding:host_id': string;
  status?: string;
  admin_state_up?: boolean;
}

export interface SecurityGroup {
  id: string;
  project_id: string;
  name: string;
  description: string;
  stateful: boolean;
}

export interface SecurityGroupRule {
  id: string;
  project_id: string;
  security_group_id: string;
  direction: Direction;
  ethertype: Ethertype;
  /** As the user gave it (name or decimal number), or null for any. */
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  /** sgflow extension: source port range (same protocols as port_range_*). */
  source_port_range_min: number | null;
  source_port_range_max: number | null;
  /**
   * A prefix as Neutron keeps it (canonical text, with a prefix length, host bits as given:
   * `10.1.2.3/8`), or null. It means its network: normalizePolicy clears the host bits.
   */
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  remote_address_group_id: string | null;
  description: string;
}

export interface AddressGroup {
  id: string;
  project_id: string;
  name: string;
  description: string;
  /** Canonical CIDRs. */
  addresses: string[];
}

/** Everything that decides what a port may send and receive. */
export interface Policy {
  networks: Network[];
  ports: Port[];
  security_groups: SecurityGroup[];
  security_group_rules: SecurityGroupRule[];
  address_groups: AddressGroup[];
}

// ---------------------------------------------------------------------------------------
// Normalised forms (what semantics and the compiler read)
// ---------------------------------------------------------------------------------------

export type IpFamily = 4 | 6;

/** A parsed CIDR: `addr` has its host bits cleared. A host address has prefix 32 / 128. */
export interface Cidr {
  family: IpFamily;
  addr: bigint;
  prefix: number;
}

/** Inclusive range of 16-bit ports. */
export interface PortRange {
  min: number;
  max: number;
}

export type RemoteSpec =
  | { kind: 'any' }
  | { kind: 'prefix'; cidr: Cidr }
  | { kind: 'group'; groupId: string }
  | { kind: 'addressGroup'; addressGroupId: string };

/** IP protocol numbers of the protocols whose rules may carry port ranges. */
export const PortProtocol = {
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  SCTP: 132,
  UDPLITE: 136,
} as const;

export const IpProto = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
} as const;

export interface NormalizedRule {
  id: string;
  groupId: string;
  direction: Direction;
  ethertype: Ethertype;
  /** IP protocol number; null = any protocol of the ethertype. */
  protocol: number | null;
  /** Only for port protocols; null = all ports. */
  dstPorts: PortRange | null;
  srcPorts: PortRange | null;
  /** Only for ICMP (IPv4) / ICMPv6; null = any. icmpCode non-null implies icmpType non-null. */
  icmpType: number | null;
  icmpCode: number | null;
  remote: RemoteSpec;
}

export interface NormalizedGroup {
  id: string;
  stateful: boolean;
  rules: NormalizedRule[];
}

/** A MAC + IP (or CIDR) pair a port may use as its source. */
export interface AddressBinding {
  mac: bigint;
  cidr: Cidr;
}

export interface NormalizedPort {
  id: string;
  networkId: string;
  mac: bigint;
  /** Fixed IPs (host CIDRs) and allowed address pairs, each with the MAC it may be used with. */
  addresses: AddressBinding[];
  /** Extra MACs from allowed address pairs (the port's own MAC is `mac`). */
  groupIds: string[];
  portSecurity: boolean;
  /** True when every group is stateful (or the port has none); false when all are stateless. */
  stateful: boolean;
}

export interface NormalizedNetwork {
  id: string;
  portSecurity: boolean;
  vlan: number | null;
  mode: EnforcementMode | null;
}

export interface NormalizedPolicy {
  networks: ReadonlyMap<string, NormalizedNetwork>;
  ports: ReadonlyMap<string, NormalizedPort>;
  groups: ReadonlyMap<string, NormalizedGroup>;
  /** Address group id → CIDRs. */
  addressGroups: ReadonlyMap<string, readonly Cidr[]>;
}

export type EnforcementMode = 'conntrack' | 'stateless-ack' | 'learn' | 'reactive';
export const ENFORCEMENT_MODES: readonly EnforcementMode[] = [
  'conntrack',
  'stateless-ack',
  'learn',
  'reactive',
];

/**
 * Which ports are local to the compiling host and their OpenFlow port numbers (the policy
 * file's `host` section; the agent builds the same from OVSDB).
 */
export interface HostBinding {
  name: string;
  /** Port id → ofport. */
  ofports: Map<string, number>;
  /** ofport of the uplink (physical/tunnel side), or null when the host has none. */
  uplinkOfport: number | null;
}
