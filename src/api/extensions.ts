/**
 * The API extensions this server implements, as GET /v2.0/extensions lists them. Clients
 * (openstacksdk, Terraform) look features up here, so list only what really works.
 */

export interface Extension {
  alias: string;
  name: string;
  description: string;
  updated: string;
  links: never[];
}

const UPDATED = '2026-01-01T00:00:00-00:00';

function ext(alias: string, name: string, description: string): Extension {
  return { alias, name, description, updated: UPDATED, links: [] };
}

/** Our extension: source port ranges on security group rules. */
export const SOURCE_PORT_EXTENSION = ext(
  'security-groups-source-port-range',
  'Security group rule source port range',
  'Adds source_port_range_min and source_port_range_max to security group rules (tcp, udp, sctp, dccp, udplite): the rule matches only packets whose source port lies in the range.',
);

export const EXTENSIONS: readonly Extension[] = [
  ext('security-group', 'security-group', 'The security groups extension.'),
  ext(
    'stateful-security-group',
    'Stateful security group',
    'Indicates if the security group is stateful or not',
  ),
  ext(
    'security-groups-remote-address-group',
    'Remote address group id field for security group rules',
    'Add new field of remote address group id in SG rules',
  ),
  ext(
    'security-groups-normalized-cidr',
    'Normalized CIDR field for security group rules',
    'Add new field with normalized remote_ip_prefix cidr in SG rule',
  ),
  ext('address-group', 'Address group', 'Support address group'),
  ext('port-security', 'Port Security', 'Provides port security'),
  ext('allowed-address-pairs', 'Allowed Address Pairs', 'Provides allowed address pairs'),
  ext('binding', 'Port Binding', 'Expose port bindings of a virtual port to external application'),
  ext('provider', 'Provider Network', 'Expose mapping of virtual networks to physical networks'),
  ext(
    'project-id',
    'project_id field enabled',
    'Extension that indicates that project_id field is enabled.',
  ),
  ext(
    'standard-attr-description',
    'standard-attr-description',
    'Extension to add descriptions to standard attributes',
  ),
  ext(
    'standard-attr-revisions',
    'Resource revision numbers',
    'This extension will display the revision number of neutron resources.',
  ),
  ext(
    'standard-attr-timestamp',
    'Resource timestamps',
    'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
  ),
  ext(
    'standard-attr-tag',
    'Tag support for resources with standard attribute: port, network, security_group, ...',
    'Enables to set tag on resources with standard attribute.',
  ),
  ext(
    'revision-if-match',
    'If-Match constraints based on revision_number',
    'Extension indicating that If-Match based on revision_number is supported.',
  ),
  ext('sorting', 'Sorting support', 'Extension that indicates that sorting is enabled.'),
  ext('pagination', 'Pagination support', 'Extension that indicates that pagination is enabled.'),
  ext(
    'filter-validation',
    'Filter parameters validation',
    'Provides validation on filter parameters.',
  ),
  ext('quotas', 'Quota management support', 'Expose functions for quotas management per project'),
  ext(
    'quota_details',
    'Quota details management support',
    'Expose functions for quotas usage statistics per project',
  ),
  SOURCE_PORT_EXTENSION,
];
