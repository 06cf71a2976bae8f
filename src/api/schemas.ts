/**
 * The API's shapes, written once in TypeBox: fastify validates requests with them, the
 * handlers take their TypeScript types from them, the list engine takes each resource's
 * filterable and sortable fields from them, and /openapi.json serves them.
 *
 * Division of labour: these schemas check structure and JSON types (what a field *is*);
 * Neutron's meaning of the values (ranges, protocols, CIDRs, conflicts) is checked by
 * src/model/validate.ts, the one copy of Neutron's semantics. Request objects therefore
 * let unknown keys through to the model, which names them and lists the allowed ones.
 */
import { Type, type Static, type TObject, type TSchema } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
/** Neutron converts decimal strings for integer fields ("80" = 80). */
const IntLike = Nullable(Type.Union([Type.Integer(), Type.String()]));
const BoolLike = Type.Union([Type.Boolean(), Type.String()]);
const Id = Type.String({ description: 'UUID (or any unique string up to 255 characters)' });
const Name = Type.String({ maxLength: 255 });
const Timestamp = Type.String({ description: 'ISO 8601, seconds, UTC: 2026-01-02T03:04:05Z' });

const StandardAttrs = {
  description: Type.String(),
  tags: Type.Array(Type.String()),
  revision_number: Type.Integer({ minimum: 0 }),
  created_at: Timestamp,
  updated_at: Timestamp,
};
const Owner = { project_id: Type.String(), tenant_id: Type.String() };

// ---------------------------------------------------------------------------------------
// Security group rules
// ---------------------------------------------------------------------------------------

export const Direction = Type.Union([Type.Literal('ingress'), Type.Literal('egress')]);

export const SecurityGroupRule = Type.Object({
  id: Id,
  ...Owner,
  security_group_id: Id,
  direction: Direction,
  ethertype: Type.Union([Type.Literal('IPv4'), Type.Literal('IPv6')]),
  protocol: Nullable(Type.String()),
  port_range_min: Nullable(Type.Integer()),
  port_range_max: Nullable(Type.Integer()),
  source_port_range_min: Nullable(Type.Integer({ description: 'sgflow extension' })),
  source_port_range_max: Nullable(Type.Integer({ description: 'sgflow extension' })),
  remote_ip_prefix: Nullable(Type.String()),
  normalized_cidr: Nullable(Type.String()),
  remote_group_id: Nullable(Id),
  remote_address_group_id: Nullable(Id),
  belongs_to_default_sg: Type.Boolean(),
  ...StandardAttrs,
});

export const SecurityGroupRuleCreate = Type.Object({
  security_group_id: Id,
  direction: Type.String({ description: 'ingress | egress' }),
  ethertype: Type.Optional(Nullable(Type.String({ description: 'IPv4 | IPv6 (default IPv4)' }))),
  protocol: Type.Optional(
    Nullable(
      Type.Union([Type.String(), Type.Integer()], {
        description: 'a name (tcp, udp, icmp, ...), a number 0-255, or any',
      }),
    ),
  ),
  port_range_min: Type.Optional(IntLike),
  port_range_max: Type.Optional(IntLike),
  source_port_range_min: Type.Optional(IntLike),
  source_port_range_max: Type.Optional(IntLike),
  remote_ip_prefix: Type.Optional(Nullable(Type.String())),
  remote_group_id: Type.Optional(Nullable(Id)),
  remote_address_group_id: Type.Optional(Nullable(Id)),
  description: Type.Optional(Nullable(Type.String())),
  project_id: Type.Optional(Type.String()),
  tenant_id: Type.Optional(Type.String()),
});

export const SecurityGroupRuleCreateBody = Type.Object(
  {
    security_group_rule: Type.Optional(SecurityGroupRuleCreate),
    security_group_rules: Type.Optional(Type.Array(SecurityGroupRuleCreate, { minItems: 1 })),
  },
  { additionalProperties: false },
);

