// The list engine against a brute-force model: walking `next` links from the first page
// visits every matching item exactly once, in sort order; `previous` from any page returns
// the page before it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { listResponse, selectFields } from './list.js';
import type { Rendered } from './render.js';
import { RESOURCES } from './resources.js';

const res = RESOURCES.network;
const URL_BASE = 'http://x/v2.0/networks';

function net(id: string, name: string, shared: boolean, tags: string[] = []): Rendered {
  return { id, name, shared, tags, revision_number: 0 };
}

type Query = Record<string, string | string[]>;

function queryOf(href: string): Query {
  const q: Query = {};
  for (const [k, v] of new URL(href).searchParams) {
    const prev = q[k];
    q[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return q;
}

function page(items: Rendered[], q: Query) {
  const r = listResponse(items, q, res, URL_BASE);
  return {
    ids: (r['networks'] as Rendered[]).map((i) => i.id),
    links: (r['networks_links'] as { rel: string; href: string }[] | undefined) ?? [],
  };
}

const items = fc
  .uniqueArray(
    fc.tuple(
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 1, maxLength: 4 }),
      fc.constantFrom('a', 'b', 'c'),
      fc.boolean(),
    ),
    {
      selector: (t) => t[0],
      maxLength: 25,
    },
  )
  .map((rows) => rows.map(([id, name, shared]) => net(id, name, shared)));

describe('listResponse', () => {
  it('pages through every item exactly once, in order, forwards and back', () => {
    fc.assert(
      fc.property(
        items,
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('asc', 'desc'),
        (all, limit, dir) => {
          const q: Query = { sort_key: 'name', sort_dir: dir, limit: String(limit) };
          const expected = [...all]
            .sort((x, y) => {
              const c = String(x['name']).localeCompare(String(y['name']));
              return (
                (c !== 0 ? c : x.id < y.id ? -1 : x.id > y.id ? 1 : 0) * (dir === 'asc' ? 1 : -1)
              );
            })
            .map((i) => i.id);
          const pages: string[][] = [];
          let p = page(all, q);
          pages.push(p.ids);
          for (let guard = 0; guard < 50; guard++) {
            const next = p.links.find((l) => l.rel === 'next');
            if (!next) break;
            p = page(all, queryOf(next.href));
            pages.push(p.ids);
          }
          expect(pages.flat()).toEqual(expected);
          expect(pages.every((ids) => ids.length <= limit)).toBe(true);
          // previous of page k+1 is page k
          for (let k = 1; k < pages.length; k++) {
            const first = pages[k]![0]!;
            const prev = page(all, { ...q, marker: first, page_reverse: 'True' });
            expect(prev.ids).toEqual(pages[k - 1]);
          }
        },
      ),
    );
  });

  it('ORs repeated values and ANDs different fields', () => {
    const all = [net('1', 'a', true), net('2', 'b', false), net('3', 'c', true)];
    expect(page(all, { name: ['a', 'b'] }).ids).toEqual(['1', '2']);
    expect(page(all, { name: ['a', 'b'], shared: 'true' }).ids).toEqual(['1']);
    expect(page(all, { shared: 'FALSE' }).ids).toEqual(['2']);
  });

  it('selects fields, ignoring unknown names', () => {
    expect(selectFields(net('1', 'a', true), ['name', 'nope'])).toEqual({ name: 'a' });
    expect(selectFields(net('1', 'a', true), 'id,name')).toEqual({ id: '1', name: 'a' });
  });

  it('names the bad parameter', () => {
    expect(() => page([], { sort_dir: 'asc' })).toThrow(/sort_dir/);
    expect(() => page([], { limit: '1.5' })).toThrow(/limit/i);
    expect(() => page([], { page_reverse: 'maybe' })).toThrow(/page_reverse/);
    expect(() => page([], { subnets: 'x', nope: 'y' })).toThrow(/nope/);
  });
});
