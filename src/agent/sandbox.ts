/**
 * A throw-away Open vSwitch for `sgflow up --sandbox` (and the agent's end-to-end tests): a
 * private run directory with its own ovsdb-server, a userspace ovs-vswitchd (netdev
 * datapath, conntrack without a kernel module) inside its own network namespace, one bridge,
 * and "VMs": network namespaces plugged into the bridge through veth pairs whose OVS side
 * carries `external_ids:iface-id` (the logical port id) and `attached-mac`.
 *
 * Invariant: everything the sandbox starts it stops — daemons by the pids in its own
 * pidfiles (checked against their command line), namespaces by the names it made — on
 * `stop()`, and best-effort on process exit. Commands run through execFile with argument
 * vectors, never through a shell. Names carry the owning pid (`sgf-ovs-<pid>-…` dirs,
 * `sgf-<pid>-…` namespaces), the convention the test sandbox uses to sweep leftovers.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface SandboxVmOptions {
  /** Short tag used in names (letters, digits). */
  name: string;
  /** The logical port id (`iface-id`). */
  portId: string;
  mac: string;
  /** IPv4 address with prefix, e.g. 10.1.0.11/16. */
  ipv4?: string;
  /** IPv6 address with prefix, e.g. fd00:1::11/64. */
  ipv6?: string;
}

export interface SandboxVm {
  readonly name: string;
  readonly portId: string;
  /** The VM's network namespace. */
  readonly netns: string;
  /** The veth end on the bridge (inside the OVS namespace). */
  readonly bridgeIface: string;
  readonly mac: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** Runs a command inside the VM; resolves with its exit code and output. */
  exec(cmd: string, ...args: string[]): Promise<RunResult>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runRaw(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 30_000,
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        let code = 0;
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: unknown; signal?: unknown };
          code = typeof e.code === 'number' ? e.code : 127;
          if (typeof e.code === 'string' || e.signal) stderr = `${String(stderr)}\n${e.message}`;
        }
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

async function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await runRaw(cmd, args, env);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
  return r.stdout;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in `<dir>/<daemon>.pid`, only if it still runs with `dir` on its command line. */
function ownedDaemonPid(dir: string, daemon: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, `${daemon}.pid`), 'utf8').trim(), 10);
    if (!(pid > 0) || !pidAlive(pid)) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) ? pid : null;
  } catch {
    return null;
  }
}

async function killAndWait(pid: number): Promise<void> {
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  };
  kill('SIGTERM');
  for (let i = 0; i < 40 && pidAlive(pid); i++) await sleep(50);
  if (pidAlive(pid)) kill('SIGKILL');
  for (let i = 0; i < 40 && pidAlive(pid); i++) await sleep(50);
}

/**
 * Removes what a sandbox of a dead process left behind (kill -9): run directories and
 * namespaces whose owner pid (in their names) no longer runs; daemons only by their own
 * pidfile and only if their command line names that directory.
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
      if (pid !== null) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  let names: string[];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '');
  } catch {
    return;
  }
  for (const ns of names) {
    const m = /^sgf-(\d+)-/.exec(ns);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || pidAlive(owner)) continue;
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
}

let counter = 0;
const live = new Set<OvsSandbox>();
let hooked = false;

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const s of live) s.stopSync();
  });
}

export interface StartSandboxOptions {
  bridge?: string;
  /** Tag in the run directory's name. */
  name?: string;
}

export class OvsSandbox {
  readonly dbSock: string;
  readonly dbRemote: string;
  /** `unix:<dir>/<bridge>.mgmt`, the bridge's OpenFlow management socket. */
  readonly mgmt: string;
  readonly env: NodeJS.ProcessEnv;
  readonly vms = new Map<string, SandboxVm>();
  private readonly netnsOwned = new Set<string>();
  private stopped = false;
  private vmCounter = 0;

  private constructor(
    readonly dir: string,
    readonly netns: string,
    readonly bridge: string,
  ) {
    this.dbSock = join(dir, 'db.sock');
    this.dbRemote = `unix:${this.dbSock}`;
    this.mgmt = `unix:${join(dir, `${bridge}.mgmt`)}`;
    this.env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  }

