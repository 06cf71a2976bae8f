/**
 * `sgflow up --sandbox` as a user meets it: one call starts the API, the store, the agent, a
 * private OVS and two demo VMs with a demo policy; the commands it prints work (the
 * `openstack` CLI against our API included); stopping removes every namespace and file.
 */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sandboxInstructions, startUp, type Up } from '../../src/agent/up.js';
import { silentLogger } from '../../src/agent/agent.js';
import { startServer } from '../../src/api/index.js';
import { runRaw } from '../support/ovs.js';

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

describe('sgflow up --sandbox', () => {
  let up: Up;

  beforeAll(async () => {
    up = await startUp(
      {
        listen: '127.0.0.1:0',
        metrics: '127.0.0.1:0',
        bridge: 'br-int',
        sandbox: true,
        log: silentLogger,
      },
      (store, listen) => startServer({ store, listen, auth: { mode: 'noauth' }, logger: false }),
    );
  });

  afterAll(async () => {
    await up?.stop();
  });

  const inVm = (i: number, ...cmd: string[]) =>
    runRaw('ip', ['netns', 'exec', up.demo[i]!.netns, ...cmd], { timeoutMs: 10_000 });

  it('starts two VMs with the demo policy and says what to try', async () => {
    expect(up.demo.map((v) => v.name)).toEqual(['vm1', 'vm2']);
    const text = sandboxInstructions(up);
    expect(text).toContain(`ip netns exec ${up.demo[0]!.netns} ping`);
    expect(text).toContain('security group rule create --protocol icmp web');
    // web allows TCP 80 in, no ICMP.
    expect((await inVm(0, 'ping', '-c1', '-W1', up.demo[1]!.ip)).code).not.toBe(0);
  });

  it('the printed openstack command opens ICMP', async () => {
    const r = await runRaw(
      'openstack',
      [
        '--os-auth-type',
        'none',
        '--os-endpoint',
        up.apiUrl,
        'security',
        'group',
        'rule',
        'create',
        '--protocol',
        'icmp',
        'web',
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    await up.service.agent.settled();
    let ok = false;
    for (let i = 0; i < 10 && !ok; i++)
      ok = (await inVm(0, 'ping', '-c1', '-W1', up.demo[1]!.ip)).code === 0;
    expect(ok).toBe(true);
  });

  it('stop removes the sandbox: namespaces and run directory', async () => {
    const dir = up.sandbox!.dir;
    const names = up.demo.map((v) => v.netns);
    await up.stop();
    expect(existsSync(dir)).toBe(false);
    const left = netnsList();
    for (const n of names) expect(left).not.toContain(n);
  });
});
