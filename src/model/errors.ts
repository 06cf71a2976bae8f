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
    message: 'Invalid input for {field}. Reason: {reason}.',
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
      'Security group rule protocol {protocol} not supported. Only protocol values {values} and integer representations [0 to 255] are supported.',
  },
  SG_INVALID_PORT_RANGE: {
    status: 400,
    type: 'SecurityGroupInvalidPortRange',
    message: '{reason}',
  },
  SG_INVALID_PORT_VALUE: {
    status: 400,
    type: 'SecurityGroupInvalidPortValue',
    message: 'Invalid value for port {port}. {reason}',
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
    status: 400,
    type: 'PortSecurityAndIPRequiredForSecurityGroups',
    message:
      'Port security must be enabled and port must have an IP address in order to use security groups.',
  },
  PORT_SECURITY_HAS_GROUPS: {
    status: 409,
    type: 'PortSecurityPortHasSecurityGroup',
    message:
      'Port has security group associated. Cannot disable port security or IP address until security group is removed.',
  },
  DUPLICATE_ID: {
    status: 409,
    type: 'Conflict',
    message: '{kind} {id} is defined twice.',
  },
  MODE_NOT_SUPPORTED: {
    status: 400,
    type: 'HTTPBadRequest',
    message:
      'Enforcement mode {mode} is not supported yet (field {field}); supported now: {supported}.',
  },
  INVALID_LOCAL_PORTS: {
    status: 400,
    type: 'HTTPBadRequest',
    message: 'Invalid input for {field}. Reason: {reason}.',
  },
  POLICY_FILE: {
    status: 400,
    type: 'PolicyFileInvalid',
    message: '{path}: {reason}',
  },
  SG_MISSING_ICMP_TYPE: {
    status: 400,
    type: 'SecurityGroupMissingIcmpType',
    message:
      'ICMP code (port-range-max) {value} is provided but ICMP type (port-range-min) is missing.',
  },
  SG_DUPLICATE_RULE_IN_POST: {
    status: 409,
    type: 'DuplicateSecurityGroupRuleInPost',
    message: 'Duplicate Security Group Rule in POST.',
  },
  ADDRESS_PAIR_PORT_SECURITY: {
    status: 409,
    type: 'AddressPairAndPortSecurityRequired',
    message: 'Port Security must be enabled in order to have allowed address pairs on a port.',
  },
  ADDRESS_PAIR_DUPLICATE: {
    status: 400,
    type: 'DuplicateAddressPairInRequest',
    message:
      'Request contains duplicate address pair: mac_address {mac_address} ip_address {ip_address}.',
  },
  // --- API (Neutron's HTTP layer: auth, policy, quotas, revisions, list parameters) ---
  BAD_REQUEST: { status: 400, type: 'HTTPBadRequest', message: '{reason}' },
  NOT_AUTHENTICATED: {
    status: 401,
    type: 'HTTPUnauthorized',
    message: 'The request you have made requires authentication: {reason}.',
  },
  POLICY_NOT_AUTHORIZED: {
    status: 403,
    type: 'PolicyNotAuthorized',
    message: 'rule:{action} is disallowed by policy.',
  },
  RESOURCE_NOT_FOUND: {
    status: 404,
    type: 'HTTPNotFound',
    message: 'The resource could not be found: {method} {url}.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    type: 'HTTPMethodNotAllowed',
    message: 'The method {method} is not allowed for this resource; allowed: {allowed}.',
  },
  REVISION_MISMATCH: {
    status: 412,
    type: 'RevisionNumberConstraintFailed',
    message: 'Constrained to {expected}, but current revision is {current}',
  },
  OVER_QUOTA: {
    status: 409,
    type: 'OverQuota',
    message: "Quota exceeded for resources: ['{resource}'].",
  },
  ADMIN_REQUIRED: {
    status: 403,
    type: 'AdminRequired',
    message: 'User does not have admin privileges: {reason}.',
  },
  QUOTA_NOT_FOUND: {
    status: 404,
    type: 'TenantQuotaNotFound',
    message: 'Quota for tenant {project_id} could not be found.',
  },
  QUOTA_BELOW_USAGE: {
    status: 400,
    type: 'HTTPBadRequest',
    message: 'Quota limit {limit} for {field} must be greater than or equal to already used {used}',
  },
  NOT_IMPLEMENTED: { status: 501, type: 'HTTPNotImplemented', message: '{reason}' },
  PROJECT_MISMATCH: {
    status: 400,
    type: 'HTTPBadRequest',
    message:
      "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
  },
  READ_ONLY_ATTRIBUTE: {
    status: 400,
    type: 'HTTPBadRequest',
    message: 'Cannot update read-only attribute {field}; updatable: {allowed}.',
  },
  SG_DEFAULT_EXISTS: {
    status: 409,
    type: 'SecurityGroupDefaultAlreadyExists',
    message: 'Default security group already exists.',
  },
  SG_CANNOT_REMOVE_DEFAULT: {
    status: 409,
    type: 'SecurityGroupCannotRemoveDefault',
    message: 'Insufficient rights for removing default security group.',
  },
  SG_CANNOT_UPDATE_DEFAULT: {
    status: 409,
    type: 'SecurityGroupCannotUpdateDefault',
    message: 'Updating default security group not allowed.',
  },
  NETWORK_IN_USE: {
    status: 409,
    type: 'NetworkInUse',
    message:
      'Unable to complete operation on network {id}. There are one or more ports still in use on the network.',
  },
  ADDRESS_GROUP_IN_USE: {
    status: 409,
    type: 'AddressGroupInUse',
    message: 'Address group {id} is in use on one or more security group rules.',
  },
  ADDRESSES_NOT_FOUND: {
    status: 404,
    type: 'AddressesNotFound',
    message: 'Addresses {addresses} not found in the address group {id}.',
  },
  TAG_NOT_FOUND: {
    status: 404,
    type: 'TagNotFound',
    message: 'Tag {tag} could not be found for {resource} {id}.',
  },
  MAC_IN_USE: {
    status: 409,
    type: 'MacAddressInUse',
    message: 'Unable to complete operation for network {net_id}. The mac address {mac} is in use.',
  },
  IP_IN_USE: {
    status: 409,
    type: 'IpAddressAlreadyAllocated',
    message: 'IP address {ip} already allocated on network {net_id}.',
  },
  ADDRESSES_ALREADY_EXIST: {
    status: 400,
    type: 'AddressesAlreadyExist',
    message: 'Addresses {addresses} already exist in the address group {id}.',
  },
  // --- command line and server start-up (a flag's value, a file it names) ---
  INVALID_OPTION: { status: 400, type: 'InvalidOption', message: '{field}: {reason}' },
  // --- openflow (flow text, wire codec, switch connection) ---
  OF_INVALID_FLOW: {
    status: 400,
    type: 'InvalidFlow',
    message: 'Invalid flow {field}: {reason}',
  },
  OF_MALFORMED: {
    status: 502,
    type: 'OpenFlowMalformed',
    message: 'Malformed OpenFlow {what}: {reason}',
  },
  OF_SWITCH_ERROR: {
    status: 502,
    type: 'OpenFlowError',
    message: 'Switch rejected {what}: {reason}',
  },
  OF_CONNECTION: {
    status: 503,
    type: 'OpenFlowConnectionError',
    message: 'OpenFlow connection to {target}: {reason}',
  },
  INTERNAL: {
    status: 500,
    type: 'HTTPInternalServerError',
    message: 'Request Failed: internal server error while processing your request.',
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
