/**
 * Validation of Neutron resources (networks, ports, security groups and their rules, address
 * groups) the way Neutron validates them, plus our source-port extension.
 *
 * Produces: for a request body (or a policy-file entry), the resource's fields with Neutron's
 * defaults filled in and values in canonical form (lower-case MACs, host-bit-free CIDRs,
 * except a rule's remote_ip_prefix, which Neutron keeps as given, lower-case protocol names,
 * IPv6 ICMP spelled `ipv6-icmp`); or an SgflowError whose `field`
 * is the full path of the offending field and whose message lists the allowed values.
 *
 * Invariant: pure (no I/O, no clock, no randomness); a value that passes is accepted by
 * `normalizePolicy`, and validating an already-validated resource returns it unchanged.
 * Cross-resource checks (does that group exist?) belong to `normalizePolicy` and the API.
 */
import {
  MAC_BROADCAST,
  canonicalIp,
  ethertypeOfFamily,
  formatCidr,
  formatIp,
  isHostCidr,
  isMulticastMac,
  parseCidr,
  parseIp,
  parseMac,
  formatMac,
} from './addr.js';
import { SgflowError } from './errors.js';
import {
  PROTO_NAME_ANY,
  canonicalProtocolForEthertype,
  isIcmpProtocol,
  isIpv6OnlyProtocol,
  isPortProtocol,
  parseProtocol,
  protocolNumberAsGiven,
} from './protocols.js';
import {
  ENFORCEMENT_MODES,
  type AddressGroup,
  type AllowedAddressPair,
  type Direction,
  type EnforcementMode,
  type Ethertype,
  type FixedIp,
  type Network,
  type Port,
  type SecurityGroup,
  type SecurityGroupRule,
} from './types.js';

type Obj = Record<string, unknown>;

/** Fields that API responses carry and Neutron ignores (or derives) on input. */
const READ_ONLY_FIELDS = [
  'tenant_id',
  'created_at',
  'updated_at',
  'revision_number',
  'tags',
  'standard_attr_id',
];

const MAX_NAME = 255;
const PORT_MAX = 65535;

export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
export const ETHERTYPES: readonly Ethertype[] = ['IPv4', 'IPv6'];

// ---------------------------------------------------------------------------------------
// Field readers: every error names the full path of the field
// ---------------------------------------------------------------------------------------

/** `a.b`, `a[3]`, or just the name at the top level. */
export function joinPath(path: string, name: string | number): string {
  if (typeof name === 'number') return `${path}[${name}]`;
  return path ? `${path}.${name}` : name;
}

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  return JSON.stringify(value) ?? String(value);
}

function invalid(field: string, reason: string): SgflowError {
  return new SgflowError('SG_INVALID_FIELD', { field, reason });
}

/** Asserts a JSON object (not an array, not null). */
export function asObject(value: unknown, path: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(path || 'body', `expected a JSON object, got ${show(value)}`);
  }
  return value as Obj;
}

function rejectUnknown(obj: Obj, path: string, known: readonly string[]): void {
  const unknown = Object.keys(obj).filter(
    (k) => !known.includes(k) && !READ_ONLY_FIELDS.includes(k),
  );
  if (unknown.length > 0) {
    throw new SgflowError('SG_UNKNOWN_FIELD', {
      field: unknown.map((k) => joinPath(path, k)).join(', '),
      allowed: known.join(', '),
    });
  }
}

function has(obj: Obj, name: string): boolean {
  return obj[name] !== undefined;
}

function requireField(obj: Obj, path: string, name: string): unknown {
  const v = obj[name];
  if (v === undefined) throw new SgflowError('SG_MISSING_FIELD', { field: joinPath(path, name) });
  return v;
}

function readString(obj: Obj, path: string, name: string, dflt: string, max = MAX_NAME): string {
  const v = obj[name];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string')
    throw invalid(joinPath(path, name), `expected a string, got ${show(v)}`);
  if (v.length > max)
    throw invalid(joinPath(path, name), `'${v.slice(0, 20)}...' exceeds maximum length of ${max}`);
  return v;
}

/** An id: a non-empty string of at most 255 characters. */
function checkId(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NAME) {
    throw invalid(
      field,
      `${show(v)} is not a valid id; expected a non-empty string of at most ${MAX_NAME} characters`,
    );
  }
  return v;
}

