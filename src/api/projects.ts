/**
 * The project's `default` security group, which Neutron keeps on the side of the resources:
 * created with Neutron's default rules on the project's first use. (Quotas: quotas.ts.)
 *
 * Invariant: it is looked for and made inside the writing transaction, so two concurrent
 * requests cannot create two default groups.
 */
import type { StoreTx, StoredSecurityGroup, StoredSecurityGroupRule } from '../store/index.js';
import type { ApiDeps } from './deps.js';
import { DEFAULT_GROUP_NAME } from './render.js';
import { newAttrs, timestamp } from './standard-attrs.js';

type RuleShape = Pick<StoredSecurityGroupRule, 'direction' | 'ethertype' | 'remote_group_id'>;

/** Neutron's rules of a new group: all egress, IPv4 and IPv6. */
const EGRESS_RULES: readonly RuleShape[] = [
  { direction: 'egress', ethertype: 'IPv4', remote_group_id: null },
  { direction: 'egress', ethertype: 'IPv6', remote_group_id: null },
];

export function newRule(
  deps: ApiDeps,
  group: StoredSecurityGroup,
  shape: Omit<
    StoredSecurityGroupRule,
    'id' | 'project_id' | 'security_group_id' | keyof ReturnType<typeof newAttrs>
  > &
    Partial<Pick<StoredSecurityGroupRule, 'id' | 'description'>>,
  now: string,
): StoredSecurityGroupRule {
  const { id, description, ...rest } = shape;
  return {
    id: id ?? deps.newId(),
    project_id: group.project_id,
    security_group_id: group.id,
    ...rest,
    ...newAttrs(now, description ?? ''),
  };
}

function plainRule(shape: RuleShape, remoteGroup: string | null) {
  return {
    ...shape,
    remote_group_id: remoteGroup,
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    source_port_range_min: null,
    source_port_range_max: null,
    remote_ip_prefix: null,
    remote_address_group_id: null,
  };
}

/** The rules Neutron gives every new (non-default) group. */
export function defaultEgressRules(
  deps: ApiDeps,
  group: StoredSecurityGroup,
  now: string,
): StoredSecurityGroupRule[] {
  return EGRESS_RULES.map((s) => newRule(deps, group, plainRule(s, null), now));
}

/**
 * The project's default group, created on first use with Neutron's default rules: egress
 * IPv4 and IPv6 to anywhere, ingress IPv4 and IPv6 from members of the group itself.
 */
export async function ensureDefaultGroup(
  tx: StoreTx,
  deps: ApiDeps,
  projectId: string,
): Promise<StoredSecurityGroup> {
  const found = await tx.list('security_group', {
    project_id: projectId,
    name: DEFAULT_GROUP_NAME,
  });
  if (found[0]) return found[0];
  const now = timestamp(deps.now());
  const group: StoredSecurityGroup = {
    id: deps.newId(),
    project_id: projectId,
    name: DEFAULT_GROUP_NAME,
    stateful: true,
    ...newAttrs(now, 'Default security group'),
  };
  await tx.put('security_group', group);
  const rules = [
    ...defaultEgressRules(deps, group, now),
    ...(['IPv4', 'IPv6'] as const).map((ethertype) =>
      newRule(
        deps,
        group,
        plainRule({ direction: 'ingress', ethertype, remote_group_id: null }, group.id),
        now,
      ),
    ),
  ];
  for (const r of rules) await tx.put('security_group_rule', r);
  return group;
}

/** Creates the default group outside a caller's transaction, only when it is missing. */
export async function ensureDefaultGroupExists(deps: ApiDeps, projectId: string): Promise<void> {
  const found = await deps.store.list('security_group', {
    project_id: projectId,
    name: DEFAULT_GROUP_NAME,
  });
  if (found.length > 0) return;
  await deps.store.transact(async (tx) => {
    await ensureDefaultGroup(tx, deps, projectId);
  });
}
