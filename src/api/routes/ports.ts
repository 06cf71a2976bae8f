/**
 * /v2.0/ports: what the agent enforces per port: MAC, fixed IPs, allowed address pairs,
 * security groups and port security, and the binding host. A port without security groups
 * given gets its project's default group (when port security is on and it has an address);
 * a port a network service owns (device_owner `network:*`, e.g. DHCP or a router) is
 * created without port security, as ML2 does. A generated MAC is Neutron's
 * fa:16:3e:xx:xx:xx. MACs and IPs are unique per network.
 */
import { SgflowError } from '../../model/errors.js';
import { checkPortSecurity, validatePortInput, type PortInput } from '../../model/validate.js';
import type { StoreTx, StoredNetwork, StoredPort } from '../../store/index.js';
import type { RequestContext } from '../auth.js';
import { getModifiable, getVisible, listVisible, ownerProject, requireWriter } from '../access.js';
import type { ApiDeps, App } from '../deps.js';
import { checkUpdatable, collectionUrl, ifMatch } from '../http.js';
import { listResponse, selectFields } from '../list.js';
import { ensureDefaultGroup } from '../projects.js';
import { checkQuota } from '../quotas.js';
import { renderPort } from '../render.js';
import { RESOURCES } from '../resources.js';
import * as S from '../schemas.js';
import { checkIfMatch, newAttrs, timestamp, touch } from '../standard-attrs.js';

const res = RESOURCES.port;
const tag = res.path;

/**
 * The checks that need the store: groups exist and belong to the port's project, all
 * stateful or all stateless; MAC and IPs free on the network.
 */
async function checkPortAgainstStore(
  tx: StoreTx,
  ctx: RequestContext,
  port: Omit<StoredPort, keyof ReturnType<typeof newAttrs>>,
): Promise<void> {
  const stateful = new Set<boolean>();
  for (const gid of port.security_groups) {
    const g = await getVisible(tx, ctx, 'security_group', gid);
    if (g.project_id !== port.project_id) throw new SgflowError('SG_NOT_FOUND', { id: gid });
    stateful.add(g.stateful);
  }
  if (stateful.size > 1) {
    throw new SgflowError('SG_MIXED_STATEFULNESS', {
      field: 'security_groups',
      port: port.id,
      groups: port.security_groups.join(', '),
    });
  }
  const others = (await tx.list('port', { network_id: port.network_id })).filter(
    (p) => p.id !== port.id,
  );
  if (others.some((p) => p.mac_address === port.mac_address)) {
    throw new SgflowError('MAC_IN_USE', {
      field: 'mac_address',
      net_id: port.network_id,
      mac: port.mac_address,
    });
  }
  const used = new Set(others.flatMap((p) => p.fixed_ips.map((f) => f.ip_address)));
  for (const f of port.fixed_ips) {
    if (used.has(f.ip_address)) {
      throw new SgflowError('IP_IN_USE', {
        field: 'fixed_ips',
        ip: f.ip_address,
        net_id: port.network_id,
      });
    }
  }
}

/** Neutron's trusted ports (`net.is_port_trusted`): owned by a network service. */
export function isTrustedDeviceOwner(deviceOwner: string): boolean {
  return deviceOwner.startsWith('network:');
}

async function freeMac(tx: StoreTx, deps: ApiDeps, networkId: string): Promise<string> {
  const used = new Set(
    (await tx.list('port', { network_id: networkId })).map((p) => p.mac_address),
  );
  for (;;) {
    const mac = deps.newMac();
    if (!used.has(mac)) return mac;
  }
}

/** The model's port input of a stored port, for re-validating it with an update applied. */
function inputOf(p: StoredPort): Record<string, unknown> {
  return {
    network_id: p.network_id,
    name: p.name,
    mac_address: p.mac_address,
    fixed_ips: p.fixed_ips,
    allowed_address_pairs: p.allowed_address_pairs,
    security_groups: p.security_groups,
    port_security_enabled: p.port_security_enabled,
    device_owner: p.device_owner,
    device_id: p.device_id,
    'binding:host_id': p['binding:host_id'],
    admin_state_up: p.admin_state_up ?? true,
  };
}

function portFields(input: PortInput) {
  return {
    name: input.name,
    fixed_ips: input.fixed_ips,
    allowed_address_pairs: input.allowed_address_pairs,
    device_owner: input.device_owner,
    device_id: input.device_id,
    'binding:host_id': input['binding:host_id'],
    admin_state_up: input.admin_state_up ?? true,
  };
}

/**
 * A port with an update applied, validated. Neutron (ML2) refuses to switch port security
 * off, or to take the addresses away, while the port keeps security groups the update does
 * not mention: 409 PortSecurityPortHasSecurityGroup (naming groups in the same update is
 * the 400 of checkPortSecurity).
 */
