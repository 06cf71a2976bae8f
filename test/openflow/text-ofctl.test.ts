/**
 * Real ovs-ofctl accepts our text: the flows we format go into a private ovs-vswitchd with
 * `ovs-ofctl --bundle add-flows`, and what `ovs-ofctl dump-flows` prints parses back to the
 * same flows (compared in canonical form: the wire codec's view of each flow).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { startOvs, type OvsSandbox } from '../support/ovs.js';
import { OpenFlowConnection } from '../../src/openflow/connection.js';
import { formatFlow, formatFlows, parseFlow, parseFlows } from '../../src/openflow/text.js';
import { decodeMessage, encodeMessage, type OfMessage } from '../../src/openflow/wire/messages.js';
import type { Flow } from '../../src/openflow/ir.js';
import { FLOWS } from './flows.js';

let ovs: OvsSandbox;

beforeAll(async () => {
  ovs = await startOvs({ name: 'of-text' });
  // Meters 3 and 4 are referenced by the flows (meter:3, controller(meter_id=4)).
  const conn = await OpenFlowConnection.open({ target: ovs.mgmt, reconnect: false });
  for (const meterId of [3, 4]) {
    await conn.meterMod({
      command: 'add',
      meterId,
      pktps: true,
      bands: [{ type: 'drop', rate: 100, burst: 0 }],
    });
  }
  await conn.close();
});

afterAll(async () => {
  await ovs?.stop();
});

/** A flow as the wire codec sees it (load becomes set_field, notes padded, ...), in text. */
function canonical(f: Flow): string {
  const { msg } = decodeMessage(encodeMessage({ type: 'flow_mod', command: 'add', flow: f }, 1));
  return formatFlow((msg as Extract<OfMessage, { type: 'flow_mod' }>).flow);
}

async function roundTrip(
  flows: Flow[],
  how: 'add-flows' | 'replace-flows' = 'add-flows',
): Promise<{ ours: string[]; theirs: string[] }> {
  const file = join(ovs.dir, 'flows.txt');
  writeFileSync(file, formatFlows(flows));
  if (how === 'add-flows') await ovs.ofctl('del-flows', ovs.mgmt);
  await ovs.ofctl('--bundle', how, ovs.mgmt, file);
  const dump = await ovs.ofctl('--no-names', 'dump-flows', ovs.mgmt);
  const theirs = parseFlows(dump).map(formatFlow).sort();
  const ours = flows.map(canonical).sort();
  return { ours, theirs };
}

describe('ovs-ofctl reads our text and we read its dump', () => {
  it('every field and action', async () => {
    const { ours, theirs } = await roundTrip(FLOWS.map((t) => parseFlow(t)));
    expect(theirs).toEqual(ours);
    // Our own decoding of the switch's flow-stats replies agrees too.
    const conn = await OpenFlowConnection.open({ target: ovs.mgmt, reconnect: false });
    try {
      expect((await conn.dumpFlows()).map(formatFlow).sort()).toEqual(ours);
    } finally {
      await conn.close();
    }
  });

  it('dump-flows lines parse to the flows that were added', async () => {
    const dump = await ovs.ofctl('--no-names', 'dump-flows', ovs.mgmt);
    const lines = dump.split('\n').filter((l) => l.includes('actions='));
    expect(lines.length).toBe(FLOWS.length);
    expect(lines.some((l) => l.includes('n_packets='))).toBe(true);
  });

  it('random flows, through --bundle replace-flows', async () => {
    const flows = fc.sample(
      fc.record({
        table: fc.integer({ min: 0, max: 50 }),
        priority: fc.integer({ min: 0, max: 65535 }),
        cookie: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        a: fc.integer({ min: 0, max: 0xffffffff }),
        m: fc.integer({ min: 0, max: 32 }),
        p: fc.integer({ min: 0, max: 65535 }),
        reg: fc.integer({ min: 0, max: 15 }),
        v6: fc.boolean(),
      }),
      { numRuns: 200, seed: 42 },
    );
    const seen = new Set<string>();
    const parsed: Flow[] = [];
    for (const r of flows) {
      const a = `${r.a >>> 24}.${(r.a >> 16) & 255}.${(r.a >> 8) & 255}.${r.a & 255}`;
      const text = r.v6
        ? `table=${r.table},priority=${r.priority},cookie=0x${r.cookie.toString(16)},tcp6,ipv6_src=fe80::${(r.a & 0xffff).toString(16)}/${r.m + 96},tp_dst=${r.p},reg${r.reg}=${r.a} actions=resubmit(,${r.table + 1})`
        : `table=${r.table},priority=${r.priority},cookie=0x${r.cookie.toString(16)},ct_state=+trk-inv,udp,ct_nw_dst=${a}/${r.m},ct_nw_proto=17,ct_tp_dst=${r.p}/0xff00 actions=ct(commit,zone=NXM_NX_REG${r.reg}[0..15],table=${r.table + 1})`;
      const f = parseFlow(text);
      const key = canonical({ ...f, cookie: 0n, actions: [] });
      if (seen.has(key)) continue;
      seen.add(key);
      parsed.push(f);
    }
    // replace-flows: the switch ends up with exactly these, whatever it held before.
    const { ours, theirs } = await roundTrip(parsed, 'replace-flows');
    expect(theirs).toEqual(ours);
  });
});
