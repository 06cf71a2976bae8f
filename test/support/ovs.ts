/**
 * A private Open vSwitch for one test file: its own run directory, ovsdb-server and a
 * userspace ovs-vswitchd (netdev datapath) inside its own network namespace, with one bridge
 * in `fail_mode=secure`.
 *
 * Invariant: everything a sandbox starts it also stops — by the pids in its own pidfiles,
 * never by process name — and every network namespace it (or a VM of it) created is deleted,
 * on `stop()`, on process exit, and on the next start if a previous test process died without
 * cleaning up. Every command runs through execFile with an argument vector: no shell strings.
 */
import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
/** Debian's scapy lives in the system python, not in a pyenv one that may shadow it. */
export const SYSTEM_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const DIR_PREFIX = 'sgf-ovs-';
const NETNS_PREFIX = 'sgf-';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface OvsSandbox {
  /** Private run/log/db directory. */
  readonly dir: string;
  /** Network namespace ovs-vswitchd runs in (the bridge's ports live here). */
  readonly netns: string;
  /** `unix:<dir>/db.sock` form is `dbRemote`; this is the bare socket path. */
  readonly dbSock: string;
  readonly dbRemote: string;
  readonly bridge: string;
  /** `unix:<dir>/<bridge>.mgmt`: the OpenFlow management socket. */
  readonly mgmt: string;
  /** OVS_RUNDIR / OVS_LOGDIR / OVS_DBDIR pointing at `dir`, on top of process.env. */
  readonly env: NodeJS.ProcessEnv;
  vsctl(...args: string[]): Promise<string>;
  /** `ovs-ofctl -O OpenFlow15 <args>`; use `ovs.mgmt` as the switch argument. */
  ofctl(...args: string[]): Promise<string>;
  appctl(...args: string[]): Promise<string>;
  /** Run a command inside the OVS namespace. */
  execInNetns(cmd: string, ...args: string[]): Promise<string>;
  /** Kill ovs-vswitchd and start it again on the same database (flows are lost). */
  restartVswitchd(): Promise<void>;
  /** Namespaces created for this sandbox (VMs); deleted on stop. */
  readonly ownedNetns: Set<string>;
  /** Make a fresh unique namespace name owned by this sandbox, for a VM. */
  newNetnsName(tag: string): string;
  /** Long-running helpers (servers, sniffers) started for this sandbox; killed on stop. */
  readonly children: Set<ChildProcess>;
  stop(): Promise<void>;
}

let counter = 0;
const live = new Set<OvsSandboxImpl>();
let hooksInstalled = false;

