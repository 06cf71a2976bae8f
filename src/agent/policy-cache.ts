/**
 * The agent's copy of intent: every network, port (of every host: remote-group members are
 * ports on other hosts too), group, rule and address group, keyed by kind and id, at one
 * store revision. It answers "what is the policy now" as a `Policy` for the compiler.
 *
 * Invariant: after `reset(snapshot)` and `apply()` of every later change in order, the
 * cache equals the store at the revision of the last change applied.
 */
import type { Policy } from '../model/types.js';
import type { AnyResource, Change, Kind } from '../store/store.js';

const COLLECTION = {
  network: 'networks',
  port: 'ports',
  security_group: 'security_groups',
  security_group_rule: 'security_group_rules',
  address_group: 'address_groups',
} as const satisfies Record<Kind, keyof Policy>;

const KIND_OF_COLLECTION = Object.fromEntries(
  Object.entries(COLLECTION).map(([k, c]) => [c, k]),
) as Record<keyof Policy, Kind>;

export class PolicyCache {
  private readonly byKind = new Map<Kind, Map<string, AnyResource>>(
    Object.keys(COLLECTION).map((k) => [k as Kind, new Map()]),
  );
  private rev = 0;
  private cached: Policy | undefined;

  get revision(): number {
    return this.rev;
  }

  reset(policy: Policy, revision: number): void {
    for (const [collection, kind] of Object.entries(KIND_OF_COLLECTION)) {
      const m = this.byKind.get(kind)!;
      m.clear();
      for (const r of policy[collection as keyof Policy]) m.set(r.id, r as AnyResource);
    }
    this.rev = revision;
    this.cached = undefined;
  }

  apply(changes: readonly Change[]): void {
    for (const c of changes) {
      const m = this.byKind.get(c.kind);
      if (!m) continue;
      if (c.op === 'delete') m.delete(c.id);
      else m.set(c.id, c.value);
      if (c.revision > this.rev) this.rev = c.revision;
    }
    if (changes.length > 0) this.cached = undefined;
  }

  /** The policy as the compiler reads it (ordered by id, so equal caches give equal policies). */
  policy(): Policy {
    if (this.cached) return this.cached;
    const out: Record<string, AnyResource[]> = {};
    for (const [kind, collection] of Object.entries(COLLECTION)) {
      const m = this.byKind.get(kind as Kind)!;
      out[collection] = [...m.keys()].sort().map((id) => m.get(id)!);
    }
    this.cached = out as unknown as Policy;
    return this.cached;
  }

  port(id: string): Policy['ports'][number] | undefined {
    return this.byKind.get('port')!.get(id) as Policy['ports'][number] | undefined;
  }
}
