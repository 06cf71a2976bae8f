/**
 * The policy file (docs/policy-file.md): a JSON document holding networks, ports, security
 * groups (with embedded or flat rules), address groups and the compiling host's port map.
 *
 * Produces: a validated `Policy` with Neutron's defaults filled in and a `HostBinding`.
 * Invariant: a document that loads also normalises (`normalizePolicy` has run on it), and
 * every error is a POLICY_FILE error whose `path` is the JSON path of the offending field in
 * the document as written (e.g. `security_groups[1].security_group_rules[0].port_range_max`)
 * and whose reason lists the allowed values; `cause` keeps the underlying error code.
 */
import { SgflowError, type ErrorCode } from './errors.js';
import { normalizePolicy } from './policy.js';
import type {
  AddressGroup,
  HostBinding,
  Network,
  Policy,
  Port,
  SecurityGroup,
  SecurityGroupRule,
} from './types.js';
import {
  asObject,
  checkPortSecurity,
  joinPath,
  validateAddressGroupInput,
  validateGroupInput,
  validateNetworkInput,
  validatePortInput,
  validateRuleInput,
} from './validate.js';

export const DEFAULT_PROJECT_ID = 'default';

/** OpenFlow port numbers a local port may have (OVS: 1..0xfeff). */
export const OFPORT_MIN = 1;
export const OFPORT_MAX = 0xfeff;

const TOP_LEVEL = [
  'networks',
  'ports',
  'security_groups',
  'security_group_rules',
  'address_groups',
  'host',
  'description',
];

function fileError(path: string, reason: string, cause: ErrorCode = 'POLICY_FILE'): SgflowError {
  return new SgflowError('POLICY_FILE', { path: path || '(document)', reason, field: path, cause });
}

/** Turns any SgflowError into a POLICY_FILE error at its field's path. */
function asFileError(
  e: unknown,
  fallbackPath: string,
  renamePath?: (p: string) => string,
): unknown {
  if (!(e instanceof SgflowError) || e.code === 'POLICY_FILE') return e;
  let path = e.field === undefined || e.field === 'body' ? fallbackPath : e.field;
  if (renamePath) path = renamePath(path);
  let reason = e.message;
  if (e.code === 'SG_UNKNOWN_FIELD' && e.params['allowed'] !== undefined) {
    reason = `unknown field; allowed fields: ${String(e.params['allowed'])}`;
  } else if (e.code === 'SG_MISSING_FIELD') {
    reason = 'required field is missing';
  } else if (e.code === 'SG_INVALID_FIELD') {
    reason = String(e.params['reason']);
  }
  return fileError(path, reason, e.code);
}

function list(doc: Record<string, unknown>, name: string): unknown[] {
  const v = doc[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw fileError(name, `expected a JSON array, got ${JSON.stringify(v)}`);
  return v as unknown[];
}

function requireId(obj: { id?: string }, path: string): string {
  if (obj.id === undefined)
    throw fileError(joinPath(path, 'id'), 'required field is missing (a non-empty string)');
  return obj.id;
}

function readHost(value: unknown, portIds: ReadonlySet<string>): HostBinding {
  const host: HostBinding = { name: '', ofports: new Map(), uplinkOfport: null };
  if (value === undefined || value === null) return host;
  const o = asObject(value, 'host');
  const unknown = Object.keys(o).filter((k) => !['name', 'ofports', 'uplink_ofport'].includes(k));
  if (unknown.length > 0) {
    throw fileError(
      `host.${unknown[0]!}`,
      'unknown field; allowed fields: name, ofports, uplink_ofport',
    );
  }
  if (o['name'] !== undefined) {
    if (typeof o['name'] !== 'string') throw fileError('host.name', 'expected a string');
    host.name = o['name'];
  }
  const ofport = (v: unknown, path: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < OFPORT_MIN || v > OFPORT_MAX) {
      throw fileError(
        path,
        `${JSON.stringify(v)} is not an ofport; expected an integer ${OFPORT_MIN}-${OFPORT_MAX}`,
      );
    }
    return v;
  };
  if (o['uplink_ofport'] !== undefined && o['uplink_ofport'] !== null) {
    host.uplinkOfport = ofport(o['uplink_ofport'], 'host.uplink_ofport');
  }
  if (o['ofports'] !== undefined) {
    const m = asObject(o['ofports'], 'host.ofports');
    const used = new Map<number, string>();
    for (const [portId, v] of Object.entries(m)) {
      const path = `host.ofports[${JSON.stringify(portId)}]`;
      if (!portIds.has(portId)) {
        throw fileError(path, `port ${portId} is not defined in "ports"`, 'PORT_NOT_FOUND');
      }
      const n = ofport(v, path);
      if (n === host.uplinkOfport) throw fileError(path, `ofport ${n} is also the uplink_ofport`);
      const other = used.get(n);
      if (other !== undefined)
        throw fileError(path, `ofport ${n} is already used by port ${other}`);
      used.set(n, portId);
      host.ofports.set(portId, n);
    }
  }
  return host;
}

/** Validates a policy document; see loadPolicyDocument. */
export function validatePolicyDocument(json: unknown): Policy {
  return loadPolicyDocument(json).policy;
}

/**
 * Reads a policy document: validates every resource, fills Neutron's defaults (project_id
 * "default", port_security_enabled from the network, a port without `security_groups` gets
 * its project's group named "default" when the file defines one), gives embedded rules their
 * group, numbers rules without an id (`<group id>-rule-<n>`), checks every reference, and
 * returns the policy with the host's port map.
 */