function readId(obj: Obj, path: string, name: string, required: true): string;
function readId(obj: Obj, path: string, name: string, required: false): string | undefined;
function readId(obj: Obj, path: string, name: string, required: boolean): string | undefined {
  const v = required ? requireField(obj, path, name) : obj[name];
  if (v === undefined) return undefined;
  return checkId(v, joinPath(path, name));
}

function readNullableId(obj: Obj, path: string, name: string): string | null {
  const v = obj[name];
  if (v === undefined || v === null) return null;
  return checkId(v, joinPath(path, name));
}

function readBool(obj: Obj, path: string, name: string, dflt: boolean): boolean;
function readBool(obj: Obj, path: string, name: string, dflt: undefined): boolean | undefined;
function readBool(
  obj: Obj,
  path: string,
  name: string,
  dflt: boolean | undefined,
): boolean | undefined {
  const v = obj[name];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  // Neutron's convert_to_boolean also takes the strings "true"/"false" (any case).
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw invalid(joinPath(path, name), `${show(v)} is not a boolean; expected true or false`);
}

/** An integer (or its decimal string) in [min, max], or null when absent. */
function readInt(obj: Obj, path: string, name: string, min: number, max: number): number | null {
  const v = obj[name];
  if (v === undefined || v === null) return null;
  const n = typeof v === 'string' && /^\s*-?[0-9]+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalid(joinPath(path, name), `${show(v)} is not an integer between ${min} and ${max}`);
  }
  return n;
}

/**
 * A port field as Neutron converts it (`convert_validate_port_value`): an integer 0-65535 or
 * its decimal string, or null when absent; anything else is SecurityGroupInvalidPortValue.
 */
function readPort(obj: Obj, path: string, name: string): number | null {
  const v = obj[name];
  if (v === undefined || v === null) return null;
  const n = typeof v === 'string' && /^\s*[0-9]+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > PORT_MAX) {
    throw new SgflowError('SG_INVALID_PORT_VALUE', {
      field: joinPath(path, name),
      port: typeof v === 'string' ? v : show(v),
      reason: `${name} must be an integer between 0 and ${PORT_MAX}.`,
    });
  }
  return n;
}

function readArray(obj: Obj, path: string, name: string): unknown[] | undefined {
  const v = obj[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v))
    throw invalid(joinPath(path, name), `expected a JSON array, got ${show(v)}`);
  return v as unknown[];
}

function readEnum<T extends string>(
  obj: Obj,
  path: string,
  name: string,
  values: readonly T[],
  caseInsensitive = false,
): T | undefined {
  const v = obj[name];
  if (v === undefined || v === null) return undefined;
  const hit =
    typeof v === 'string'
      ? values.find((x) => (caseInsensitive ? x.toLowerCase() === v.toLowerCase() : x === v))
      : undefined;
  if (hit === undefined) {
    throw invalid(
      joinPath(path, name),
      `${show(v)} is not one of the allowed values [${values.join(', ')}]`,
    );
  }
  return hit;
}

/** Re-throws an error of a value parser with the full path as its field. */
function withField<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SgflowError && e.code === 'SG_INVALID_FIELD') {
      throw invalid(field, String(e.params['reason']));
    }
    if (e instanceof SgflowError) throw new SgflowError(e.code, { ...e.params, field });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Security group rules
// ---------------------------------------------------------------------------------------

/** A rule as a create request gives it: the server assigns id and project_id when absent. */
export type SecurityGroupRuleInput = Omit<SecurityGroupRule, 'id' | 'project_id'> & {
  id?: string;
  project_id?: string;
};

const RULE_FIELDS = [
  'id',
  'project_id',
  'security_group_id',
  'direction',
  'ethertype',
  'protocol',
  'port_range_min',
  'port_range_max',
  'source_port_range_min',
  'source_port_range_max',
  'remote_ip_prefix',
  'remote_group_id',
  'remote_address_group_id',
  'description',
  // read-only in Neutron's responses
  'normalized_cidr',
  'belongs_to_default_sg',
];

/**
 * Validates a security group rule create body (the object inside `security_group_rule`) and
 * fills Neutron's defaults: ethertype IPv4, protocol null (any), description "".
 */
