/**
 * The ofproto/trace driver: flow-key text OVS accepts, `--ct-next` states in recirculation
 * order, datapath ports mapped back to ofports (also inside clone()).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CtState } from '../../src/openflow/ir.js';
import { keyFromPacket } from '../../src/sim/key.js';
import { useOvs } from '../support/hooks.js';
import { datapathOutputs, datapathPortMap, traceKey } from '../support/trace.js';

const sandbox = useOvs({ name: 'trace-bed' });
let portMap: Map<number, number>;

beforeAll(async () => {
  const ovs = sandbox();
  for (const n of [1, 2, 3, 7]) {
    await ovs.vsctl(
      'add-port',
      ovs.bridge,
      `p${n}`,
      '--',
      'set',
      'Interface',
      `p${n}`,
      'type=internal',
      `ofport_request=${n}`,
    );
  }
  const flows = [
    'table=0,ip,actions=ct(zone=1,table=1)',
    'table=0,arp,actions=clone(output:2),output:3',
    'table=1,ct_state=+trk+new,ct_nw_src=10.0.0.1,tcp,actions=ct_clear,ct(zone=2,table=2)',
    'table=1,ct_state=+trk+est,actions=output:7',
    'table=2,ct_state=+trk+new,actions=output:2',
    'table=2,ct_state=+trk+est,actions=output:3',
  ];
  for (const f of flows) await ovs.ofctl('add-flow', ovs.mgmt, f);
  portMap = await datapathPortMap(ovs);
});

const tcp = keyFromPacket(
  {
    ethSrc: 0x020000000001n,
    ethDst: 0x020000000002n,
    ethType: 0x0800,
    ip: { family: 4, src: 0x0a000001n, dst: 0x0a000002n, proto: 6, ttl: 64 },
    l4: { src: 40000, dst: 80, tcpFlags: 0x002 },
  },
  1,
);
const tracked = (() => {
  const k = { ...tcp, fields: { ...tcp.fields } };
  k.fields.ct_state = BigInt(CtState.TRK | CtState.NEW);
  k.fields.ct_nw_src = 0x0a000001n;
  k.fields.ct_nw_dst = 0x0a000002n;
  k.fields.ct_nw_proto = 6n;
  k.fields.ct_tp_src = 40000n;
  k.fields.ct_tp_dst = 80n;
  return k;
})();

describe('trace driver', () => {
  it('maps datapath ports to ofports', () => {
    expect([...portMap.values()].sort((a, b) => a - b)).toEqual([1, 2, 3, 7, 65534]);
  });

  it('resumes each recirculation with the next --ct-next state', async () => {
    const NEW = CtState.TRK | CtState.NEW;
    const EST = CtState.TRK | CtState.EST;
    expect((await traceKey(sandbox(), tracked, [NEW, NEW], portMap)).outputs).toEqual([2]);
    expect((await traceKey(sandbox(), tracked, [NEW, EST], portMap)).outputs).toEqual([3]);
    expect((await traceKey(sandbox(), tracked, [EST], portMap)).outputs).toEqual([7]);
  });

  it('keeps the ct tuple of the traced flow (absent tuple: the ct_nw_src rule misses)', async () => {
    const NEW = CtState.TRK | CtState.NEW;
    expect((await traceKey(sandbox(), tcp, [NEW, NEW], portMap)).outputs).toEqual([]);
  });

  it('reads outputs inside clone()', async () => {
    const arp = keyFromPacket(
      {
        ethSrc: 0x020000000001n,
        ethDst: 0xffffffffffffn,
        ethType: 0x0806,
        arp: { op: 1, sha: 0x020000000001n, spa: 0x0a000001n, tha: 0n, tpa: 0x0a000002n },
      },
      1,
    );
    expect((await traceKey(sandbox(), arp, [], portMap)).outputs).toEqual([2, 3]);
    expect(
      datapathOutputs(
        'ct(commit,zone=2),clone(ct_clear,3),4,userspace(pid=0,controller(reason=1))',
      ),
    ).toEqual({
      ports: [3, 4],
      controller: true,
    });
  });
});
