/**
 * Quotas as Neutron keeps them: server-wide defaults (configurable, Neutron's own values
 * unless told otherwise) and per-project overrides kept in the store (`quota` setting), so
 * a project's limit is its override where it has one and the default elsewhere; -1 means
 * unlimited.
 *
 * Invariant: a create checks its project's limit and usage inside the writing transaction,
 * so concurrent creates cannot slip past a limit together, nor past one being lowered.
 */
import { SgflowError } from '../model/errors.js';
import type { QuotaResource, StoreReader, StoreTx, StoredQuota } from '../store/index.js';

/** The resources with quotas, in Neutron's names and order of the quota API. */
export const QUOTA_RESOURCES: readonly QuotaResource[] = [
  'network',
  'port',
  'security_group',
  'security_group_rule',
];

/** A limit per quota resource; -1 = unlimited. */
export type Quotas = Record<QuotaResource, number>;

/** Neutron's defaults (neutron.conf [quotas]). */
export const DEFAULT_QUOTAS: Quotas = {
  network: 100,
  port: 500,
  security_group: 10,
  security_group_rule: 100,
};

/** Neutron's bounds for a limit: -1 (unlimited) up to the database's largest integer. */
export const QUOTA_MIN = -1;
export const QUOTA_MAX = 2147483647;

export function isQuotaResource(name: string): name is QuotaResource {
  return (QUOTA_RESOURCES as readonly string[]).includes(name);
}

/**
 * A limit as Neutron's quota API takes it (`convert_to_int`, then the range -1..2^31-1): an
 * integer or its decimal string. Errors name `field`.
 */
export function parseQuotaLimit(value: unknown, field: string): number {
  const n =
    typeof value === 'string' && /^\s*[-+]?[0-9]+\s*$/.test(value)
      ? Number(value)
      : typeof value === 'number' && Number.isInteger(value)
        ? value
        : undefined;
  if (n === undefined) {
    throw new SgflowError('SG_INVALID_FIELD', {
      field,
      reason: `${typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value))} is not an integer`,
    });
  }
  if (n < QUOTA_MIN) {
    throw new SgflowError('SG_INVALID_FIELD', {
      field,
      reason: `'${n}' is too small - must be at least '${QUOTA_MIN}' (-1 = unlimited)`,
    });
  }
  if (n > QUOTA_MAX) {
    throw new SgflowError('SG_INVALID_FIELD', {
      field,
      reason: `'${n}' is too large - must be no larger than '${QUOTA_MAX}'`,
    });
  }
  return n;
}

/** Neutron's defaults with `overrides` applied, each checked; errors name the resource. */
export function quotasWith(overrides: Readonly<Record<string, unknown>> = {}): Quotas {
  const out = { ...DEFAULT_QUOTAS };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!isQuotaResource(name)) {
      throw new SgflowError('SG_INVALID_FIELD', {
        field: name,
        reason: `'${name}' has no quota; quota resources: ${QUOTA_RESOURCES.join(', ')}`,
      });
    }
    out[name] = parseQuotaLimit(value, name);
  }
  return out;
}

/** A project's stored overrides, if it has any. */
export async function quotaOverrides(
  reader: StoreReader,
  projectId: string,
): Promise<StoredQuota | undefined> {
  return reader.get('quota', projectId);
}

/** A project's limits: its overrides over the defaults. */
export async function projectQuotas(
  reader: StoreReader,
  defaults: Quotas,
  projectId: string,
): Promise<Quotas> {
  const own = await quotaOverrides(reader, projectId);
  return { ...defaults, ...own?.limits };
}

/** How many of `resource` the project owns. */
export async function quotaUsage(
  reader: StoreReader,
  resource: QuotaResource,
  projectId: string,
): Promise<number> {
  return (await reader.list(resource, { project_id: projectId })).length;
}

/** 409 OverQuota when `adding` more of `resource` would exceed the project's limit. */
export async function checkQuota(
  tx: StoreTx,
  defaults: Quotas,
  resource: QuotaResource,
  projectId: string,
  adding: number,
): Promise<void> {
  const limit = (await projectQuotas(tx, defaults, projectId))[resource];
  if (limit < 0) return;
  const used = await quotaUsage(tx, resource, projectId);
  if (used + adding > limit) throw new SgflowError('OVER_QUOTA', { resource });
}
