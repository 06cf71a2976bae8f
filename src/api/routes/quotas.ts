/**
 * /v2.0/quotas, Neutron's quota API (extensions `quotas` and `quota_details`): a project's
 * limits (its overrides over the server's defaults), the defaults, usage details, and the
 * admin's overrides: list, set (PUT, only the resources named), reset (DELETE). -1 means
 * unlimited.
 *
 * Access is Neutron's: anyone may read their own project's quotas; reading another
 * project's, listing, setting and resetting are for admins (403 otherwise: a quota is no
 * resource that "does not exist" for a caller).
 */
import { Type } from 'typebox';
import { SgflowError } from '../../model/errors.js';
import type { QuotaResource, StoredQuota } from '../../store/index.js';
import { PROJECT_RE, type RequestContext } from '../auth.js';
import type { ApiDeps, App } from '../deps.js';
import {
  QUOTA_MAX,
  QUOTA_MIN,
  QUOTA_RESOURCES,
  parseQuotaLimit,
  projectQuotas,
  quotaUsage,
  type Quotas,
} from '../quotas.js';
import * as S from '../schemas.js';

const tag = 'quotas';

const perResource = <T extends Parameters<typeof Type.Optional>[0]>(schema: () => T) =>
  Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, schema()])) as Record<QuotaResource, T>;

const Limit = () => Type.Integer({ minimum: QUOTA_MIN, description: '-1 = unlimited' });
const QuotaSet = Type.Object(perResource(Limit));
const QuotaEntry = Type.Object({
  ...perResource(Limit),
  project_id: Type.String(),
  tenant_id: Type.String(),
});
const Usage = () => Type.Object({ used: Type.Integer(), limit: Limit(), reserved: Type.Integer() });
const QuotaDetails = Type.Object(perResource(Usage));
const QuotaUpdate = Type.Object(
  {
    ...perResource(() =>
      Type.Optional(
        Type.Unknown({
          description: `new limit: an integer from ${QUOTA_MIN} (unlimited) to ${QUOTA_MAX}`,
        }),
      ),
    ),
    force: Type.Optional(Type.Boolean({ description: 'set the limit without checking usage' })),
    check_limit: Type.Optional(
      Type.Boolean({ description: 'refuse a limit below what the project already uses' }),
    ),
  },
  { additionalProperties: false },
);
const ProjectParams = Type.Object({ project_id: Type.String({ minLength: 1 }) });

/** Neutron's `get_quota` policy: your own project, or admin. */
function checkCanRead(ctx: RequestContext, projectId: string): void {
  if (!ctx.isAdmin && projectId !== ctx.projectId) {
    throw new SgflowError('POLICY_NOT_AUTHORIZED', { action: 'get_quota' });
  }
}

function requireAdmin(ctx: RequestContext, action: string): void {
  if (!ctx.isAdmin) throw new SgflowError('POLICY_NOT_AUTHORIZED', { action });
}

/** `GET /v2.0/quotas` entry: every limit, with the project it is for. */
function entry(projectId: string, quotas: Quotas) {
  return { ...quotas, project_id: projectId, tenant_id: projectId };
}

