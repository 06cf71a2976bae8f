/**
 * The fastify application: TypeBox validation, authentication on every /v2.0 request, the
 * route files, the OpenAPI collector, and the one error handler that renders every failure
 * as Neutron's error body.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { SgflowError } from '../model/errors.js';
import type { Store } from '../store/index.js';
import { makeAuthenticator, type AuthOptions } from './auth.js';
import { defaultDeps, type App, type Quotas } from './deps.js';
import { renderError } from './errors.js';
import './fastify-types.js';
import { MethodIndex } from './methods.js';
import { OpenApiCollector } from './openapi.js';
import { addressGroupRoutes } from './routes/address-groups.js';
import { discoveryRoutes } from './routes/discovery.js';
import { networkRoutes } from './routes/networks.js';
import { portRoutes } from './routes/ports.js';
import { quotaRoutes } from './routes/quotas.js';
import { securityGroupRuleRoutes } from './routes/security-group-rules.js';
import { securityGroupRoutes } from './routes/security-groups.js';
import { tagRoutes } from './routes/tags.js';

export interface AppOptions {
  store: Store;
  auth?: AuthOptions;
  quotas?: Partial<Quotas>;
  /** fastify's (pino) logger option: false to silence, true or pino options to log. */
  logger?: FastifyServerOptions['logger'];
}

export function buildApp(opts: AppOptions): App {
  const app: App = Fastify({
    logger: opts.logger ?? { level: 'info' },
    // Neutron's request ids (`req-<uuid>`), echoed in X-Openstack-Request-Id and the logs.
    genReqId: () => `req-${randomUUID()}`,
    requestIdHeader: false,
    // Neutron ids and names may be long; keep fastify's default otherwise.
    routerOptions: { maxParamLength: 1024, ignoreTrailingSlash: true },
    // Errors fastify raises before routing (a malformed URL) get Neutron's body too.
    frameworkErrors: (err, _req, reply) => {
      const r = renderError(err);
      // This hook's reply is typed generically; it is an ordinary reply.
      const plain = reply as unknown as { code(status: number): { send(body: unknown): unknown } };
      plain.code(r.status).send(r.body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Neutron reads a request body as JSON whatever its Content-Type says (or when it has
  // none), so `curl -d '{...}'` (form-urlencoded) and bodies sent as text/plain work too.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body: string, done) => {
    if (body.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body) as unknown);
    } catch (err) {
      done(Object.assign(new Error((err as Error).message), { statusCode: 400 }), undefined);
    }
  });

  const deps = defaultDeps(opts.store, opts.quotas);
  const authenticate = makeAuthenticator(opts.auth ?? { mode: 'noauth' });
  const openapi = new OpenApiCollector();
  const methods = new MethodIndex();
  app.addHook('onRoute', openapi.onRoute);
  app.addHook('onRoute', methods.onRoute);

  app.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-openstack-request-id', req.id);
    done(null, payload);
  });

  app.decorateRequest('ctx', null as never);
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.routeOptions.config.public || req.is404) return done();
    try {
      req.ctx = authenticate(req.headers);
      done();
    } catch (err) {
      done(err as Error);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const r = renderError(err);
    if (r.internal) req.log.error({ err }, 'request failed');
    return reply.code(r.status).send(r.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allowed = methods.allowed(path);
    const e =
      allowed.length > 0
        ? new SgflowError('METHOD_NOT_ALLOWED', { method: req.method, allowed: allowed.join(', ') })
        : new SgflowError('RESOURCE_NOT_FOUND', { method: req.method, url: path });
    if (allowed.length > 0) void reply.header('allow', allowed.join(', '));
    const r = renderError(e);
    return reply.code(r.status).send(r.body);
  });

  discoveryRoutes(app);
  securityGroupRoutes(app, deps);
  securityGroupRuleRoutes(app, deps);
  networkRoutes(app, deps);
  portRoutes(app, deps);
  addressGroupRoutes(app, deps);
  tagRoutes(app, deps);
  quotaRoutes(app, deps);
  app.get(
    '/openapi.json',
    { config: { public: true, summary: 'This document', tag: 'discovery' } },
    () => openapi.document(),
  );
  return app;
}