// ---------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------

export const SecurityGroup = Type.Object({
  id: Id,
  ...Owner,
  name: Type.String(),
  stateful: Type.Boolean(),
  shared: Type.Boolean(),
  security_group_rules: Type.Array(SecurityGroupRule),
  ...StandardAttrs,
});

export const SecurityGroupCreate = Type.Object({
  name: Type.Optional(Nullable(Name)),
  description: Type.Optional(Nullable(Type.String())),
  stateful: Type.Optional(BoolLike),
  project_id: Type.Optional(Type.String()),
  tenant_id: Type.Optional(Type.String()),
});

export const SecurityGroupUpdate = Type.Object({
  name: Type.Optional(Nullable(Name)),
  description: Type.Optional(Nullable(Type.String())),
  stateful: Type.Optional(BoolLike),
});

// ---------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------

export const Network = Type.Object({
  id: Id,
  ...Owner,
  name: Type.String(),
  status: Type.String(),
  admin_state_up: Type.Boolean(),
  port_security_enabled: Type.Boolean(),
  shared: Type.Boolean(),
  mtu: Type.Integer(),
  subnets: Type.Array(Id),
  'router:external': Type.Boolean(),
  'provider:network_type': Nullable(Type.String()),
  'provider:physical_network': Nullable(Type.String()),
  'provider:segmentation_id': Nullable(Type.Integer()),
  enforcement_mode: Nullable(
    Type.String({ description: 'sgflow extension: conntrack | stateless-ack | learn | reactive' }),
  ),
  ...StandardAttrs,
});

export const NetworkCreate = Type.Object({
  name: Type.Optional(Nullable(Name)),
  description: Type.Optional(Nullable(Type.String())),
  admin_state_up: Type.Optional(Type.Boolean()),
  port_security_enabled: Type.Optional(BoolLike),
  shared: Type.Optional(BoolLike),
  'provider:network_type': Type.Optional(Nullable(Type.String())),
  'provider:segmentation_id': Type.Optional(IntLike),
  'provider:physical_network': Type.Optional(Nullable(Type.String())),
  enforcement_mode: Type.Optional(Nullable(Type.String())),
  project_id: Type.Optional(Type.String()),
  tenant_id: Type.Optional(Type.String()),
});

export const NetworkUpdate = Type.Object({
  name: Type.Optional(Nullable(Name)),
  description: Type.Optional(Nullable(Type.String())),
  admin_state_up: Type.Optional(Type.Boolean()),
  port_security_enabled: Type.Optional(BoolLike),
  shared: Type.Optional(BoolLike),
  enforcement_mode: Type.Optional(Nullable(Type.String())),
});

// ---------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------

const FixedIp = Type.Object({ ip_address: Type.String(), subnet_id: Type.Optional(Id) });
const AddressPair = Type.Object({
  ip_address: Type.String({ description: 'address or CIDR' }),
  mac_address: Type.Optional(Type.String()),
});

export const Port = Type.Object({
  id: Id,
  ...Owner,
  network_id: Id,
  name: Type.String(),
  mac_address: Type.String(),
  fixed_ips: Type.Array(FixedIp),
  allowed_address_pairs: Type.Array(AddressPair),
  security_groups: Type.Array(Id),
  port_security_enabled: Type.Boolean(),
  device_owner: Type.String(),
  device_id: Type.String(),
  'binding:host_id': Type.String(),
  'binding:vnic_type': Type.String(),
  status: Type.String(),
  admin_state_up: Type.Boolean(),
  ...StandardAttrs,
});

const PortWritable = {
  name: Type.Optional(Nullable(Name)),
  description: Type.Optional(Nullable(Type.String())),
  mac_address: Type.Optional(Type.String()),
  fixed_ips: Type.Optional(Type.Array(Type.Unknown())),
  allowed_address_pairs: Type.Optional(Type.Array(Type.Unknown())),
  security_groups: Type.Optional(Type.Array(Type.Unknown())),
  port_security_enabled: Type.Optional(BoolLike),
  device_owner: Type.Optional(Nullable(Type.String())),
  device_id: Type.Optional(Nullable(Type.String())),
  'binding:host_id': Type.Optional(Nullable(Type.String())),
  admin_state_up: Type.Optional(Type.Boolean()),
};

