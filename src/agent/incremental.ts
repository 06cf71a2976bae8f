/**
 * Incremental normalisation: when everything that changed since the last normalised policy
 * is security-group rules (with the revision bump of their groups), ports or address groups —
 * the frequent changes — only the touched groups' rules, ports and address groups are
 * normalised again; everything else is reused as it is (the same objects, which is what lets
 * the incremental compiler see what changed). Anything
 * else (or anything unusual: a rule whose group or remote is unknown, a rule or port that
 * fails its checks) falls back to `normalizePolicy`, which also produces the proper error.
 *
 * Invariant: the result equals `normalizePolicy(policy)` (the property test checks it).
 */
import { normalizePolicy, normalizeRule } from '../model/policy.js';
import { cidrEquals, compareCidr, parseCidr } from '../model/addr.js';
import type {
  AddressGroup,
  Cidr,
  NormalizedPolicy,
  Policy,
  SecurityGroup,
  SecurityGroupRule,
} from '../model/types.js';
import { checkRule } from '../model/validate.js';
import type { Change } from '../store/store.js';

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Re-normalises only the groups whose rules changed; undefined when that is not possible. */
export function applyRuleChanges(
  prev: NormalizedPolicy,
  policy: Policy,
  changes: readonly Change[],
): NormalizedPolicy | undefined {
  for (const c of changes) {
    if (c.kind === 'security_group_rule') continue;
    // The API bumps a group's revision_number when its rules change: harmless, as long as
    // the group stays and keeps its statefulness (what normalisation reads of it).
    if (c.kind !== 'security_group' || c.op !== 'put') return undefined;
    const g = c.value as SecurityGroup;
    if (prev.groups.get(g.id)?.stateful !== g.stateful) return undefined;
  }
  const affected = new Set<string>();
  const changedIds = new Set<string>();
  for (const c of changes) {
    if (c.kind !== 'security_group_rule') continue;
    const rule = c.value as SecurityGroupRule;
    affected.add(rule.security_group_id);
    changedIds.add(c.id);
  }
  // The group a changed rule was in before, should a rule ever move between groups.
  for (const g of prev.groups.values()) {
    if (g.rules.some((r) => changedIds.has(r.id))) affected.add(g.id);
  }
  const byGroup = new Map<string, SecurityGroupRule[]>();
  const seen = new Set<string>();
  for (const r of policy.security_group_rules) {
    if (seen.has(r.id)) return undefined; // duplicate id: let normalizePolicy report it
    seen.add(r.id);
    if (!affected.has(r.security_group_id)) continue;
    const list = byGroup.get(r.security_group_id) ?? [];
    list.push(r);
    byGroup.set(r.security_group_id, list);
  }
  const groups = new Map(prev.groups);
  for (const gid of affected) {
    const g = prev.groups.get(gid);
    const rules = byGroup.get(gid) ?? [];
    if (!g) {
      if (rules.length > 0) return undefined; // a rule of an unknown group: an error
      continue;
    }
    // Only the changed rules need checking: the others passed before, and the groups and
    // address groups they name can only go away through the full path.
    for (const r of rules) {
      if (!changedIds.has(r.id)) continue;
      if (r.remote_group_id !== null && !prev.groups.has(r.remote_group_id)) return undefined;
      if (r.remote_address_group_id !== null && !prev.addressGroups.has(r.remote_address_group_id))
        return undefined;
      try {
        checkRule(r);
      } catch {
        return undefined;
      }
    }
    // Rules that did not change stay the same objects (the compiler keys its work on them).
    const before = new Map(g.rules.map((r) => [r.id, r]));
    const next = rules.map(
      (r) => (changedIds.has(r.id) ? undefined : before.get(r.id)) ?? normalizeRule(r),
    );
    groups.set(gid, { ...g, rules: next.sort(byId) });
  }
  return { ...prev, groups };
}