  static async start(opts: StartSandboxOptions = {}): Promise<OvsSandbox> {
    installExitHook();
    sweepLeftovers();
    const bridge = opts.bridge ?? 'br-int';
    const tag = (opts.name ?? 'sandbox').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 20);
    const dir = mkdtempSync(join(tmpdir(), `sgf-ovs-${process.pid}-${tag}-`));
    const netns = `sgf-${process.pid}-box${++counter}`;
    const s = new OvsSandbox(dir, netns, bridge);
    live.add(s);
    try {
      await run('ip', ['netns', 'add', netns]);
      s.netnsOwned.add(netns);
      await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      await run('ovsdb-tool', ['create', join(dir, 'conf.db'), OVS_SCHEMA], s.env);
      await run(
        'ovsdb-server',
        [
          '--detach',
          '--no-chdir',
          '--pidfile',
          `--remote=punix:${s.dbSock}`,
          '--log-file',
          `--unixctl=${join(dir, 'ovsdb-server.ctl')}`,
          join(dir, 'conf.db'),
        ],
        s.env,
      );
      await s.vsctl('--no-wait', 'init');
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
      await s.waitForMgmt();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  vsctl(...args: string[]): Promise<string> {
    return run('ovs-vsctl', [`--db=${this.dbRemote}`, '--timeout=20', ...args], this.env);
  }

  ofctl(...args: string[]): Promise<string> {
    return run('ovs-ofctl', ['-O', 'OpenFlow15', ...args], this.env);
  }

  appctl(...args: string[]): Promise<string> {
    const pid = ownedDaemonPid(this.dir, 'ovs-vswitchd');
    const target = join(this.dir, `ovs-vswitchd.${pid ?? 0}.ctl`);
    return run('ovs-appctl', ['-t', target, ...args], this.env);
  }

  /** The pid of the running ovs-vswitchd, if any. */
  vswitchdPid(): number | null {
    return ownedDaemonPid(this.dir, 'ovs-vswitchd');
  }

  private async startVswitchd(): Promise<void> {
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
      this.env,
    );
  }

  private async waitForMgmt(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const r = await runRaw('ovs-ofctl', ['-O', 'OpenFlow15', 'show', this.mgmt], this.env);
      if (r.code === 0) return;
      await sleep(50);
    }
    throw new Error(`the bridge's management socket ${this.mgmt} did not come up`);
  }

  /** Kills ovs-vswitchd (its flows are lost) and starts it again on the same database. */
  async restartVswitchd(): Promise<void> {
    const pid = ownedDaemonPid(this.dir, 'ovs-vswitchd');
    if (pid !== null) await killAndWait(pid);
    await this.startVswitchd();
    await this.waitForMgmt();
  }

  /** Plugs a VM (a namespace with one interface, `eth0`) into the bridge. */
  async addVm(opts: SandboxVmOptions): Promise<SandboxVm> {
    const n = ++this.vmCounter;
    const tag = opts.name.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
    const netns = `${this.netns}-${tag}${n}`;
    // Interface names are at most 15 characters.
    const bridgeIface = `sgv${(process.pid % 100000).toString(36)}${counter.toString(36)}${n.toString(36)}`;
    await run('ip', ['netns', 'add', netns]);
    this.netnsOwned.add(netns);
    const inNs = (...args: string[]): Promise<string> =>
      run('ip', ['netns', 'exec', netns, ...args]);
    for (const key of ['all', 'default']) {
      await inNs('sysctl', '-qw', `net.ipv6.conf.${key}.accept_dad=0`);
      await inNs('sysctl', '-qw', `net.ipv6.conf.${key}.router_solicitations=0`);
    }
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await run('ip', [
      '-n',
      this.netns,
      'link',
      'add',
      bridgeIface,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      netns,
    ]);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'address', opts.mac]);
    // The userspace datapath does not complete offloaded checksums: turn TX offload off.
    await inNs('ethtool', '-K', 'eth0', 'tx', 'off');
    await run('ip', ['netns', 'exec', this.netns, 'ethtool', '-K', bridgeIface, 'tx', 'off']);
    if (opts.ipv4 !== undefined) {
      await run('ip', ['-n', netns, 'addr', 'add', opts.ipv4, 'dev', 'eth0']);
    }
    if (opts.ipv6 !== undefined) {
      await run('ip', ['-n', netns, 'addr', 'add', opts.ipv6, 'dev', 'eth0', 'nodad']);
    }
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', this.netns, 'link', 'set', bridgeIface, 'up']);
    await this.vsctl(
      'add-port',
      this.bridge,
      bridgeIface,
      '--',
      'set',
      'Interface',
      bridgeIface,
      `external_ids:iface-id=${opts.portId}`,
      `external_ids:attached-mac=${opts.mac}`,
      'external_ids:iface-status=active',
    );
    const vm: SandboxVm = {
      name: opts.name,
      portId: opts.portId,
      netns,
      bridgeIface,
      mac: opts.mac,
      ...(opts.ipv4 !== undefined ? { ipv4: opts.ipv4 } : {}),
      ...(opts.ipv6 !== undefined ? { ipv6: opts.ipv6 } : {}),
      exec: (cmd, ...args) => runRaw('ip', ['netns', 'exec', netns, cmd, ...args]),
    };
    this.vms.set(opts.name, vm);
    return vm;
  }

  /** Unplugs a VM and deletes its namespace. */
  async removeVm(name: string): Promise<void> {
    const vm = this.vms.get(name);
    if (!vm) return;
    this.vms.delete(name);
    await runRaw(
      'ovs-vsctl',
      [`--db=${this.dbRemote}`, '--if-exists', 'del-port', vm.bridgeIface],
      this.env,
    );
    await runRaw('ip', ['netns', 'del', vm.netns]);
    this.netnsOwned.delete(vm.netns);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
      const pid = ownedDaemonPid(this.dir, d);
      if (pid !== null) await killAndWait(pid);
    }
    for (const ns of this.netnsOwned) await runRaw('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Best-effort synchronous teardown (process exit). */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
      const pid = ownedDaemonPid(this.dir, d);
      if (pid !== null) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    for (const ns of this.netnsOwned) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
