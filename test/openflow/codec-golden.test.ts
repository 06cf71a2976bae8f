/**
 * Golden tests of the wire codec against the real tool: `ovs-ofctl` (OVS 3.1, OpenFlow 1.5)
 * sends its flow-mods to a fake switch; our encoding of the same flow text must equal its bytes,
 * our decoding of its bytes must equal the canonical IR of the text and re-encode to them, and
 * `ovs-ofctl ofp-print` must print our bytes as the line we expect (table, priority, match,
 * cookie, timeouts, flags, actions). The flow list must use every IR field and action.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeSwitch, ofpPrint, type FakeSwitch } from './fake-switch.js';
import { parseFlow, formatMatch, formatActions } from '../../src/openflow/text.js';
import {
  canonicalFlow,
  decodeMessage,
  encodeMessage,
  type OfMessage,
} from '../../src/openflow/wire/messages.js';
import { FIELD_NAMES, type Action, type FieldName, type Flow } from '../../src/openflow/ir.js';
import { FIELD_TABLE } from '../../src/openflow/fields.js';
import { FLOWS } from './flows.js';

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

describe('the golden flows cover the IR', () => {
  const flows = FLOWS.map((t) => parseFlow(t));
  const actionTypes = new Set<string>();
  const walk = (a: Action): void => {
    actionTypes.add(a.type);
    if (a.type === 'ct') a.exec?.forEach(walk);
    if (a.type === 'clone') a.actions.forEach(walk);
  };
  flows.forEach((f) =>
    f.actions.length === 0 ? actionTypes.add('drop') : f.actions.forEach(walk),
  );

  it('every match field, and every maskable one with a partial mask (registers: some)', () => {
    const used = (name: FieldName, masked: boolean) =>
      flows.some((f) => f.match[name] && (!masked || f.match[name].mask !== undefined));
    expect(FIELD_NAMES.filter((n) => !used(n, false))).toEqual([]);
    const unmasked = FIELD_TABLE.filter(
      (f) => f.maskable && !f.name.startsWith('reg') && !used(f.name, true),
    ).map((f) => f.name);
    expect(unmasked).toEqual([]);
  });

  it('every action type', () => {
    const all: Record<Action['type'], true> = {
      output: true,
      output_reg: true,
      controller: true,
      goto_table: true,
      resubmit: true,
      set_field: true,
      load: true,
      move: true,
      ct: true,
      ct_clear: true,
      conjunction: true,
      learn: true,
      note: true,
      meter: true,
      push_vlan: true,
      pop_vlan: true,
      clone: true,
      drop: true,
    };
    expect(Object.keys(all).filter((t) => !actionTypes.has(t))).toEqual([]);
  });
});

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
    '#%i decodes to the canonical IR of its text and re-encodes to the same bytes: %s',
    (i, text) => {
      const c = captured[i]!;
      const d = decodeMessage(c.bytes);
      expect(d.xid).toBe(c.xid);
      expect(d.msg.type).toBe('flow_mod');
      expect((d.msg as Extract<OfMessage, { type: 'flow_mod' }>).flow).toEqual(
        canonicalFlow(parseFlow(text)),
      );
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
      expect(line).toBe(
        `OFPT_FLOW_MOD (OF1.5) (xid=0x${(i + 1).toString(16)}): ${ofpPrintFlowMod(flow)}`,
      );
    });
  });
});

/**
 * How ofp-print shows an add flow-mod (ofp-flow.c `ofputil_flow_mod_format`): `ADD`, `table:N`
 * unless 0, `priority=N,<match>` (priority left out when it is the default 32768), `cookie:0x..`
 * unless 0 or all ones, `idle:N`, `hard:N`, the flags, then the actions.
 */
