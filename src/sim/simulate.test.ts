import { describe, expect, it } from 'vitest';
import { TcpFlags, type Packet } from '../model/packet.js';
import { CtState, type Action, type Flow, type Match } from '../openflow/ir.js';
import { connContextOfKey, keyFromMatch, keyFromPacket, packetFromKey } from './key.js';
import { newSimState, simulate } from './simulate.js';
import { trace } from './trace.js';

const A_MAC = 0x020000000001n;
const B_MAC = 0x020000000002n;
const A_IP = 0x0a000001n;
const B_IP = 0x0a000002n;

function flow(table: number, priority: number, match: Match, actions: Action[], cookie = 0n): Flow {
  return { table, priority, cookie, match, actions };
}
const v = (value: bigint | number, mask?: bigint): { value: bigint; mask?: bigint } =>
  mask === undefined ? { value: BigInt(value) } : { value: BigInt(value), mask };

function tcp(
  src: bigint,
  dst: bigint,
  sport: number,
  dport: number,
  flags: number = TcpFlags.SYN,
): Packet {
  return {
    ethSrc: src === A_IP ? A_MAC : B_MAC,
    ethDst: dst === A_IP ? A_MAC : B_MAC,
    ethType: 0x0800,
    ip: { family: 4, src, dst, proto: 6, ttl: 64 },
    l4: { src: sport, dst: dport, tcpFlags: flags },
  };
}

describe('lookup', () => {
  it('picks the highest priority and drops on a miss', () => {
    const flows = [
      flow(0, 10, { eth_type: v(0x800) }, [{ type: 'output', port: 2 }]),
      flow(0, 20, { eth_type: v(0x800), ip_dst: v(B_IP) }, [{ type: 'output', port: 3 }]),
    ];
    const s = newSimState();
    expect(simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1)).outputs).toEqual([3]);
    expect(simulate(flows, s, 1, keyFromPacket(tcp(B_IP, A_IP, 1000, 80), 1)).outputs).toEqual([2]);
    const arp = keyFromMatch({ eth_type: v(0x806) }, 1);
    const r = simulate(flows, s, 1, arp);
    expect(r.verdict).toBe('drop');
    expect(trace(r, new Map()).at(-1)).toMatch(/no flow matches in table 0/);
  });

  it('honours masks', () => {
    const flows = [
      flow(0, 10, { eth_type: v(0x800), tcp_dst: v(0x50, 0xfff0n), ip_proto: v(6) }, [
        { type: 'output', port: 2 },
      ]),
    ];
    const s = newSimState();
    expect(simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1, 0x5f), 1)).outputs).toEqual([2]);
    expect(simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1, 0x60), 1)).outputs).toEqual([]);
  });

  it('reports ties and takes the first flow given', () => {
    const flows = [
      flow(0, 10, {}, [{ type: 'output', port: 2 }]),
      flow(0, 10, {}, [{ type: 'output', port: 3 }]),
    ];
    const r = simulate(flows, newSimState(), 1, keyFromMatch({}, 1));
    expect(r.outputs).toEqual([2]);
    expect(r.path[0]).toMatchObject({ kind: 'lookup', tie: true });
  });
});

