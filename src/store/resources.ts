/**
 * What the store holds: the Neutron resources of the policy model (src/model/types.ts) plus
 * Neutron's standard attributes (revision_number, timestamps, tags, description), keyed by
 * kind and id; and, beside that intent, server settings (per-project quota overrides). The
 * store treats values as opaque JSON documents; the API owns their shape.
 *
 * Invariant: a value's `id` is its key, and `project_id` names its owner. Resource kinds
 * (`Kind`) are the policy agents enforce; setting kinds (`SettingKind`) never reach them.
 */
import type {
  AddressGroup,
  Network,
  Policy,
  Port,
  SecurityGroup,
  SecurityGroupRule,
} from '../model/types.js';

/** Neutron's standard attributes, carried by every stored resource. */
export interface StandardAttrs {
  description: string;
  tags: string[];
  /** Bumped on every change of the resource (and of a group when its rules change). */
  revision_number: number;
  /** ISO 8601, seconds precision, `Z` (2026-01-02T03:04:05Z), as Neutron prints them. */
  created_at: string;
  updated_at: string;
}

export type StoredNetwork = Network & StandardAttrs;
export type StoredPort = Port & StandardAttrs;
export type StoredSecurityGroup = SecurityGroup & StandardAttrs;
export type StoredSecurityGroupRule = SecurityGroupRule & StandardAttrs;
export type StoredAddressGroup = AddressGroup & StandardAttrs;

export interface ResourceKinds {
  network: StoredNetwork;
  port: StoredPort;
  security_group: StoredSecurityGroup;
  security_group_rule: StoredSecurityGroupRule;
  address_group: StoredAddressGroup;
}

export type Kind = keyof ResourceKinds;
export type ResourceOf<K extends Kind> = ResourceKinds[K];
export type AnyResource = ResourceKinds[Kind];

/** The quota resources a project's limits are kept for (Neutron's names). */
export type QuotaResource = 'network' | 'port' | 'security_group' | 'security_group_rule';

/**
 * A project's quota overrides (Neutron's `quotas` table): only the resources set for it;
 * the others follow the server's defaults. -1 = unlimited. Keyed by project id.
 */
export interface StoredQuota {
  id: string;
  project_id: string;
  limits: Partial<Record<QuotaResource, number>>;
}

/** Server settings: durable and transactional like resources, but not part of the policy. */
export interface SettingKinds {
  quota: StoredQuota;
}

export type SettingKind = keyof SettingKinds;

/** Everything a store keeps, by kind. */
export interface StoredKinds extends ResourceKinds, SettingKinds {}

export type StoreKind = keyof StoredKinds;
export type StoredOf<K extends StoreKind> = StoredKinds[K];

export const KINDS: readonly Kind[] = [
  'network',
  'port',
  'security_group',
  'security_group_rule',
  'address_group',
];

/** The Policy collection each kind fills in a snapshot. */
export const POLICY_COLLECTION = {
  network: 'networks',
  port: 'ports',
  security_group: 'security_groups',
  security_group_rule: 'security_group_rules',
  address_group: 'address_groups',
} as const satisfies Record<Kind, keyof Policy>;

export const SETTING_KINDS: readonly SettingKind[] = ['quota'];

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && (KINDS as readonly string[]).includes(value);
}
