import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Action, FieldMatch, FieldName, FieldSlice, Flow, LearnSpec, Match } from './ir.js';
import { FIELD_TABLE, prerequisiteMet } from './fields.js';
import { FlowError } from './errors.js';
import { formatFlow, parseFlow } from './text.js';
import {
  canonicalFlow,
  decodeMessage,
  encodeMessage,
  FLOW_FLAGS,
  type OfMessage,
} from './wire/messages.js';

const u = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

/**
 * Random matches over every field of the table: a random context (L3 type, protocol, ND type,
 * tracked or not), then each field whose prerequisites that context meets, with probability
 * 1/3, exact or (if maskable) masked.
 */
const matchArb: fc.Arbitrary<Match> = fc
  .record({
    l3: fc.constantFrom('none', 'ipv4', 'ipv6', 'arp'),
    proto: fc.constantFrom(6n, 17n, 132n, 1n, 58n, 99n),
    nd: fc.constantFrom(135n, 136n, 1n),
    ct: fc.boolean(),
    picks: fc.array(
      fc.tuple(
        fc.boolean(),
        fc.boolean(),
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      ),
      {
        minLength: FIELD_TABLE.length,
        maxLength: FIELD_TABLE.length,
      },
    ),
    take: fc.array(fc.integer({ min: 0, max: 2 }), {
      minLength: FIELD_TABLE.length,
      maxLength: FIELD_TABLE.length,
    }),
  })
  .map((r) => {
    const m: Partial<Record<FieldName, FieldMatch>> = {};
    if (r.l3 === 'arp') m.eth_type = { value: 0x806n };
    if (r.l3 === 'ipv4' || r.l3 === 'ipv6') {
      const v6 = r.l3 === 'ipv6';
      m.eth_type = { value: v6 ? 0x86ddn : 0x800n };
      m.ip_proto = { value: r.proto === 1n && v6 ? 58n : r.proto === 58n && !v6 ? 1n : r.proto };
      if (v6 && m.ip_proto.value === 58n && r.nd !== 1n) m.icmpv6_type = { value: r.nd };
      if (r.ct) {
        m.ct_state = { value: 0x20n, mask: 0x30n };
        m.ct_nw_proto = { value: m.ip_proto.value };
      }
    } else if (r.ct) m.ct_state = { value: 0x22n, mask: 0x23n };
    FIELD_TABLE.forEach((f, i) => {
      if (m[f.name] !== undefined || r.take[i] !== 0) return;
      if (f.name === 'eth_type' || f.name === 'ip_proto' || f.name === 'ct_nw_proto') return;
      if (!prerequisiteMet(f.prereq, m)) return;
      const [useMask, , v, mk] = r.picks[i]!;
      const full = (1n << BigInt(f.bits)) - 1n;
      let value = v & full;
      if (f.name === 'in_port') value = (value % 0xfeffn) + 1n;
      if (f.name === 'ip_frag') {
        const frags: FieldMatch[] = [
          { value: 0n },
          { value: 1n },
          { value: 3n },
          { value: 0n, mask: 1n },
          { value: 1n, mask: 1n },
          { value: 0n, mask: 2n },
          { value: 2n, mask: 2n },
        ];
        m.ip_frag = frags[Number(value % 7n)]!;
        return;
      }
      if (f.name === 'vlan_tci') {
        m.vlan_tci = { value: value | 0x1000n, mask: 0x1fffn };
        return;
      }
      m[f.name] = useMask && f.maskable ? { value: value & mk & full, mask: mk & full } : { value };
    });
    return m;
  });

const regSlice: fc.Arbitrary<FieldSlice> = fc
  .tuple(
    fc.integer({ min: 0, max: 15 }),
    fc.integer({ min: 0, max: 31 }),
    fc.integer({ min: 1, max: 32 }),
  )
  .map(([i, ofs, n]) => ({ field: `reg${i}` as FieldName, ofs: Math.min(ofs, 32 - n), nBits: n }));

