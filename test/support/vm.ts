/**
 * "VMs" for the end-to-end tests: one network namespace per VM, its `eth0` one end of a veth
 * whose other end sits in the OVS namespace as a bridge port with a fixed ofport and the
 * Neutron/OVN `external_ids` (iface-id, attached-mac).
 *
 * Invariant: a VM is usable as soon as `addVm` returns — TX checksum offload is off on both
 * ends (userspace conntrack would see unfinished checksums as invalid) and IPv6 duplicate
 * address detection is off, so IPv6 addresses work at once. Traffic helpers report outcomes
 * (did the reply come back, did the server see the data), never raise on a blocked packet.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type OvsSandbox, run, runRaw, type RunResult, SYSTEM_PYTHON } from './ovs.js';

const NETPEER = join(dirname(fileURLToPath(import.meta.url)), 'netpeer.py');

export interface VmOptions {
  name: string;
  /** lower-case colon form */
  mac: string;
  /** 'a.b.c.d/nn' */
  ipv4?: string;
  /** 'x::y/64' */
  ipv6?: string;
  /** Extra addresses on eth0 (e.g. an allowed address pair), CIDR form. */
  extraAddrs?: string[];
  ofport: number;
  ifaceId: string;
}

export interface PingOptions {
  count?: number;
  /** Overall deadline; default 1000 ms per packet. */
  timeoutMs?: number;
  v6?: boolean;
  /** Source address to use (-I). */
  from?: string;
}

export interface ConnectOptions {
  srcPort?: number;
  /** Source address to bind (must be configured on eth0). */
  srcAddr?: string;
  timeoutMs?: number;
}

export interface UdpSendOptions {
  srcPort?: number;
  srcAddr?: string;
  /** How long to wait for a reply. */
  timeoutMs?: number;
}

export type UdpOutcome = 'reply' | 'refused' | 'timeout';

/**
 * How a TCP connect ended: `timeout` — nothing came back (the SYN or its answer was
 * dropped); `refused` — a RST came back (the path is open but nobody listens);
 * `unreachable` — neighbour resolution (ARP/ND) went unanswered, or an ICMP unreachable came
 * back; `reset` — reset during the handshake.
 */
export type TcpOutcome = 'connected' | 'timeout' | 'refused' | 'reset' | 'unreachable';

const TCP_OUTCOME_BY_EXIT: Record<number, TcpOutcome> = {
  0: 'connected',
  2: 'timeout',
  3: 'refused',
  4: 'reset',
  5: 'unreachable',
};

/** A long-running process whose stdout is read line by line. */
export class LineProcess {
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  private exited = false;

