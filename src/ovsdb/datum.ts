/**
 * OVSDB data (RFC 7047 §5.1) as plain TypeScript values, and the `update2` diff rules.
 *
 * On the wire an atom is a JSON scalar or `["uuid", "…"]` / `["named-uuid", "…"]`, a set is
 * `["set", [...]]` (or the bare atom when it has exactly one element) and a map is
 * `["map", [[k, v], ...]]`. Which of these a column holds depends on its schema type, so
 * decoding always goes through the column type, and gives one shape per column kind:
 *
 *   scalar   (min 1, max 1, no value type)  → Atom
 *   optional (min 0, max 1, no value type)  → Atom | null
 *   set      (max > 1, no value type)       → Atom[]
 *   map      (has a value type)             → Map<Atom, Atom>
 *
 * A uuid atom is its canonical string. Encoding a uuid-typed atom that is not a UUID string
 * produces `["named-uuid", name]`, which is how a transaction refers to a row it inserts.
 *
 * Invariant: decode(encode(v)) equals v for every value of the column's type, and applying the
 * `update2` diff of (old → new) to old gives new (sets: symmetric difference; maps: a key
 * present with the same value is deleted, with another value replaced, absent inserted;
 * scalars and optional columns: the new value — which is what ovsdb-server 3.x sends for
 * every column of at most one element, whatever RFC-extension text suggests).
 */

export type Atom = string | number | boolean;
export type Value = Atom | null | readonly Atom[] | ReadonlyMap<Atom, Atom>;
export type Row = Readonly<Record<string, Value>>;
/** Any JSON value (the wire form). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type AtomType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';
export interface BaseType {
  readonly type: AtomType;
  readonly refTable?: string;
}
export interface ColumnType {
  readonly key: BaseType;
  readonly value?: BaseType;
  readonly min: number;
  /** `Infinity` for "unlimited". */
  readonly max: number;
}
export type ColumnKind = 'scalar' | 'optional' | 'set' | 'map';

export interface TableSchema {
  readonly columns: Readonly<Record<string, ColumnType>>;
}
export interface DbSchema {
  readonly name: string;
  readonly version: string;
  readonly tables: Readonly<Record<string, TableSchema>>;
}

export class DatumError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatumError';
  }
}

const ATOM_TYPES: readonly AtomType[] = ['integer', 'real', 'boolean', 'string', 'uuid'];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_COLUMN: ColumnType = { key: { type: 'uuid' }, min: 1, max: 1 };
/** Columns every table has without listing them in its schema. */
const IMPLICIT_COLUMNS: Readonly<Record<string, ColumnType>> = {
  _uuid: UUID_COLUMN,
  _version: UUID_COLUMN,
};

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function columnKind(t: ColumnType): ColumnKind {
  if (t.value) return 'map';
  if (t.max === 1) return t.min === 1 ? 'scalar' : 'optional';
  return 'set';
}

// ---------------------------------------------------------------------------------------
// Schema

function parseBaseType(json: unknown, where: string): BaseType {
  if (typeof json === 'string') {
    if (!ATOM_TYPES.includes(json as AtomType)) {
      throw new DatumError(
        `${where}: unknown atomic type '${json}' (allowed: ${ATOM_TYPES.join(', ')})`,
      );
    }
    return { type: json as AtomType };
  }
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    const base = parseBaseType(o['type'], where);
    return typeof o['refTable'] === 'string' ? { ...base, refTable: o['refTable'] } : base;
  }
  throw new DatumError(`${where}: a base type must be a string or an object`);
}

/** Parse a column's `"type"` member of an RFC 7047 schema. */
export function parseColumnType(json: unknown, where = 'column type'): ColumnType {
  if (typeof json === 'string' || (json && typeof json === 'object' && !('key' in json))) {
    return { key: parseBaseType(json, where), min: 1, max: 1 };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new DatumError(`${where}: a column type must be a string or an object`);
  }
  const o = json as Record<string, unknown>;
  const min = o['min'] === undefined ? 1 : o['min'];
  const max = o['max'] === undefined ? 1 : o['max'] === 'unlimited' ? Infinity : o['max'];
  if (typeof min !== 'number' || typeof max !== 'number') {
    throw new DatumError(`${where}: min must be a number and max a number or "unlimited"`);
  }
  const key = parseBaseType(o['key'], `${where}.key`);
  return o['value'] === undefined
    ? { key, min, max }
    : { key, value: parseBaseType(o['value'], `${where}.value`), min, max };
}

