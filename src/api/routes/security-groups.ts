/**
 * /v2.0/security-groups: create, list, show, update, delete. Every project has a `default`
 * group (made on first use); a new group starts with Neutron's two egress rules; a group a
 * port uses cannot be deleted, nor switch between stateful and stateless.
 */
import { SgflowError } from '../../model/errors.js';
import { validateGroupInput } from '../../model/validate.js';
import type {
  StoreReader,
  StoredSecurityGroup,
  StoredSecurityGroupRule,
} from '../../store/index.js';
import type { RequestContext } from '../auth.js';
import { getModifiable, getVisible, listVisible, ownerProject, requireWriter } from '../access.js';
import type { ApiDeps, App } from '../deps.js';
import { bumpGroups, checkUpdatable, collectionUrl, ifMatch } from '../http.js';
import { listResponse, selectFields } from '../list.js';
import { defaultEgressRules, ensureDefaultGroup, ensureDefaultGroupExists } from '../projects.js';
import { checkQuota } from '../quotas.js';
import { DEFAULT_GROUP_NAME, renderGroup, type Rendered } from '../render.js';
import { RESOURCES } from '../resources.js';
import * as S from '../schemas.js';
import { checkIfMatch, newAttrs, timestamp, touch } from '../standard-attrs.js';

const res = RESOURCES.security_group;
const tag = res.path;

async function rulesByGroup(
  reader: StoreReader,
  ctx: RequestContext,
): Promise<Map<string, StoredSecurityGroupRule[]>> {
  const rules = await listVisible(reader, ctx, 'security_group_rule');
  const map = new Map<string, StoredSecurityGroupRule[]>();
  for (const r of rules) {
    const list = map.get(r.security_group_id) ?? [];
    list.push(r);
    map.set(r.security_group_id, list);
  }
  return map;
}

async function renderOne(reader: StoreReader, g: StoredSecurityGroup): Promise<Rendered> {
  return renderGroup(g, await reader.list('security_group_rule', { security_group_id: g.id }));
}

