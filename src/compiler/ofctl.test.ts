/**
 * Real OVS accepts every flow the compiler makes: the demo policy (every rule shape, IPv4 and
 * IPv6, stateless group, port security off, uplink with VLAN) formatted with formatFlows is
 * parsed by `ovs-ofctl parse-flows` and installed into a private userspace bridge, which then
 * holds exactly as many flows. Skips (saying why) only where ovs-ofctl is not installed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizePolicy } from '../model/policy.js';
import { formatFlows } from '../openflow/text.js';
import { startOvs, type OvsSandbox } from '../../test/support/ovs.js';
import { compile } from './compile.js';
import { demoPolicy } from './fixtures.js';

function haveOfctl(): boolean {
  try {
    execFileSync('ovs-ofctl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = haveOfctl();
if (!available)
  console.warn('ofctl.test.ts: ovs-ofctl is not installed; skipping the OVS acceptance test');

function demoFlows(baseTable = 0): string {
  const d = demoPolicy();
  const { flows } = compile({
    policy: normalizePolicy(d.policy),
    localPorts: d.localPorts,
    uplinkOfport: 50,
    options: { baseTable },
  });
  return formatFlows(flows);
}

describe.skipIf(!available)('ovs-ofctl accepts the compiled flows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sgflow-ofctl-'));
  let ovs: OvsSandbox | undefined;
  afterAll(async () => {
    await ovs?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parse-flows (OpenFlow 1.5) accepts every flow, at base table 0 and 40', () => {
    for (const base of [0, 40]) {
      const text = demoFlows(base);
      const file = join(dir, `flows-${base}.txt`);
      writeFileSync(file, text);
      const out = execFileSync('ovs-ofctl', ['-O', 'OpenFlow15', 'parse-flows', file], {
        encoding: 'utf8',
      });
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      expect(lines.length).toBeGreaterThan(100);
      // parse-flows prints one OFPT_FLOW_MOD per flow it accepted.
      expect(out.match(/OFPT_FLOW_MOD/g)?.length).toBe(lines.length);
    }
  });

  it('a private bridge installs them all', async () => {
    ovs = await startOvs({ name: 'compiler-ofctl' });
    const text = demoFlows(0);
    const file = join(dir, 'install.txt');
    writeFileSync(file, text);
    await ovs.ofctl('add-flows', ovs.mgmt, file);
    const dump = await ovs.ofctl('dump-flows', ovs.mgmt);
    const installed = dump.split('\n').filter((l) => l.includes('cookie='));
    expect(installed).toHaveLength(text.split('\n').filter((l) => l.trim() !== '').length);
  });
});
