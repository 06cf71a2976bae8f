import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyDiff,
  applyRowDiff,
  columnKind,
  decodeRow,
  decodeValue,
  encodeValue,
  parseColumnType,
  parseSchema,
  valuesEqual,
  type Atom,
  type ColumnType,
  type Json,
  type Value,
} from './datum.js';

const STR_SET = parseColumnType({ key: 'string', min: 0, max: 'unlimited' });
const OPT_INT = parseColumnType({ key: 'integer', min: 0, max: 1 });
const STR_MAP = parseColumnType({ key: 'string', value: 'string', min: 0, max: 'unlimited' });
const UUID_SET = parseColumnType({
  key: { type: 'uuid', refTable: 'Port' },
  min: 0,
  max: 'unlimited',
});
const SCALAR = parseColumnType('string');

describe('column types', () => {
  it('classifies the four kinds', () => {
    expect(columnKind(SCALAR)).toBe('scalar');
    expect(columnKind(OPT_INT)).toBe('optional');
    expect(columnKind(STR_SET)).toBe('set');
    expect(columnKind(STR_MAP)).toBe('map');
    expect(UUID_SET.key).toEqual({ type: 'uuid', refTable: 'Port' });
  });

  it('names the column and the allowed types for an unknown atomic type', () => {
    expect(() => parseColumnType({ key: 'int' }, 'Interface.ofport')).toThrow(
      /Interface\.ofport\.key: unknown atomic type 'int' \(allowed: integer, real, boolean, string, uuid\)/,
    );
  });

  it('parses a schema, adding _uuid', () => {
    const s = parseSchema({
      name: 'Open_vSwitch',
      version: '8.3.1',
      tables: { Bridge: { columns: { name: { type: 'string' } } } },
    });
    expect(columnKind(s.tables['Bridge']!.columns['_uuid']!)).toBe('scalar');
    expect(s.tables['Bridge']!.columns['name']).toEqual(SCALAR);
  });
});