export function validateRuleInput(body: unknown, path = ''): SecurityGroupRuleInput {
  const o = asObject(body, path);
  rejectUnknown(o, path, RULE_FIELDS);
  const id = readId(o, path, 'id', false);
  const projectId = readId(o, path, 'project_id', false) ?? readId(o, path, 'tenant_id', false);
  const direction = readEnum(o, path, 'direction', DIRECTIONS);
  if (direction === undefined)
    throw new SgflowError('SG_MISSING_FIELD', { field: joinPath(path, 'direction') });
  const ethertype = readEnum(o, path, 'ethertype', ETHERTYPES, true) ?? 'IPv4';
  const rawProtocol = withField(joinPath(path, 'protocol'), () => parseProtocol(o['protocol']));
  const rule: SecurityGroupRuleInput = {
    security_group_id: readId(o, path, 'security_group_id', true),
    direction,
    ethertype,
    protocol: canonicalProtocolForEthertype(rawProtocol, ethertype),
    port_range_min: readPort(o, path, 'port_range_min'),
    port_range_max: readPort(o, path, 'port_range_max'),
    source_port_range_min: readPort(o, path, 'source_port_range_min'),
    source_port_range_max: readPort(o, path, 'source_port_range_max'),
    remote_ip_prefix: null,
    remote_group_id: readNullableId(o, path, 'remote_group_id'),
    remote_address_group_id: readNullableId(o, path, 'remote_address_group_id'),
    description: readString(o, path, 'description', ''),
  };
  const prefix = o['remote_ip_prefix'];
  if (prefix !== undefined && prefix !== null) {
    rule.remote_ip_prefix = prefixAsGiven(prefix, joinPath(path, 'remote_ip_prefix'));
  }
  if (id !== undefined) rule.id = id;
  if (projectId !== undefined) rule.project_id = projectId;
  checkRule(rule, path);
  return rule;
}

/**
 * A rule's remote prefix the way Neutron stores it (`str(netaddr.IPNetwork(x))`): the address
 * as given, host bits included, in canonical text, with its prefix length (a bare address is
 * a host prefix). `10.1.2.3/8` stays `10.1.2.3/8`; enforcement (normalizePolicy) and the
 * API's `normalized_cidr` read it as the network `10.0.0.0/8`.
 */
export function prefixAsGiven(value: unknown, field: string): string {
  const cidr = parseCidr(value, field);
  const text = (value as string).trim();
  const slash = text.indexOf('/');
  const address = canonicalIp(slash < 0 ? text : text.slice(0, slash), field);
  return `${address}/${cidr.prefix}`;
}

type RuleFields = Omit<
  SecurityGroupRuleInput,
  'id' | 'project_id' | 'description' | 'security_group_id'
>;

/**
 * The cross-field checks Neutron makes on a rule (`_validate_port_range`,
 * `_validate_ip_prefix`, `_validate_ethertype_and_protocol`, the remote exclusivity), and the
 * same port rules for our source ports. `rule` has already passed the per-field checks.
 */
export function checkRule(rule: RuleFields, path = ''): void {
  const proto = protocolNumberAsGiven(rule.protocol, rule.ethertype);
  checkPortRange(rule, proto, 'port_range_min', 'port_range_max', path);
  checkPortRange(rule, proto, 'source_port_range_min', 'source_port_range_max', path);

  if (rule.remote_ip_prefix !== null) {
    const cidr = parseCidr(rule.remote_ip_prefix, joinPath(path, 'remote_ip_prefix'));
    if (ethertypeOfFamily(cidr.family) !== rule.ethertype) {
      throw new SgflowError('SG_ETHERTYPE_CONFLICT', {
        field: joinPath(path, 'remote_ip_prefix'),
        ethertype: rule.ethertype,
        cidr: rule.remote_ip_prefix,
      });
    }
  }
  if (rule.ethertype === 'IPv4' && isIpv6OnlyProtocol(proto)) {
    throw new SgflowError('SG_ETHERTYPE_PROTOCOL_CONFLICT', {
      field: joinPath(path, 'protocol'),
      ethertype: rule.ethertype,
      protocol: rule.protocol ?? PROTO_NAME_ANY,
    });
  }
  const remotes = (
    ['remote_ip_prefix', 'remote_group_id', 'remote_address_group_id'] as const
  ).filter((k) => rule[k] !== null);
  if (remotes.length > 1) {
    throw new SgflowError('SG_REMOTE_CONFLICT', {
      field: remotes.map((k) => joinPath(path, k)).join(', '),
    });
  }
}

