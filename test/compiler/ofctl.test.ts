/**
 * Real OVS accepts every flow the compiler makes: the demo policy (every rule shape, IPv4 and
 * IPv6, stateless group, port security off, uplink with VLAN) formatted with formatFlows is
 * parsed by `ovs-ofctl parse-flows` and installed into a private userspace bridge, which then
 * holds exactly as many flows. Then `ofproto/trace` in the real classifier: VLAN-tagged frames
 * from a filtered port drop, and unicast to a shared allowed-address-pair MAC reaches every
 * claimant (and the uplink). Skips (saying why) only where ovs-ofctl is not installed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizePolicy } from '../../src/model/policy.js';
import { formatFlows } from '../../src/openflow/text.js';
import { startOvs, type OvsSandbox } from '../support/ovs.js';
import { datapathOutputs, datapathPortMap } from '../support/trace.js';
import { compile } from '../../src/compiler/compile.js';
import {
  demoPolicy,
  group,
  macOf,
  network,
  policy,
  port,
  rule,
} from '../../src/compiler/fixtures.js';

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

describe.skipIf(!available)('real OVS (ofproto/trace): tagged frames and pair MACs', () => {
  let ovs: OvsSandbox | undefined;
  afterAll(async () => {
    await ovs?.stop();
  });
  const VMAC = '02:00:00:00:00:c9';
  const UPLINK = 9;
  /** p1, p2 filtered, both claim VMAC (VRRP); p3 unfiltered; uplink VLAN 100. */
  const vrrp = policy({
    networks: [network('n1', { 'provider:segmentation_id': 100, 'provider:network_type': 'vlan' })],
    security_groups: [group('g')],
    security_group_rules: [
      rule('e4', 'g', { direction: 'egress' }),
      rule('i4', 'g', { direction: 'ingress' }),
    ],
    ports: [1, 2, 3].map((n) =>
      port(`p${n}`, 'n1', macOf(n), [`10.0.0.${n}`], n === 3 ? [] : ['g'], {
        port_security_enabled: n !== 3,
        allowed_address_pairs: n === 3 ? [] : [{ ip_address: '10.0.0.200', mac_address: VMAC }],
      }),
    ),
  });

  /** The ofports a packet (ofproto/trace flow text) leaves by; conntrack says +trk+new. */
  async function outputs(flow: string): Promise<number[]> {
    const sandbox = ovs!;
    const map = await datapathPortMap(sandbox);
    const raw = await sandbox.appctl('ofproto/trace', sandbox.bridge, flow, '--ct-next', 'trk,new');
    const out = new Set<number>();
    for (const m of raw.matchAll(/^Datapath actions: (.*)$/gm))
      for (const p of datapathOutputs(m[1]!).ports) out.add(map.get(p)!);
    return [...out].sort((a, b) => a - b);
  }
  const udp = (
    inPort: number,
    src: string,
    dst: string,
    extra: string,
    nwSrc: string,
    nwDst: string,
  ) =>
    `in_port=${inPort},dl_src=${src},dl_dst=${dst}${extra},dl_type=0x0800,nw_src=${nwSrc},nw_dst=${nwDst},nw_proto=17,udp_src=1,udp_dst=2`;

  it('drops tagged frames from a filtered port; forwards them from an unfiltered one', async () => {
    ovs = await startOvs({ name: 'compiler-trace' });
    for (const n of [1, 2, 3, UPLINK]) {
      await ovs.vsctl(
        'add-port',
        ovs.bridge,
        `v${n}`,
        '--',
        'set',
        'Interface',
        `v${n}`,
        'type=internal',
        `ofport_request=${n}`,
      );
    }
    const { flows } = compile({
      policy: normalizePolicy(vrrp),
      localPorts: [1, 2, 3].map((n) => ({ portId: `p${n}`, ofport: n })),
      uplinkOfport: UPLINK,
    });
    const file = join(ovs.dir, 'vrrp.txt');
    writeFileSync(file, formatFlows(flows));
    await ovs.ofctl('add-flows', ovs.mgmt, file);

    const own = (extra: string) => udp(1, macOf(1), macOf(2), extra, '10.0.0.1', '10.0.0.2');
    expect(await outputs(own(''))).toEqual([2]);
    expect(await outputs(own(',vlan_tci=0x1005'))).toEqual([]);
    const arp = `in_port=1,dl_src=${macOf(1)},dl_dst=ff:ff:ff:ff:ff:ff,vlan_tci=0x1005,dl_type=0x0806,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_sha=${macOf(1)}`;
    expect(await outputs(arp)).toEqual([]);
    expect(await outputs(arp.replace(',vlan_tci=0x1005', ''))).toEqual([2, 3, UPLINK]);
    const unfiltered = udp(3, macOf(3), macOf(1), ',vlan_tci=0x1005', '10.0.0.3', '10.0.0.1');
    expect(await outputs(unfiltered)).toEqual([1]);
  });

  it('unicast to a pair MAC reaches every claimant, and the uplink unless it came from there', async () => {
    const to = (inPort: number, src: string, extra = '') =>
      udp(inPort, src, VMAC, extra, '10.0.0.77', '10.0.0.200');
    expect(await outputs(to(3, macOf(3)).replace('10.0.0.77', '10.0.0.3'))).toEqual([1, 2, UPLINK]);
    expect(await outputs(to(1, macOf(1)).replace('10.0.0.77', '10.0.0.1'))).toEqual([2, UPLINK]);
    expect(await outputs(to(UPLINK, '02:00:00:00:00:77', ',vlan_tci=0x1064'))).toEqual([1, 2]);
  });
});
