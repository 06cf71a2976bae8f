import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Action, FieldMatch, FieldName, FieldSlice, Flow, Match } from './ir.js';
import { formatFlow, parseFlow } from './text.js';
import { canonicalFlow, decodeMessage, encodeMessage, type OfMessage } from './wire/messages.js';

const u = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
const exact = (bits: number) => u(bits).map((value): FieldMatch => ({ value }));
const masked = (bits: number) =>
  fc.tuple(u(bits), u(bits)).map(([value, mask]): FieldMatch => ({ value: value & mask, mask }));
const either = (bits: number) => fc.oneof(exact(bits), masked(bits));

/** Random matches that satisfy every prerequisite. */
const matchArb: fc.Arbitrary<Match> = fc
  .record(
    {
      l3: fc.constantFrom('none', 'ip', 'ipv6', 'arp'),
      proto: fc.constantFrom(6n, 17n, 132n, 1n, 58n, 99n),
      in_port: fc.integer({ min: 1, max: 0xfeff }).map((v): FieldMatch => ({ value: BigInt(v) })),
      eth_src: either(48),
      reg: fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), either(32)), { maxLength: 4 }),
      metadata: either(64),
      tun_id: either(64),
      ct: fc.boolean(),
      ct_mark: either(32),
      ct_label: either(128),
      src4: either(32),
      src6: either(128),
      port: either(16),
      conj: exact(32),
    },
    { requiredKeys: ['l3', 'proto', 'ct'] },
  )
  .map((r) => {
    const m: Partial<Record<FieldName, FieldMatch>> = {};
    if (r.in_port) m.in_port = r.in_port;
    if (r.eth_src) m.eth_src = r.eth_src;
    for (const [i, fm] of r.reg ?? []) m[`reg${i}` as FieldName] = fm;
    if (r.metadata) m.metadata = r.metadata;
    if (r.tun_id) m.tun_id = r.tun_id;
    if (r.conj) m.conj_id = r.conj;
    if (r.l3 === 'arp') {
      m.eth_type = { value: 0x806n };
      if (r.src4) m.arp_spa = r.src4;
    }
    if (r.l3 === 'ip' || r.l3 === 'ipv6') {
      const v6 = r.l3 === 'ipv6';
      m.eth_type = { value: v6 ? 0x86ddn : 0x800n };
      const proto = r.proto === 1n && v6 ? 58n : r.proto === 58n && !v6 ? 1n : r.proto;
      m.ip_proto = { value: proto };
      if (v6 && r.src6) m.ipv6_src = r.src6;
      if (!v6 && r.src4) m.ip_dst = r.src4;
      if (r.port) {
        if (proto === 6n) m.tcp_dst = r.port;
        if (proto === 17n) m.udp_src = r.port;
        if (proto === 132n) m.sctp_dst = r.port;
        if (proto === 1n) m.icmp_type = { value: r.port.value & 0xffn };
        if (proto === 58n) m.icmpv6_code = { value: r.port.value & 0xffn };
      }
      if (r.ct) {
        m.ct_state = { value: 0x20n, mask: 0x30n };
        if (v6 && r.src6) m.ct_ipv6_dst = r.src6;
        if (!v6 && r.src4) m.ct_nw_src = r.src4;
        m.ct_nw_proto = { value: proto };
        if (r.port) m.ct_tp_dst = r.port;
      }
    }
    if (r.ct && !m.ct_state) m.ct_state = { value: 0x22n, mask: 0x23n };
    if (r.ct_mark) m.ct_mark = r.ct_mark;
    if (r.ct_label) m.ct_label = r.ct_label;
    return m;
  });

const regSlice: fc.Arbitrary<FieldSlice> = fc
  .tuple(
    fc.integer({ min: 0, max: 15 }),
    fc.integer({ min: 0, max: 31 }),
    fc.integer({ min: 1, max: 32 }),
  )
  .map(([i, ofs, n]) => ({ field: `reg${i}` as FieldName, ofs: Math.min(ofs, 32 - n), nBits: n }));