  constructor(readonly child: ChildProcess) {
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      this.wake();
    });
    child.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Lines seen so far that match. */
  matching(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l));
  }

  /** Wait until a line (seen after index `from`) matches; false on timeout or exit. */
  async waitFor(pattern: RegExp, timeoutMs = 2000, from = 0): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.lines.slice(from).some((l) => pattern.test(l))) return true;
      if (this.exited) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  write(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  get running(): boolean {
    return !this.exited;
  }

  stop(): void {
    if (!this.exited && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

export interface Vm {
  readonly name: string;
  readonly netns: string;
  readonly mac: string;
  /** Address without prefix length, if configured. */
  readonly ip4: string | undefined;
  readonly ip6: string | undefined;
  readonly ofport: number;
  readonly ifaceId: string;
  /** Name of the veth end on the bridge (in the OVS namespace). */
  readonly bridgePort: string;
  exec(cmd: string, ...args: string[]): Promise<string>;
  execRaw(cmd: string, ...args: string[]): Promise<RunResult>;
  /** Start a long-running command inside the VM. */
  spawn(cmd: string, ...args: string[]): LineProcess;
  ping(dst: string, opts?: PingOptions): Promise<boolean>;
  /**
   * true: the handshake completed; false: it timed out (a drop). Anything else — refused
   * (a dead or missing listener), reset, unreachable — throws: a test that expects a drop
   * must not pass because nobody listened.
   */
  tcpConnect(dst: string, port: number, opts?: ConnectOptions): Promise<boolean>;
  /** The connect attempt's outcome, whatever it is. */
  tcpConnectOutcome(dst: string, port: number, opts?: ConnectOptions): Promise<TcpOutcome>;
  /** A dual-stack TCP server that logs ACCEPT/RECV lines and sends its stdin lines. */
  listenTcp(port: number | number[]): Promise<LineProcess>;
  /** A TCP client that holds its connection open; resolves once CONNECTED or FAIL. */
  tcpClient(
    dst: string,
    port: number,
    opts?: { srcPort?: number; srcAddr?: string },
  ): Promise<LineProcess>;
  /** A dual-stack UDP server that logs `RECV host port data` and echoes `echo:data`. */
  udpListen(port: number | number[]): Promise<LineProcess>;
  udpSend(dst: string, port: number, data: string, opts?: UdpSendOptions): Promise<UdpOutcome>;
}

const bare = (cidr: string | undefined): string | undefined => cidr?.split('/')[0];

/** Create a VM namespace wired to the sandbox bridge. */
export async function addVm(ovs: OvsSandbox, o: VmOptions): Promise<Vm> {
  const netns = ovs.newNetnsName(o.name);
  // The bridge-side name must be unique within the OVS namespace and at most 15 chars.
  const bridgePort = `p${o.ofport}-${o.name}`.slice(0, 15);
  const inNs = (...args: string[]) => run('ip', ['netns', 'exec', netns, ...args]);

  await run('ip', ['netns', 'add', netns]);
  for (const key of ['all', 'default']) {
    await inNs('sysctl', '-qw', `net.ipv6.conf.${key}.accept_dad=0`);
    await inNs('sysctl', '-qw', `net.ipv6.conf.${key}.router_solicitations=0`);
  }
  await run('ip', [
    '-n',
    ovs.netns,
    'link',
    'add',
    bridgePort,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    netns,
  ]);
  await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'address', o.mac]);
  await inNs('sysctl', '-qw', 'net.ipv6.conf.eth0.accept_dad=0');
  // A neighbour resolution that failed while a test blocked ARP/ND must not delay the next
  // probe by seconds: retry fast, so an unresolved entry fails (and is retried) within 300 ms.
  for (const fam of ['ipv4', 'ipv6'])
    await inNs('sysctl', '-qw', `net.${fam}.neigh.eth0.retrans_time_ms=100`);
  if (o.ipv4) await run('ip', ['-n', netns, 'addr', 'add', o.ipv4, 'dev', 'eth0']);
  if (o.ipv6) await run('ip', ['-n', netns, '-6', 'addr', 'add', o.ipv6, 'dev', 'eth0', 'nodad']);
  for (const a of o.extraAddrs ?? []) {
    const v6 = a.includes(':');
    await run('ip', [
      '-n',
      netns,
      ...(v6 ? ['-6'] : []),
      'addr',
      'add',
      a,
      'dev',
      'eth0',
      ...(v6 ? ['nodad'] : []),
    ]);
  }
  await inNs('ethtool', '-K', 'eth0', 'tx', 'off');
  await run('ip', ['netns', 'exec', ovs.netns, 'ethtool', '-K', bridgePort, 'tx', 'off']);
  await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', ovs.netns, 'link', 'set', bridgePort, 'up']);
  await ovs.vsctl(
    'add-port',
    ovs.bridge,
    bridgePort,
    '--',
    'set',
    'Interface',
    bridgePort,
    `ofport_request=${o.ofport}`,
    `external_ids:iface-id=${o.ifaceId}`,
    `external_ids:attached-mac=${o.mac}`,
  );
  const got = (await ovs.vsctl('get', 'Interface', bridgePort, 'ofport')).trim();
  if (got !== String(o.ofport))
    throw new Error(`VM ${o.name}: asked for ofport ${o.ofport}, got ${got}`);

  const spawnIn = (cmd: string, ...args: string[]): LineProcess => {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    ovs.children.add(child);
    child.on('exit', () => ovs.children.delete(child));
    return new LineProcess(child);
  };
  const peer = (...args: string[]) =>
    runRaw('ip', ['netns', 'exec', netns, SYSTEM_PYTHON, NETPEER, ...args]);

  const vm: Vm = {
    name: o.name,
    netns,
    mac: o.mac,
    ip4: bare(o.ipv4),
    ip6: bare(o.ipv6),
    ofport: o.ofport,
    ifaceId: o.ifaceId,
    bridgePort,
    exec: (cmd, ...args) => inNs(cmd, ...args),
    execRaw: (cmd, ...args) => runRaw('ip', ['netns', 'exec', netns, cmd, ...args]),
    spawn: spawnIn,
    async ping(dst, p = {}) {
      const count = p.count ?? 1;
      const deadline = Math.max(1, Math.ceil((p.timeoutMs ?? 1000 * count) / 1000));
      const v6 = p.v6 ?? dst.includes(':');
      const args = [
        ...(v6 ? ['-6'] : ['-4']),
        '-n',
        '-q',
        '-c',
        String(count),
        '-i',
        '0.2',
        '-W',
        '1',
      ];
      args.push('-w', String(deadline));
      if (p.from) args.push('-I', p.from);
      const r = await runRaw('ip', ['netns', 'exec', netns, 'ping', ...args, dst]);
      return r.code === 0;
    },
    async tcpConnectOutcome(dst, port, c = {}) {
      const r = await peer(
        'tcp-connect',
        dst,
        String(port),
        String(c.srcPort ?? 0),
        String((c.timeoutMs ?? 1000) / 1000),
        c.srcAddr ?? '',
      );
      const outcome = TCP_OUTCOME_BY_EXIT[r.code];
      if (outcome === undefined)
        throw new Error(
          `tcp-connect from ${o.name} to [${dst}]:${port} failed (${r.code}): ${r.stdout.trim()} ${r.stderr.trim()}`,
        );
      return outcome;
    },
    async tcpConnect(dst, port, c = {}) {
      const outcome = await vm.tcpConnectOutcome(dst, port, c);
      if (outcome === 'connected') return true;
      if (outcome === 'timeout') return false;
      throw new Error(
        `tcp connect from ${o.name} to [${dst}]:${port}: ${outcome}, not connected or dropped` +
          (outcome === 'refused' ? ' (is the server still listening?)' : ''),
      );
    },
    async listenTcp(port) {
      const p = spawnIn(SYSTEM_PYTHON, '-u', NETPEER, 'tcp-server', [port].flat().join(','));
      if (!(await p.waitFor(/^LISTENING$/, 5000)))
        throw new Error(`tcp server on ${o.name}:${[port].flat().join(',')} did not start`);
      return p;
    },
    async tcpClient(dst, port, c = {}) {
      const p = spawnIn(
        SYSTEM_PYTHON,
        '-u',
        NETPEER,
        'tcp-client',
        dst,
        String(port),
        String(c.srcPort ?? 0),
        c.srcAddr ?? '',
      );
      await p.waitFor(/^(CONNECTED|FAIL)/, 5000);
      return p;
    },
    async udpListen(port) {
      const p = spawnIn(SYSTEM_PYTHON, '-u', NETPEER, 'udp-server', [port].flat().join(','));
      if (!(await p.waitFor(/^LISTENING$/, 5000)))
        throw new Error(`udp server on ${o.name}:${[port].flat().join(',')} did not start`);
      return p;
    },
    async udpSend(dst, port, data, u = {}) {
      const r = await peer(
        'udp-send',
        dst,
        String(port),
        data,
        String(u.srcPort ?? 0),
        String((u.timeoutMs ?? 1000) / 1000),
        u.srcAddr ?? '',
      );
      if (r.code === 0) return 'reply';
      if (r.code === 3) return 'refused';
      if (r.code === 2) return 'timeout';
      throw new Error(`udp-send from ${o.name} failed (${r.code}): ${r.stderr}`);
    },
  };
  return vm;
}