describe('conjunction', () => {
  const conj = (id: number, k: number, n: number): Action => ({
    type: 'conjunction',
    id,
    clause: k,
    nClauses: n,
  });
  const base = [
    flow(0, 100, { ip_src: v(A_IP), eth_type: v(0x800) }, [conj(7, 1, 2)]),
    flow(0, 100, { ip_src: v(0x0a000003), eth_type: v(0x800) }, [conj(7, 1, 2)]),
    flow(0, 100, { ip_dst: v(B_IP), eth_type: v(0x800) }, [conj(7, 2, 2)]),
    flow(0, 0, {}, [{ type: 'output', port: 9 }]),
  ];

  it('matches when every clause matches, through the conj_id flow', () => {
    const flows = [...base, flow(0, 100, { conj_id: v(7) }, [{ type: 'output', port: 2 }])];
    const r = simulate(flows, newSimState(), 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1));
    expect(r.outputs).toEqual([2]);
    expect(r.path[0]).toMatchObject({ kind: 'lookup', conjId: 7 });
  });

  it('does not match when a clause is missing', () => {
    const flows = [...base, flow(0, 100, { conj_id: v(7) }, [{ type: 'output', port: 2 }])];
    expect(
      simulate(flows, newSimState(), 1, keyFromPacket(tcp(B_IP, A_IP, 1000, 80), 1)).outputs,
    ).toEqual([9]);
  });

  it('falls back to the other flows when the conj_id flow is missing', () => {
    expect(
      simulate(base, newSimState(), 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1)).outputs,
    ).toEqual([9]);
  });

  it('ignores conjunctive flows below the best plain match', () => {
    const flows = [
      ...base,
      flow(0, 100, { conj_id: v(7) }, [{ type: 'output', port: 2 }]),
      flow(0, 200, { eth_type: v(0x800) }, [{ type: 'output', port: 4 }]),
    ];
    expect(
      simulate(flows, newSimState(), 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1)).outputs,
    ).toEqual([4]);
  });

  // Both checked against ovs-vswitchd 3.1 with ofproto/trace.
  it('ends the search with the best plain flow when a complete conjunction has no conj_id flow', () => {
    const flows = [
      ...base.filter((f) => f.priority === 100),
      flow(0, 90, { ip_src: v(A_IP), eth_type: v(0x800) }, [conj(8, 1, 2)]),
      flow(0, 90, { ip_dst: v(B_IP), eth_type: v(0x800) }, [conj(8, 2, 2)]),
      flow(0, 90, { conj_id: v(8), eth_type: v(0x800) }, [{ type: 'output', port: 3 }]),
    ];
    const key = keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1);
    const withPlain = [
      ...flows,
      flow(0, 50, { eth_type: v(0x800) }, [{ type: 'output', port: 2 }]),
    ];
    expect(simulate(withPlain, newSimState(), 1, key).outputs).toEqual([2]);
    expect(simulate(flows, newSimState(), 1, key).outputs).toEqual([3]);
  });

  it('tries lower priorities when a higher conjunction is incomplete', () => {
    const flows = [
      ...base,
      flow(0, 100, { conj_id: v(7) }, [{ type: 'output', port: 2 }]),
      flow(0, 300, { ip_src: v(A_IP), eth_type: v(0x800) }, [conj(8, 1, 2)]),
      flow(0, 300, { ip_dst: v(0x0a000009), eth_type: v(0x800) }, [conj(8, 2, 2)]),
      flow(0, 300, { conj_id: v(8) }, [{ type: 'output', port: 5 }]),
    ];
    expect(
      simulate(flows, newSimState(), 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1)).outputs,
    ).toEqual([2]);
  });
});

