/**
 * The Neutron-compatible API server: `startServer` opens the store (a SQLite file unless one
 * is given), builds the app and listens; `close()` stops both.
 */
import { SqliteStore, type Store } from '../store/index.js';
import type { AuthOptions } from './auth.js';
import type { Quotas } from './deps.js';
import { buildApp, type AppOptions } from './server.js';

export interface ServerOptions {
  /** SQLite database file (default `sgflow.db`); ignored when `store` is given. */
  db?: string;
  /** An already open store (the caller keeps owning it: `close()` leaves it open). */
  store?: Store;
  /** `host:port`, `:port` or `port` (default `127.0.0.1:9696`, Neutron's port); port 0 = any. */
  listen?: string;
  /** `noauth` (default) or `token` (with `tokensFile`), as the CLI flags say; or in full. */
  auth?: AuthOptions | AuthOptions['mode'];
  /** Tokens file for `auth: 'token'` (`--tokens FILE`). */
  tokensFile?: string;
  quotas?: Partial<Quotas>;
  logger?: AppOptions['logger'];
}

export interface RunningServer {
  /** `http://host:port` the server answers on. */
  url: string;
  store: Store;
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = '127.0.0.1:9696';

/** Splits `host:port` / `[v6]:port` / `:port` / `port`. */
export function parseListen(listen: string): { host: string; port: number } {
  const text = listen.trim();
  let host = '';
  let portText = text;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (text.includes(':')) {
    const at = text.lastIndexOf(':');
    host = text.slice(0, at);
    portText = text.slice(at + 1);
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535) || (!v6 && host.includes(':')) || /\s/.test(host)) {
    throw new Error(
      `--listen: '${listen}' is not host:port (e.g. 127.0.0.1:9696, :9696, [::1]:9696)`,
    );
  }
  return { host: host || '127.0.0.1', port };
}

function authOptions(opts: ServerOptions): AuthOptions {
  const auth = opts.auth ?? 'noauth';
  if (typeof auth !== 'string') return auth;
  if (auth === 'noauth') return { mode: 'noauth' };
  if (auth === 'token') {
    if (opts.tokensFile === undefined) throw new Error('--auth token needs --tokens FILE');
    return { mode: 'token', tokensFile: opts.tokensFile };
  }
  throw new Error(`--auth: '${String(auth)}' is not one of noauth, token`);
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const { host, port } = parseListen(opts.listen ?? DEFAULT_LISTEN);
  const ownStore = opts.store === undefined;
  const store = opts.store ?? new SqliteStore({ path: opts.db ?? 'sgflow.db' });
  try {
    const app = buildApp({
      store,
      auth: authOptions(opts),
      quotas: opts.quotas,
      logger: opts.logger,
    });
    await app.listen({ host, port });
    const addr = app.server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : port;
    const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    return {
      url: `http://${urlHost}:${actualPort}`,
      store,
      close: async () => {
        await app.close();
        if (ownStore) await store.close();
      },
    };
  } catch (err) {
    if (ownStore) await store.close();
    throw err;
  }
}

export { buildApp, type AppOptions } from './server.js';
export { DEFAULT_QUOTAS, QUOTA_RESOURCES, type Quotas } from './quotas.js';
export { loadTokensFile, parseTokens, type AuthOptions, type Role } from './auth.js';