function checkPortRange(
  rule: RuleFields,
  proto: number | null,
  minName: 'port_range_min' | 'source_port_range_min',
  maxName: 'port_range_max' | 'source_port_range_max',
  path: string,
): void {
  const min = rule[minName];
  const max = rule[maxName];
  if (min === null && max === null) return;
  const field = joinPath(path, min !== null ? minName : maxName);
  if (proto === null) throw new SgflowError('SG_PORTS_WITHOUT_PROTOCOL', { field });
  const isSource = minName === 'source_port_range_min';
  if (isPortProtocol(proto)) {
    // Neutron's `_validate_port_range`: port 0 is an invalid value, before any range check.
    if (min === 0 || max === 0) {
      throw new SgflowError('SG_INVALID_PORT_VALUE', {
        field: joinPath(path, min === 0 ? minName : maxName),
        port: 0,
        reason: `For TCP/UDP/SCTP/DCCP/UDPLITE protocols, ${minName} and ${maxName} must be between 1 and ${PORT_MAX}.`,
      });
    }
    if (min === null || max === null || min > max) {
      throw new SgflowError('SG_INVALID_PORT_RANGE', {
        field,
        reason: `For TCP/UDP/SCTP/DCCP/UDPLITE protocols, ${minName} and ${maxName} must both be given (1-${PORT_MAX}) and ${minName} must be <= ${maxName}; got ${String(min)} and ${String(max)}.`,
      });
    }
    return;
  }
  if (isIcmpProtocol(proto) && !isSource) {
    for (const [name, what] of [
      [minName, 'type'],
      [maxName, 'code'],
    ] as const) {
      const v = rule[name];
      if (v !== null && (v < 0 || v > 255)) {
        throw new SgflowError('SG_INVALID_ICMP_VALUE', {
          field: joinPath(path, name),
          value: v,
          reason: `ICMP ${what} (${name}) must be between 0 and 255.`,
        });
      }
    }
    if (min === null && max !== null) {
      throw new SgflowError('SG_MISSING_ICMP_TYPE', { field: joinPath(path, maxName), value: max });
    }
    return;
  }
  throw new SgflowError('SG_PORTS_NOT_SUPPORTED', {
    field,
    protocol: rule.protocol ?? String(proto),
  });
}

/**
 * Neutron's duplicate-rule key (`_rule_to_key`): two rules of a group are duplicates when
 * direction, ethertype, protocol (by number under the ethertype: "tcp" = "6", IPv6 "icmp" =
 * "58"), port ranges, remote group, remote address group and remote prefix are equal, where
 * 0.0.0.0/0, ::/0 and no prefix are the same. The prefix compares as stored, host bits and
 * all: Neutron keeps 10.0.0.120/24 and 10.0.0.200/24 as two rules (its own test of
 * normalized_cidr creates both). Also keyed on our source-port range. Description and id
 * do not count.
 */
export function ruleFingerprint(
  rule: Omit<RuleFields, never> & { security_group_id: string },
): string {
  const none = '+';
  const v = (x: string | number | null): string => (x === null ? none : String(x));
  let prefix = none;
  if (rule.remote_ip_prefix !== null) {
    const p = prefixAsGiven(rule.remote_ip_prefix, 'remote_ip_prefix');
    prefix = p === '0.0.0.0/0' || p === '::/0' ? none : p;
  }
  return [
    rule.security_group_id,
    rule.direction,
    rule.ethertype,
    v(protocolNumberAsGiven(rule.protocol, rule.ethertype)),
    v(rule.port_range_min),
    v(rule.port_range_max),
    v(rule.source_port_range_min),
    v(rule.source_port_range_max),
    v(rule.remote_group_id),
    v(rule.remote_address_group_id),
    prefix,
  ]
    .map((s) => s.replaceAll('\\', '\\\\').replaceAll('|', '\\|'))
    .join('|');
}

