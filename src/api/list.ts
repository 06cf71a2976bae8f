/**
 * Neutron's list conventions over a rendered collection: filters on any field (a repeated
 * parameter means OR), tag filters (tags, tags-any, not-tags, not-tags-any), sorting
 * (sort_key / sort_dir pairs, id as the final tie-break), pagination (limit, marker,
 * page_reverse, with `<collection>_links` next / previous) and `fields=` selection.
 *
 * Invariant: the same query over the same items gives the same page; bad parameters are a
 * 400 naming the parameter and what it allows, never an empty or partial answer.
 */
import type { TObject, TSchema } from 'typebox';
import { formatMac, parseMac } from '../model/addr.js';
import { SgflowError } from '../model/errors.js';
import { notFound } from './access.js';
import type { Rendered } from './render.js';
import type { ApiResource } from './resources.js';

type Query = Readonly<Record<string, string | string[] | undefined>>;

/** Parameters that are not field filters. */
const CONTROL = new Set([
  'fields',
  'sort_key',
  'sort_dir',
  'limit',
  'marker',
  'page_reverse',
  'tags',
  'tags-any',
  'not-tags',
  'not-tags-any',
]);

type FieldClass = 'string' | 'integer' | 'boolean' | 'stringArray' | 'fixedIps' | 'other';

function typesOf(schema: TSchema): string[] {
  const s = schema as { type?: string | string[]; anyOf?: TSchema[] };
  if (s.anyOf) return s.anyOf.flatMap(typesOf);
  if (Array.isArray(s.type)) return s.type;
  return s.type ? [s.type] : [];
}

function classify(name: string, schema: TSchema): FieldClass {
  const types = typesOf(schema);
  if (types.includes('array')) {
    if (name === 'fixed_ips') return 'fixedIps';
    const items = (schema as { items?: TSchema }).items;
    return items && typesOf(items).includes('string') ? 'stringArray' : 'other';
  }
  if (types.includes('boolean')) return 'boolean';
  if (types.includes('integer')) return 'integer';
  if (types.includes('string')) return 'string';
  return 'other';
}

const classCache = new WeakMap<TObject, Map<string, FieldClass>>();

export function fieldClasses(schema: TObject): Map<string, FieldClass> {
  let m = classCache.get(schema);
  if (!m) {
    m = new Map(
      Object.entries(schema.properties).map(
        ([k, v]) => [k, classify(k, v)] as [string, FieldClass],
      ),
    );
    classCache.set(schema, m);
  }
  return m;
}

function values(q: string | string[] | undefined): string[] {
  if (q === undefined) return [];
  return Array.isArray(q) ? q : [q];
}

