/**
 * A private ovsdb-server (no ovs-vswitchd) for the OVSDB client tests: its own directory,
 * database file and socket, and a restart on the same file and socket.
 *
 * Invariant: only the process in our own pidfile is ever signalled; stop() removes the dir.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OVS_SCHEMA, run } from '../support/ovs.js';

export class PrivateOvsdb {
  readonly dbFile: string;
  readonly sock: string;
  readonly ctl: string;
  readonly env: NodeJS.ProcessEnv;
  private extraRemotes: string[] = [];

  private constructor(readonly dir: string) {
    this.dbFile = join(dir, 'conf.db');
    this.sock = join(dir, 'db.sock');
    this.ctl = join(dir, 'ovsdb-server.ctl');
    this.env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  }

  get remote(): string {
    return `unix:${this.sock}`;
  }

  static async start(opts: { remotes?: string[] } = {}): Promise<PrivateOvsdb> {
    const s = new PrivateOvsdb(mkdtempSync(join(tmpdir(), `sgf-ovsdb-${process.pid}-`)));
    s.extraRemotes = opts.remotes ?? [];
    await run('ovsdb-tool', ['create', s.dbFile, OVS_SCHEMA], { env: s.env });
    await s.launch();
    return s;
  }

  private async launch(): Promise<void> {
    await run(
      'ovsdb-server',
      [
        '--detach',
        '--no-chdir',
        `--pidfile=${join(this.dir, 'ovsdb-server.pid')}`,
        `--log-file=${join(this.dir, 'ovsdb-server.log')}`,
        '-vjsonrpc:file:dbg',
        `--unixctl=${this.ctl}`,
        `--remote=punix:${this.sock}`,
        ...this.extraRemotes.map((r) => `--remote=${r}`),
        this.dbFile,
      ],
      { env: this.env },
    );
  }

  private pid(): number | null {
    try {
      const pid = Number.parseInt(readFileSync(join(this.dir, 'ovsdb-server.pid'), 'utf8'), 10);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(this.dir) ? pid : null;
    } catch {
      return null;
    }
  }

  /** SIGTERM our ovsdb-server and wait until it is gone. */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid === null) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && this.pid() === pid; i++) await new Promise((r) => setTimeout(r, 20));
  }

  /** Start ovsdb-server again on the same database file and socket. */
  restart(): Promise<void> {
    return this.launch();
  }

  vsctl(...args: string[]): Promise<string> {
    return run('ovs-vsctl', [`--db=${this.remote}`, '--no-wait', '--timeout=20', ...args], {
      env: this.env,
    }).then((s) => s.trim());
  }

  /** Run a transaction on the database file directly (the server must be stopped). */
  offlineTransact(ops: unknown[]): Promise<string> {
    return run('ovsdb-tool', ['transact', this.dbFile, JSON.stringify(['Open_vSwitch', ...ops])], {
      env: this.env,
    });
  }

  appctl(...args: string[]): Promise<string> {
    return run('ovs-appctl', ['-t', this.ctl, ...args], { env: this.env });
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'ovsdb-server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
