/** `sgflow server`: the Neutron-compatible API over the embedded SQLite store. */
import { startServer } from '../api/index.js';

export interface ServerCommandOptions {
  db: string;
  listen: string;
  auth: string;
  tokens?: string;
}

export async function runServer(opts: ServerCommandOptions): Promise<void> {
  const server = await startServer({
    db: opts.db,
    listen: opts.listen,
    auth: opts.auth === 'token' ? 'token' : 'noauth',
    tokensFile: opts.tokens,
  });
  process.stderr.write(`sgflow: API listening on ${server.url} (store: ${opts.db})\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