/** The existing rule that `rule` duplicates, if any. */
export function findDuplicateRule<R extends SecurityGroupRule>(
  rule: Parameters<typeof ruleFingerprint>[0],
  existing: readonly R[],
): R | undefined {
  const key = ruleFingerprint(rule);
  return existing.find((r) => ruleFingerprint(r) === key);
}

/**
 * Neutron's `_check_for_duplicate_rules` for a (bulk) create: duplicates within the request
 * are SG_DUPLICATE_RULE_IN_POST; a duplicate of an existing rule is SG_RULE_EXISTS naming it.
 */
export function checkNoDuplicateRules(
  incoming: readonly Parameters<typeof ruleFingerprint>[0][],
  existing: readonly SecurityGroupRule[],
): void {
  const seen = new Set<string>();
  for (const r of incoming) {
    const key = ruleFingerprint(r);
    if (seen.has(key)) throw new SgflowError('SG_DUPLICATE_RULE_IN_POST');
    seen.add(key);
  }
  for (const r of existing) {
    if (seen.has(ruleFingerprint(r))) throw new SgflowError('SG_RULE_EXISTS', { id: r.id });
  }
}

// ---------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------

export type SecurityGroupInput = Omit<SecurityGroup, 'id' | 'project_id'> & {
  id?: string;
  project_id?: string;
};

const GROUP_FIELDS = [
  'id',
  'project_id',
  'name',
  'description',
  'stateful',
  'shared',
  'security_group_rules',
];

/** Validates a security group create body; defaults: name "", description "", stateful true. */
export function validateGroupInput(body: unknown, path = ''): SecurityGroupInput {
  const o = asObject(body, path);
  rejectUnknown(o, path, GROUP_FIELDS);
  const g: SecurityGroupInput = {
    name: readString(o, path, 'name', ''),
    description: readString(o, path, 'description', ''),
    stateful: readBool(o, path, 'stateful', true),
  };
  const id = readId(o, path, 'id', false);
  const projectId = readId(o, path, 'project_id', false) ?? readId(o, path, 'tenant_id', false);
  if (id !== undefined) g.id = id;
  if (projectId !== undefined) g.project_id = projectId;
  return g;
}

// ---------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------

export type NetworkInput = Omit<Network, 'id' | 'project_id'> & {
  id?: string;
  project_id?: string;
};

export const NETWORK_TYPES = ['flat', 'vlan', 'vxlan', 'geneve', 'gre', 'local'] as const;

const NETWORK_FIELDS = [
  'id',
  'project_id',
  'name',
  'port_security_enabled',
  'shared',
  'provider:network_type',
  'provider:segmentation_id',
  'provider:physical_network',
  'enforcement_mode',
  'admin_state_up',
  'description',
  'mtu',
  'status',
  'subnets',
  'router:external',
  'availability_zone_hints',
  'availability_zones',
  'is_default',
  'dns_domain',
  'qos_policy_id',
  'ipv4_address_scope',
  'ipv6_address_scope',
  'l2_adjacency',
];

const SEGMENTATION_MAX: Record<(typeof NETWORK_TYPES)[number], number> = {
  flat: 0,
  local: 0,
  vlan: 4094,
  vxlan: 2 ** 24 - 1,
  geneve: 2 ** 24 - 1,
  gre: 2 ** 32 - 1,
};

/**
 * Validates a network create body; defaults: name "", port_security_enabled true, shared
 * false. A segmentation id is a VLAN tag 1–4094 for `vlan` (or when no type is given), a VNI
 * for vxlan/geneve, a key for gre; flat and local networks have none.
 */
export function validateNetworkInput(body: unknown, path = ''): NetworkInput {
  const o = asObject(body, path);
  rejectUnknown(o, path, NETWORK_FIELDS);
  const type = readEnum(o, path, 'provider:network_type', NETWORK_TYPES, true) ?? null;
  const segMax = SEGMENTATION_MAX[type ?? 'vlan'];
  const seg = has(o, 'provider:segmentation_id')
    ? segMax === 0
      ? (() => {
          if (o['provider:segmentation_id'] === null) return null;
          throw invalid(
            joinPath(path, 'provider:segmentation_id'),
            `a ${String(type)} network has no segmentation id; allowed: null`,
          );
        })()
      : readInt(o, path, 'provider:segmentation_id', 1, segMax)
    : null;
  const mode = readEnum<EnforcementMode>(o, path, 'enforcement_mode', ENFORCEMENT_MODES) ?? null;
  const n: NetworkInput = {
    name: readString(o, path, 'name', ''),
    port_security_enabled: readBool(o, path, 'port_security_enabled', true),
    shared: readBool(o, path, 'shared', false),
    'provider:network_type': type,
    'provider:segmentation_id': seg,
    enforcement_mode: mode,
  };
  const id = readId(o, path, 'id', false);
  const projectId = readId(o, path, 'project_id', false) ?? readId(o, path, 'tenant_id', false);
  if (id !== undefined) n.id = id;
  if (projectId !== undefined) n.project_id = projectId;
  return n;
}