describe('decode / encode', () => {
  const U = '5f5b0c8e-93e7-4b44-9b4b-3c3e0e9b7e11';

  it('decodes the wire shapes', () => {
    expect(decodeValue('x', SCALAR)).toBe('x');
    expect(decodeValue(['set', []], OPT_INT)).toBeNull();
    expect(decodeValue(7, OPT_INT)).toBe(7);
    expect(decodeValue('a', STR_SET)).toEqual(['a']);
    expect(decodeValue(['set', ['a', 'b']], STR_SET)).toEqual(['a', 'b']);
    expect(decodeValue(['uuid', U], UUID_SET)).toEqual([U]);
    expect(decodeValue(['map', [['iface-id', 'p1']]], STR_MAP)).toEqual(
      new Map([['iface-id', 'p1']]),
    );
  });

  it('encodes uuids, and non-uuid strings of a uuid column as named-uuid', () => {
    expect(encodeValue([U, 'row1'], UUID_SET)).toEqual([
      'set',
      [
        ['uuid', U],
        ['named-uuid', 'row1'],
      ],
    ]);
    expect(encodeValue(null, OPT_INT)).toEqual(['set', []]);
  });

  it('rejects values of the wrong type, saying what was expected', () => {
    expect(() => decodeValue(1.5, OPT_INT)).toThrow(/expected a integer atom, got 1.5/);
    expect(() => decodeValue(['set', [1, 2]], OPT_INT)).toThrow(/at most one value/);
    expect(() => decodeValue('x', STR_MAP)).toThrow(/expected \["map"/);
  });

  it('fills defaults for columns a row omits', () => {
    const table = {
      columns: { name: SCALAR, ofport: OPT_INT, external_ids: STR_MAP, ports: UUID_SET },
    };
    const row = decodeRow({ name: 'p1' }, table, 'Interface', [
      'name',
      'ofport',
      'external_ids',
      'ports',
    ]);
    expect(row).toEqual({ name: 'p1', ofport: null, external_ids: new Map(), ports: [] });
    expect(() => decodeRow({ nope: 1 }, table, 'Interface', [])).toThrow(
      /Interface has no column 'nope'/,
    );
  });
});

describe('update2 diffs', () => {
  it('follows the map rules: same value deletes, other value replaces, absent inserts', () => {
    const old = new Map([
      ['a', '1'],
      ['b', '2'],
    ]);
    const next = applyDiff(
      old,
      [
        'map',
        [
          ['a', '1'],
          ['b', '3'],
          ['c', '4'],
        ],
      ],
      STR_MAP,
    );
    expect(next).toEqual(
      new Map([
        ['b', '3'],
        ['c', '4'],
      ]),
    );
  });

  it('a set diff is the symmetric difference; an optional column takes the new value', () => {
    expect(applyDiff(['a', 'b'], ['set', ['b', 'c']], STR_SET)).toEqual(['a', 'c']);
    expect(applyDiff(null, 5, OPT_INT)).toBe(5);
    // What ovsdb-server 3.1 sends for an optional column: the new value, or an empty set.
    expect(applyDiff(5, 6, OPT_INT)).toBe(6);
    expect(applyDiff(5, ['set', []], OPT_INT)).toBeNull();
    // The symmetric-difference reading gives the same results.
    expect(applyDiff(5, ['set', [5, 6]], OPT_INT)).toBe(6);
    expect(applyDiff(5, 5, OPT_INT)).toBeNull();
    expect(applyDiff('x', 'y', SCALAR)).toBe('y');
  });

  it('applies a row diff column by column', () => {
    const table = { columns: { name: SCALAR, ofport: OPT_INT } };
    expect(applyRowDiff({ name: 'p', ofport: null }, { ofport: 3 }, table, 'Interface')).toEqual({
      name: 'p',
      ofport: 3,
    });
  });

  // The server's side, as ovsdb-server 3.1 does it; applying it must give back `next`.
  function serverDiff(old: Value, next: Value, type: ColumnType): Json {
    const kind = columnKind(type);
    if (kind === 'scalar' || kind === 'optional') return encodeValue(next, type);
    if (kind === 'map') {
      const o = old as ReadonlyMap<Atom, Atom>;
      const n = next as ReadonlyMap<Atom, Atom>;
      const d = new Map<Atom, Atom>();
      for (const [k, v] of o) if (!n.has(k)) d.set(k, v);
      for (const [k, v] of n) if (o.get(k) !== v) d.set(k, v);
      return encodeValue(d, type);
    }
    const el = (v: Value): Atom[] =>
      v === null ? [] : Array.isArray(v) ? (v as Atom[]) : [v as Atom];
    const o = new Set(el(old));
    const n = new Set(el(next));
    const sym = [...o].filter((x) => !n.has(x)).concat([...n].filter((x) => !o.has(x)));
    return ['set', sym];
  }

  const strSet = fc.uniqueArray(fc.string({ maxLength: 3 }), { maxLength: 6 });
  const strMap = fc
    .uniqueArray(fc.tuple(fc.string({ maxLength: 3 }), fc.string({ maxLength: 2 })), {
      selector: ([k]) => k,
      maxLength: 6,
    })
    .map((e) => new Map(e) as ReadonlyMap<Atom, Atom>);
  const optInt = fc.option(fc.integer({ min: -1, max: 5 }), { nil: null });
  const cases: [string, ColumnType, fc.Arbitrary<Value>][] = [
    ['set', STR_SET, strSet],
    ['map', STR_MAP, strMap],
    ['optional', OPT_INT, optInt],
    ['scalar', SCALAR, fc.string()],
  ];

  for (const [name, type, arb] of cases) {
    it(`old + diff(old, new) = new, and decode(encode(v)) = v (${name})`, () => {
      fc.assert(
        fc.property(arb, arb, (old, next) => {
          // The server sends a diff only for a column that changed.
          if (!valuesEqual(old, next)) {
            expect(valuesEqual(applyDiff(old, serverDiff(old, next, type), type), next)).toBe(true);
          }
          const wire = JSON.parse(JSON.stringify(encodeValue(next, type))) as unknown;
          expect(valuesEqual(decodeValue(wire, type), next)).toBe(true);
        }),
      );
    });
  }
});
