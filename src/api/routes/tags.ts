/**
 * Neutron's tag API on every resource: GET/PUT/DELETE /v2.0/<resource>/<id>/tags replaces,
 * reads or clears the whole set; PUT/GET/DELETE .../tags/<tag> adds, checks or removes one.
 * A tag change is a change of the resource (its revision_number moves).
 */
import { SgflowError } from '../../model/errors.js';
import type { Kind } from '../../store/index.js';
import { getModifiable, getVisible, requireWriter } from '../access.js';
import type { ApiDeps, App } from '../deps.js';
import { RESOURCE_LIST, type ApiResource } from '../resources.js';
import * as S from '../schemas.js';
import { timestamp, touch } from '../standard-attrs.js';

const MAX_TAG = 255;

function checkTag(tag: string, field: string): string {
  if (tag.length === 0 || tag.length > MAX_TAG || tag.includes(',')) {
    throw new SgflowError('SG_INVALID_FIELD', {
      field,
      reason: `'${tag.slice(0, 40)}' is not a valid tag; expected 1-${MAX_TAG} characters without ','`,
    });
  }
  return tag;
}

async function setTags(
  deps: ApiDeps,
  ctx: Parameters<typeof getModifiable>[1],
  res: ApiResource,
  id: string,
  change: (tags: string[]) => string[],
): Promise<string[]> {
  return deps.store.transact(async (tx) => {
    const kind: Kind = res.kind;
    const value = await getModifiable(tx, ctx, kind, id, `update_${res.singular}:tags`);
    const before = value.tags ?? [];
    const after = change(before);
    if (after.length !== before.length || after.some((t, i) => t !== before[i])) {
      await tx.put(kind, touch(value, timestamp(deps.now()), { tags: after }));
    }
    return after;
  });
}

export function tagRoutes(app: App, deps: ApiDeps): void {
  for (const res of RESOURCE_LIST) {
    const base = `/v2.0/${res.path}/:id/tags`;
    const tag = res.path;
    const Tags = S.TagsBody;

    app.get(
      base,
      {
        config: { summary: `Tags of a ${res.label}`, tag, responses: { 200: Tags } },
        schema: { params: S.IdParams },
      },
      async (req) => {
        const v = await getVisible(deps.store, req.ctx, res.kind, req.params.id);
        return { tags: v.tags ?? [] };
      },
    );

    app.put(
      base,
      {
        config: { summary: `Replace all tags of a ${res.label}`, tag, responses: { 200: Tags } },
        schema: { params: S.IdParams, body: Tags },
      },
      async (req) => {
        requireWriter(req.ctx, `update_${res.singular}:tags`);
        const wanted = [...new Set(req.body.tags.map((t, i) => checkTag(t, `tags[${i}]`)))];
        return { tags: await setTags(deps, req.ctx, res, req.params.id, () => wanted) };
      },
    );

    app.delete(
      base,
      {
        config: {
          summary: `Remove all tags of a ${res.label}`,
          tag,
          responses: { 204: { type: 'null' } },
        },
        schema: { params: S.IdParams },
      },
      async (req, reply) => {
        requireWriter(req.ctx, `update_${res.singular}:tags`);
        await setTags(deps, req.ctx, res, req.params.id, () => []);
        return reply.code(204).send();
      },
    );

    app.get(
      `${base}/:tag`,
      {
        config: {
          summary: `Check one tag of a ${res.label} (204 or 404)`,
          tag,
          responses: { 204: { type: 'null' } },
        },
        schema: { params: S.TagParams },
      },
      async (req, reply) => {
        const v = await getVisible(deps.store, req.ctx, res.kind, req.params.id);
        if (!(v.tags ?? []).includes(req.params.tag)) {
          throw new SgflowError('TAG_NOT_FOUND', {
            tag: req.params.tag,
            resource: res.singular,
            id: v.id,
          });
        }
        return reply.code(204).send();
      },
    );

    app.put(
      `${base}/:tag`,
      {
        config: {
          summary: `Add one tag to a ${res.label}`,
          tag,
          responses: { 201: { type: 'null' } },
        },
        schema: { params: S.TagParams },
      },
      async (req, reply) => {
        requireWriter(req.ctx, `update_${res.singular}:tags`);
        const t = checkTag(req.params.tag, 'tag');
        await setTags(deps, req.ctx, res, req.params.id, (tags) =>
          tags.includes(t) ? tags : [...tags, t],
        );
        return reply.code(201).send();
      },
    );

    app.delete(
      `${base}/:tag`,
      {
        config: {
          summary: `Remove one tag from a ${res.label}`,
          tag,
          responses: { 204: { type: 'null' } },
        },
        schema: { params: S.TagParams },
      },
      async (req, reply) => {
        requireWriter(req.ctx, `update_${res.singular}:tags`);
        const t = req.params.tag;
        await setTags(deps, req.ctx, res, req.params.id, (tags) => {
          if (!tags.includes(t)) {
            throw new SgflowError('TAG_NOT_FOUND', {
              tag: t,
              resource: res.singular,
              id: req.params.id,
            });
          }
          return tags.filter((x) => x !== t);
        });
        return reply.code(204).send();
      },
    );
  }
}