// ---------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------

/**
 * A port as a create request gives it. `security_groups` and `port_security_enabled` stay
 * undefined when not given: Neutron then applies the project's default group and the
 * network's port security, which only the caller knows. `mac_address` is undefined when the
 * server must generate one.
 */
export type PortInput = Omit<
  Port,
  'id' | 'project_id' | 'mac_address' | 'security_groups' | 'port_security_enabled'
> & {
  id?: string;
  project_id?: string;
  mac_address?: string;
  security_groups?: string[];
  port_security_enabled?: boolean;
};

const PORT_FIELDS = [
  'id',
  'project_id',
  'network_id',
  'name',
  'mac_address',
  'fixed_ips',
  'allowed_address_pairs',
  'security_groups',
  'port_security_enabled',
  'device_owner',
  'device_id',
  'binding:host_id',
  'status',
  'admin_state_up',
  'description',
  'binding:vnic_type',
  'binding:profile',
  'binding:vif_type',
  'binding:vif_details',
  'dns_name',
  'dns_assignment',
  'extra_dhcp_opts',
  'qos_policy_id',
  'qos_network_policy_id',
  'propagate_uplink_status',
  'ip_allocation',
];

/** A port MAC: a valid unicast, non-zero MAC, in canonical form. */
export function validatePortMac(value: unknown, field: string): string {
  const mac = parseMac(value, field);
  if (mac === 0n || mac === MAC_BROADCAST || isMulticastMac(mac)) {
    throw invalid(
      field,
      `${show(value)} is not a usable port MAC; expected a unicast MAC other than 00:00:00:00:00:00`,
    );
  }
  return formatMac(mac);
}

function readFixedIps(o: Obj, path: string): FixedIp[] {
  const list = readArray(o, path, 'fixed_ips') ?? [];
  const seen = new Set<string>();
  return list.map((item, i) => {
    const p = joinPath(joinPath(path, 'fixed_ips'), i);
    const f = asObject(item, p);
    rejectUnknown(f, p, ['ip_address', 'subnet_id']);
    const raw = requireField(f, p, 'ip_address');
    const ip = parseIp(raw, joinPath(p, 'ip_address'));
    const text = formatIp(ip.family, ip.addr);
    if (seen.has(text))
      throw invalid(joinPath(p, 'ip_address'), `duplicate IP address ${text} on the port`);
    seen.add(text);
    const out: FixedIp = { ip_address: text };
    const subnet = readId(f, p, 'subnet_id', false);
    if (subnet !== undefined) out.subnet_id = subnet;
    return out;
  });
}

/** An allowed-address-pair IP: a bare address for a host, `net/len` otherwise. */
export function canonicalPairIp(value: unknown, field: string): string {
  const c = parseCidr(value, field);
  return isHostCidr(c) ? formatIp(c.family, c.addr) : formatCidr(c);
}

function readAddressPairs(o: Obj, path: string): AllowedAddressPair[] {
  const list = readArray(o, path, 'allowed_address_pairs') ?? [];
  const seen = new Set<string>();
  return list.map((item, i) => {
    const p = joinPath(joinPath(path, 'allowed_address_pairs'), i);
    const a = asObject(item, p);
    rejectUnknown(a, p, ['ip_address', 'mac_address']);
    const ip = canonicalPairIp(requireField(a, p, 'ip_address'), joinPath(p, 'ip_address'));
    const pair: AllowedAddressPair = { ip_address: ip };
    if (a['mac_address'] !== undefined && a['mac_address'] !== null) {
      pair.mac_address = validatePortMac(a['mac_address'], joinPath(p, 'mac_address'));
    }
    const key = `${pair.mac_address ?? ''} ${ip}`;
    if (seen.has(key)) {
      throw new SgflowError('ADDRESS_PAIR_DUPLICATE', {
        field: p,
        mac_address: pair.mac_address ?? 'None',
        ip_address: ip,
      });
    }
    seen.add(key);
    return pair;
  });
}