export function loadPolicyDocument(json: unknown): { policy: Policy; host: HostBinding } {
  try {
    return load(json);
  } catch (e) {
    throw asFileError(e, '');
  }
}

function load(json: unknown): { policy: Policy; host: HostBinding } {
  // Flat index of a rule in the policy → its path in the document, for reference errors.
  const rulePaths: string[] = [];
  const doc = asObject(json, '');
  const unknown = Object.keys(doc).filter((k) => !TOP_LEVEL.includes(k));
  if (unknown.length > 0) {
    throw fileError(unknown[0]!, `unknown field; allowed fields: ${TOP_LEVEL.join(', ')}`);
  }

  if (doc['description'] !== undefined && typeof doc['description'] !== 'string') {
    throw fileError('description', 'expected a string');
  }

  const networks: Network[] = list(doc, 'networks').map((item, i) => {
    const path = `networks[${i}]`;
    const n = validateNetworkInput(item, path);
    return { ...n, id: requireId(n, path), project_id: n.project_id ?? DEFAULT_PROJECT_ID };
  });

  const address_groups: AddressGroup[] = list(doc, 'address_groups').map((item, i) => {
    const path = `address_groups[${i}]`;
    const g = validateAddressGroupInput(item, path);
    return { ...g, id: requireId(g, path), project_id: g.project_id ?? DEFAULT_PROJECT_ID };
  });

  const security_groups: SecurityGroup[] = [];
  const rawRules: { body: unknown; path: string; groupId?: string }[] = [];
  list(doc, 'security_groups').forEach((item, i) => {
    const path = `security_groups[${i}]`;
    const g = validateGroupInput(item, path);
    const id = requireId(g, path);
    security_groups.push({ ...g, id, project_id: g.project_id ?? DEFAULT_PROJECT_ID });
    const embedded = (item as Record<string, unknown>)['security_group_rules'];
    if (embedded === undefined || embedded === null) return;
    if (!Array.isArray(embedded)) {
      throw fileError(joinPath(path, 'security_group_rules'), 'expected a JSON array of rules');
    }
    (embedded as unknown[]).forEach((r, j) => {
      rawRules.push({ body: r, path: `${path}.security_group_rules[${j}]`, groupId: id });
    });
  });
  list(doc, 'security_group_rules').forEach((r, k) =>
    rawRules.push({ body: r, path: `security_group_rules[${k}]` }),
  );

  const groupProject = new Map(security_groups.map((g) => [g.id, g.project_id]));
  const perGroup = new Map<string, number>();
  const security_group_rules: SecurityGroupRule[] = rawRules.map(({ body, path, groupId }) => {
    let input = body;
    if (groupId !== undefined) {
      const o = asObject(body, path);
      if (o['security_group_id'] !== undefined && o['security_group_id'] !== groupId) {
        throw fileError(
          joinPath(path, 'security_group_id'),
          `a rule embedded in group ${groupId} must omit security_group_id or give ${JSON.stringify(groupId)}`,
        );
      }
      input = { ...o, security_group_id: groupId };
    }
    const r = validateRuleInput(input, path);
    const n = (perGroup.get(r.security_group_id) ?? 0) + 1;
    perGroup.set(r.security_group_id, n);
    rulePaths.push(path);
    return {
      ...r,
      id: r.id ?? `${r.security_group_id}-rule-${n}`,
      project_id: r.project_id ?? groupProject.get(r.security_group_id) ?? DEFAULT_PROJECT_ID,
    };
  });

  const networkById = new Map(networks.map((n) => [n.id, n]));
  const ports: Port[] = list(doc, 'ports').map((item, i) => {
    const path = `ports[${i}]`;
    const p = validatePortInput(item, path);
    const id = requireId(p, path);
    if (p.mac_address === undefined) {
      throw fileError(
        joinPath(path, 'mac_address'),
        'required field is missing (a unicast MAC like 02:00:00:00:01:01)',
      );
    }
    const net = networkById.get(p.network_id);
    if (net === undefined) {
      throw fileError(
        joinPath(path, 'network_id'),
        `network ${p.network_id} is not defined in "networks"`,
        'NETWORK_NOT_FOUND',
      );
    }
    const project = p.project_id ?? DEFAULT_PROJECT_ID;
    const portSecurity = p.port_security_enabled ?? net.port_security_enabled;
    let groups = p.security_groups;
    if (groups === undefined) {
      const dflt = security_groups.find((g) => g.name === 'default' && g.project_id === project);
      groups = dflt && portSecurity && p.fixed_ips.length > 0 ? [dflt.id] : [];
    }
    const port: Port = {
      ...p,
      id,
      project_id: project,
      mac_address: p.mac_address,
      security_groups: groups,
      port_security_enabled: portSecurity,
    };
    checkPortSecurity(port, path);
    return port;
  });

  const host = readHost(doc['host'], new Set(ports.map((p) => p.id)));
  for (const p of ports) {
    if (p['binding:host_id'] === '' && host.ofports.has(p.id)) p['binding:host_id'] = host.name;
  }

  const policy: Policy = { networks, ports, security_groups, security_group_rules, address_groups };
  try {
    normalizePolicy(policy);
  } catch (e) {
    throw asFileError(e, '', (p) =>
      p.replace(/^security_group_rules\[(\d+)\]/, (m, i: string) => rulePaths[Number(i)] ?? m),
    );
  }
  return { policy, host };
}