describe('actions', () => {
  it('drops output to the in_port unless IN_PORT', () => {
    const s = newSimState();
    const k = keyFromMatch({}, 1);
    expect(simulate([flow(0, 1, {}, [{ type: 'output', port: 1 }])], s, 1, k).outputs).toEqual([]);
    expect(
      simulate([flow(0, 1, {}, [{ type: 'output', port: 'IN_PORT' }])], s, 1, k).outputs,
    ).toEqual([1]);
  });

  it('runs goto_table after the other actions, and resubmit in place', () => {
    const flows = [
      flow(0, 1, {}, [
        { type: 'goto_table', table: 1 },
        { type: 'load', dst: { field: 'reg5', ofs: 0, nBits: 16 }, value: 3n },
      ]),
      flow(0, 1, {}, []),
      flow(1, 1, { reg5: v(3) }, [
        { type: 'output_reg', src: { field: 'reg5', ofs: 0, nBits: 16 } },
      ]),
    ];
    expect(simulate(flows, newSimState(), 1, keyFromMatch({}, 1)).outputs).toEqual([3]);
    const rs = [
      flow(0, 1, {}, [
        { type: 'resubmit', table: 1 },
        { type: 'output', port: 4 },
      ]),
      flow(1, 1, {}, [
        { type: 'set_field', field: 'reg0', value: 1n },
        { type: 'output', port: 2 },
      ]),
    ];
    expect(simulate(rs, newSimState(), 1, keyFromMatch({}, 1)).outputs).toEqual([2, 4]);
  });

  it('isolates clone', () => {
    const flows = [
      flow(0, 1, {}, [
        {
          type: 'clone',
          actions: [
            { type: 'set_field', field: 'reg1', value: 7n },
            { type: 'resubmit', table: 1 },
          ],
        },
        { type: 'resubmit', table: 1 },
      ]),
      flow(1, 2, { reg1: v(7) }, [{ type: 'output', port: 7 }]),
      flow(1, 1, {}, [{ type: 'output', port: 8 }]),
    ];
    expect(simulate(flows, newSimState(), 1, keyFromMatch({}, 1)).outputs).toEqual([7, 8]);
  });

  it('stops runaway resubmit loops', () => {
    const flows = [flow(0, 1, {}, [{ type: 'resubmit', table: 0 }])];
    const r = simulate(flows, newSimState(), 1, keyFromMatch({}, 1));
    expect(r.verdict).toBe('drop');
    expect(r.path.some((s) => s.kind === 'drop')).toBe(true);
  });

  it('reports controller with userdata and the flow cookie', () => {
    const ud = new Uint8Array([1, 2]);
    const r = simulate(
      [flow(0, 1, {}, [{ type: 'controller', userdata: ud }], 0x42n)],
      newSimState(),
      1,
      keyFromMatch({}, 1),
    );
    expect(r.verdict).toBe('controller');
    expect(r.controller).toMatchObject([{ cookie: 0x42n, userdata: ud }]);
    expect(r.controller[0]!.key.fields.in_port).toBe(1n);
  });

  it('learns flows that later packets see', () => {
    const flows = [
      flow(0, 1, { in_port: v(1) }, [
        {
          type: 'learn',
          table: 1,
          priority: 5,
          specs: [
            {
              kind: 'match-field',
              dst: { field: 'eth_dst', ofs: 0, nBits: 48 },
              src: { field: 'eth_src', ofs: 0, nBits: 48 },
            },
            { kind: 'output', src: { field: 'in_port', ofs: 0, nBits: 16 } },
          ],
        },
      ]),
      flow(0, 1, { in_port: v(2) }, [{ type: 'resubmit', table: 1 }]),
    ];
    const s = newSimState();
    simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1, 2), 1));
    expect(s.learned).toHaveLength(1);
    expect(
      simulate(flows, s, 2, keyFromPacket(tcp(B_IP, A_IP, 2, 1, TcpFlags.ACK), 2)).outputs,
    ).toEqual([1]);
  });
});

