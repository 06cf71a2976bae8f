/**
 * Version and capability discovery: GET / (versions), GET /v2.0/ (resources),
 * GET /v2.0/extensions[/<alias>].
 */
import { Type } from 'typebox';
import { SgflowError } from '../../model/errors.js';
import type { App } from '../deps.js';
import { EXTENSIONS } from '../extensions.js';
import { baseUrl } from '../http.js';
import { RESOURCE_LIST } from '../resources.js';

const Link = Type.Object({ href: Type.String(), rel: Type.String() });
const Versions = Type.Object({
  versions: Type.Array(
    Type.Object({ id: Type.String(), status: Type.String(), links: Type.Array(Link) }),
  ),
});
const Extension = Type.Object({
  alias: Type.String(),
  name: Type.String(),
  description: Type.String(),
  updated: Type.String(),
  links: Type.Array(Link),
});

export function discoveryRoutes(app: App): void {
  app.get(
    '/',
    {
      config: {
        public: true,
        summary: 'API versions',
        tag: 'discovery',
        responses: { 200: Versions },
      },
    },
    (req) => ({
      versions: [
        { id: 'v2.0', status: 'CURRENT', links: [{ href: `${baseUrl(req)}/v2.0/`, rel: 'self' }] },
      ],
    }),
  );

  const resources = (req: Parameters<typeof baseUrl>[0]) => ({
    resources: RESOURCE_LIST.map((r) => ({
      name: r.singular,
      collection: r.collection,
      links: [{ href: `${baseUrl(req)}/v2.0/${r.path}`, rel: 'self' }],
    })),
  });
  app.get('/v2.0/', { config: { summary: 'Resources of API v2.0', tag: 'discovery' } }, resources);

  app.get(
    '/v2.0/extensions',
    {
      config: {
        summary: 'Extensions (includes security-groups-source-port-range)',
        tag: 'discovery',
        responses: { 200: Type.Object({ extensions: Type.Array(Extension) }) },
      },
    },
    () => ({ extensions: EXTENSIONS }),
  );

  app.get(
    '/v2.0/extensions/:alias',
    {
      config: {
        summary: 'One extension',
        tag: 'discovery',
        responses: { 200: Type.Object({ extension: Extension }) },
      },
      schema: { params: Type.Object({ alias: Type.String() }) },
    },
    (req) => {
      const e = EXTENSIONS.find((x) => x.alias === req.params.alias);
      if (!e) throw new SgflowError('RESOURCE_NOT_FOUND', { method: 'GET', url: req.url });
      return { extension: e };
    },
  );
}
