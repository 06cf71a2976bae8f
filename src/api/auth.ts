/**
 * Who is asking: turns request headers into a `RequestContext` (project, roles) under one of
 * two modes.
 * - `noauth` (one machine, local use): every caller is an admin; the project is the
 *   `X-Project-Id` header, else the configured default project.
 * - `token`: a tokens file maps `X-Auth-Token` values to a project and roles
 *   (admin | member | reader); anything else is 401.
 *
 * Invariant: every /v2.0 request carries exactly one context; admin sees every project,
 * member reads and writes its own, reader only reads its own.
 */
import { readFileSync } from 'node:fs';
import { SgflowError } from '../model/errors.js';

export const ROLES = ['admin', 'member', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export interface RequestContext {
  projectId: string;
  roles: readonly Role[];
  isAdmin: boolean;
  canWrite: boolean;
}

export interface TokenEntry {
  project_id: string;
  roles: Role[];
}

export type TokenTable = ReadonlyMap<string, TokenEntry>;

export type AuthOptions =
  | { mode: 'noauth'; defaultProjectId?: string }
  | { mode: 'token'; tokensFile?: string; tokens?: Record<string, unknown> };

/** The project a `noauth` request belongs to when it names none. */
export const DEFAULT_PROJECT_ID = 'default';

/** What a project id may be (ids of the tokens file, X-Project-Id, the quota API). */
export const PROJECT_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function contextFor(projectId: string, roles: readonly Role[]): RequestContext {
  const isAdmin = roles.includes('admin');
  return { projectId, roles, isAdmin, canWrite: isAdmin || roles.includes('member') };
}

/** A problem with the tokens file: the `--tokens` flag's error, naming the file. */
function tokensError(reason: string): SgflowError {
  return new SgflowError('INVALID_OPTION', { field: '--tokens', reason });
}

/**
 * Parses a tokens document: `{ "<token>": { "project_id": "...", "roles": ["member"] } }`
 * (`roles` may also be a single role string). Throws naming the bad entry.
 */
export function parseTokens(doc: unknown, source = 'tokens'): TokenTable {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw tokensError(`${source}: expected a JSON object mapping tokens to {project_id, roles}`);
  }
  const table = new Map<string, TokenEntry>();
  for (const [token, raw] of Object.entries(doc)) {
    const where = `${source}: token '${token.slice(0, 4)}…'`;
    if (typeof raw !== 'object' || raw === null) throw tokensError(`${where}: expected an object`);
    const entry = raw as Record<string, unknown>;
    const project = entry['project_id'];
    if (typeof project !== 'string' || !PROJECT_RE.test(project)) {
      throw tokensError(`${where}: project_id must be 1-64 characters of [A-Za-z0-9_.-]`);
    }
    const rolesRaw = entry['roles'] ?? entry['role'];
    const roles = Array.isArray(rolesRaw) ? (rolesRaw as unknown[]) : [rolesRaw];
    for (const r of roles) {
      if (!ROLES.includes(r as Role)) {
        throw tokensError(`${where}: role ${JSON.stringify(r)} is not one of ${ROLES.join(', ')}`);
      }
    }
    table.set(token, { project_id: project, roles: roles as Role[] });
  }
  return table;
}

export function loadTokensFile(path: string): TokenTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw tokensError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw tokensError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseTokens(doc, path);
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export type Authenticator = (headers: Headers) => RequestContext;

export function makeAuthenticator(opts: AuthOptions): Authenticator {
  if (opts.mode === 'noauth') {
    const dflt = opts.defaultProjectId ?? DEFAULT_PROJECT_ID;
    return (headers) => {
      const project = header(headers, 'x-project-id')?.trim() || dflt;
      if (!PROJECT_RE.test(project)) {
        throw new SgflowError('SG_INVALID_FIELD', {
          field: 'X-Project-Id',
          reason: 'expected 1-64 characters of [A-Za-z0-9_.-]',
        });
      }
      return contextFor(project, ['admin']);
    };
  }
  let table: TokenTable;
  if (opts.tokens) table = parseTokens(opts.tokens);
  else if (opts.tokensFile) table = loadTokensFile(opts.tokensFile);
  else throw tokensError('token auth needs a tokens file (JSON: token → {project_id, roles})');
  return (headers) => {
    const token = header(headers, 'x-auth-token');
    if (!token) throw new SgflowError('NOT_AUTHENTICATED', { reason: 'no X-Auth-Token header' });
    const entry = table.get(token);
    if (!entry) throw new SgflowError('NOT_AUTHENTICATED', { reason: 'unknown token' });
    return contextFor(entry.project_id, entry.roles);
  };
}
