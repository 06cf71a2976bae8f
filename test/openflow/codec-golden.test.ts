/**
 * Golden tests of the wire codec against the real tool: `ovs-ofctl` (OVS 3.1, OpenFlow 1.5)
 * sends its flow-mods to a fake switch; our encoding of the same flow text must equal its bytes,
 * our decoding of its bytes must re-encode to them, and `ovs-ofctl ofp-print` must print our
 * bytes as the text we format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeSwitch, ofpPrint, type FakeSwitch } from './fake-switch.js';
import { parseFlow, formatMatch, formatActions } from '../../src/openflow/text.js';
import { decodeMessage, encodeMessage, type OfMessage } from '../../src/openflow/wire/messages.js';
import type { Flow } from '../../src/openflow/ir.js';

/** Every match field and action of the IR, in flows ovs-ofctl accepts. */
const FLOWS = [
  'table=0,priority=0,cookie=0x0 actions=drop',
  'table=3,priority=100,cookie=0x1234,reg5=0x1,ct_state=+trk-inv,ip,ct_nw_src=10.0.0.0/8 actions=conjunction(12,1/3)',
  'table=1,priority=5,in_port=3,dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,2)',
  'table=1,priority=5,in_port=LOCAL,vlan_tci=0x1005/0x1fff actions=pop_vlan,output:4',
  'table=1,priority=5,dl_vlan=7,dl_vlan_pcp=3 actions=NORMAL',
  'table=1,priority=5,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:0x1005->vlan_tci,output:1',
  'table=2,priority=9,arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24,arp_sha=00:11:22:33:44:55,arp_tha=00:00:00:00:00:00 actions=goto_table:3',
  'table=2,priority=9,ip,nw_src=10.0.0.1,nw_dst=192.168.0.0/255.255.0.255,nw_tos=8,nw_ttl=64,ip_frag=no actions=goto_table:3',
  'table=2,priority=9,ipv6,ipv6_src=fe80::1,ipv6_dst=2001:db8::/32,ipv6_label=0x12345 actions=output:2',
  'table=2,priority=9,ip,nw_frag=later actions=drop',
  'table=2,priority=9,ip,nw_frag=not_later actions=drop',
  'table=2,priority=9,ipv6,nw_proto=99,nw_frag=yes actions=drop',
  'table=4,priority=10,tcp,tp_src=1024/0xfc00,tp_dst=80,tcp_flags=+syn-ack actions=IN_PORT',
  'table=4,priority=10,tcp6,tp_dst=443,tcp_flags=-syn+ack actions=output:5',
  'table=4,priority=10,udp,tp_src=68,tp_dst=67 actions=LOCAL',
  'table=4,priority=10,udp6,tp_src=546,tp_dst=547 actions=CONTROLLER:128',
  'table=4,priority=10,sctp,tp_src=1,tp_dst=0x10/0xfff0 actions=drop',
  'table=4,priority=10,sctp6,tp_dst=9 actions=drop',
  'table=4,priority=10,icmp,icmp_type=8,icmp_code=0 actions=controller(userdata=01.02.03,max_len=128)',
  'table=4,priority=10,icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,nd_sll=00:11:22:33:44:55 actions=controller(reason=no_match,id=3)',
  'table=4,priority=10,icmp6,icmp_type=136,nd_target=fe80::/64,nd_tll=00:11:22:33:44:55/ff:ff:ff:00:00:00 actions=controller(reason=invalid_ttl,pause,meter_id=4)',
  'table=5,priority=20,metadata=0x5/0xff,tun_id=0x99 actions=controller',
  'table=5,priority=20,reg0=0x1,reg1=0x2/0xf,reg2=0x3,reg7=0x7,reg14=0x14,reg15=0x15 actions=load:0x1->NXM_NX_REG0[0..3],set_field:0x5->reg2,set_field:0xffff->reg9',
  'table=5,priority=20,ct_state=-new+est-rel+rpl-inv+trk,ct_zone=3,ct_mark=0x5/0xf,ct_label=0x1/0xff actions=ct_clear',
  'table=5,priority=20,ct_state=+trk-inv,tcp,ct_nw_src=1.2.3.0/24,ct_nw_dst=1.2.3.4,ct_nw_proto=6,ct_tp_src=5/0xfff0,ct_tp_dst=80 actions=resubmit:3',
  'table=5,priority=20,ct_state=+est+trk,ipv6,ct_ipv6_src=fe80::/64,ct_ipv6_dst=2001:db8::1,ct_nw_proto=17,ct_tp_dst=53 actions=resubmit(4,5)',
  'table=5,priority=20,conj_id=7,ip actions=resubmit(,9)',
  'table=6,priority=30,ip actions=move:NXM_OF_IP_SRC[]->NXM_NX_REG3[],move:NXM_NX_REG5[0..15]->NXM_NX_REG6[16..31],output:NXM_NX_REG5[0..15]',
  'table=6,priority=30,tcp actions=set_field:1.2.3.4->ip_src,set_field:00:11:22:33:44:55->eth_dst,set_field:8080->tcp_dst,ct(commit,exec(set_field:0x1/0x1->ct_mark,set_field:0x5->ct_label))',
  'table=6,priority=30,ip actions=ct(commit,zone=NXM_NX_REG5[0..15],table=2,exec(load:0x1->NXM_NX_CT_MARK[]))',
  'table=6,priority=30,ip actions=ct(zone=5,table=7)',
  'table=6,priority=30,ip actions=ct(table=7)',
  'table=6,priority=30,tcp actions=ct(commit,force,alg=ftp)',
  'table=7,priority=40,ip actions=learn(table=10,idle_timeout=10,hard_timeout=20,fin_idle_timeout=5,fin_hard_timeout=6,priority=7,cookie=0x55,eth_type=0x800,NXM_OF_IP_SRC[]=NXM_OF_IP_DST[],NXM_OF_IP_DST[],ip_proto=6,load:0x1->NXM_NX_REG0[0..3],load:NXM_NX_REG1[]->NXM_NX_REG2[],output:NXM_OF_IN_PORT[])',
  'table=7,priority=40 actions=learn(table=1,delete_learned,send_flow_rem,limit=10,NXM_NX_REG0[0..7]=NXM_NX_REG1[8..15],reg2=5,NXM_NX_REG3[3]=1)',
  'table=7,priority=40 actions=learn(table=1)',
  'table=8,priority=50 actions=meter:3,note:01.02.03,clone(output:3,ct_clear),output:4',
  'table=8,priority=50,idle_timeout=10,hard_timeout=20,send_flow_rem,check_overlap,reset_counts,no_packet_counts,no_byte_counts,in_port=1 actions=FLOOD,ALL',
  'table=9,priority=65535,cookie=0xffffffffffffffff,ct_state=new|trk,udp6,tp_dst=547 actions=drop',
];

