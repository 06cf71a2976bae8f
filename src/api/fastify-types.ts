/** What sgflow adds to fastify's request and route config (declaration merging). */
import type { RequestContext } from './auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking; set for every /v2.0 request by the auth hook. */
    ctx: RequestContext;
  }
  interface FastifyContextConfig {
    /** One line for the OpenAPI document. */
    summary?: string;
    /** OpenAPI tag (the resource's URL segment). */
    tag?: string;
    /** Response bodies by status, for the OpenAPI document (serialisation is plain JSON). */
    responses?: Record<number, unknown>;
    /** Served without authentication (version discovery, the OpenAPI document). */
    public?: boolean;
  }
}

export {};