const plainAction: fc.Arbitrary<Action> = fc.oneof(
  fc.integer({ min: 1, max: 0xfeff }).map((port): Action => ({ type: 'output', port })),
  fc.constantFrom<Action>(
    { type: 'output', port: 'NORMAL' },
    { type: 'output', port: 'IN_PORT' },
    { type: 'ct_clear' },
    { type: 'pop_vlan' },
  ),
  fc.integer({ min: 0, max: 65535 }).map((maxLen): Action => ({ type: 'controller', maxLen })),
  fc
    .uint8Array({ minLength: 1, maxLength: 12 })
    .map((userdata): Action => ({ type: 'controller', userdata })),
  fc
    .tuple(
      fc.integer({ min: 0, max: 254 }),
      fc.option(fc.integer({ min: 1, max: 0xfeff }), { nil: undefined }),
    )
    .map(([table, port]): Action => ({
      type: 'resubmit',
      table,
      ...(port !== undefined ? { port } : {}),
    })),
  fc
    .tuple(fc.integer({ min: 0, max: 15 }), u(32))
    .map(([i, value]): Action => ({ type: 'set_field', field: `reg${i}` as FieldName, value })),
  regSlice.chain((dst) => u(dst.nBits).map((value): Action => ({ type: 'load', dst, value }))),
  fc.tuple(regSlice, fc.integer({ min: 0, max: 15 })).map(([src, j]): Action => ({
    type: 'move',
    src,
    dst: { field: `reg${j}` as FieldName, ofs: 0, nBits: src.nBits },
  })),
  fc
    .tuple(fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 2, max: 64 }))
    .chain(([id, n]) =>
      fc
        .integer({ min: 1, max: n })
        .map((clause): Action => ({ type: 'conjunction', id, clause, nClauses: n })),
    ),
  fc
    .record({
      commit: fc.boolean(),
      table: fc.integer({ min: 0, max: 254 }),
      zone: fc.integer({ min: 0, max: 65535 }),
    })
    .map((c): Action => ({
      type: 'ct',
      commit: c.commit,
      table: c.table,
      zone: c.zone,
      ...(c.commit ? { exec: [{ type: 'set_field', field: 'ct_mark', value: 1n }] } : {}),
    })),
  fc
    .record({ table: fc.integer({ min: 0, max: 254 }), idle: fc.integer({ min: 0, max: 65535 }) })
    .map((l): Action => ({
      type: 'learn',
      table: l.table,
      idleTimeout: l.idle,
      specs: [
        { kind: 'match-value', dst: { field: 'eth_type', ofs: 0, nBits: 16 }, value: 0x800n },
        {
          kind: 'match-field',
          dst: { field: 'reg1', ofs: 0, nBits: 32 },
          src: { field: 'reg2', ofs: 0, nBits: 32 },
        },
        { kind: 'load-value', dst: { field: 'reg3', ofs: 4, nBits: 4 }, value: 5n },
      ],
    })),
);

const actionsArb: fc.Arbitrary<Action[]> = fc
  .tuple(
    fc.array(plainAction, { maxLength: 5 }),
    fc.option(fc.integer({ min: 1, max: 254 }), { nil: undefined }),
  )
  .map(([a, g]) => (g === undefined ? a : [...a, { type: 'goto_table', table: g }]));

const flowArb: fc.Arbitrary<Flow> = fc.record({
  table: fc.integer({ min: 0, max: 254 }),
  priority: fc.integer({ min: 0, max: 65535 }),
  cookie: u(64),
  match: matchArb,
  actions: actionsArb,
});

const bytesOf = (f: Flow) =>
  Buffer.from(encodeMessage({ type: 'flow_mod', command: 'add', flow: f }, 1)).toString('hex');

describe('round trips over random flows', () => {
  it('text: formatFlow(parseFlow(formatFlow(f))) === formatFlow(f)', () => {
    fc.assert(
      fc.property(flowArb, (f) => {
        const t = formatFlow(f);
        expect(formatFlow(parseFlow(t))).toBe(t);
      }),
      { numRuns: 500 },
    );
  });

  it('wire: encode(decode(encode(f))) === encode(f), and the text survives the wire', () => {
    fc.assert(
      fc.property(flowArb, (f) => {
        const bytes = encodeMessage({ type: 'flow_mod', command: 'add', flow: f }, 7);
        const d = decodeMessage(bytes);
        const back = (d.msg as Extract<OfMessage, { type: 'flow_mod' }>).flow;
        expect(bytesOf(back)).toBe(bytesOf(f));
        expect(bytesOf(parseFlow(formatFlow(back)))).toBe(bytesOf(f));
      }),
      { numRuns: 500 },
    );
  });

  it('canonicalFlow is idempotent and keeps the bytes', () => {
    fc.assert(
      fc.property(flowArb, (f) => {
        const c = canonicalFlow(f);
        expect(canonicalFlow(c)).toEqual(c);
        expect(bytesOf(c)).toBe(bytesOf(f));
      }),
      { numRuns: 300 },
    );
  });

  it('canonicalFlow reads load back as set_field and output:CONTROLLER as controller', () => {
    const f = parseFlow('table=1,priority=1 actions=load:0x1->NXM_NX_REG0[0..3],output:CONTROLLER');
    expect(formatFlow(canonicalFlow(f))).toBe(
      'table=1,priority=1,cookie=0x0 actions=set_field:0x1/0xf->reg0,CONTROLLER:65535',
    );
    expect(canonicalFlow(f).actions).toEqual([
      { type: 'set_field', field: 'reg0', value: 1n, mask: 0xfn },
      { type: 'controller' },
    ]);
  });
});
