/**
 * /v2.0/security-group-rules: create (one, or a bulk list as one all-or-nothing
 * transaction), list, show, delete. Rules are immutable: PUT is 405.
 *
 * Every field of Neutron's rule plus our source_port_range_min/max. The values are checked
 * by the model (validateRuleInput: Neutron's checks and error types); this file adds what
 * needs the store: the group and remotes exist and are visible, no duplicate (409 with the
 * existing rule's id), the quota.
 */
import { SgflowError } from '../../model/errors.js';
import {
  checkNoDuplicateRules,
  validateRuleInput,
  type SecurityGroupRuleInput,
} from '../../model/validate.js';
import type { StoreReader, StoredSecurityGroupRule } from '../../store/index.js';
import { getModifiable, getVisible, listVisible, ownerProject, requireWriter } from '../access.js';
import type { ApiDeps, App } from '../deps.js';
import { bumpGroups, collectionUrl, ifMatch } from '../http.js';
import { listResponse, selectFields } from '../list.js';
import { newRule } from '../projects.js';
import { checkQuota } from '../quotas.js';
import { DEFAULT_GROUP_NAME, renderRule } from '../render.js';
import { RESOURCES } from '../resources.js';
import * as S from '../schemas.js';
import { checkIfMatch, timestamp } from '../standard-attrs.js';

const res = RESOURCES.security_group_rule;
const tag = res.path;

async function isDefaultGroup(reader: StoreReader, groupId: string): Promise<boolean> {
  return (await reader.get('security_group', groupId))?.name === DEFAULT_GROUP_NAME;
}

export function securityGroupRuleRoutes(app: App, deps: ApiDeps): void {
  const { store } = deps;

  app.get(
    '/v2.0/security-group-rules',
    {
      config: {
        summary: 'List security group rules',
        tag,
        responses: { 200: S.collectionOf(res.collection, S.SecurityGroupRule) },
      },
      schema: { querystring: S.ListQuery },
    },
    async (req) => {
      const items = await store.read(async (reader) => {
        const rules = await listVisible(reader, req.ctx, 'security_group_rule');
        const defaults = new Set(
          (await reader.list('security_group', { name: DEFAULT_GROUP_NAME })).map((g) => g.id),
        );
        return rules.map((r) => renderRule(r, defaults.has(r.security_group_id)));
      });
      return listResponse(items, req.query, res, collectionUrl(req, res));
    },
  );

  app.get(
    '/v2.0/security-group-rules/:id',
    {
      config: {
        summary: 'Show a security group rule',
        tag,
        responses: { 200: S.envelope(res.singular, S.SecurityGroupRule) },
      },
      schema: { params: S.IdParams, querystring: S.ShowQuery },
    },
    async (req) => {
      const r = await getVisible(store, req.ctx, 'security_group_rule', req.params.id);
      const rendered = renderRule(r, await isDefaultGroup(store, r.security_group_id));
      return { security_group_rule: selectFields(rendered, req.query.fields) };
    },
  );

  app.post(
    '/v2.0/security-group-rules',
    {
      config: {
        summary:
          'Create a rule ({"security_group_rule": {...}}) or several at once ({"security_group_rules": [...]}, all or nothing)',
        tag,
        responses: {
          201: S.envelope(res.singular, S.SecurityGroupRule),
          409: S.NeutronError,
        },
      },
      schema: { body: S.SecurityGroupRuleCreateBody },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'create_security_group_rule');
      const { security_group_rule: one, security_group_rules: many } = req.body;
      if ((one === undefined) === (many === undefined)) {
        throw new SgflowError('BAD_REQUEST', {
          reason:
            "Unable to find 'security_group_rule' in request body (or 'security_group_rules' for a bulk create; give exactly one)",
        });
      }
      const bodies: unknown[] = many ?? [one];
      const inputs: SecurityGroupRuleInput[] = bodies.map((b, i) =>
        validateRuleInput(b, many ? `security_group_rules[${i}]` : ''),
      );
      const created = await store.transact(async (tx) => {
        const now = timestamp(deps.now());
        const groups = new Map<string, Awaited<ReturnType<typeof getVisible<'security_group'>>>>();
        for (const input of inputs) {
          ownerProject(ctx, input.project_id);
          if (!groups.has(input.security_group_id)) {
            groups.set(
              input.security_group_id,
              await getModifiable(
                tx,
                ctx,
                'security_group',
                input.security_group_id,
                'create_security_group_rule',
              ),
            );
          }
          if (input.remote_group_id !== null) {
            await getVisible(tx, ctx, 'security_group', input.remote_group_id);
          }
          if (input.remote_address_group_id !== null) {
            await getVisible(tx, ctx, 'address_group', input.remote_address_group_id);
          }
        }
        const existing: StoredSecurityGroupRule[] = [];
        for (const id of groups.keys()) {
          existing.push(...(await tx.list('security_group_rule', { security_group_id: id })));
        }
        checkNoDuplicateRules(inputs, existing);
        const perProject = new Map<string, number>();
        for (const input of inputs) {
          const p = groups.get(input.security_group_id)!.project_id;
          perProject.set(p, (perProject.get(p) ?? 0) + 1);
        }
        for (const [project, n] of perProject) {
          await checkQuota(tx, deps.quotas, 'security_group_rule', project, n);
        }
        const rules: StoredSecurityGroupRule[] = [];
        for (const input of inputs) {
          const { project_id: _p, security_group_id: _g, ...fields } = input;
          if (fields.id !== undefined && (await tx.get('security_group_rule', fields.id))) {
            throw new SgflowError('DUPLICATE_ID', { kind: 'Security group rule', id: fields.id });
          }
          const rule = newRule(deps, groups.get(input.security_group_id)!, fields, now);
          await tx.put('security_group_rule', rule);
          rules.push(rule);
        }
        await bumpGroups(tx, groups.keys(), now);
        return rules.map((r) =>
          renderRule(r, groups.get(r.security_group_id)!.name === DEFAULT_GROUP_NAME),
        );
      });
      return reply
        .code(201)
        .send(many ? { security_group_rules: created } : { security_group_rule: created[0] });
    },
  );

  app.put(
    '/v2.0/security-group-rules/:id',
    {
      config: {
        summary: 'Not allowed: rules are immutable (delete and create instead)',
        tag,
        responses: { 405: S.NeutronError },
      },
      schema: { params: S.IdParams },
    },
    async (_req, reply) => {
      void reply.header('allow', 'GET, DELETE');
      throw new SgflowError('METHOD_NOT_ALLOWED', {
        method: 'PUT',
        allowed: 'GET, DELETE (security group rules are immutable)',
      });
    },
  );

  app.delete(
    '/v2.0/security-group-rules/:id',
    {
      config: {
        summary: 'Delete a security group rule',
        tag,
        responses: { 204: { type: 'null' } },
      },
      schema: { params: S.IdParams },
    },
    async (req, reply) => {
      const ctx = req.ctx;
      requireWriter(ctx, 'delete_security_group_rule');
      await store.transact(async (tx) => {
        const r = await getModifiable(
          tx,
          ctx,
          'security_group_rule',
          req.params.id,
          'delete_security_group_rule',
        );
        checkIfMatch(ifMatch(req), r.revision_number);
        await tx.delete('security_group_rule', r.id);
        await bumpGroups(tx, [r.security_group_id], timestamp(deps.now()));
      });
      return reply.code(204).send();
    },
  );
}