/** Parse the result of `get_schema`. */
export function parseSchema(json: unknown): DbSchema {
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new DatumError('schema must be an object');
  }
  const o = json as Record<string, unknown>;
  const tablesJson = o['tables'];
  if (typeof o['name'] !== 'string' || !tablesJson || typeof tablesJson !== 'object') {
    throw new DatumError('schema needs a string "name" and an object "tables"');
  }
  const tables: Record<string, TableSchema> = {};
  for (const [tname, t] of Object.entries(tablesJson as Record<string, unknown>)) {
    const cols = (t as { columns?: unknown } | null)?.columns;
    if (!cols || typeof cols !== 'object') {
      throw new DatumError(`schema table ${tname}: "columns" must be an object`);
    }
    const columns: Record<string, ColumnType> = { ...IMPLICIT_COLUMNS };
    for (const [cname, c] of Object.entries(cols as Record<string, unknown>)) {
      columns[cname] = parseColumnType((c as { type?: unknown } | null)?.type, `${tname}.${cname}`);
    }
    tables[tname] = { columns };
  }
  return { name: o['name'], version: typeof o['version'] === 'string' ? o['version'] : '', tables };
}

// ---------------------------------------------------------------------------------------
// Wire builders (for transact operations)

export function uuidRef(uuid: string): Json {
  return ['uuid', uuid];
}
export function namedUuidRef(name: string): Json {
  return ['named-uuid', name];
}
export function setOf(atoms: readonly Json[]): Json {
  return ['set', [...atoms]];
}
export function mapOf(entries: Iterable<readonly [Json, Json]>): Json {
  return ['map', [...entries].map(([k, v]) => [k, v])];
}

// ---------------------------------------------------------------------------------------
// Atoms

function decodeAtom(json: unknown, base: BaseType): Atom {
  switch (base.type) {
    case 'uuid':
      if (
        Array.isArray(json) &&
        json.length === 2 &&
        (json[0] === 'uuid' || json[0] === 'named-uuid')
      ) {
        if (typeof json[1] === 'string') return json[1];
      }
      break;
    case 'integer':
      if (typeof json === 'number' && Number.isInteger(json)) return json;
      break;
    case 'real':
      if (typeof json === 'number') return json;
      break;
    case 'boolean':
      if (typeof json === 'boolean') return json;
      break;
    case 'string':
      if (typeof json === 'string') return json;
      break;
  }
  throw new DatumError(`expected a ${base.type} atom, got ${JSON.stringify(json)}`);
}

function encodeAtom(atom: Atom, base: BaseType): Json {
  if (base.type === 'uuid') {
    if (typeof atom !== 'string')
      throw new DatumError(`expected a uuid string, got ${String(atom)}`);
    return isUuid(atom) ? ['uuid', atom] : ['named-uuid', atom];
  }
  const ok =
    base.type === 'string'
      ? typeof atom === 'string'
      : base.type === 'boolean'
        ? typeof atom === 'boolean'
        : typeof atom === 'number' && (base.type === 'real' || Number.isInteger(atom));
  if (!ok) throw new DatumError(`expected a ${base.type} atom, got ${JSON.stringify(atom)}`);
  return atom;
}

function defaultAtom(base: BaseType): Atom {
  switch (base.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return '00000000-0000-0000-0000-000000000000';
  }
}

// ---------------------------------------------------------------------------------------
// Values

/** The elements of a wire set (`["set", [...]]` or one bare atom). */
function decodeSetElements(json: unknown, base: BaseType): Atom[] {
  if (Array.isArray(json) && json[0] === 'set') {
    if (json.length !== 2 || !Array.isArray(json[1])) {
      throw new DatumError(`malformed set ${JSON.stringify(json)}`);
    }
    return (json[1] as unknown[]).map((a) => decodeAtom(a, base));
  }
  return [decodeAtom(json, base)];
}

function decodeMapEntries(json: unknown, type: ColumnType): [Atom, Atom][] {
  if (!Array.isArray(json) || json[0] !== 'map' || json.length !== 2 || !Array.isArray(json[1])) {
    throw new DatumError(`expected ["map", [...]], got ${JSON.stringify(json)}`);
  }
  return (json[1] as unknown[]).map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new DatumError(`malformed map pair ${JSON.stringify(pair)}`);
    }
    return [decodeAtom(pair[0], type.key), decodeAtom(pair[1], type.value!)];
  });
}

function fromElements(elements: Atom[], kind: ColumnKind): Value {
  if (kind === 'scalar' || kind === 'optional') {
    if (elements.length > 1) {
      throw new DatumError(`a ${kind} column holds at most one value, got ${elements.length}`);
    }
    if (kind === 'scalar' && elements.length === 0)
      throw new DatumError('a scalar column needs a value');
    return elements[0] ?? null;
  }
  return elements;
}

