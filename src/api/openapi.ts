/**
 * GET /openapi.json: the OpenAPI 3.1 document, generated from the routes as registered, so
 * it shows exactly the schemas fastify validates with (TypeBox emits JSON Schema).
 *
 * Invariant: one entry per (method, path) registered; nothing is written by hand here.
 */
import type { RouteOptions } from 'fastify';
import { NeutronError } from './schemas.js';

interface Operation {
  summary?: string;
  tags?: string[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

function pathOf(url: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = url.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path, params };
}

function queryParameters(schema: unknown): unknown[] {
  const s = schema as
    { properties?: Record<string, unknown>; additionalProperties?: unknown } | undefined;
  if (!s?.properties) return [];
  const out: unknown[] = Object.entries(s.properties).map(([name, sch]) => ({
    name,
    in: 'query',
    required: false,
    schema: sch,
  }));
  if (s.additionalProperties) {
    out.push({
      name: 'filters',
      in: 'query',
      description: 'Any other parameter filters on the field of that name (repeat for OR)',
      style: 'form',
      explode: true,
      schema: { type: 'object', additionalProperties: s.additionalProperties },
    });
  }
  return out;
}

export class OpenApiCollector {
  private readonly paths: Record<string, Record<string, Operation>> = {};

  onRoute = (route: RouteOptions): void => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const { path, params } = pathOf(route.url ?? '');
    if (path === '/openapi.json' || route.url === undefined) return;
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    const config = (route.config ?? {}) as {
      summary?: string;
      tag?: string;
      responses?: Record<number, unknown>;
    };
    for (const m of methods) {
      const method = m.toLowerCase();
      if (method === 'head') continue;
      const op: Operation = { responses: {} };
      if (config.summary) op.summary = config.summary;
      if (config.tag) op.tags = [config.tag];
      const parameters = [
        ...params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        ...queryParameters(schema['querystring']),
      ];
      if (parameters.length) op.parameters = parameters;
      if (schema['body']) {
        op.requestBody = {
          required: true,
          content: { 'application/json': { schema: schema['body'] } },
        };
      }
      for (const [status, body] of Object.entries(config.responses ?? { 200: {} })) {
        const isEmpty = (body as { type?: string }).type === 'null';
        op.responses[status] = isEmpty
          ? { description: 'No content' }
          : { description: 'OK', content: { 'application/json': { schema: body } } };
      }
      op.responses['default'] = {
        description: 'Neutron error',
        content: { 'application/json': { schema: NeutronError } },
      };
      (this.paths[path] ??= {})[method] = op;
    }
  };

  document(): unknown {
    return {
      openapi: '3.1.0',
      info: {
        title: 'sgflow — Neutron-compatible security group API',
        version: '2.0',
        description:
          'OpenStack Networking v2.0 security groups, rules, ports, networks and address groups, plus source port ranges on rules (extension security-groups-source-port-range).',
      },
      paths: this.paths,
    };
  }
}
