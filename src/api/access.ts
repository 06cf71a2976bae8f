/**
 * Project isolation and roles, the way Neutron's policy answers them: a caller sees its own
 * project's resources (and shared networks); an admin sees all; a resource the caller may
 * not see does not exist for it (404, never 403); a reader may not write (403).
 */
import { SgflowError, type ErrorCode } from '../model/errors.js';
import type { AnyResource, Kind, ResourceOf, StoreReader } from '../store/index.js';
import type { RequestContext } from './auth.js';

export const NOT_FOUND_ERROR: Record<Kind, ErrorCode> = {
  network: 'NETWORK_NOT_FOUND',
  port: 'PORT_NOT_FOUND',
  security_group: 'SG_NOT_FOUND',
  security_group_rule: 'SG_RULE_NOT_FOUND',
  address_group: 'ADDRESS_GROUP_NOT_FOUND',
};

export function notFound(kind: Kind, id: string): SgflowError {
  return new SgflowError(NOT_FOUND_ERROR[kind], { id });
}

export function canSee(ctx: RequestContext, kind: Kind, value: AnyResource): boolean {
  if (ctx.isAdmin || value.project_id === ctx.projectId) return true;
  return kind === 'network' && (value as ResourceOf<'network'>).shared;
}

/** May the caller change this resource (its own project, or admin)? */
export function canModify(ctx: RequestContext, value: AnyResource): boolean {
  return ctx.isAdmin || value.project_id === ctx.projectId;
}

/** The resource, if it exists and the caller may see it; else the kind's 404. */
export async function getVisible<K extends Kind>(
  reader: StoreReader,
  ctx: RequestContext,
  kind: K,
  id: string,
): Promise<ResourceOf<K>> {
  const value = await reader.get(kind, id);
  if (!value || !canSee(ctx, kind, value)) throw notFound(kind, id);
  return value;
}

/** The resource, if the caller may change it; 404 when it may not even see it. */
export async function getModifiable<K extends Kind>(
  reader: StoreReader,
  ctx: RequestContext,
  kind: K,
  id: string,
  action: string,
): Promise<ResourceOf<K>> {
  const value = await getVisible(reader, ctx, kind, id);
  if (!canModify(ctx, value)) {
    throw new SgflowError('POLICY_NOT_AUTHORIZED', { action });
  }
  return value;
}

export function requireWriter(ctx: RequestContext, action: string): void {
  if (!ctx.canWrite) throw new SgflowError('POLICY_NOT_AUTHORIZED', { action });
}

/**
 * The owner of a new resource: the caller's project, or the project the body names when the
 * caller is an admin.
 */
export function ownerProject(ctx: RequestContext, requested: string | undefined): string {
  if (requested === undefined || requested === ctx.projectId) return ctx.projectId;
  if (!ctx.isAdmin) throw new SgflowError('PROJECT_MISMATCH');
  return requested;
}

/** A list the caller may see. */
export async function listVisible<K extends Kind>(
  reader: StoreReader,
  ctx: RequestContext,
  kind: K,
): Promise<ResourceOf<K>[]> {
  if (ctx.isAdmin) return reader.list(kind);
  const own = await reader.list(kind, { project_id: ctx.projectId });
  if (kind !== 'network') return own;
  const shared = (await reader.list(kind, { shared: true })).filter(
    (n) => n.project_id !== ctx.projectId,
  );
  return [...own, ...shared].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