export function quotaRoutes(app: App, deps: ApiDeps): void {
  const { store } = deps;

  app.get(
    '/v2.0/quotas',
    {
      config: {
        summary: 'Projects with quotas of their own (admin)',
        tag,
        responses: { 200: Type.Object({ quotas: Type.Array(QuotaEntry) }) },
      },
    },
    async (req) => {
      requireAdmin(req.ctx, 'get_quota');
      const overrides = await store.list('quota');
      return {
        quotas: overrides.map((q) => entry(q.project_id, { ...deps.quotas, ...q.limits })),
      };
    },
  );

  app.post(
    '/v2.0/quotas',
    {
      config: {
        summary: 'Not supported (as in Neutron): set a project with PUT',
        tag,
        responses: { 501: S.NeutronError },
      },
    },
    () => {
      throw new SgflowError('NOT_IMPLEMENTED', {
        reason: 'POST requests are not supported on this resource.',
      });
    },
  );

  app.get(
    '/v2.0/quotas/tenant',
    {
      config: {
        summary: "The caller's project (Neutron's deprecated name)",
        tag,
        responses: { 200: Type.Object({ tenant: Type.Object({ tenant_id: Type.String() }) }) },
      },
    },
    (req) => ({ tenant: { tenant_id: req.ctx.projectId } }),
  );

  app.get(
    '/v2.0/quotas/project',
    {
      config: {
        summary: "The caller's project",
        tag,
        responses: { 200: Type.Object({ project: Type.Object({ project_id: Type.String() }) }) },
      },
    },
    (req) => ({ project: { project_id: req.ctx.projectId } }),
  );

  app.get(
    '/v2.0/quotas/:project_id',
    {
      config: {
        summary: "A project's quotas (-1 = unlimited)",
        tag,
        responses: { 200: Type.Object({ quota: QuotaSet }) },
      },
      schema: { params: ProjectParams },
    },
    async (req) => {
      checkCanRead(req.ctx, req.params.project_id);
      return { quota: await projectQuotas(store, deps.quotas, req.params.project_id) };
    },
  );

  app.get(
    '/v2.0/quotas/:project_id/default',
    {
      config: {
        summary: "The server's default quotas (a project without overrides has these)",
        tag,
        responses: { 200: Type.Object({ quota: QuotaSet }) },
      },
      schema: { params: ProjectParams },
    },
    (req) => {
      checkCanRead(req.ctx, req.params.project_id);
      return { quota: { ...deps.quotas } };
    },
  );

  app.get(
    '/v2.0/quotas/:project_id/details',
    {
      config: {
        summary: "A project's limits with what it uses (reserved is always 0)",
        tag,
        responses: { 200: Type.Object({ quota: QuotaDetails }) },
      },
      schema: { params: ProjectParams },
    },
    async (req) => {
      const projectId = req.params.project_id;
      if (!req.ctx.isAdmin && projectId !== req.ctx.projectId) {
        throw new SgflowError('ADMIN_REQUIRED', {
          reason: 'Only admin is authorized to access quotas for another tenant',
        });
      }
      const quota = await store.read(async (r) => {
        const limits = await projectQuotas(r, deps.quotas, projectId);
        const out: Record<string, { used: number; limit: number; reserved: number }> = {};
        for (const res of QUOTA_RESOURCES) {
          out[res] = { used: await quotaUsage(r, res, projectId), limit: limits[res], reserved: 0 };
        }
        return out;
      });
      return { quota };
    },
  );

  app.put(
    '/v2.0/quotas/:project_id',
    {
      config: {
        summary:
          "Set some of a project's quotas (admin); the others keep their value. -1 = unlimited",
        tag,
        responses: { 200: Type.Object({ quota: QuotaSet }) },
      },
      schema: {
        params: ProjectParams,
        body: Type.Object({ quota: QuotaUpdate }, { additionalProperties: false }),
      },
    },
    async (req) => {
      requireAdmin(req.ctx, 'update_quota');
      const projectId = req.params.project_id;
      if (!PROJECT_RE.test(projectId)) {
        throw new SgflowError('SG_INVALID_FIELD', {
          field: 'project_id',
          reason: `'${projectId}' is not a project id; expected 1-64 characters of [A-Za-z0-9_.-]`,
        });
      }
      const { force: _force, check_limit: checkLimit, ...given } = req.body.quota;
      const limits: Partial<Record<QuotaResource, number>> = {};
      for (const res of QUOTA_RESOURCES) {
        if (given[res] !== undefined) limits[res] = parseQuotaLimit(given[res], res);
      }
      const quota = await store.transact(async (tx) => {
        if (checkLimit === true) {
          for (const [res, limit] of Object.entries(limits) as [QuotaResource, number][]) {
            const used = await quotaUsage(tx, res, projectId);
            if (limit >= 0 && used > limit) {
              throw new SgflowError('QUOTA_BELOW_USAGE', { field: res, limit, used });
            }
          }
        }
        if (Object.keys(limits).length > 0) {
          const own = await tx.get('quota', projectId);
          const next: StoredQuota = {
            id: projectId,
            project_id: projectId,
            limits: { ...own?.limits, ...limits },
          };
          await tx.put('quota', next);
        }
        return projectQuotas(tx, deps.quotas, projectId);
      });
      return { quota };
    },
  );

  app.delete(
    '/v2.0/quotas/:project_id',
    {
      config: {
        summary: "Reset a project's quotas to the defaults (admin; 404 when it has none)",
        tag,
        responses: { 204: { type: 'null' }, 404: S.NeutronError },
      },
      schema: { params: ProjectParams },
    },
    async (req, reply) => {
      requireAdmin(req.ctx, 'delete_quota');
      const projectId = req.params.project_id;
      await store.transact(async (tx) => {
        if (!(await tx.get('quota', projectId))) {
          throw new SgflowError('QUOTA_NOT_FOUND', { project_id: projectId });
        }
        await tx.delete('quota', projectId);
      });
      return reply.code(204).send();
    },
  );
}
