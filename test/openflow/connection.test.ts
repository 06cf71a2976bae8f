/**
 * The switch connection against a private ovs-vswitchd: a 100,000-flow bundle installs and
 * reads back identical; delete by cookie mask; a failing bundle names the failing flow and
 * leaves the table unchanged; a table-miss packet comes up as a packet-in and a packet-out
 * re-injects it into the pipeline; the connection comes back after ovs-vswitchd restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOvs, type OvsSandbox } from '../support/ovs.js';
import { BundleError, OpenFlowConnection } from '../../src/openflow/connection.js';
import { formatFlow, parseFlow } from '../../src/openflow/text.js';
import type { Flow } from '../../src/openflow/ir.js';
import {
  encodeMessage,
  type FlowRemoved,
  type PacketIn,
} from '../../src/openflow/wire/messages.js';
import { ofpPrint } from './fake-switch.js';

let ovs: OvsSandbox;
let conn: OpenFlowConnection;

beforeAll(async () => {
  ovs = await startOvs({ name: 'of-conn' });
  conn = await OpenFlowConnection.open({ target: ovs.mgmt, echoIntervalMs: 1000 });
});

afterAll(async () => {
  await conn?.close();
  await ovs?.stop();
});

const sorted = (flows: readonly Flow[]) => flows.map(formatFlow).sort();

/** Polls `cond` every 50 ms until it holds (fails after 10 s). */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await cond()); waited += 50) {
    if (waited > 10_000) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An Ethernet/IPv4/UDP frame 10.9.0.1:sport → 10.9.0.2:dport (valid IP checksum, no UDP checksum). */
function udpFrame(sport: number, dport: number): Buffer {
  const f = Buffer.alloc(42);
  Buffer.from('020000000002020000000001', 'hex').copy(f, 0);
  f.writeUInt16BE(0x0800, 12);
  const ip = Buffer.from('4500001c0000400040110000' + '0a090001' + '0a090002', 'hex');
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  ip.copy(f, 14);
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(dport, 36);
  f.writeUInt16BE(8, 38);
  return f;
}

/** 100,000 distinct flows in table 10: 1000 cookies (top byte = i % 4 + 1) × 100 addresses. */
function bigTable(): Flow[] {
  const flows: Flow[] = [];
  for (let i = 0; i < 100_000; i++) {
    const cookie = (BigInt((i % 4) + 1) << 56n) | BigInt(i % 1000);
    flows.push({
      table: 10,
      priority: 100 + (i % 7),
      cookie,
      match: {
        eth_type: { value: 0x800n },
        reg5: { value: BigInt(i % 100) },
        ip_src: { value: 0x0a000000n + BigInt(i), mask: i % 3 === 0 ? 0xffffff00n : undefined },
      },
      actions:
        i % 2 === 0
          ? [{ type: 'conjunction', id: i, clause: 1, nClauses: 2 }]
          : [
              { type: 'set_field', field: 'reg6', value: BigInt(i) },
              { type: 'resubmit', table: 11 },
            ],
    });
  }
  // ip_src values with a /24 mask collide when they share a /24: keep one flow per match.
  const seen = new Set<string>();
  return flows.filter((f) => {
    const k = `${f.priority}|${formatFlow({ ...f, cookie: 0n, actions: [] })}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

describe('OpenFlow connection to ovs-vswitchd', () => {
  it('handshakes and learns the datapath id', () => {
    expect(conn.state).toBe('connected');
    expect(conn.datapathId).toBeTypeOf('bigint');
  });

  it('asked for every packet-in, flow-removed and port-status reason (GET_ASYNC)', async () => {
    expect(await conn.getAsync()).toMatchObject({
      packetInMaster: 0x3f,
      packetInSlave: 0x3f,
      portStatusMaster: 0x7,
      portStatusSlave: 0x7,
      flowRemovedMaster: 0x3f,
      flowRemovedSlave: 0x3f,
    });
    conn.setAsync({ packetInMaster: 0x1, flowRemovedMaster: 0x1 });
    expect(await conn.getAsync()).toMatchObject({ packetInMaster: 0x1, flowRemovedMaster: 0x1 });
    conn.setAsync({ packetInMaster: 0x3f, flowRemovedMaster: 0x3f });
    expect(await conn.getAsync()).toMatchObject({ packetInMaster: 0x3f, flowRemovedMaster: 0x3f });
  });

  it('installs a 100,000-flow bundle and reads it back identical', async () => {
    const flows = bigTable();
    expect(flows.length).toBeGreaterThan(90_000);
    await conn.applyBundle(flows.map((flow) => ({ command: 'add' as const, flow })));
    const back = await conn.dumpFlows({ table: 10 });
    expect(back.length).toBe(flows.length);
    expect(sorted(back)).toEqual(sorted(flows));
    const agg = await conn.aggregate({ table: 10 });
    expect(agg.flowCount).toBe(flows.length);
  });

  it('deletes by cookie mask, leaving the other cookies', async () => {
    const before = await conn.dumpFlows({ table: 10 });
    const mask = 0xff00000000000000n;
    const doomed = before.filter((f) => (f.cookie & mask) === 2n << 56n).length;
    expect(doomed).toBeGreaterThan(0);
    conn.flowMod({
      command: 'delete',
      flow: { table: 255, priority: 32768, cookie: 2n << 56n, match: {}, actions: [] },
      cookieMask: mask,
    });
    await conn.barrier();
    const after = await conn.dumpFlows({ table: 10 });
    expect(after.length).toBe(before.length - doomed);
    expect(after.every((f) => (f.cookie & mask) !== 2n << 56n)).toBe(true);
    const viaFilter = await conn.dumpFlows({ cookie: 3n << 56n, cookieMask: mask });
    expect(viaFilter.length).toBe(after.filter((f) => (f.cookie & mask) === 3n << 56n).length);
    // Clean up for the next tests.
    conn.flowMod({
      command: 'delete',
      flow: { table: 10, priority: 32768, cookie: 0n, match: {}, actions: [] },
    });
    await conn.barrier();
    expect(await conn.dumpFlows({ table: 10 })).toEqual([]);
  });

  it('a failing bundle names the failing flow and leaves the table unchanged', async () => {
    const base = [
      parseFlow('table=20,priority=10,ip,nw_src=10.0.0.1 actions=drop'),
      parseFlow('table=20,priority=10,ip,nw_src=10.0.0.2 actions=resubmit(,21)'),
    ];
    await conn.applyBundle(base.map((flow) => ({ command: 'add' as const, flow })));
    const before = sorted(await conn.dumpFlows({ table: 20 }));
    expect(before).toHaveLength(2);
    const bad = parseFlow('table=20,priority=10,ip,nw_src=10.0.0.4 actions=goto_table:5');
    const mods = [
      { command: 'delete_strict' as const, flow: base[0]! },
      {
        command: 'add' as const,
        flow: parseFlow('table=20,priority=10,ip,nw_src=10.0.0.3 actions=drop'),
      },
      { command: 'add' as const, flow: bad },
      {
        command: 'add' as const,
        flow: parseFlow('table=20,priority=10,ip,nw_src=10.0.0.5 actions=drop'),
      },
    ];
    const err = await conn.applyBundle(mods).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).index).toBe(2);
    expect((err as BundleError).message).toContain('goto_table:5');
    expect((err as BundleError).typeName).toBe('OFPET_BAD_INSTRUCTION');
    expect((err as BundleError).codeName).toBe('OFPBIC_BAD_TABLE_ID');
    expect((err as BundleError).stage).toBe('add');
    expect(sorted(await conn.dumpFlows({ table: 20 }))).toEqual(before);

    // A bundle that fails only at commit time (a meter that does not exist) also changes nothing.
    const unknownMeter = parseFlow('table=20,priority=10,ip,nw_src=10.0.0.6 actions=meter:77');
    const err2 = await conn
      .applyBundle([
        { command: 'delete_strict', flow: base[1]! },
        { command: 'add', flow: unknownMeter },
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err2).toBeInstanceOf(BundleError);
    const commitErr = err2 as BundleError;
    expect(commitErr.index).toBe(1);
    expect(commitErr.flow).toEqual(unknownMeter);
    expect(commitErr.message).toContain('meter:77');
    expect(commitErr.message).toContain('bundle message #1');
    expect([commitErr.typeName, commitErr.codeName]).toEqual([
      'OFPET_METER_MOD_FAILED',
      'OFPMMFC_INVALID_METER',
    ]);
    expect(commitErr.stage).toBe('commit');
    expect(sorted(await conn.dumpFlows({ table: 20 }))).toEqual(before);
  });

  it('concurrent bundles apply one at a time, each with its own outcome', async () => {
    const add = (t: string) => ({ command: 'add' as const, flow: parseFlow(t) });
    const good = [add('table=21,priority=1,ip,nw_src=10.1.0.1 actions=drop')];
    const bad = [
      add('table=21,priority=1,ip,nw_src=10.1.0.2 actions=drop'),
      add('table=21,priority=1,ip,nw_src=10.1.0.3 actions=goto_table:2'),
    ];
    const [a, b] = await Promise.allSettled([conn.applyBundle(bad), conn.applyBundle(good)]);
    expect(a.status).toBe('rejected');
    expect(((a as PromiseRejectedResult).reason as BundleError).index).toBe(1);
    expect(b.status).toBe('fulfilled');
    expect(sorted(await conn.dumpFlows({ table: 21 }))).toEqual(sorted(good.map((m) => m.flow)));
  });

  it('reports flow removal and errors of unbundled flow-mods as events', async () => {
    const removed = new Promise<FlowRemoved>((resolve) => conn.once('flow_removed', resolve));
    conn.flowMod({
      command: 'add',
      flow: parseFlow(
        'table=22,priority=5,cookie=0x99,idle_timeout=1,send_flow_rem,ip actions=drop',
      ),
    });
    const errors: { xid: number; typeName: string; codeName: string }[] = [];
    const onErr = (e: { xid: number; typeName: string; codeName: string }) => errors.push(e);
    conn.on('switch_error', onErr);
    const xid = conn.flowMod({
      command: 'add',
      flow: parseFlow('table=22,priority=6 actions=goto_table:1'),
    });
    await conn.barrier();
    conn.off('switch_error', onErr);
    expect(errors).toEqual([
      {
        xid,
        typeName: 'OFPET_BAD_INSTRUCTION',
        codeName: 'OFPBIC_BAD_TABLE_ID',
        data: expect.any(Uint8Array),
      },
    ]);
    const r = await removed;
    expect(r.reason).toBe('idle_timeout');
    expect(r.flow).toMatchObject({ table: 22, priority: 5, cookie: 0x99n, idleTimeout: 1 });
    expect(r.flow.match).toEqual({ eth_type: { value: 0x800n } });
  });

  it('sends a table-miss packet up as a packet-in, and a packet-out re-injects it', async () => {
    await conn.applyBundle(
      [
        'table=0,priority=0,cookie=0xabc actions=controller(reason=no_match)',
        'table=1,priority=10,cookie=0xdef,arp actions=controller(userdata=ca.fe)',
      ].map((t) => ({ command: 'add' as const, flow: parseFlow(t) })),
    );
    const received: PacketIn[] = [];
    const waitFor = (pred: (p: PacketIn) => boolean) =>
      new Promise<PacketIn>((resolve, reject) => {
        const found = received.find(pred);
        if (found) return resolve(found);
        const timer = setTimeout(() => reject(new Error('no packet-in')), 20_000);
        const on = (p: PacketIn) => {
          if (pred(p)) {
            clearTimeout(timer);
            conn.off('packet_in', on);
            resolve(p);
          }
        };
        conn.on('packet_in', on);
      });
    conn.on('packet_in', (p) => received.push(p));

    // A real packet: the bridge's own (LOCAL) interface in OVS's namespace sends an ARP request.
    const br = ovs.bridge;
    await ovs.execInNetns('ip', 'link', 'set', br, 'up');
    await ovs.execInNetns('ip', 'addr', 'add', '10.99.0.1/24', 'dev', br);
    await ovs.execInNetns('ping', '-c', '1', '-W', '1', '10.99.0.2').catch(() => undefined);
    const miss = await waitFor((p) => p.cookie === 0xabcn);
    expect(miss.table).toBe(0);
    expect(miss.reason).toBe('no_match');
    expect(miss.match.in_port?.value).toBe(0xfffen);
    expect(Buffer.from(miss.data.subarray(12, 14)).toString('hex')).toBe('0806');

    conn.packetOut(miss.data, 'LOCAL', [{ type: 'resubmit', table: 1 }]);
    const again = await waitFor((p) => p.cookie === 0xdefn);
    expect(again.table).toBe(1);
    expect(Buffer.from(again.userdata ?? []).toString('hex')).toBe('cafe');
    expect(Buffer.from(again.data).equals(Buffer.from(miss.data))).toBe(true);
  });

  it('pauses packets at controller(pause); resume runs the rest of their actions with their conntrack state, an unresumed one is dropped', async () => {
    await conn.applyBundle(
      [
        'table=50,priority=1,cookie=0x50,udp actions=ct(zone=5,table=51)',
        'table=51,priority=1,cookie=0x51,ct_state=+trk+new,udp actions=controller(pause,userdata=d5),resubmit(,52)',
        'table=52,priority=3,cookie=0x57,reg6=0x7 actions=drop',
        'table=52,priority=2,cookie=0x52,ct_state=+new+trk,ct_zone=5,udp actions=drop',
        'table=52,priority=1,cookie=0x5f actions=drop',
      ].map((t) => ({ command: 'add' as const, flow: parseFlow(t) })),
    );
    const paused: PacketIn[] = [];
    const collect = (p: PacketIn) => {
      if (p.cookie === 0x51n) paused.push(p);
    };
    conn.on('packet_in', collect);
    try {
      for (const sport of [1001, 1002, 1003])
        conn.packetOut(udpFrame(sport, 5000), 'LOCAL', [{ type: 'resubmit', table: 50 }]);
      await conn.barrier();
      await until(() => paused.length === 3);
      const bySport = (sport: number) =>
        paused.find((p) => Buffer.from(p.data).readUInt16BE(34) === sport)!;
      for (const p of paused) {
        expect(p.continuation).toBeInstanceOf(Uint8Array);
        expect(p.reason).toBe('action');
        expect(Buffer.from(p.userdata ?? []).toString('hex')).toBe('d5');
        expect(p.match.ct_state?.value).toBe(0x21n); // +new+trk
        expect(p.match.ct_zone?.value).toBe(5n);
      }
      const counts = async () => {
        const stats = await conn.dumpFlowStats({ table: 52 });
        const of = (c: bigint) => Number(stats.find((s) => s.flow.cookie === c)!.packetCount);
        return { plain: of(0x52n), reg6: of(0x57n), untracked: of(0x5fn) };
      };
      expect(await counts()).toEqual({ plain: 0, reg6: 0, untracked: 0 });

      // Resumed as it came: continues to resubmit(,52) still tracked, new, in zone 5.
      await conn.resume(bySport(1001));
      // Resumed with a register changed by the controller: the pipeline sees the new value.
      const second = bySport(1002);
      await conn.resume({ ...second, match: { ...second.match, reg6: { value: 7n } } });
      // 1003 is never resumed.
      await until(async () => (await counts()).plain + (await counts()).reg6 === 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(await counts()).toEqual({ plain: 1, reg6: 1, untracked: 0 });

      // ovs-ofctl decodes our NXT_RESUME, continuation included.
      const printed = await ofpPrint(
        encodeMessage(
          {
            type: 'resume',
            data: second.data,
            totalLen: second.totalLen,
            reason: second.reason,
            table: second.table,
            cookie: second.cookie,
            match: second.match,
            continuation: second.continuation!,
          },
          9,
        ),
      );
      expect(printed).toMatch(/^NXT_RESUME \(OF1\.5\) \(xid=0x9\): cookie=0x51 total_len=42 /);
      expect(printed).toMatch(/ct_state=new\|trk/);
      expect(printed).toMatch(/ct_zone=5/);
      expect(printed).toMatch(/\(via action\) data_len=42/);
      expect(printed).toMatch(/udp,.*tp_src=1002,tp_dst=5000/);
      expect(printed).toMatch(/continuation\.conntracked=true/);
      expect(printed).toMatch(/continuation\.actions=.*resubmit\(,52\)/);
      expect(printed).toMatch(/continuation\.bridge=[0-9a-f-]{36}/);
      expect(printed).not.toMatch(/decode error|\*\*\*/i);

      // Only a paused packet can be resumed.
      const notPaused = { ...second, continuation: undefined };
      await expect(conn.resume(notPaused)).rejects.toThrow(/continuation/);
    } finally {
      conn.off('packet_in', collect);
    }
  });

  it('rate-limits punts through a per-port meter (controller(meter_id=...))', async () => {
    await conn.meterMod({
      command: 'add',
      meterId: 9,
      pktps: true,
      burst: true,
      bands: [{ type: 'drop', rate: 1, burst: 1 }],
    });
    await conn.applyBundle([
      {
        command: 'add',
        flow: parseFlow(
          'table=40,priority=1,cookie=0x40 actions=controller(meter_id=9,userdata=40)',
        ),
      },
    ]);
    let punted = 0;
    const count = (p: PacketIn) => {
      if (p.cookie === 0x40n) punted++;
    };
    conn.on('packet_in', count);
    const pkt = Buffer.from(
      'ffffffffffff001122334455080600010800060400010011223344550a0000010000000000000a000002',
      'hex',
    );
    for (let i = 0; i < 200; i++) conn.packetOut(pkt, 'LOCAL', [{ type: 'resubmit', table: 40 }]);
    await conn.barrier();
    // Without the meter every one of the 200 would come up.
    const unmetered = await (async () => {
      await conn.applyBundle([
        {
          command: 'add',
          flow: parseFlow('table=41,priority=1,cookie=0x40 actions=controller(userdata=41)'),
        },
      ]);
      const before = punted;
      for (let i = 0; i < 20; i++) conn.packetOut(pkt, 'LOCAL', [{ type: 'resubmit', table: 41 }]);
      await conn.barrier();
      for (let waited = 0; punted - before < 20 && waited < 10_000; waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
      }
      return punted - before;
    })();
    conn.off('packet_in', count);
    expect(unmetered).toBe(20);
    expect(punted - unmetered).toBeGreaterThan(0);
    expect(punted - unmetered).toBeLessThan(100);
  });

  it('reconnects after ovs-vswitchd restarts', async () => {
    const states: string[] = [];
    conn.on('state', (s) => states.push(s));
    const back = new Promise<void>((resolve) => {
      const on = (s: string) => {
        if (s === 'connected') {
          conn.off('state', on);
          resolve();
        }
      };
      conn.on('state', on);
    });
    await ovs.restartVswitchd();
    await back;
    expect(states).toEqual(['disconnected', 'connected']);
    // The restarted switch has no flows; the connection works again.
    expect(await conn.dumpFlows({ table: 20 })).toEqual([]);
    await conn.applyBundle([
      { command: 'add', flow: parseFlow('table=20,priority=1 actions=drop') },
    ]);
    expect(sorted(await conn.dumpFlows({ table: 20 }))).toEqual([
      'table=20,priority=1,cookie=0x0 actions=drop',
    ]);
  });

  it('accepts ovs-vswitchd as a controller (punix) and works over that connection', async () => {
    const path = `${ovs.dir}/sgflow-ctl.sock`;
    const ctl = OpenFlowConnection.create({ target: `punix:${path}` });
    try {
      await ovs.vsctl('set-controller', ovs.bridge, `unix:${path}`);
      await ctl.ready();
      expect(ctl.datapathId).toBe(conn.datapathId);
      await ctl.applyBundle([
        { command: 'add', flow: parseFlow('table=30,priority=3,cookie=0x7 actions=drop') },
      ]);
      expect(sorted(await conn.dumpFlows({ table: 30 }))).toEqual([
        'table=30,priority=3,cookie=0x7 actions=drop',
      ]);
    } finally {
      await ovs.vsctl('del-controller', ovs.bridge);
      await ctl.close();
    }
  });
});