function ofpPrintFlowMod(f: Flow): string {
  const m = formatMatch(f.match);
  const match =
    f.priority === 32768 ? m : m ? `priority=${f.priority},${m}` : `priority=${f.priority}`;
  return [
    'ADD',
    ...(f.table !== 0 ? [`table:${f.table}`] : []),
    ...(match ? [match] : []),
    ...(f.cookie !== 0n && f.cookie !== 0xffffffffffffffffn
      ? [`cookie:0x${f.cookie.toString(16)}`]
      : []),
    ...(f.idleTimeout ? [`idle:${f.idleTimeout}`] : []),
    ...(f.hardTimeout ? [`hard:${f.hardTimeout}`] : []),
    ...(f.flags ?? []),
    `actions=${formatActions(f.actions)}`,
  ].join(' ');
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

  it('strict modify keeps priority and match exact', async () => {
    const text = 'table=2,priority=7,udp,tp_dst=53 actions=output:3';
    const [c] = await capture(['--strict', 'mod-flows', sw.target, text], 14);
    const ours = encodeMessage(
      { type: 'flow_mod', command: 'modify_strict', flow: parseFlow(text) },
      c!.xid,
    );
    expect(hex(ours)).toBe(hex(c!.bytes));
  });

  it('an aggregate-stats request', async () => {
    sw.clear();
    // Our fake switch answers with an empty body, which ovs-ofctl rejects; only the request matters.
    await sw.ofctl('dump-aggregate', sw.target, 'table=3,cookie=0x5/-1');
    const c = sw.captured.find((m) => m.type === 18)!;
    const filter = { table: 3, cookie: 5n, cookieMask: 0xffffffffffffffffn, match: {} };
    expect(decodeMessage(c.bytes).msg).toMatchObject({ type: 'aggregate_request', filter });
    expect(hex(encodeMessage({ type: 'aggregate_request', filter }, c.xid))).toBe(hex(c.bytes));
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

describe('ovs-ofctl ofp-print decodes the other messages we encode', () => {
  const flow = parseFlow('table=3,priority=100,cookie=0x1234,tcp,tp_dst=80 actions=resubmit(,4)');
  const pkt = Buffer.from(
    'ffffffffffff001122334455080600010800060400010011223344550a0000010000000000000a000002',
    'hex',
  );
  const cases: [OfMessage, RegExp][] = [
    [{ type: 'hello' }, /OFPT_HELLO \(OF1.5\).*\n.*version bitmap: 0x06/],
    [{ type: 'echo_request', data: Uint8Array.from([1, 2]) }, /OFPT_ECHO_REQUEST/],
    [{ type: 'features_request' }, /OFPT_FEATURES_REQUEST/],
    [{ type: 'barrier_request' }, /OFPT_BARRIER_REQUEST/],
    [
      {
        type: 'packet_in',
        bufferId: 0xffffffff,
        totalLen: pkt.length,
        reason: 'no_match',
        table: 0,
        cookie: 0xabcn,
        match: { in_port: { value: 3n }, reg5: { value: 7n } },
        data: pkt,
      },
      /OFPT_PACKET_IN.*cookie=0xabc total_len=42 reg5=0x7,in_port=3 \(via no_match\) data_len=42.*\n.*arp,.*arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_op=1/,
    ],
    [
      {
        type: 'resume',
        totalLen: pkt.length,
        reason: 'action',
        table: 7,
        cookie: 0xabcn,
        match: { in_port: { value: 3n }, reg5: { value: 7n }, ct_state: { value: 0x21n } },
        data: pkt,
        // NXCPT_BRIDGE (a UUID) and NXCPT_ACTIONS (output:2), as ovs-vswitchd freezes them.
        continuation: Buffer.from(
          '80000014' +
            '0123456789abcdef0123456789abcdef' +
            '00000000' +
            '80060018' +
            '00000000' +
            '00000010000000020000000000000000',
          'hex',
        ),
      },
      /NXT_RESUME \(OF1.5\).*table_id=7 cookie=0xabc total_len=42 ct_state=new\|trk,reg5=0x7,in_port=3 \(via action\) data_len=42.*\n continuation.bridge=67452301-efcd-ab89-6745-2301efcdab89\n continuation.actions=unroll_xlate\(table=0, cookie=0\),output:2\n.*arp,/,
    ],
    [
      {
        type: 'flow_removed',
        flow,
        reason: 'idle_timeout',
        durationSec: 5,
        packetCount: 3n,
        byteCount: 300n,
      },
      /OFPT_FLOW_REMOVED.*priority=100,tcp,tp_dst=80 reason=idle table_id=3 cookie:0x1234 duration5(\.0+)?s.*pkts3 bytes300/,
    ],
    [
      {
        type: 'flow_stats_reply',
        more: false,
        flows: [{ flow, durationSec: 1, durationNsec: 0, packetCount: 2n, byteCount: 120n }],
      },
      /cookie=0x1234, duration=1(\.0+)?s, table=3, n_packets=2, n_bytes=120, priority=100,tcp,tp_dst=80 actions=resubmit\(,4\)/,
    ],
    [
      { type: 'aggregate_reply', flowCount: 9, packetCount: 8n, byteCount: 7n },
      /packet_count=8 byte_count=7 flow_count=9/,
    ],
    [
      { type: 'bundle_control', bundleId: 5, ctype: 'commit_request', atomic: true },
      /OFPT_BUNDLE_CONTROL.*\n.*bundle_id=0x5 type=COMMIT_REQUEST flags=atomic/,
    ],
    [
      {
        type: 'set_async',
        config: {
          packetInMaster: 0x3f,
          packetInSlave: 0x1,
          portStatusMaster: 0x5,
          flowRemovedMaster: 0x3f,
          flowRemovedSlave: 0x6,
          roleStatusMaster: 0x1,
          tableStatusSlave: 0x18,
          requestForwardMaster: 0x3,
        },
      },
      new RegExp(
        [
          'OFPT_SET_ASYNC \\(OF1.5\\) \\(xid=0x42\\):',
          ' primary:',
          '       PACKET_IN: no_match action invalid_ttl action_set group packet_out',
          '     PORT_STATUS: add modify',
          '    FLOW_REMOVED: idle hard delete group_delete meter_delete eviction',
          '     ROLE_STATUS: primary_request',
          '    TABLE_STATUS: \\(off\\)',
          '  REQUESTFORWARD: group_mod_request meter_mod_request',
          '',
          ' secondary:',
          '       PACKET_IN: no_match',
          '     PORT_STATUS: \\(off\\)',
          '    FLOW_REMOVED: hard delete',
          '     ROLE_STATUS: \\(off\\)',
          '    TABLE_STATUS: vacancy_down vacancy_up',
          '  REQUESTFORWARD: \\(off\\)',
        ].join('\n'),
      ),
    ],
    [
      { type: 'get_async_reply', config: { packetInMaster: 0x1, portStatusSlave: 0x4 } },
      new RegExp(
        [
          'OFPT_GET_ASYNC_REPLY \\(OF1.5\\) \\(xid=0x42\\):',
          ' primary:',
          '       PACKET_IN: no_match',
          '     PORT_STATUS: \\(off\\)',
          '(.*\\n){4}',
          ' secondary:',
          '       PACKET_IN: \\(off\\)',
          '     PORT_STATUS: modify',
        ].join('\n'),
      ),
    ],
    [
      {
        type: 'meter_mod',
        command: 'add',
        meterId: 4,
        pktps: true,
        bands: [{ type: 'drop', rate: 100, burst: 0 }],
      },
      /OFPT_METER_MOD.*ADD meter=4 pktps bands=\n?.*type=drop rate=100/s,
    ],
    [
      { type: 'set_packet_in_format', format: 'nxt_packet_in2' },
      /NXT_SET_PACKET_IN_FORMAT.*format=nxt_packet_in2/,
    ],
    [
      {
        type: 'error',
        errType: 5,
        errCode: 1,
        typeName: '',
        codeName: '',
        data: new Uint8Array(0),
      },
      /OFPFMFC_TABLE_FULL/,
    ],
  ];
  it.each(cases.map(([m, re]) => [m.type, m, re] as const))('%s', async (_t, msg, re) => {
    const bytes = encodeMessage(msg, 0x42);
    const out = await ofpPrint(bytes);
    expect(out).toMatch(re);
    expect(out).not.toMatch(/decode error|\*\*\*/);
    if (msg.type !== 'error')
      expect(hex(encodeMessage(decodeMessage(bytes).msg, 0x42))).toBe(hex(bytes));
  });
});
