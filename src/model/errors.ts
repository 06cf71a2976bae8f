/**
 * The one registry of coded errors. Every error a user can see has a stable code, a message
 * template, an HTTP status and, where Neutron has one, Neutron's error type name, so the API
 * renders `{"NeutronError": {"type", "message", "detail"}}` exactly as Neutron would and the
 * CLI prints the same words.
 *
 * Add a row here; never throw a bare Error for bad input.
 */

export interface ErrorDef {
  /** HTTP status the API answers with. */
  readonly status: number;
  /** Neutron's exception type name (the NeutronError `type`). */
  readonly type: string;
  /** Message template; `{name}` is replaced by the param of that name. */
  readonly message: string;
}

export const ERRORS = {
  SG_INVALID_FIELD: {
    status: 400,
    type: 'HTTPBadRequest',
    message: "Invalid input for {field}. Reason: {reason}.",
  },
  SG_MISSING_FIELD: {
    status: 400,
    type: 'HTTPBadRequest',
    message: "Failed to parse request. Required attribute '{field}' not specified.",
  },
  SG_UNKNOWN_FIELD: {
    status: 400,
    type: 'HTTPBadRequest',
    message: "Unrecognized attribute(s) '{field}'.",
  },
  SG_INVALID_PROTOCOL: {
    status: 400,
    type: 'SecurityGroupRuleInvalidProtocol',
    message:
      "Security group rule protocol {protocol} not supported. Only protocol values {values} and integer representations [0 to 255] are supported.",
  },
  SG_INVALID_PORT_RANGE: {
    status: 400,
    type: 'SecurityGroupInvalidPortRange',
    message: '{reason}',
  },
  SG_INVALID_ICMP_VALUE: {
    status: 400,
    type: 'SecurityGroupInvalidIcmpValue',
    message: 'Invalid value for ICMP {field} (type/code) value {value}. {reason}',
  },
  SG_PORTS_WITHOUT_PROTOCOL: {
    status: 400,
    type: 'SecurityGroupProtocolRequiredWithPorts',
    message: 'Must also specify protocol if port range is given.',
  },
  SG_PORTS_NOT_SUPPORTED: {
    status: 400,
    type: 'SecurityGroupInvalidProtocolForPort',
    message:
      'Invalid protocol {protocol} for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.',
  },
  SG_ETHERTYPE_CONFLICT: {
    status: 400,
    type: 'SecurityGroupRuleParameterConflict',
    message: 'Conflicting value ethertype {ethertype} for CIDR {cidr}',
  },
  SG_ETHERTYPE_PROTOCOL_CONFLICT: {
    status: 400,
    type: 'SecurityGroupEthertypeConflictWithProtocol',
    message: 'Invalid ethertype {ethertype} for protocol {protocol}.',
  },
  SG_REMOTE_CONFLICT: {
    status: 400,
    type: 'SecurityGroupRemoteGroupAndRemoteIpPrefix',
    message:
      'Only one of remote_ip_prefix, remote_group_id and remote_address_group_id may be given.',
  },
  SG_RULE_EXISTS: {
    status: 409,
    type: 'SecurityGroupRuleExists',
    message: 'Security group rule already exists. Rule id is {id}.',
  },
  SG_NOT_FOUND: {
    status: 404,
    type: 'SecurityGroupNotFound',
    message: 'Security group {id} does not exist',
  },
  SG_RULE_NOT_FOUND: {
    status: 404,
    type: 'SecurityGroupRuleNotFound',
    message: 'Security group rule {id} does not exist',
  },
  SG_IN_USE: {
    status: 409,
    type: 'SecurityGroupInUse',
    message: 'Security Group {id} in use.',
  },
  SG_MIXED_STATEFULNESS: {
    status: 400,
    type: 'SecurityGroupConflictingStatefulness',
    message:
      'Cannot apply both stateful and stateless security groups on the same port {port} at the same time: {groups}.',
  },
  ADDRESS_GROUP_NOT_FOUND: {
    status: 404,
    type: 'AddressGroupNotFound',
    message: 'Address group {id} could not be found.',
  },
  PORT_NOT_FOUND: { status: 404, type: 'PortNotFound', message: 'Port {id} could not be found.' },
  NETWORK_NOT_FOUND: {
    status: 404,
    type: 'NetworkNotFound',
    message: 'Network {id} could not be found.',
  },
  PORT_SECURITY_CONFLICT: {
    status: 409,
    type: 'PortSecurityAndIPRequiredForSecurityGroups',
    message: 'Port security must be enabled and port must have an IP address in order to use security groups.',
  },
  DUPLICATE_ID: {
    status: 409,
    type: 'Conflict',
    message: '{kind} {id} is defined twice.',
  },
  POLICY_FILE: {
    status: 400,
    type: 'PolicyFileInvalid',
    message: '{path}: {reason}',
  },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

/** An error a user caused: carries its code, the field it names and the rendered message. */
export class SgflowError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly params: Readonly<Record<string, string | number>>;

  constructor(code: ErrorCode, params: Record<string, string | number> = {}) {
    const def: ErrorDef = ERRORS[code];
    super(def.message.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`)));
    this.name = 'SgflowError';
    this.code = code;
    this.status = def.status;
    this.type = def.type;
    this.params = params;
  }

  /** The field this error names, when it names one. */
  get field(): string | undefined {
    const f = this.params['field'];
    return f === undefined ? undefined : String(f);
  }
}