describe('conntrack', () => {
  // A tiny firewall: port 1 may open connections to port 2; port 2 only answers.
  const trk = (bits: number, mask: number): { value: bigint; mask: bigint } => ({
    value: BigInt(bits),
    mask: BigInt(mask),
  });
  const flows = [
    flow(0, 10, { eth_type: v(0x800), ct_state: trk(0, CtState.TRK) }, [
      { type: 'ct', zone: 1, table: 1 },
    ]),
    flow(
      1,
      10,
      {
        in_port: v(1),
        ct_state: trk(CtState.TRK | CtState.NEW, CtState.TRK | CtState.NEW | CtState.INV),
      },
      [
        {
          type: 'ct',
          zone: 1,
          commit: true,
          exec: [{ type: 'set_field', field: 'ct_mark', value: 5n }],
        },
        { type: 'output', port: 2 },
      ],
    ),
    flow(
      1,
      10,
      { ct_state: trk(CtState.TRK | CtState.EST, CtState.TRK | CtState.EST | CtState.INV) },
      [{ type: 'resubmit', table: 2 }],
    ),
    flow(
      1,
      10,
      { ct_state: trk(CtState.TRK | CtState.REL, CtState.TRK | CtState.REL | CtState.INV) },
      [{ type: 'resubmit', table: 2 }],
    ),
    flow(2, 10, { in_port: v(1) }, [{ type: 'output', port: 2 }]),
    flow(2, 10, { in_port: v(2) }, [{ type: 'output', port: 1 }]),
  ];

  it('opens, answers, and refuses unsolicited packets', () => {
    const s = newSimState();
    expect(simulate(flows, s, 2, keyFromPacket(tcp(B_IP, A_IP, 80, 1000), 2)).outputs).toEqual([]);
    const open = simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1));
    expect(open.outputs).toEqual([2]);
    expect(s.conntrack.count(1)).toBe(1);
    expect(s.conntrack.connections()[0]!.mark).toBe(5n);
    const reply = simulate(
      flows,
      s,
      2,
      keyFromPacket(tcp(B_IP, A_IP, 80, 1000, TcpFlags.SYN | TcpFlags.ACK), 2),
    );
    expect(reply.outputs).toEqual([1]);
    expect(reply.path.find((p) => p.kind === 'ct')).toMatchObject({
      state: CtState.TRK | CtState.EST | CtState.RPL,
    });
  });

  it('marks SYN+ACK without a connection and bad flags invalid', () => {
    const s = newSimState();
    const r = simulate(
      flows,
      s,
      1,
      keyFromPacket(tcp(A_IP, B_IP, 1000, 80, TcpFlags.SYN | TcpFlags.ACK), 1),
    );
    expect(r.outputs).toEqual([]);
    expect(r.path.find((p) => p.kind === 'ct')).toMatchObject({ state: CtState.TRK | CtState.INV });
    const fin = simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80, TcpFlags.FIN), 1));
    expect(fin.path.find((p) => p.kind === 'ct')).toMatchObject({
      state: CtState.TRK | CtState.INV,
    });
  });

  it('sets the original-direction tuple, and relates ICMP errors to their connection', () => {
    const s = newSimState();
    simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1));
    const err: Packet = {
      ethSrc: B_MAC,
      ethDst: A_MAC,
      ethType: 0x0800,
      ip: { family: 4, src: B_IP, dst: A_IP, proto: 1, ttl: 64 },
      icmp: {
        type: 3,
        code: 3,
        id: 0,
        embedded: { src: A_IP, dst: B_IP, proto: 6, l4: { src: 1000, dst: 80 } },
      },
    };
    const seen: bigint[] = [];
    const probe = [
      ...flows.filter((f) => f.table !== 2),
      flow(2, 10, {}, [
        {
          type: 'move',
          src: { field: 'ct_tp_dst', ofs: 0, nBits: 16 },
          dst: { field: 'reg3', ofs: 0, nBits: 16 },
        },
        { type: 'resubmit', table: 3 },
      ]),
      flow(3, 10, { reg3: v(80) }, [{ type: 'output', port: 1 }]),
    ];
    const r = simulate(probe, s, 2, keyFromPacket(err, 2));
    seen.push(...r.outputs.map(BigInt));
    expect(r.path.find((p) => p.kind === 'ct')).toMatchObject({
      state: CtState.TRK | CtState.REL | CtState.RPL,
    });
    expect(seen).toEqual([1n]);
    // An error quoting a connection nobody opened is invalid.
    const bogus = {
      ...err,
      icmp: {
        ...err.icmp!,
        embedded: { src: A_IP, dst: B_IP, proto: 6, l4: { src: 1001, dst: 80 } },
      },
    };
    const rb = simulate(probe, s, 2, keyFromPacket(bogus, 2));
    expect(rb.path.find((p) => p.kind === 'ct')).toMatchObject({
      state: CtState.TRK | CtState.INV,
    });
  });

  it('forks at ct(table=): the original continues untracked, the copy recirculates', () => {
    const fork = [
      flow(0, 10, { eth_type: v(0x800), ct_state: trk(0, CtState.TRK) }, [
        { type: 'ct', zone: 1, table: 1 },
        { type: 'resubmit', table: 2 },
      ]),
      flow(1, 10, { ct_state: trk(CtState.TRK, 0) }, [{ type: 'output', port: 3 }]),
      flow(2, 10, { ct_state: trk(0, CtState.TRK) }, [{ type: 'output', port: 2 }]),
    ];
    expect(
      simulate(fork, newSimState(), 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1)).outputs,
    ).toEqual([2, 3]);
  });

  it('gives a punted packet the connection context the reference semantics judges', () => {
    const s = newSimState();
    simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1));
    const punt = [flows[0]!, flow(1, 10, {}, [{ type: 'controller' }])];
    const r = simulate(punt, s, 2, keyFromPacket(tcp(B_IP, A_IP, 80, 1000, TcpFlags.ACK), 2));
    expect(connContextOfKey(r.controller[0]!.key)).toEqual({
      state: 'established',
      reply: true,
      original: {
        family: 4,
        src: A_IP,
        dst: B_IP,
        proto: 6,
        srcPort: 1000,
        dstPort: 80,
        icmpType: null,
        icmpCode: null,
      },
    });
    expect(connContextOfKey(keyFromPacket(tcp(B_IP, A_IP, 80, 1000), 2))).toBeNull();
  });

  it('keeps zones apart', () => {
    const s = newSimState();
    simulate(flows, s, 1, keyFromPacket(tcp(A_IP, B_IP, 1000, 80), 1));
    const other = flows.map((f) =>
      f.table === 0 ? flow(0, 10, f.match, [{ type: 'ct', zone: 2, table: 1 }]) : f,
    );
    const reply = simulate(other, s, 2, keyFromPacket(tcp(B_IP, A_IP, 80, 1000, TcpFlags.ACK), 2));
    expect(reply.outputs).toEqual([]);
  });
});

