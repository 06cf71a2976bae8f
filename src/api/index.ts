/**
 * The Neutron-compatible API server: `startServer` opens the store (a SQLite file unless one
 * is given), builds the app and listens; `close()` stops both.
 *
 * Invariant: a start-up problem the user can fix (a bad address, a port in use, a database
 * file that cannot be opened, an unreadable tokens file, a bad quota) is an SgflowError
 * naming the `sgflow server` flag behind it, and leaves nothing open.
 */
import { statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { SgflowError } from '../model/errors.js';
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
    throw new SgflowError('INVALID_OPTION', {
      field: '--listen',
      reason: `'${listen}' is not host:port with a port from 0 to 65535 (e.g. 127.0.0.1:9696, :9696, [::1]:9696)`,
    });
  }
  return { host: host || '127.0.0.1', port };
}

function authOptions(opts: ServerOptions): AuthOptions {
  const auth = opts.auth ?? 'noauth';
  if (typeof auth !== 'string') return auth;
  if (auth === 'noauth') return { mode: 'noauth' };
  if (auth === 'token') {
    if (opts.tokensFile === undefined) {
      throw new SgflowError('INVALID_OPTION', {
        field: '--tokens',
        reason: '--auth token needs a tokens file (JSON: token → {project_id, roles})',
      });
    }
    return { mode: 'token', tokensFile: opts.tokensFile };
  }
  throw new SgflowError('INVALID_OPTION', {
    field: '--auth',
    reason: `'${String(auth)}' is not one of noauth, token`,
  });
}

/** Opens the SQLite file, or says which `--db` cannot be used and why. */
function openStore(path: string): Store {
  const fail = (why: string): SgflowError =>
    new SgflowError('INVALID_OPTION', {
      field: '--db',
      reason: `cannot use ${path} as the database: ${why}`,
    });
  // Name the culprit when a parent of the file is a file: mkdir would only say EEXIST.
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    let st: Stats;
    try {
      st = statSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory()) throw fail(`${dir} is not a directory`);
    break;
  }
  try {
    return new SqliteStore({ path });
  } catch (err) {
    throw fail((err as Error).message);
  }
}

/** A failed listen (port in use, no such address, not allowed) as the `--listen` error. */
function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^E[A-Z_]+$/.test(code)) return err;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const reason =
    code === 'EADDRINUSE'
      ? `${where} is already in use (is another sgflow server running?)`
      : code === 'EACCES'
        ? `not allowed to listen on ${where} (ports below 1024 need privileges)`
        : code === 'EADDRNOTAVAIL'
          ? `${host} is not an address of this machine`
          : `cannot listen on ${where}: ${(err as Error).message}`;
  return new SgflowError('INVALID_OPTION', { field: '--listen', reason });
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const { host, port } = parseListen(opts.listen ?? DEFAULT_LISTEN);
  const auth = authOptions(opts);
  const ownStore = opts.store === undefined;
  const store = opts.store ?? openStore(opts.db ?? 'sgflow.db');
  let app: ReturnType<typeof buildApp> | undefined;
  try {
    app = buildApp({ store, auth, quotas: opts.quotas, logger: opts.logger });
    try {
      await app.listen({ host, port });
    } catch (err) {
      throw listenError(err, host, port);
    }
    const addr = app.server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : port;
    const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    const running = app;
    return {
      url: `http://${urlHost}:${actualPort}`,
      store,
      close: async () => {
        await running.close();
        if (ownStore) await store.close();
      },
    };
  } catch (err) {
    await app?.close();
    if (ownStore) await store.close();
    throw err;
  }
}

export { buildApp, type AppOptions } from './server.js';
export {
  DEFAULT_QUOTAS,
  QUOTA_MAX,
  QUOTA_MIN,
  QUOTA_RESOURCES,
  isQuotaResource,
  parseQuotaLimit,
  type Quotas,
} from './quotas.js';
export { loadTokensFile, parseTokens, type AuthOptions, type Role } from './auth.js';