function validateUpdate(
  stored: Record<string, unknown>,
  update: Record<string, unknown>,
): PortInput {
  const merged = { ...stored, ...update };
  try {
    return validatePortInput(merged);
  } catch (e) {
    if (
      e instanceof SgflowError &&
      e.code === 'PORT_SECURITY_CONFLICT' &&
      !('security_groups' in update)
    ) {
      throw new SgflowError('PORT_SECURITY_HAS_GROUPS', {
        field: merged['port_security_enabled'] === false ? 'port_security_enabled' : 'fixed_ips',
      });
    }
    throw e;
  }
}

export function portRoutes(app: App, deps: ApiDeps): void {
  const { store } = deps;

  app.get(
    '/v2.0/ports',
    {
      config: {
        summary: 'List ports',
        tag,
        responses: { 200: S.collectionOf(res.collection, S.Port) },
      },
      schema: { querystring: S.ListQuery },
    },
    async (req) => {
      const items = (await listVisible(store, req.ctx, 'port')).map(renderPort);
      return listResponse(items, req.query, res, collectionUrl(req, res));
    },
  );

  app.get(
    '/v2.0/ports/:id',
    {
      config: { summary: 'Show a port', tag, responses: { 200: S.envelope(res.singular, S.Port) } },
      schema: { params: S.IdParams, querystring: S.ShowQuery },
    },
    async (req) => {
      const p = await getVisible(store, req.ctx, 'port', req.params.id);
      return { port: selectFields(renderPort(p), req.query.fields) };
    },
  );

  app.post(
    '/v2.0/ports',
    {
      config: {
        summary: 'Create a port',
        tag,
        responses: { 201: S.envelope(res.singular, S.Port) },
      },
      schema: { body: S.envelope(res.singular, S.PortCreate) },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'create_port');
      const input = validatePortInput(req.body.port);
      const project = ownerProject(ctx, input.project_id);
      const port = await store.transact(async (tx) => {
        const net: StoredNetwork = await getVisible(tx, ctx, 'network', input.network_id);
        await checkQuota(tx, deps.quotas, 'port', project, 1);
        const id = input.id ?? deps.newId();
        if (await tx.get('port', id)) throw new SgflowError('DUPLICATE_ID', { kind: 'Port', id });
        // ML2's port-security driver: a trusted port is never filtered, whatever it asks.
        const portSecurity = isTrustedDeviceOwner(input.device_owner)
          ? false
          : (input.port_security_enabled ?? net.port_security_enabled);
        let groups = input.security_groups;
        if (groups === undefined) {
          groups =
            portSecurity && input.fixed_ips.length > 0
              ? [(await ensureDefaultGroup(tx, deps, project)).id]
              : [];
        }
        checkPortSecurity({
          ...input,
          port_security_enabled: portSecurity,
          security_groups: groups,
        });
        const p: StoredPort = {
          id,
          project_id: project,
          network_id: net.id,
          mac_address: input.mac_address ?? (await freeMac(tx, deps, net.id)),
          security_groups: groups,
          port_security_enabled: portSecurity,
          status: 'DOWN',
          ...portFields(input),
          ...newAttrs(timestamp(deps.now()), req.body.port.description ?? ''),
        };
        await checkPortAgainstStore(tx, ctx, p);
        await tx.put('port', p);
        return p;
      });
      return reply.code(201).send({ port: renderPort(port) });
    },
  );

  app.put(
    '/v2.0/ports/:id',
    {
      config: {
        summary: 'Update a port',
        tag,
        responses: { 200: S.envelope(res.singular, S.Port) },
      },
      schema: { params: S.IdParams, body: S.envelope(res.singular, S.PortUpdate) },
    },
    async (req) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'update_port');
      const body = req.body.port as Record<string, unknown>;
      checkUpdatable(body, res);
      if (body['mac_address'] !== undefined && !ctx.isAdmin) {
        throw new SgflowError('POLICY_NOT_AUTHORIZED', { action: 'update_port:mac_address' });
      }
      const port = await store.transact(async (tx) => {
        const p = await getModifiable(tx, ctx, 'port', req.params.id, 'update_port');
        checkIfMatch(ifMatch(req), p.revision_number);
        const { description, ...rest } = body;
        const input = validateUpdate(inputOf(p), rest);
        const next = touch(p, timestamp(deps.now()), {
          ...portFields(input),
          mac_address: input.mac_address ?? p.mac_address,
          security_groups: input.security_groups ?? [],
          port_security_enabled: input.port_security_enabled ?? p.port_security_enabled,
          ...(typeof description === 'string' ? { description } : {}),
        });
        await checkPortAgainstStore(tx, ctx, next);
        await tx.put('port', next);
        return next;
      });
      return { port: renderPort(port) };
    },
  );

  app.delete(
    '/v2.0/ports/:id',
    {
      config: { summary: 'Delete a port', tag, responses: { 204: { type: 'null' } } },
      schema: { params: S.IdParams },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'delete_port');
      await store.transact(async (tx) => {
        const p = await getModifiable(tx, ctx, 'port', req.params.id, 'delete_port');
        checkIfMatch(ifMatch(req), p.revision_number);
        await tx.delete('port', p.id);
      });
      return reply.code(204).send();
    },
  );
}