/** Run a command; reject with its stderr on a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<string> {
  return runRaw(cmd, args, opts).then((r) => {
    if (r.code !== 0) {
      throw new Error(
        `${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`,
      );
    }
    return r.stdout;
  });
}

/** Run a command and report its exit code instead of throwing. */
export function runRaw(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        let code = 0;
        if (err) {
          const e = err as NodeJS.ErrnoException & {
            code?: unknown;
            signal?: NodeJS.Signals | null;
          };
          code = typeof e.code === 'number' ? e.code : 127;
          if (e.signal) stderr = `${stderr}\n(killed by ${e.signal})`;
          if (typeof e.code === 'string') stderr = `${stderr}\n${e.message}`;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr), code });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** True while the process runs; a zombie (exited, not yet reaped by its parent) counts as gone. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function readPid(file: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** The pid in `<dir>/<daemon>.pid`, only if that process still runs with our dir on its command line. */
function ownedDaemonPid(dir: string, daemon: string): number | null {
  const pid = readPid(join(dir, `${daemon}.pid`));
  if (pid === null || !pidAlive(pid)) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(dir) ? pid : null;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function killSync(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function killAndWait(pid: number): Promise<void> {
  killSync(pid, 'SIGTERM');
  for (let i = 0; i < 40 && pidAlive(pid); i++) await sleep(50);
  if (pidAlive(pid)) {
    killSync(pid, 'SIGKILL');
    for (let i = 0; i < 40 && pidAlive(pid); i++) await sleep(50);
  }
}

function deleteNetnsSync(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

function listNetnsSync(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

/**
 * Remove what a dead test process left behind: run dirs and namespaces whose owning pid
 * (encoded in their names) no longer runs. Daemons are killed only by their own pidfile and
 * only when their command line names that dir.
 */
export function sweepLeftovers(): void {
  const tmp = tmpdir();
  let entries: string[];
  try {
    entries = readdirSync(tmp);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = /^sgf-ovs-(\d+)-/.exec(e);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || pidAlive(owner)) continue;
    const dir = join(tmp, e);
    for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
      const pid = ownedDaemonPid(dir, d);
      if (pid !== null) killSync(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
  for (const ns of listNetnsSync()) {
    // Only names this module makes: sgf-<pid>-<n> and sgf-<pid>-<n>-<vm>-<k>.
    const m = /^sgf-(\d+)-\d+(-.+-\d+)?$/.exec(ns);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || pidAlive(owner)) continue;
    deleteNetnsSync(ns);
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.stopSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const s of live) s.stopSync();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

class OvsSandboxImpl implements OvsSandbox {
  readonly dbSock: string;
  readonly dbRemote: string;
  readonly mgmt: string;
  readonly env: NodeJS.ProcessEnv;
  readonly ownedNetns = new Set<string>();
  readonly children = new Set<ChildProcess>();
  private stopped = false;
  private vmCounter = 0;

  constructor(
    readonly dir: string,
    readonly netns: string,
    readonly bridge: string,
  ) {
    this.dbSock = join(dir, 'db.sock');
    this.dbRemote = `unix:${this.dbSock}`;
    this.mgmt = `unix:${join(dir, `${bridge}.mgmt`)}`;
    this.env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  }

  newNetnsName(tag: string): string {
    const name = `${this.netns}-${tag.replace(/[^A-Za-z0-9_.-]/g, '_')}-${++this.vmCounter}`;
    this.ownedNetns.add(name);
    return name;
  }

  vsctl(...args: string[]): Promise<string> {
    return run('ovs-vsctl', [`--db=${this.dbRemote}`, '--timeout=20', ...args], { env: this.env });
  }

  ofctl(...args: string[]): Promise<string> {
    return run('ovs-ofctl', ['-O', 'OpenFlow15', ...args], { env: this.env });
  }

  appctl(...args: string[]): Promise<string> {
    const pid = ownedDaemonPid(this.dir, 'ovs-vswitchd');
    const target = pid !== null ? join(this.dir, `ovs-vswitchd.${pid}.ctl`) : 'ovs-vswitchd';
    return run('ovs-appctl', ['-t', target, ...args], { env: this.env });
  }

  execInNetns(cmd: string, ...args: string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.netns, cmd, ...args], { env: this.env });
  }

  async startDb(): Promise<void> {
    await run('ovsdb-tool', ['create', join(this.dir, 'conf.db'), OVS_SCHEMA], { env: this.env });
    await run(
      'ovsdb-server',
      [
        '--detach',
        '--no-chdir',
        '--pidfile',
        `--remote=punix:${this.dbSock}`,
        '--log-file',
        `--unixctl=${join(this.dir, 'ovsdb-server.ctl')}`,
        join(this.dir, 'conf.db'),
      ],
      { env: this.env },
    );
  }

  async startVswitchd(): Promise<void> {
    await run(
      'ip',
      [
        'netns',
        'exec',
        this.netns,
        'ovs-vswitchd',
        '--detach',
        '--no-chdir',
        '--pidfile',
        '--log-file',
        this.dbRemote,
      ],
      { env: this.env },
    );
  }

  async restartVswitchd(): Promise<void> {
    const pid = ownedDaemonPid(this.dir, 'ovs-vswitchd');
    if (pid !== null) await killAndWait(pid);
    await this.startVswitchd();
    // Wait until the bridge's management socket is back.
    for (let i = 0; i < 100; i++) {
      const r = await runRaw('ovs-ofctl', ['-O', 'OpenFlow15', 'show', this.mgmt], {
        env: this.env,
      });
      if (r.code === 0) return;
      await sleep(50);
    }
    throw new Error(`ovs-vswitchd did not come back on ${this.mgmt}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    this.killChildren();
    for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
      const pid = ownedDaemonPid(this.dir, d);
      if (pid !== null) await killAndWait(pid);
    }
    for (const ns of this.ownedNetns) deleteNetnsSync(ns);
    deleteNetnsSync(this.netns);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private killChildren(): void {
    for (const c of this.children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null)
        killSync(c.pid, 'SIGKILL');
    }
    this.children.clear();
  }

  /** Best-effort synchronous teardown for the process 'exit' hook. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    this.killChildren();
    for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
      const pid = ownedDaemonPid(this.dir, d);
      if (pid !== null) killSync(pid, 'SIGKILL');
    }
    for (const ns of this.ownedNetns) deleteNetnsSync(ns);
    deleteNetnsSync(this.netns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface StartOvsOptions {
  /** Tag that appears in the run dir name (debugging aid). */
  name?: string;
  bridge?: string;
}

/**
 * Start a private OVS with one netdev bridge in fail_mode=secure (no flows: drops all).
 * Call `stop()` in afterAll; a process exit hook also tears it down if a test dies.
 */
export async function startOvs(opts: StartOvsOptions = {}): Promise<OvsSandbox> {
  installHooks();
  sweepLeftovers();
  const bridge = opts.bridge ?? 'br-int';
  const tag = (opts.name ?? 'ovs').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 20);
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-${tag}-`));
  const netns = `${NETNS_PREFIX}${process.pid}-${++counter}`;
  const s = new OvsSandboxImpl(dir, netns, bridge);
  live.add(s);
  try {
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    // The bridge side of every VM veth lives here; keep its kernel stack from sending its
    // own IPv6 (RS, MLD, link-local ND) into the VMs.
    for (const scope of ['all', 'default']) {
      await run('ip', [
        'netns',
        'exec',
        netns,
        'sysctl',
        '-qw',
        `net.ipv6.conf.${scope}.disable_ipv6=1`,
      ]);
    }
    await s.startDb();
    await s.startVswitchd();
    await s.vsctl(
      'add-br',
      bridge,
      '--',
      'set',
      'bridge',
      bridge,
      'datapath_type=netdev',
      'fail_mode=secure',
      'protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15',
    );
    for (let i = 0; i < 100; i++) {
      const r = await runRaw('ovs-ofctl', ['-O', 'OpenFlow15', 'show', s.mgmt], { env: s.env });
      if (r.code === 0) break;
      await sleep(50);
    }
  } catch (e) {
    await s.stop();
    throw e;
  }
  return s;
}