/** Re-normalises only the ports that changed (through `normalizePolicy` on just them). */
export function applyPortChanges(
  prev: NormalizedPolicy,
  policy: Policy,
  changes: readonly Change[],
): NormalizedPolicy | undefined {
  const ids = new Set(changes.map((c) => c.id));
  let reduced: NormalizedPolicy;
  try {
    reduced = normalizePolicy({
      networks: policy.networks,
      ports: policy.ports.filter((p) => ids.has(p.id)),
      security_groups: policy.security_groups,
      security_group_rules: [],
      address_groups: [],
    });
  } catch {
    return undefined;
  }
  const ports = new Map(prev.ports);
  for (const id of ids) ports.delete(id);
  for (const [id, p] of reduced.ports) ports.set(id, p);
  // normalizePolicy orders ports by id; so must we (the compiler reads them in order).
  const sorted = new Map([...ports].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  return { ...prev, ports: sorted };
}

/** Re-parses only the address groups that changed; the other lists stay the same objects. */
export function applyAddressGroupChanges(
  prev: NormalizedPolicy,
  policy: Policy,
  changes: readonly Change[],
): NormalizedPolicy | undefined {
  const changed = new Map<string, readonly Cidr[] | null>();
  for (const c of changes) {
    if (c.op === 'delete') {
      for (const g of prev.groups.values()) {
        if (
          g.rules.some((r) => r.remote.kind === 'addressGroup' && r.remote.addressGroupId === c.id)
        )
          return undefined; // still named by a rule: let normalizePolicy report it
      }
      changed.set(c.id, null);
      continue;
    }
    const ag = c.value as AddressGroup;
    const cidrs: Cidr[] = [];
    try {
      for (const a of ag.addresses) {
        const x = parseCidr(a, 'addresses');
        if (!cidrs.some((y) => cidrEquals(x, y))) cidrs.push(x);
      }
    } catch {
      return undefined;
    }
    changed.set(c.id, cidrs.sort(compareCidr));
  }
  // normalizePolicy keeps them in the policy's order (by id).
  const addressGroups = new Map<string, readonly Cidr[]>();
  for (const ag of policy.address_groups) {
    const c = changed.get(ag.id);
    if (c === null) continue;
    const cidrs = c ?? prev.addressGroups.get(ag.id);
    if (cidrs === undefined) return undefined;
    addressGroups.set(ag.id, cidrs);
  }
  return { ...prev, addressGroups };
}

/**
 * Rule changes (with their groups' revision bumps), port changes and address-group changes
 * take the fast paths; anything else returns undefined (normalise everything).
 */
export function applyChanges(
  prev: NormalizedPolicy,
  policy: Policy,
  changes: readonly Change[],
): NormalizedPolicy | undefined {
  const rules: Change[] = [];
  const ports: Change[] = [];
  const addressGroups: Change[] = [];
  for (const c of changes) {
    if (c.kind === 'security_group_rule' || c.kind === 'security_group') rules.push(c);
    else if (c.kind === 'port') ports.push(c);
    else if (c.kind === 'address_group') addressGroups.push(c);
    else return undefined;
  }
  let next: NormalizedPolicy | undefined = prev;
  // Address groups first: rules checked next may name a new one.
  if (addressGroups.length > 0) next = applyAddressGroupChanges(next, policy, addressGroups);
  if (next && rules.length > 0) next = applyRuleChanges(next, policy, rules);
  if (next && ports.length > 0) next = applyPortChanges(next, policy, ports);
  return next;
}

/** Keeps the last normalised policy and the changes since, and normalises as little as it can. */
export class IncrementalNormalizer {
  private prev: NormalizedPolicy | undefined;
  private pending: Change[] = [];
  private full = true;
  /** How many normalisations took the fast path / the full path (for tests and metrics). */
  readonly stats = { incremental: 0, full: 0 };

  reset(): void {
    this.full = true;
    this.pending = [];
  }

  changed(changes: readonly Change[]): void {
    if (!this.full) this.pending.push(...changes);
  }

  normalize(policy: Policy): NormalizedPolicy {
    let next: NormalizedPolicy | undefined;
    if (!this.full && this.prev) {
      next = this.pending.length === 0 ? this.prev : applyChanges(this.prev, policy, this.pending);
      if (next) this.stats.incremental++;
    }
    if (!next) {
      try {
        next = normalizePolicy(policy);
      } catch (e) {
        this.reset();
        throw e;
      }
      this.stats.full++;
    }
    this.prev = next;
    this.pending = [];
    this.full = false;
    return next;
  }
}