/** A 16-bit register slice (what ct's zone may come from). */
const zoneSlice: fc.Arbitrary<FieldSlice> = fc
  .tuple(fc.integer({ min: 0, max: 15 }), fc.constantFrom(0, 16))
  .map(([i, ofs]) => ({ field: `reg${i}` as FieldName, ofs, nBits: 16 }));

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** Drops undefined properties (the IR never holds an explicit undefined). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const controllerAction: fc.Arbitrary<Action> = fc
  .record({
    maxLen: opt(fc.integer({ min: 0, max: 65535 })),
    reason: opt(fc.constantFrom('no_match' as const, 'action' as const, 'invalid_ttl' as const)),
    controllerId: opt(fc.integer({ min: 1, max: 65535 })),
    userdata: opt(fc.uint8Array({ minLength: 1, maxLength: 12 })),
    pause: opt(fc.constant(true)),
    meterId: opt(fc.integer({ min: 1, max: 0xffff0000 })),
  })
  .map((c): Action => ({ type: 'controller', ...defined(c) }));

const ctAction: fc.Arbitrary<Action> = fc
  .record({
    commit: fc.boolean(),
    force: fc.boolean(),
    table: opt(fc.integer({ min: 0, max: 254 })),
    zone: opt(fc.oneof(fc.integer({ min: 1, max: 65535 }), zoneSlice)),
    alg: opt(fc.constantFrom('ftp', 'tftp')),
    mark: u(32),
    label: u(128),
  })
  .map((c): Action => {
    const exec: Action[] = c.commit
      ? [
          { type: 'set_field', field: 'ct_mark', value: c.mark },
          { type: 'set_field', field: 'ct_label', value: c.label, mask: c.label | 1n },
        ]
      : [];
    return {
      type: 'ct',
      ...(c.commit ? { commit: true, exec } : {}),
      ...(c.commit && c.force ? { force: true } : {}),
      ...defined({ table: c.table, zone: c.zone, alg: c.commit ? c.alg : undefined }),
    };
  });

/** One learn spec of each kind, over register slices of equal width. */
const learnSpec: fc.Arbitrary<LearnSpec> = fc
  .tuple(regSlice, fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 4 }), u(32))
  .map(([src, j, kind, v]): LearnSpec => {
    const dst: FieldSlice = { field: `reg${j}` as FieldName, ofs: 0, nBits: src.nBits };
    const value = v & ((1n << BigInt(src.nBits)) - 1n);
    switch (kind) {
      case 0:
        return { kind: 'match-field', dst, src };
      case 1:
        return { kind: 'match-value', dst, value };
      case 2:
        return { kind: 'load-field', dst, src };
      case 3:
        return { kind: 'load-value', dst, value };
      default:
        return { kind: 'output', src: { ...src, nBits: Math.min(src.nBits, 16) } };
    }
  });

const learnAction: fc.Arbitrary<Action> = fc
  .record({
    table: fc.integer({ min: 0, max: 254 }),
    priority: opt(fc.integer({ min: 0, max: 65535 })),
    idleTimeout: opt(fc.integer({ min: 1, max: 65535 })),
    hardTimeout: opt(fc.integer({ min: 1, max: 65535 })),
    finIdleTimeout: opt(fc.integer({ min: 1, max: 65535 })),
    finHardTimeout: opt(fc.integer({ min: 1, max: 65535 })),
    cookie: opt(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n })),
    sendFlowRem: opt(fc.constant(true)),
    deleteLearned: opt(fc.constant(true)),
    limit: opt(fc.integer({ min: 1, max: 0xffffffff })),
    specs: fc.array(learnSpec, { maxLength: 4 }),
  })
  .map((l): Action => ({ type: 'learn', ...defined(l) }));

