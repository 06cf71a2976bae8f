/** `sgflow server`: the Neutron-compatible API over the embedded SQLite store. */
import { startServer, type Quotas } from '../api/index.js';
import { SgflowError } from '../model/errors.js';

export interface ServerCommandOptions {
  db: string;
  listen: string;
  auth: string;
  tokens?: string;
  /** Default quotas (`--quota resource=limit`); Neutron's for the resources not named. */
  quota?: Partial<Quotas>;
}

export async function runServer(opts: ServerCommandOptions): Promise<void> {
  if (opts.auth === 'token' && opts.tokens === undefined) {
    throw new SgflowError('INVALID_OPTION', {
      field: '--tokens',
      reason: '--auth token needs a tokens file (JSON: token → {project_id, roles})',
    });
  }
  const server = await startServer({
    db: opts.db,
    listen: opts.listen,
    auth: opts.auth === 'token' ? 'token' : 'noauth',
    tokensFile: opts.tokens,
    quotas: opts.quota ?? {},
  });
  process.stderr.write(`sgflow: API listening on ${server.url} (store: ${opts.db})\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