export function securityGroupRoutes(app: App, deps: ApiDeps): void {
  const { store } = deps;

  app.get(
    '/v2.0/security-groups',
    {
      config: {
        summary: 'List security groups',
        tag,
        responses: { 200: S.collectionOf(res.collection, S.SecurityGroup) },
      },
      schema: { querystring: S.ListQuery },
    },
    async (req) => {
      await ensureDefaultGroupExists(deps, req.ctx.projectId);
      // Groups and rules from one committed state: a rule written meanwhile shows in both
      // the group's rules and its revision_number, or in neither.
      const items = await store.read(async (r) => {
        const groups = await listVisible(r, req.ctx, 'security_group');
        const rules = await rulesByGroup(r, req.ctx);
        return groups.map((g) => renderGroup(g, rules.get(g.id) ?? []));
      });
      return listResponse(items, req.query, res, collectionUrl(req, res));
    },
  );

  app.get(
    '/v2.0/security-groups/:id',
    {
      config: {
        summary: 'Show a security group with its rules',
        tag,
        responses: { 200: S.envelope(res.singular, S.SecurityGroup) },
      },
      schema: {
        params: S.IdParams,
        querystring: S.ShowQuery,
      },
    },
    async (req) => {
      const rendered = await store.read(async (r) =>
        renderOne(r, await getVisible(r, req.ctx, 'security_group', req.params.id)),
      );
      return { security_group: selectFields(rendered, req.query.fields) };
    },
  );

  app.post(
    '/v2.0/security-groups',
    {
      config: {
        summary: 'Create a security group (with egress-any rules, as Neutron does)',
        tag,
        responses: { 201: S.envelope(res.singular, S.SecurityGroup) },
      },
      schema: {
        body: S.envelope(res.singular, S.SecurityGroupCreate),
      },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'create_security_group');
      const input = validateGroupInput(req.body.security_group);
      const project = ownerProject(ctx, input.project_id);
      if (input.name === DEFAULT_GROUP_NAME) throw new SgflowError('SG_DEFAULT_EXISTS');
      const rendered = await store.transact(async (tx) => {
        await ensureDefaultGroup(tx, deps, project);
        await checkQuota(tx, deps.quotas, 'security_group', project, 1);
        const id = input.id ?? deps.newId();
        if (await tx.get('security_group', id)) {
          throw new SgflowError('DUPLICATE_ID', { kind: 'Security group', id });
        }
        const now = timestamp(deps.now());
        const group: StoredSecurityGroup = {
          id,
          project_id: project,
          name: input.name,
          stateful: input.stateful,
          ...newAttrs(now, input.description),
        };
        await tx.put('security_group', group);
        const rules = defaultEgressRules(deps, group, now);
        for (const r of rules) await tx.put('security_group_rule', r);
        return renderGroup(group, rules);
      });
      return reply.code(201).send({ security_group: rendered });
    },
  );

  app.put(
    '/v2.0/security-groups/:id',
    {
      config: {
        summary: 'Update name, description or stateful (If-Match: revision_number=N)',
        tag,
        responses: { 200: S.envelope(res.singular, S.SecurityGroup) },
      },
      schema: {
        params: S.IdParams,
        body: S.envelope(res.singular, S.SecurityGroupUpdate),
      },
    },
    async (req) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'update_security_group');
      const body = req.body.security_group as Record<string, unknown>;
      checkUpdatable(body, res);
      const rendered = await store.transact(async (tx) => {
        const g = await getModifiable(
          tx,
          ctx,
          'security_group',
          req.params.id,
          'update_security_group',
        );
        checkIfMatch(ifMatch(req), g.revision_number);
        const input = validateGroupInput({
          name: g.name,
          description: g.description,
          stateful: g.stateful,
          ...body,
        });
        if (g.name === DEFAULT_GROUP_NAME && input.name !== g.name) {
          throw new SgflowError('SG_CANNOT_UPDATE_DEFAULT');
        }
        if (g.name !== DEFAULT_GROUP_NAME && input.name === DEFAULT_GROUP_NAME) {
          throw new SgflowError('SG_DEFAULT_EXISTS');
        }
        if (input.stateful !== g.stateful && (await groupInUse(tx, g.id))) {
          throw new SgflowError('SG_IN_USE', { id: g.id });
        }
        const next = touch(g, timestamp(deps.now()), {
          name: input.name,
          description: input.description,
          stateful: input.stateful,
        });
        await tx.put('security_group', next);
        return renderOne(tx, next);
      });
      return { security_group: rendered };
    },
  );

  app.delete(
    '/v2.0/security-groups/:id',
    {
      config: {
        summary: 'Delete a security group and its rules (409 while a port uses it)',
        tag,
        responses: { 204: { type: 'null' }, 409: S.NeutronError },
      },
      schema: { params: S.IdParams },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'delete_security_group');
      await store.transact(async (tx) => {
        const g = await getModifiable(
          tx,
          ctx,
          'security_group',
          req.params.id,
          'delete_security_group',
        );
        checkIfMatch(ifMatch(req), g.revision_number);
        if (g.name === DEFAULT_GROUP_NAME && !ctx.isAdmin) {
          throw new SgflowError('SG_CANNOT_REMOVE_DEFAULT');
        }
        if (await groupInUse(tx, g.id)) throw new SgflowError('SG_IN_USE', { id: g.id });
        for (const r of await tx.list('security_group_rule', { security_group_id: g.id })) {
          await tx.delete('security_group_rule', r.id);
        }
        // Rules elsewhere that name this group as their remote go with it (Neutron's cascade).
        const touched: string[] = [];
        for (const r of await tx.list('security_group_rule', { remote_group_id: g.id })) {
          await tx.delete('security_group_rule', r.id);
          touched.push(r.security_group_id);
        }
        await tx.delete('security_group', g.id);
        await bumpGroups(tx, touched, timestamp(deps.now()));
      });
      return reply.code(204).send();
    },
  );
}

/** Does any port use the group? */
export async function groupInUse(reader: StoreReader, groupId: string): Promise<boolean> {
  const ports = await reader.list('port');
  return ports.some((p) => p.security_groups.includes(groupId));
}