/** Validates a port create body; defaults: name/device_owner/device_id/binding:host_id "". */
export function validatePortInput(body: unknown, path = ''): PortInput {
  const o = asObject(body, path);
  rejectUnknown(o, path, PORT_FIELDS);
  const port: PortInput = {
    network_id: readId(o, path, 'network_id', true),
    name: readString(o, path, 'name', ''),
    fixed_ips: readFixedIps(o, path),
    allowed_address_pairs: readAddressPairs(o, path),
    device_owner: readString(o, path, 'device_owner', ''),
    device_id: readString(o, path, 'device_id', ''),
    'binding:host_id': readString(o, path, 'binding:host_id', ''),
    admin_state_up: readBool(o, path, 'admin_state_up', true),
  };
  const id = readId(o, path, 'id', false);
  const projectId = readId(o, path, 'project_id', false) ?? readId(o, path, 'tenant_id', false);
  if (id !== undefined) port.id = id;
  if (projectId !== undefined) port.project_id = projectId;
  if (o['mac_address'] !== undefined && o['mac_address'] !== null) {
    port.mac_address = validatePortMac(o['mac_address'], joinPath(path, 'mac_address'));
  }
  const groups = readArray(o, path, 'security_groups');
  if (groups !== undefined) {
    const ids = groups.map((g, i) => checkId(g, joinPath(joinPath(path, 'security_groups'), i)));
    port.security_groups = [...new Set(ids)];
  }
  const ps = readBool(o, path, 'port_security_enabled', undefined);
  if (ps !== undefined) port.port_security_enabled = ps;
  if (typeof o['status'] === 'string') port.status = o['status'];
  checkPortSecurity(port, path);
  return port;
}

/**
 * Neutron's port-security constraints, on whatever of them the port states, in Neutron's
 * order: allowed address pairs need port security on (409); security groups need port
 * security on and an IP address (400, an InvalidInput in Neutron).
 */
export function checkPortSecurity(
  port: Pick<
    PortInput,
    'security_groups' | 'port_security_enabled' | 'fixed_ips' | 'allowed_address_pairs'
  >,
  path = '',
): void {
  if (port.port_security_enabled === false && port.allowed_address_pairs.length > 0) {
    throw new SgflowError('ADDRESS_PAIR_PORT_SECURITY', {
      field: joinPath(path, 'allowed_address_pairs'),
    });
  }
  const hasGroups = (port.security_groups?.length ?? 0) > 0;
  if (hasGroups && (port.port_security_enabled === false || port.fixed_ips.length === 0)) {
    throw new SgflowError('PORT_SECURITY_CONFLICT', { field: joinPath(path, 'security_groups') });
  }
}

// ---------------------------------------------------------------------------------------
// Address groups
// ---------------------------------------------------------------------------------------

export type AddressGroupInput = Omit<AddressGroup, 'id' | 'project_id'> & {
  id?: string;
  project_id?: string;
};

/** Validates an address group create body; addresses become canonical CIDRs, deduplicated. */
export function validateAddressGroupInput(body: unknown, path = ''): AddressGroupInput {
  const o = asObject(body, path);
  rejectUnknown(o, path, ['id', 'project_id', 'name', 'description', 'addresses']);
  const list = readArray(o, path, 'addresses') ?? [];
  const addresses = [
    ...new Set(
      list.map((a, i) => formatCidr(parseCidr(a, joinPath(joinPath(path, 'addresses'), i)))),
    ),
  ];
  const g: AddressGroupInput = {
    name: readString(o, path, 'name', ''),
    description: readString(o, path, 'description', ''),
    addresses,
  };
  const id = readId(o, path, 'id', false);
  const projectId = readId(o, path, 'project_id', false) ?? readId(o, path, 'tenant_id', false);
  if (id !== undefined) g.id = id;
  if (projectId !== undefined) g.project_id = projectId;
  return g;
}
