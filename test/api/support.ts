// Starts the real API server on loopback (port 0) over a real SQLite file in a private
// directory, and talks to it over HTTP with fetch.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../src/api/index.js';

export interface Reply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface TestServer {
  dir: string;
  db: string;
  server: RunningServer;
  url: string;
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Reply>;
  /** Sends a raw body (any string) with a JSON content type. */
  raw(
    method: string,
    path: string,
    body: string | undefined,
    headers?: Record<string, string>,
  ): Promise<Reply>;
  restart(opts?: Partial<ServerOptions>): Promise<void>;
  stop(): Promise<void>;
}

export function writeTokens(dir: string, tokens: Record<string, unknown>): string {
  const file = join(dir, 'tokens.json');
  writeFileSync(file, JSON.stringify(tokens));
  return file;
}

export async function startTestServer(
  opts: Partial<ServerOptions> = {},
  dir?: string,
): Promise<TestServer> {
  const own = dir ?? mkdtempSync(join(tmpdir(), 'sgflow-api-'));
  const db = join(own, 'sgflow.db');
  const base: ServerOptions = { db, listen: '127.0.0.1:0', logger: false, ...opts };
  let server: RunningServer;
  try {
    server = await startServer(base);
  } catch (err) {
    if (!dir) rmSync(own, { recursive: true, force: true });
    throw err;
  }
  const raw = async (
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<Reply> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
  const t: TestServer = {
    dir: own,
    db,
    server,
    get url() {
      return server.url;
    },
    call: (method, path, body, headers) =>
      raw(method, path, body === undefined ? undefined : JSON.stringify(body), headers),
    raw,
    restart: async (more = {}) => {
      await server.close();
      server = await startServer({ ...base, ...more });
      t.server = server;
    },
    stop: async () => {
      await server.close();
      if (!dir) rmSync(own, { recursive: true, force: true });
    },
  };
  return t;
}

/** A rule body with Neutron's required fields. */
export function rule(
  groupId: string,
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  return { security_group_id: groupId, direction: 'ingress', ...fields };
}