export const PortCreate = Type.Object({
  network_id: Id,
  ...PortWritable,
  project_id: Type.Optional(Type.String()),
  tenant_id: Type.Optional(Type.String()),
});

export const PortUpdate = Type.Object(PortWritable);

// ---------------------------------------------------------------------------------------
// Address groups
// ---------------------------------------------------------------------------------------

export const AddressGroup = Type.Object({
  id: Id,
  ...Owner,
  name: Type.String(),
  addresses: Type.Array(Type.String()),
  ...StandardAttrs,
});

export const AddressGroupCreate = Type.Object({
  name: Type.Optional(Nullable(Name)),
  description: Type.Optional(Nullable(Type.String())),
  addresses: Type.Optional(Type.Array(Type.Unknown())),
  project_id: Type.Optional(Type.String()),
  tenant_id: Type.Optional(Type.String()),
});

export const AddressGroupUpdate = Type.Object({
  name: Type.Optional(Nullable(Name)),
  description: Type.Optional(Nullable(Type.String())),
});

export const AddressesBody = Type.Object(
  { addresses: Type.Array(Type.Unknown(), { minItems: 1 }) },
  { additionalProperties: false },
);

// ---------------------------------------------------------------------------------------
// Envelopes, parameters, errors
// ---------------------------------------------------------------------------------------

/** `{"<singular>": inner}`: the only key a single-resource body may have. */
export function envelope<S extends string, T extends TObject>(singular: S, inner: T) {
  return Type.Object({ [singular]: inner } as { [K in S]: T }, { additionalProperties: false });
}

export function collectionOf<S extends string, T extends TObject>(collection: S, item: T) {
  const Link = Type.Object({ rel: Type.String(), href: Type.String() });
  const properties: Record<string, TSchema> = {
    [collection]: Type.Array(item),
    [`${collection}_links`]: Type.Optional(Type.Array(Link)),
  };
  return Type.Object(properties);
}

const StrOrList = Type.Union([Type.String(), Type.Array(Type.String())]);

/** Neutron's list parameters; any other key is a filter on a field (checked by list.ts). */
export const ListQuery = Type.Object(
  {
    fields: Type.Optional(StrOrList),
    sort_key: Type.Optional(StrOrList),
    sort_dir: Type.Optional(StrOrList),
    limit: Type.Optional(Type.String({ description: 'page size; 0 = no limit' })),
    marker: Type.Optional(Type.String({ description: 'id of the last item of the previous page' })),
    page_reverse: Type.Optional(Type.String()),
    tags: Type.Optional(StrOrList),
    'tags-any': Type.Optional(StrOrList),
    'not-tags': Type.Optional(StrOrList),
    'not-tags-any': Type.Optional(StrOrList),
  },
  { additionalProperties: StrOrList },
);
export type ListQuery = Static<typeof ListQuery>;

export const ShowQuery = Type.Object(
  { fields: Type.Optional(StrOrList) },
  { additionalProperties: StrOrList },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1 }) });
export const TagParams = Type.Object({
  id: Type.String({ minLength: 1 }),
  tag: Type.String({ minLength: 1 }),
});
export const TagsBody = Type.Object(
  { tags: Type.Array(Type.String({ minLength: 1, maxLength: 255 })) },
  { additionalProperties: false },
);

export const NeutronError = Type.Object({
  NeutronError: Type.Object({
    type: Type.String(),
    message: Type.String(),
    detail: Type.String(),
  }),
});

export type SecurityGroupRuleCreateBody = Static<typeof SecurityGroupRuleCreateBody>;
