/**
 * `sweepLeftovers`: what a test process that died without cleaning up left behind — its run
 * directory, its namespaces, a daemon still running from that directory — is removed by the
 * next sandbox start; what belongs to a live process, or is not ours, is left alone.
 *
 * The dead run is staged, not produced by killing a test runner: a directory and namespaces
 * named for the pid of a process that has exited, and a stand-in "daemon" whose pidfile sits in
 * that directory and whose command line names it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sweepLeftovers, SYSTEM_PYTHON } from '../support/ovs.js';

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], {
    encoding: 'utf8',
  }).trim();
  return state !== '' && !state.startsWith('Z');
}

/** The pid of a process that has run and exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const pid = child.pid!;
  expect(alive(pid)).toBe(false);
  return pid;
}

/** A long-running process whose command line contains `tag` (a stand-in daemon). */
function sleeper(tag: string): ChildProcess {
  return spawn(SYSTEM_PYTHON, ['-c', 'import time; time.sleep(120)', tag], { stdio: 'ignore' });
}

const started: ChildProcess[] = [];
const made: { dirs: string[]; netns: string[] } = { dirs: [], netns: [] };

afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of made.dirs) rmSync(d, { recursive: true, force: true });
  const present = new Set(netnsList());
  for (const ns of made.netns)
    if (present.has(ns)) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

describe('sweepLeftovers', () => {
  it("removes a dead run's directory, namespaces and daemon; keeps a live run's", async () => {
    const dead = await deadPid();
    const deadDir = mkdtempSync(join(tmpdir(), `sgf-ovs-${dead}-staged-`));
    made.dirs.push(deadDir);
    const daemon = sleeper(deadDir);
    started.push(daemon);
    writeFileSync(join(deadDir, 'ovs-vswitchd.pid'), `${daemon.pid}\n`);
    // A pidfile naming a process that has nothing to do with the directory: not ours to kill.
    const stranger = sleeper('unrelated');
    started.push(stranger);
    writeFileSync(join(deadDir, 'ovsdb-server.pid'), `${stranger.pid}\n`);
    const deadNs = [`sgf-${dead}-1`, `sgf-${dead}-1-vm-1`];
    // Looks like ours but is not a name this module makes: left alone.
    const foreignNs = `sgf-${dead}-staged`;
    for (const ns of [...deadNs, foreignNs]) {
      execFileSync('ip', ['netns', 'add', ns]);
      made.netns.push(ns);
    }
    // A live run (this process): its directory and namespace stay.
    const liveDir = mkdtempSync(join(tmpdir(), `sgf-ovs-${process.pid}-staged-`));
    made.dirs.push(liveDir);
    mkdirSync(join(liveDir, 'sub'));
    const liveNs = `sgf-${process.pid}-9999`;
    execFileSync('ip', ['netns', 'add', liveNs]);
    made.netns.push(liveNs);
    for (let i = 0; i < 50 && !alive(daemon.pid!); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(daemon.pid!)).toBe(true);

    sweepLeftovers();

    expect(existsSync(deadDir)).toBe(false);
    for (let i = 0; i < 50 && alive(daemon.pid!); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(daemon.pid!), 'the daemon of the dead run is killed').toBe(false);
    expect(alive(stranger.pid!), 'a process the pidfile names but that is not ours lives').toBe(
      true,
    );
    const after = netnsList();
    for (const ns of deadNs) expect(after).not.toContain(ns);
    expect(after).toContain(foreignNs);
    expect(existsSync(join(liveDir, 'sub'))).toBe(true);
    expect(after).toContain(liveNs);
  });
});