function commaList(q: string | string[] | undefined): string[] {
  return values(q)
    .flatMap((v) => v.split(','))
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function badParam(field: string, reason: string): SgflowError {
  return new SgflowError('SG_INVALID_FIELD', { field, reason });
}

/** A MAC filter value in the form MACs are stored in; text that is no MAC stays as it is. */
function canonicalMacText(text: string): string {
  try {
    return formatMac(parseMac(text.trim()));
  } catch {
    return text;
  }
}

function matchesOne(cls: FieldClass, actual: unknown, wanted: string): boolean {
  switch (cls) {
    case 'boolean':
      return typeof actual === 'boolean' && String(actual) === wanted.toLowerCase();
    case 'integer':
      return (
        typeof actual === 'number' && /^-?\d+$/.test(wanted.trim()) && actual === Number(wanted)
      );
    case 'string':
      return actual === wanted;
    case 'stringArray':
      return Array.isArray(actual) && actual.includes(wanted);
    case 'fixedIps': {
      const m = /^(ip_address|subnet_id)=(.*)$/.exec(wanted);
      if (!m || !Array.isArray(actual)) return false;
      return (actual as Record<string, unknown>[]).some((f) => f[m[1]!] === m[2]);
    }
    default:
      return false;
  }
}

/** The predicate for every field filter in the query (all must hold; values OR). */
function fieldFilters(query: Query, res: ApiResource): ((item: Rendered) => boolean)[] {
  const classes = fieldClasses(res.schema);
  const preds: ((item: Rendered) => boolean)[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (CONTROL.has(key) || raw === undefined) continue;
    const cls = classes.get(key);
    if (cls === undefined || cls === 'other') {
      const filterable = [...classes].filter(([, c]) => c !== 'other').map(([k]) => k);
      throw badParam(
        key,
        `'${key}' is not a filterable attribute of ${res.collection}; filterable: ${filterable.join(', ')}`,
      );
    }
    if (cls === 'fixedIps') {
      for (const v of values(raw)) {
        if (!/^(ip_address|subnet_id)=/.test(v)) {
          throw badParam(
            key,
            `expected fixed_ips=ip_address=<ip> or fixed_ips=subnet_id=<id>, got '${v}'`,
          );
        }
      }
    }
    // MACs compare as MACs, as Neutron's (netaddr) filter does: FA:16:3E:.. finds fa:16:3e:..
    const wanted = key === 'mac_address' ? values(raw).map(canonicalMacText) : values(raw);
    preds.push((item) => wanted.some((w) => matchesOne(cls, item[key], w)));
  }
  const all = commaList(query['tags']);
  const any = commaList(query['tags-any']);
  const notAll = commaList(query['not-tags']);
  const notAny = commaList(query['not-tags-any']);
  const tagsOf = (item: Rendered): string[] =>
    Array.isArray(item['tags']) ? (item['tags'] as string[]) : [];
  if (all.length) preds.push((i) => all.every((t) => tagsOf(i).includes(t)));
  if (any.length) preds.push((i) => any.some((t) => tagsOf(i).includes(t)));
  if (notAll.length) preds.push((i) => !notAll.every((t) => tagsOf(i).includes(t)));
  if (notAny.length) preds.push((i) => !notAny.some((t) => tagsOf(i).includes(t)));
  return preds;
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1;
  const sa = typeof a === 'string' ? a : JSON.stringify(a);
  const sb = typeof b === 'string' ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function sortSpec(query: Query, res: ApiResource): { key: string; dir: 1 | -1 }[] {
  const keys = values(query['sort_key']);
  const dirs = values(query['sort_dir']);
  if (dirs.length > 0 && dirs.length !== keys.length) {
    throw badParam('sort_dir', 'the number of sort_keys and sort_dirs must be the same');
  }
  const classes = fieldClasses(res.schema);
  const spec = keys.map((key, i) => {
    const cls = classes.get(key);
    if (cls === undefined || cls === 'other' || cls === 'stringArray' || cls === 'fixedIps') {
      const sortable = [...classes]
        .filter(([, c]) => c === 'string' || c === 'integer' || c === 'boolean')
        .map(([k]) => k);
      throw badParam(
        'sort_key',
        `'${key}' is an invalid attribute for sort_keys; allowed: ${sortable.join(', ')}`,
      );
    }
    const d = dirs[i] ?? 'asc';
    if (d !== 'asc' && d !== 'desc') {
      throw badParam(
        'sort_dir',
        `'${d}' is an invalid value for sort_dirs; valid values are 'asc' and 'desc'`,
      );
    }
    return { key, dir: d === 'asc' ? (1 as const) : (-1 as const) };
  });
  if (!spec.some((s) => s.key === 'id')) spec.push({ key: 'id', dir: spec[0]?.dir ?? 1 });
  return spec;
}

function parseLimit(raw: string | string[] | undefined): number {
  const v = values(raw);
  if (v.length === 0) return 0;
  const s = v[v.length - 1]!;
  if (!/^\d+$/.test(s)) {
    throw new SgflowError('BAD_REQUEST', {
      reason: `Bad limit request: Limit must be an integer 0 or greater and not '${s}'`,
    });
  }
  return Number(s);
}

function parseBool(field: string, raw: string | string[] | undefined): boolean {
  const v = values(raw);
  if (v.length === 0) return false;
  const s = v[v.length - 1]!.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw badParam(field, `'${v[v.length - 1]}' is not a boolean; expected true or false`);
}

/** `fields=` selection of one rendered resource (unknown names are ignored, as Neutron does). */
export function selectFields(
  item: Rendered,
  fields: string | string[] | undefined,
): Record<string, unknown> {
  const wanted = values(fields).flatMap((f) => f.split(','));
  if (wanted.length === 0) return item;
  const out: Record<string, unknown> = {};
  for (const f of wanted) if (f in item) out[f] = item[f];
  return out;
}

function linkHref(selfUrl: string, query: Query, marker: string, reverse: boolean): string {
  const params = new URLSearchParams();
  for (const [k, raw] of Object.entries(query)) {
    if (k === 'marker' || k === 'page_reverse') continue;
    for (const v of values(raw)) params.append(k, v);
  }
  params.set('marker', marker);
  if (reverse) params.set('page_reverse', 'True');
  return `${selfUrl}?${params.toString()}`;
}

/**
 * Answers a list request: `{ <collection>: [...], <collection>_links?: [...] }`.
 * `items` are the resources the caller may see, rendered.
 */
export function listResponse(
  items: readonly Rendered[],
  query: Query,
  res: ApiResource,
  selfUrl: string,
): Record<string, unknown> {
  const preds = fieldFilters(query, res);
  const spec = sortSpec(query, res);
  const limit = parseLimit(query['limit']);
  const reverse = parseBool('page_reverse', query['page_reverse']);
  const markers = values(query['marker']);
  const marker = markers[markers.length - 1];

  const sorted = items
    .filter((i) => preds.every((p) => p(i)))
    .sort((a, b) => {
      for (const { key, dir } of spec) {
        const c = compareValues(a[key], b[key]);
        if (c !== 0) return c * dir;
      }
      return 0;
    });

  let start = 0;
  let end = sorted.length;
  if (marker !== undefined) {
    const at = sorted.findIndex((i) => i.id === marker);
    if (at < 0) {
      if (!items.some((i) => i.id === marker)) throw notFound(res.kind, marker);
      throw badParam('marker', `'${marker}' is not in the filtered list`);
    }
    if (reverse) end = at;
    else start = at + 1;
  }
  if (limit > 0) {
    if (reverse) start = Math.max(0, end - limit);
    else end = Math.min(sorted.length, start + limit);
  }
  const page = sorted.slice(start, end);
  const out: Record<string, unknown> = {
    [res.collection]: page.map((i) => selectFields(i, query['fields'])),
  };
  if (limit > 0 && page.length > 0) {
    const links: { rel: string; href: string }[] = [];
    if (end < sorted.length)
      links.push({ rel: 'next', href: linkHref(selfUrl, query, page[page.length - 1]!.id, false) });
    if (start > 0)
      links.push({ rel: 'previous', href: linkHref(selfUrl, query, page[0]!.id, true) });
    out[`${res.collection}_links`] = links;
  }
  return out;
}
