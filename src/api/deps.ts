/**
 * What the route handlers share: the store, the default quotas, and the sources of time and
 * identity (injected so tests can pin them; the API layer is not pure, the defaults are the
 * real ones).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Store } from '../store/index.js';
import { quotasWith, type Quotas } from './quotas.js';

export type { Quotas } from './quotas.js';

export interface ApiDeps {
  store: Store;
  /** The limits of a project without overrides of its own. */
  quotas: Quotas;
  now: () => Date;
  newId: () => string;
  /** A random MAC in Neutron's base `fa:16:3e:00:00:00`. */
  newMac: () => string;
}

export function randomNeutronMac(): string {
  const b = randomBytes(3);
  return ['fa', '16', '3e', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export function defaultDeps(store: Store, quotas: Partial<Quotas> = {}): ApiDeps {
  return {
    store,
    quotas: quotasWith(quotas),
    now: () => new Date(),
    newId: () => randomUUID(),
    newMac: randomNeutronMac,
  };
}

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