function toElements(value: Value): Atom[] {
  if (value === null) return [];
  if (Array.isArray(value)) return value as Atom[];
  if (value instanceof Map) throw new DatumError('expected a set, got a map');
  return [value as Atom];
}

/** Wire datum → plain value of the column's kind. */
export function decodeValue(json: unknown, type: ColumnType): Value {
  const kind = columnKind(type);
  if (kind === 'map') return new Map(decodeMapEntries(json, type));
  return fromElements(decodeSetElements(json, type.key), kind);
}

/** Plain value → wire datum. */
export function encodeValue(value: Value, type: ColumnType): Json {
  const kind = columnKind(type);
  if (kind === 'map') {
    if (!(value instanceof Map)) throw new DatumError('expected a Map for a map column');
    const entries = [...(value as ReadonlyMap<Atom, Atom>)];
    return mapOf(entries.map(([k, v]) => [encodeAtom(k, type.key), encodeAtom(v, type.value!)]));
  }
  const elements = toElements(value);
  if (kind === 'scalar') {
    if (elements.length !== 1) throw new DatumError('a scalar column needs exactly one value');
    return encodeAtom(elements[0]!, type.key);
  }
  return setOf(elements.map((a) => encodeAtom(a, type.key)));
}

/** The value a column has when a row omits it (update2 omits defaults on insert). */
export function defaultValue(type: ColumnType): Value {
  const kind = columnKind(type);
  if (kind === 'map') return new Map();
  if (kind === 'set') return [];
  if (kind === 'optional') return null;
  return defaultAtom(type.key);
}

/** Apply one column's `update2` "modify" diff to its old value. */
export function applyDiff(old: Value, diff: unknown, type: ColumnType): Value {
  const kind = columnKind(type);
  if (kind === 'scalar') return decodeValue(diff, type);
  if (kind === 'map') {
    const next = new Map(old as ReadonlyMap<Atom, Atom>);
    for (const [k, v] of decodeMapEntries(diff, type)) {
      if (next.has(k) && next.get(k) === v) next.delete(k);
      else next.set(k, v);
    }
    return next;
  }
  const elements = decodeSetElements(diff, type.key);
  if (kind === 'optional') {
    // ovsdb-server sends the new value of an optional column (`["set", []]` when cleared);
    // a symmetric difference {old, new} is read the same way, so either form applies.
    const others = elements.filter((a) => a !== old);
    if (others.length > 1)
      throw new DatumError(`an optional column holds at most one value, got ${others.length}`);
    return others[0] ?? null;
  }
  const toggled = new Set(elements);
  const kept = toElements(old).filter((a) => !toggled.delete(a));
  return fromElements([...kept, ...toggled], kind);
}

/** Equality of two values of one column (sets and maps compare as sets and maps). */
export function valuesEqual(a: Value, b: Value): boolean {
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || b.get(k) !== v) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    const sb = new Set(b as Atom[]);
    return (a as Atom[]).every((x) => sb.has(x));
  }
  return a === b;
}

export function rowsEqual(a: Row, b: Row): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (!(k in a) || !(k in b) || !valuesEqual(a[k]!, b[k]!)) return false;
  }
  return true;
}

function columnTypeOf(table: TableSchema, tableName: string, column: string): ColumnType {
  const t = table.columns[column];
  if (!t) throw new DatumError(`table ${tableName} has no column '${column}'`);
  return t;
}

/**
 * A full row from an `initial`/`insert` update (or a select result): the columns it carries
 * plus the default of every other column in `columns`.
 */
export function decodeRow(
  json: unknown,
  table: TableSchema,
  tableName: string,
  columns: readonly string[],
): Row {
  const wire = (json ?? {}) as Record<string, unknown>;
  const row: Record<string, Value> = {};
  for (const c of columns) row[c] = defaultValue(columnTypeOf(table, tableName, c));
  for (const [c, v] of Object.entries(wire))
    row[c] = decodeValue(v, columnTypeOf(table, tableName, c));
  return row;
}

/** Apply a `modify` row diff (only the changed columns are present). */
export function applyRowDiff(old: Row, diff: unknown, table: TableSchema, tableName: string): Row {
  const row: Record<string, Value> = { ...old };
  for (const [c, d] of Object.entries((diff ?? {}) as Record<string, unknown>)) {
    const type = columnTypeOf(table, tableName, c);
    row[c] = applyDiff(old[c] ?? defaultValue(type), d, type);
  }
  return row;
}
