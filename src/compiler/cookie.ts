/**
 * Flow cookies name what produced a flow (docs/pipeline.md, "Cookies"): the top 8 bits say
 * what kind of object, the low 56 bits are FNV-1a (64-bit, truncated) of its id, or of the
 * sorted ids joined by `\n` for a flow shared by several rules.
 *
 * Invariant: pure functions of ids — the same object always gets the same cookie, on every
 * host and in every run, so a rule's flows are found by cookie with an all-ones mask.
 */

export const CookieKind = {
  Port: 1,
  Group: 2,
  Rule: 3,
  Rules: 4,
  Pipeline: 5,
  Network: 6,
} as const;

export type CookieOrigin =
  | { readonly kind: 'port'; readonly portId: string }
  | { readonly kind: 'group'; readonly groupId: string }
  | { readonly kind: 'rule'; readonly ruleId: string }
  | { readonly kind: 'rules'; readonly ruleIds: readonly string[] }
  | { readonly kind: 'pipeline' }
  | { readonly kind: 'network'; readonly networkId: string };

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;
const MASK56 = (1n << 56n) - 1n;

/** FNV-1a over the UTF-8 bytes of `text`, 64-bit. */
export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * FNV_PRIME) & MASK64;
  }
  return h;
}

/** FNV-1a, 32-bit (conjunction ids, priorities). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const memo = new Map<string, bigint>();

function make(kind: number, text: string): bigint {
  const k = `${kind}|${text}`;
  let c = memo.get(k);
  if (c === undefined) {
    c = (BigInt(kind) << 56n) | (fnv1a64(text) & MASK56);
    if (memo.size > 100_000) memo.clear();
    memo.set(k, c);
  }
  return c;
}

export const Cookie = {
  forPort: (portId: string): bigint => make(CookieKind.Port, portId),
  forGroup: (groupId: string): bigint => make(CookieKind.Group, groupId),
  forRule: (ruleId: string): bigint => make(CookieKind.Rule, ruleId),
  /** One rule's cookie when `ids` has one distinct id, else the shared "several rules" cookie. */
  forRules: (ruleIds: readonly string[]): bigint => {
    const ids = [...new Set(ruleIds)].sort();
    return ids.length === 1
      ? make(CookieKind.Rule, ids[0]!)
      : make(CookieKind.Rules, ids.join('\n'));
  },
  forNetwork: (networkId: string): bigint => make(CookieKind.Network, networkId),
  pipeline: make(CookieKind.Pipeline, 'pipeline'),
  /** Mask selecting the kind byte. */
  KIND_MASK: 0xffn << 56n,
  kindOf: (cookie: bigint): number => Number(cookie >> 56n),
} as const;

/** The origin a cookie stands for. */
export function originOf(kind: CookieOrigin['kind'], ids: readonly string[]): CookieOrigin {
  switch (kind) {
    case 'port':
      return { kind, portId: ids[0]! };
    case 'group':
      return { kind, groupId: ids[0]! };
    case 'rule':
      return { kind, ruleId: ids[0]! };
    case 'rules':
      return { kind, ruleIds: [...new Set(ids)].sort() };
    case 'network':
      return { kind, networkId: ids[0]! };
    case 'pipeline':
      return { kind };
  }
}

/** Cookie and origin of a flow produced by these rules (one rule, or several). */
export function ruleCookie(ruleIds: readonly string[]): { cookie: bigint; origin: CookieOrigin } {
  const ids = [...new Set(ruleIds)].sort();
  return ids.length === 1
    ? { cookie: Cookie.forRule(ids[0]!), origin: { kind: 'rule', ruleId: ids[0]! } }
    : { cookie: Cookie.forRules(ids), origin: { kind: 'rules', ruleIds: ids } };
}

/** A canonical text of an origin (equal origins, equal texts). */
export function originText(o: CookieOrigin): string {
  switch (o.kind) {
    case 'port':
      return `port ${o.portId}`;
    case 'group':
      return `group ${o.groupId}`;
    case 'rule':
      return `rule ${o.ruleId}`;
    case 'rules':
      return `rules ${o.ruleIds.join(' ')}`;
    case 'network':
      return `network ${o.networkId}`;
    case 'pipeline':
      return 'pipeline';
  }
}
