/**
 * The API's resources as one table: URL path, JSON keys, the store kind behind it, its
 * response schema (which fields exist, filter and sort by) and which fields an update may
 * change. Routes, tags, the list engine and the OpenAPI document all read this table.
 */
import type { TObject } from 'typebox';
import type { Kind } from '../store/index.js';
import * as S from './schemas.js';

export interface ApiResource {
  kind: Kind;
  /** JSON key of one resource: `security_group`. */
  singular: string;
  /** JSON key of a list: `security_groups`. */
  collection: string;
  /** URL segment under /v2.0: `security-groups`. */
  path: string;
  /** Human name for messages: `security group`. */
  label: string;
  schema: TObject;
  /** Fields a PUT may change (empty: the resource is immutable). */
  updatable: readonly string[];
}

export const RESOURCES = {
  network: {
    kind: 'network',
    singular: 'network',
    collection: 'networks',
    path: 'networks',
    label: 'network',
    schema: S.Network,
    updatable: Object.keys(S.NetworkUpdate.properties),
  },
  port: {
    kind: 'port',
    singular: 'port',
    collection: 'ports',
    path: 'ports',
    label: 'port',
    schema: S.Port,
    updatable: Object.keys(S.PortUpdate.properties),
  },
  security_group: {
    kind: 'security_group',
    singular: 'security_group',
    collection: 'security_groups',
    path: 'security-groups',
    label: 'security group',
    schema: S.SecurityGroup,
    updatable: Object.keys(S.SecurityGroupUpdate.properties),
  },
  security_group_rule: {
    kind: 'security_group_rule',
    singular: 'security_group_rule',
    collection: 'security_group_rules',
    path: 'security-group-rules',
    label: 'security group rule',
    schema: S.SecurityGroupRule,
    updatable: [],
  },
  address_group: {
    kind: 'address_group',
    singular: 'address_group',
    collection: 'address_groups',
    path: 'address-groups',
    label: 'address group',
    schema: S.AddressGroup,
    updatable: Object.keys(S.AddressGroupUpdate.properties),
  },
} as const satisfies Record<Kind, ApiResource>;

export const RESOURCE_LIST: readonly ApiResource[] = Object.values(RESOURCES);
