/**
 * Small helpers the route files share: the URLs a response links to, the update-body check
 * (read-only vs unknown attributes), and the revision bump of a group whose rules changed.
 */
import type { FastifyRequest } from 'fastify';
import { SgflowError } from '../model/errors.js';
import type { StoreTx } from '../store/index.js';
import type { ApiResource } from './resources.js';
import { touch } from './standard-attrs.js';

/** `http://host:port`, as the client addressed us. */
export function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

export function collectionUrl(req: FastifyRequest, res: ApiResource): string {
  return `${baseUrl(req)}/v2.0/${res.path}`;
}

/**
 * Rejects fields an update may not set: a field of the resource that is not updatable is
 * "read-only" (Neutron's wording); anything else is unknown.
 */
export function checkUpdatable(body: Record<string, unknown>, res: ApiResource): void {
  const known = Object.keys(res.schema.properties);
  for (const key of Object.keys(body)) {
    if (res.updatable.includes(key)) continue;
    if (known.includes(key)) {
      throw new SgflowError('READ_ONLY_ATTRIBUTE', {
        field: key,
        allowed: res.updatable.join(', '),
      });
    }
    throw new SgflowError('SG_UNKNOWN_FIELD', { field: key });
  }
}

/** A group's revision moves when its rules change (Neutron bumps the parent). */
export async function bumpGroups(
  tx: StoreTx,
  groupIds: Iterable<string>,
  now: string,
): Promise<void> {
  for (const id of new Set(groupIds)) {
    const g = await tx.get('security_group', id);
    if (g) await tx.put('security_group', touch(g, now));
  }
}

export function ifMatch(req: FastifyRequest): string | string[] | undefined {
  return req.headers['if-match'];
}