describe('keys', () => {
  it('round-trips a packet through a key', () => {
    const p: Packet = {
      ethSrc: A_MAC,
      ethDst: B_MAC,
      ethType: 0x86dd,
      ip: { family: 6, src: 0xfd00n << 112n, dst: 1n, proto: 58, ttl: 255 },
      icmp: { type: 136, code: 0, id: 0, nd: { target: 5n, sll: 0n, tll: A_MAC } },
    };
    expect(packetFromKey(keyFromPacket(p, 1))).toEqual(p);
    const t = tcp(A_IP, B_IP, 1, 2, TcpFlags.ACK);
    expect(packetFromKey(keyFromPacket(t, 1))).toEqual(t);
  });
});

describe('trace', () => {
  const flows = [
    flow(0, 10, { eth_type: v(0x800) }, [{ type: 'goto_table', table: 1 }], 0x0500000000000001n),
    flow(
      1,
      100,
      { eth_type: v(0x800), ip_dst: v(B_IP) },
      [{ type: 'output', port: 2 }],
      0x0300000000000002n,
    ),
  ];
  const cookies = new Map<bigint, unknown>([
    [0x0500000000000001n, { kind: 'pipeline' }],
    [0x0300000000000002n, { kind: 'rule', ruleId: 'rule-80' }],
  ]);
  const names = new Map([
    [0, 'Classify'],
    [1, 'EgressRules'],
  ]);

  it('names tables, flows and the rule behind an allow', () => {
    const r = simulate(flows, newSimState(), 1, keyFromPacket(tcp(A_IP, B_IP, 1, 80), 1));
    const lines = trace(r, cookies, { tableNames: names });
    expect(lines[0]).toMatch(/^Classify \(table 0\): priority 10, ip \[pipeline\]/);
    expect(lines.join('\n')).toMatch(
      /EgressRules \(table 1\): priority 100, ip,nw_dst=10\.0\.0\.2 \[rule rule-80\]/,
    );
    expect(lines.at(-1)).toBe('verdict: output to 2 (allowed by rule rule-80)');
  });

  it('says why a packet is dropped', () => {
    const r = simulate(flows, newSimState(), 1, keyFromPacket(tcp(B_IP, A_IP, 1, 80), 1));
    expect(trace(r, cookies, { tableNames: names }).at(-1)).toBe(
      'verdict: drop: no flow matches in EgressRules (table 1)',
    );
  });
});