const plainAction: fc.Arbitrary<Action> = fc.oneof(
  fc.integer({ min: 1, max: 0xfeff }).map((port): Action => ({ type: 'output', port })),
  fc.constantFrom<Action>(
    { type: 'output', port: 'NORMAL' },
    { type: 'output', port: 'IN_PORT' },
    { type: 'output', port: 'FLOOD' },
    { type: 'output', port: 'ALL' },
    { type: 'output', port: 'LOCAL' },
    { type: 'ct_clear' },
    { type: 'pop_vlan' },
    { type: 'push_vlan', ethertype: 0x8100 },
    { type: 'push_vlan', ethertype: 0x88a8 },
  ),
  fc
    .tuple(regSlice, opt(fc.integer({ min: 0, max: 65534 })))
    .map(([src, maxLen]): Action => ({ type: 'output_reg', src, ...defined({ maxLen }) })),
  fc.integer({ min: 0, max: 65535 }).map((maxLen): Action => ({ type: 'controller', maxLen })),
  controllerAction,
  fc
    .tuple(
      fc.integer({ min: 0, max: 254 }),
      fc.option(fc.integer({ min: 1, max: 0xfeff }), { nil: undefined }),
      fc.boolean(),
    )
    .map(([table, port, ct]): Action => ({
      type: 'resubmit',
      table,
      ...(port !== undefined ? { port } : {}),
      ...(ct ? { ct: true } : {}),
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
  ctAction,
  learnAction,
  // Notes come back zero-padded to 8 bytes with the action header; generate them padded.
  fc
    .integer({ min: 0, max: 4 })
    .chain((k) => fc.uint8Array({ minLength: 6 + 8 * k, maxLength: 6 + 8 * k }))
    .map((data): Action => ({ type: 'note', data })),
  fc.integer({ min: 1, max: 0xffff0000 }).map((id): Action => ({ type: 'meter', id })),
);

/** clone(...) around a few plain actions (one level deep). */
const cloneAction: fc.Arbitrary<Action> = fc
  .array(plainAction, { minLength: 1, maxLength: 3 })
  .map((actions): Action => ({ type: 'clone', actions }));

const actionsArb: fc.Arbitrary<Action[]> = fc
  .tuple(
    fc.array(fc.oneof({ weight: 6, arbitrary: plainAction }, cloneAction), { maxLength: 5 }),
    fc.option(fc.integer({ min: 1, max: 254 }), { nil: undefined }),
  )
  .map(([a, g]) => (g === undefined ? a : [...a, { type: 'goto_table', table: g }]));

const flowArb: fc.Arbitrary<Flow> = fc
  .record({
    table: fc.integer({ min: 0, max: 254 }),
    priority: fc.integer({ min: 0, max: 65535 }),
    cookie: u(64),
    match: matchArb,
    actions: actionsArb,
    idleTimeout: opt(fc.integer({ min: 1, max: 65535 })),
    hardTimeout: opt(fc.integer({ min: 1, max: 65535 })),
    flags: fc.subarray([...FLOW_FLAGS]),
  })
  .map(({ flags, ...f }): Flow => ({ ...defined(f), ...(flags.length > 0 ? { flags } : {}) }));

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

describe('decoding damaged bytes', () => {
  it('either decodes or throws FlowError (OF_MALFORMED), and always terminates', () => {
    const samples = fc.sample(flowArb, { numRuns: 50, seed: 7 }).map((f) =>
      encodeMessage(
        {
          type: 'flow_stats_reply',
          more: false,
          flows: [{ flow: f, durationSec: 1, durationNsec: 2, packetCount: 3n, byteCount: 4n }],
        },
        9,
      ),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (i, edits) => {
          const bytes = Uint8Array.from(samples[i]!);
          for (const [at, v] of edits) bytes[8 + (at % (bytes.length - 8))] = v;
          try {
            decodeMessage(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(FlowError);
            expect((e as FlowError).code).toMatch(/^OF_(MALFORMED|INVALID_FLOW)$/);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