let sw: FakeSwitch;
let dir: string;

beforeAll(async () => {
  sw = await startFakeSwitch();
  dir = mkdtempSync(join(tmpdir(), 'sgf-golden-'));
});

afterAll(async () => {
  await sw.stop();
  rmSync(dir, { recursive: true, force: true });
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function capture(
  args: string[],
  type: number,
): Promise<{ xid: number; bytes: Uint8Array }[]> {
  sw.clear();
  const r = await sw.ofctl(...args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return sw.captured.filter((c) => c.type === type);
}

describe('flow-mod golden bytes from ovs-ofctl', () => {
  let captured: { xid: number; bytes: Uint8Array }[] = [];

  beforeAll(async () => {
    const file = join(dir, 'flows.txt');
    writeFileSync(file, FLOWS.join('\n') + '\n');
    captured = await capture(['add-flows', sw.target, file], 14);
  });

  it('ovs-ofctl sent one flow-mod per flow', () => {
    expect(captured).toHaveLength(FLOWS.length);
  });

  it.each(FLOWS.map((f, i) => [i, f] as const))('#%i encodes byte for byte: %s', (i, text) => {
    const c = captured[i]!;
    const ours = encodeMessage({ type: 'flow_mod', command: 'add', flow: parseFlow(text) }, c.xid);
    expect(hex(ours)).toBe(hex(c.bytes));
  });

  it.each(FLOWS.map((f, i) => [i, f] as const))(
    '#%i decodes and re-encodes to the same bytes: %s',
    (i) => {
      const c = captured[i]!;
      const d = decodeMessage(c.bytes);
      expect(d.xid).toBe(c.xid);
      expect(hex(encodeMessage(d.msg, d.xid))).toBe(hex(c.bytes));
    },
  );

  it('ovs-ofctl ofp-print prints our bytes as the text we format', async () => {
    const msgs = FLOWS.map((t, i) =>
      encodeMessage({ type: 'flow_mod', command: 'add', flow: parseFlow(t) }, i + 1),
    );
    const outs = await Promise.all(msgs.map((m) => ofpPrint(m)));
    const lines = outs.map((o) =>
      o
        .split('\n')
        .filter((l) => l.startsWith('OFPT_FLOW_MOD'))
        .join(' '),
    );
    expect(lines).toHaveLength(FLOWS.length);
    lines.forEach((line, i) => {
      const { msg } = decodeMessage(msgs[i]!);
      const flow = (msg as Extract<OfMessage, { type: 'flow_mod' }>).flow;
      expect(line).toContain(`actions=${formatActions(flow.actions)}`);
      expect(line).toContain(expectedOfpPrintMatch(flow));
      expect(line).not.toMatch(/decode error|\*\*\*/i);
    });
  });
});

/** ofp-print shows `priority=N,<match>` (priority omitted when it is the default 32768). */
function expectedOfpPrintMatch(f: Flow): string {
  const m = formatMatch(f.match);
  if (f.priority === 32768) return m;
  return m ? `priority=${f.priority},${m}` : `priority=${f.priority}`;
}

describe('other messages ovs-ofctl sends', () => {
  it('delete by cookie mask', async () => {
    const [c] = await capture(
      ['del-flows', sw.target, 'cookie=0x0500000000000000/0xff00000000000000'],
      14,
    );
    const ours = encodeMessage(
      {
        type: 'flow_mod',
        command: 'delete',
        flow: { table: 255, priority: 32768, cookie: 0x0500000000000000n, match: {}, actions: [] },
        cookieMask: 0xff00000000000000n,
      },
      c!.xid,
    );
    expect(hex(ours)).toBe(hex(c!.bytes));
  });

  it('strict delete of one flow and delete by out_port', async () => {
    const [c] = await capture(
      ['--strict', 'del-flows', sw.target, 'table=3,priority=100,tcp,tp_dst=80'],
      14,
    );
    const strict = parseFlow('table=3,priority=100,tcp,tp_dst=80 actions=drop');
    expect(
      hex(encodeMessage({ type: 'flow_mod', command: 'delete_strict', flow: strict }, c!.xid)),
    ).toBe(hex(c!.bytes));
    const [d] = await capture(['del-flows', sw.target, 'table=3,out_port=7'], 14);
    const byPort = { table: 3, priority: 32768, cookie: 0n, match: {}, actions: [] };
    expect(
      hex(encodeMessage({ type: 'flow_mod', command: 'delete', flow: byPort, outPort: 7 }, d!.xid)),
    ).toBe(hex(d!.bytes));
  });

  it('modify (strict and not) carries the new actions', async () => {
    const [c] = await capture(['mod-flows', sw.target, 'table=2,ip actions=output:3'], 14);
    const f = parseFlow('table=2,ip actions=output:3');
    expect(hex(encodeMessage({ type: 'flow_mod', command: 'modify', flow: f }, c!.xid))).toBe(
      hex(c!.bytes),
    );
  });

  it('a bundle: open, add messages, commit', async () => {
    const file = join(dir, 'bundle.txt');
    writeFileSync(file, `${FLOWS[1]}\n${FLOWS[2]}\n`);
    sw.clear();
    const r = await sw.ofctl('--bundle', 'add-flows', sw.target, file);
    expect(r.stderr).toBe('');
    const msgs = sw.captured.filter((c) => c.type === 33 || c.type === 34);
    const decoded = msgs.map((m) => decodeMessage(m.bytes));
    expect(decoded.map((d) => d.msg.type)).toEqual([
      'bundle_control',
      'bundle_add',
      'bundle_add',
      'bundle_control',
    ]);
    for (let i = 0; i < msgs.length; i++) {
      expect(hex(encodeMessage(decoded[i]!.msg, decoded[i]!.xid))).toBe(hex(msgs[i]!.bytes));
    }
    const open = decoded[0]!.msg as Extract<OfMessage, { type: 'bundle_control' }>;
    expect(open.ctype).toBe('open_request');
    expect(decoded[3]!.msg).toMatchObject({ ctype: 'commit_request', bundleId: open.bundleId });
    const add = decoded[1]!.msg as Extract<OfMessage, { type: 'bundle_add' }>;
    const ours = encodeMessage(
      {
        type: 'bundle_add',
        bundleId: open.bundleId,
        atomic: add.atomic,
        ordered: add.ordered,
        innerXid: add.innerXid,
        message: { type: 'flow_mod', command: 'add', flow: parseFlow(FLOWS[1]!) },
      },
      decoded[1]!.xid,
    );
    expect(hex(ours)).toBe(hex(msgs[1]!.bytes));
  });

  it('a flow-stats request (dump-flows with a cookie filter)', async () => {
    const [c] = await capture(['dump-flows', sw.target, 'table=3,cookie=0x5/-1,tcp'], 18);
    const d = decodeMessage(c!.bytes);
    expect(d.msg).toMatchObject({
      type: 'flow_stats_request',
      filter: { table: 3, cookie: 5n, cookieMask: 0xffffffffffffffffn },
    });
    expect(hex(encodeMessage(d.msg, d.xid))).toBe(hex(c!.bytes));
    const ours = encodeMessage(
      {
        type: 'flow_stats_request',
        filter: {
          table: 3,
          cookie: 5n,
          cookieMask: 0xffffffffffffffffn,
          match: parseFlow('tcp actions=drop').match,
        },
      },
      c!.xid,
    );
    expect(hex(ours)).toBe(hex(c!.bytes));
  });

  it('a packet-out that re-injects a packet into the pipeline', async () => {
    const pkt =
      'ffffffffffff001122334455080600010800060400010011223344550a0000010000000000000a000002';
    const [c] = await capture(
      ['packet-out', sw.target, `in_port=3 packet=${pkt} actions=resubmit(,0)`],
      13,
    );
    const ours = encodeMessage(
      {
        type: 'packet_out',
        inPort: 3,
        actions: [{ type: 'resubmit', table: 0 }],
        data: Buffer.from(pkt, 'hex'),
      },
      c!.xid,
    );
    expect(hex(ours)).toBe(hex(c!.bytes));
    expect(decodeMessage(c!.bytes).msg).toMatchObject({ type: 'packet_out', inPort: 3 });
  });
});
