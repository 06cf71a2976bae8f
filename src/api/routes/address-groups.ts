/**
 * /v2.0/address-groups: named sets of CIDRs a rule can name as its remote
 * (`remote_address_group_id`); addresses change through PUT .../add_addresses and
 * .../remove_addresses. A group that a rule names cannot be deleted.
 */
import { SgflowError } from '../../model/errors.js';
import { validateAddressGroupInput } from '../../model/validate.js';
import type { StoredAddressGroup } from '../../store/index.js';
import { getModifiable, getVisible, listVisible, ownerProject, requireWriter } from '../access.js';
import type { ApiDeps, App } from '../deps.js';
import { checkUpdatable, collectionUrl, ifMatch } from '../http.js';
import { listResponse, selectFields } from '../list.js';
import { renderAddressGroup } from '../render.js';
import { RESOURCES } from '../resources.js';
import * as S from '../schemas.js';
import { checkIfMatch, newAttrs, timestamp, touch } from '../standard-attrs.js';

const res = RESOURCES.address_group;
const tag = res.path;

export function addressGroupRoutes(app: App, deps: ApiDeps): void {
  const { store } = deps;

  app.get(
    '/v2.0/address-groups',
    {
      config: {
        summary: 'List address groups',
        tag,
        responses: { 200: S.collectionOf(res.collection, S.AddressGroup) },
      },
      schema: { querystring: S.ListQuery },
    },
    async (req) => {
      const items = (await listVisible(store, req.ctx, 'address_group')).map(renderAddressGroup);
      return listResponse(items, req.query, res, collectionUrl(req, res));
    },
  );

  app.get(
    '/v2.0/address-groups/:id',
    {
      config: {
        summary: 'Show an address group',
        tag,
        responses: { 200: S.envelope(res.singular, S.AddressGroup) },
      },
      schema: { params: S.IdParams, querystring: S.ShowQuery },
    },
    async (req) => {
      const a = await getVisible(store, req.ctx, 'address_group', req.params.id);
      return { address_group: selectFields(renderAddressGroup(a), req.query.fields) };
    },
  );

  app.post(
    '/v2.0/address-groups',
    {
      config: {
        summary: 'Create an address group',
        tag,
        responses: { 201: S.envelope(res.singular, S.AddressGroup) },
      },
      schema: { body: S.envelope(res.singular, S.AddressGroupCreate) },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'create_address_group');
      const input = validateAddressGroupInput(req.body.address_group);
      const project = ownerProject(ctx, input.project_id);
      const group = await store.transact(async (tx) => {
        const id = input.id ?? deps.newId();
        if (await tx.get('address_group', id)) {
          throw new SgflowError('DUPLICATE_ID', { kind: 'Address group', id });
        }
        const a: StoredAddressGroup = {
          id,
          project_id: project,
          name: input.name,
          addresses: input.addresses,
          ...newAttrs(timestamp(deps.now()), input.description),
        };
        await tx.put('address_group', a);
        return a;
      });
      return reply.code(201).send({ address_group: renderAddressGroup(group) });
    },
  );

  app.put(
    '/v2.0/address-groups/:id',
    {
      config: {
        summary: 'Update name or description',
        tag,
        responses: { 200: S.envelope(res.singular, S.AddressGroup) },
      },
      schema: { params: S.IdParams, body: S.envelope(res.singular, S.AddressGroupUpdate) },
    },
    async (req) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'update_address_group');
      const body = req.body.address_group as Record<string, unknown>;
      checkUpdatable(body, res);
      const group = await store.transact(async (tx) => {
        const a = await getModifiable(
          tx,
          ctx,
          'address_group',
          req.params.id,
          'update_address_group',
        );
        checkIfMatch(ifMatch(req), a.revision_number);
        const input = validateAddressGroupInput({
          name: a.name,
          description: a.description,
          addresses: a.addresses,
          ...body,
        });
        const next = touch(a, timestamp(deps.now()), {
          name: input.name,
          description: input.description,
        });
        await tx.put('address_group', next);
        return next;
      });
      return { address_group: renderAddressGroup(group) };
    },
  );

  for (const op of ['add', 'remove'] as const) {
    app.put(
      `/v2.0/address-groups/:id/${op}_addresses`,
      {
        config: {
          summary: `${op === 'add' ? 'Add' : 'Remove'} addresses ({"addresses": [CIDR, ...]})`,
          tag,
          responses: { 200: S.envelope(res.singular, S.AddressGroup) },
        },
        schema: { params: S.IdParams, body: S.AddressesBody },
      },
      async (req) => {
        const ctx = req.ctx;
        requireWriter(ctx, `${op}_addresses`);
        // The model canonicalises the CIDRs (10.0.0.5/8 → 10.0.0.0/8) and names a bad one.
        const wanted = validateAddressGroupInput({ addresses: req.body.addresses }).addresses;
        const group = await store.transact(async (tx) => {
          const a = await getModifiable(tx, ctx, 'address_group', req.params.id, `${op}_addresses`);
          checkIfMatch(ifMatch(req), a.revision_number);
          let addresses: string[];
          if (op === 'add') {
            const present = wanted.filter((w) => a.addresses.includes(w));
            if (present.length > 0) {
              throw new SgflowError('ADDRESSES_ALREADY_EXIST', {
                addresses: present.join(', '),
                id: a.id,
              });
            }
            addresses = [...a.addresses, ...wanted];
          } else {
            const missing = wanted.filter((w) => !a.addresses.includes(w));
            if (missing.length > 0) {
              throw new SgflowError('ADDRESSES_NOT_FOUND', {
                addresses: missing.join(', '),
                id: a.id,
              });
            }
            addresses = a.addresses.filter((x) => !wanted.includes(x));
          }
          const next = touch(a, timestamp(deps.now()), { addresses });
          await tx.put('address_group', next);
          return next;
        });
        return { address_group: renderAddressGroup(group) };
      },
    );
  }

  app.delete(
    '/v2.0/address-groups/:id',
    {
      config: {
        summary: 'Delete an address group (409 while a rule names it)',
        tag,
        responses: { 204: { type: 'null' }, 409: S.NeutronError },
      },
      schema: { params: S.IdParams },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'delete_address_group');
      await store.transact(async (tx) => {
        const a = await getModifiable(
          tx,
          ctx,
          'address_group',
          req.params.id,
          'delete_address_group',
        );
        checkIfMatch(ifMatch(req), a.revision_number);
        if ((await tx.list('security_group_rule', { remote_address_group_id: a.id })).length > 0) {
          throw new SgflowError('ADDRESS_GROUP_IN_USE', { id: a.id });
        }
        await tx.delete('address_group', a.id);
      });
      return reply.code(204).send();
    },
  );
}
