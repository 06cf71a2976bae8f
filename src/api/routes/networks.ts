/**
 * /v2.0/networks: enough of Neutron's networks for the agent: port security default,
 * sharing, the VLAN tag (`provider:segmentation_id`) and our per-network enforcement mode.
 * Sharing and provider attributes are admin-only, as in Neutron; a network with ports
 * cannot be deleted.
 */
import { SgflowError } from '../../model/errors.js';
import { validateNetworkInput } from '../../model/validate.js';
import type { StoredNetwork } from '../../store/index.js';
import type { RequestContext } from '../auth.js';
import { getModifiable, getVisible, listVisible, ownerProject, requireWriter } from '../access.js';
import type { ApiDeps, App } from '../deps.js';
import { checkUpdatable, collectionUrl, ifMatch } from '../http.js';
import { listResponse, selectFields } from '../list.js';
import { checkQuota } from '../quotas.js';
import { renderNetwork } from '../render.js';
import { RESOURCES } from '../resources.js';
import * as S from '../schemas.js';
import { checkIfMatch, newAttrs, timestamp, touch } from '../standard-attrs.js';

const res = RESOURCES.network;
const tag = res.path;
const ADMIN_ONLY = [
  'shared',
  'provider:network_type',
  'provider:segmentation_id',
  'provider:physical_network',
];

function checkAdminOnly(ctx: RequestContext, body: Record<string, unknown>, action: string): void {
  if (ctx.isAdmin) return;
  const field = ADMIN_ONLY.find(
    (f) => body[f] !== undefined && !(f === 'shared' && body[f] === false),
  );
  if (field) throw new SgflowError('POLICY_NOT_AUTHORIZED', { action: `${action}:${field}` });
}

export function networkRoutes(app: App, deps: ApiDeps): void {
  const { store } = deps;

  app.get(
    '/v2.0/networks',
    {
      config: {
        summary: 'List networks',
        tag,
        responses: { 200: S.collectionOf(res.collection, S.Network) },
      },
      schema: { querystring: S.ListQuery },
    },
    async (req) => {
      const items = (await listVisible(store, req.ctx, 'network')).map(renderNetwork);
      return listResponse(items, req.query, res, collectionUrl(req, res));
    },
  );

  app.get(
    '/v2.0/networks/:id',
    {
      config: {
        summary: 'Show a network',
        tag,
        responses: { 200: S.envelope(res.singular, S.Network) },
      },
      schema: { params: S.IdParams, querystring: S.ShowQuery },
    },
    async (req) => {
      const n = await getVisible(store, req.ctx, 'network', req.params.id);
      return { network: selectFields(renderNetwork(n), req.query.fields) };
    },
  );

  app.post(
    '/v2.0/networks',
    {
      config: {
        summary: 'Create a network',
        tag,
        responses: { 201: S.envelope(res.singular, S.Network) },
      },
      schema: { body: S.envelope(res.singular, S.NetworkCreate) },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'create_network');
      const body = req.body.network as Record<string, unknown>;
      checkAdminOnly(ctx, body, 'create_network');
      const input = validateNetworkInput(body);
      const project = ownerProject(ctx, input.project_id);
      const network = await store.transact(async (tx) => {
        await checkQuota(tx, deps.quotas, 'network', project, 1);
        const id = input.id ?? deps.newId();
        if (await tx.get('network', id))
          throw new SgflowError('DUPLICATE_ID', { kind: 'Network', id });
        const { id: _i, project_id: _p, ...fields } = input;
        const n: StoredNetwork = {
          id,
          project_id: project,
          ...fields,
          ...newAttrs(timestamp(deps.now()), req.body.network.description ?? ''),
        };
        if (typeof body['admin_state_up'] === 'boolean') {
          (n as StoredNetwork & { admin_state_up: boolean }).admin_state_up =
            body['admin_state_up'];
        }
        await tx.put('network', n);
        return n;
      });
      return reply.code(201).send({ network: renderNetwork(network) });
    },
  );

  app.put(
    '/v2.0/networks/:id',
    {
      config: {
        summary: 'Update a network',
        tag,
        responses: { 200: S.envelope(res.singular, S.Network) },
      },
      schema: { params: S.IdParams, body: S.envelope(res.singular, S.NetworkUpdate) },
    },
    async (req) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'update_network');
      const body = req.body.network as Record<string, unknown>;
      checkUpdatable(body, res);
      checkAdminOnly(ctx, body, 'update_network');
      const network = await store.transact(async (tx) => {
        const n = await getModifiable(tx, ctx, 'network', req.params.id, 'update_network');
        checkIfMatch(ifMatch(req), n.revision_number);
        const { description, admin_state_up, ...rest } = body;
        const input = validateNetworkInput({
          name: n.name,
          port_security_enabled: n.port_security_enabled,
          shared: n.shared,
          'provider:network_type': n['provider:network_type'] ?? null,
          'provider:segmentation_id': n['provider:segmentation_id'] ?? null,
          enforcement_mode: n.enforcement_mode ?? null,
          ...rest,
        });
        const changes: Partial<StoredNetwork> & { admin_state_up?: boolean } = {
          name: input.name,
          port_security_enabled: input.port_security_enabled,
          shared: input.shared,
          enforcement_mode: input.enforcement_mode ?? null,
        };
        if (typeof description === 'string') changes.description = description;
        if (typeof admin_state_up === 'boolean') changes.admin_state_up = admin_state_up;
        const next = touch(n, timestamp(deps.now()), changes);
        await tx.put('network', next);
        return next;
      });
      return { network: renderNetwork(network) };
    },
  );

  app.delete(
    '/v2.0/networks/:id',
    {
      config: {
        summary: 'Delete a network (409 while it has ports)',
        tag,
        responses: { 204: { type: 'null' }, 409: S.NeutronError },
      },
      schema: { params: S.IdParams },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'delete_network');
      await store.transact(async (tx) => {
        const n = await getModifiable(tx, ctx, 'network', req.params.id, 'delete_network');
        checkIfMatch(ifMatch(req), n.revision_number);
        if ((await tx.list('port', { network_id: n.id })).length > 0) {
          throw new SgflowError('NETWORK_IN_USE', { id: n.id });
        }
        await tx.delete('network', n.id);
      });
      return reply.code(204).send();
    },
  );
}
