/**
 * The one place that turns anything thrown while serving a request into Neutron's error body
 * `{"NeutronError": {"type", "message", "detail": ""}}` and its status code.
 *
 * Invariant: a user's mistake is always an SgflowError (4xx, naming the field); fastify's own
 * request errors (schema validation, malformed JSON, unsupported media type) are mapped to the
 * same registry; anything else is a bug, logged, and answered with a bare 500.
 */
import { SgflowError } from '../model/errors.js';

export interface NeutronErrorBody {
  NeutronError: { type: string; message: string; detail: string };
}

interface SchemaIssue {
  keyword?: string;
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

interface FastifyishError {
  statusCode?: number;
  code?: string;
  message?: string;
  validation?: SchemaIssue[];
  validationContext?: string;
}

/** `/security_group_rules/2/port_range_min` → `security_group_rules[2].port_range_min`. */
export function pointerToField(pointer: string, context: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  // A single-resource envelope (`{"security_group": {...}}`) is not part of the field name,
  // so the schema names the field the way the model's validation does.
  if (context === 'body' && parts.length > 1 && !/^\d+$/.test(parts[1]!)) parts.shift();
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || context;
}

/** Renders the schema issues of one request as the SgflowError of the first bad field. */
function fromSchemaIssues(all: SchemaIssue[], context: string): SgflowError {
  const issues = all.filter((i) => i.keyword !== 'boolean');
  const structural = issues.find(
    (i) => i.keyword === 'required' || i.keyword === 'additionalProperties',
  );
  const first = structural ?? issues[0] ?? all[0]!;
  const pointer = first.instancePath ?? '';
  const base = pointerToField(pointer, context);
  const params = first.params ?? {};
  const join = (name: string): string => pointerToField(`${pointer}/${name}`, context);
  if (first.keyword === 'required') {
    const names = (params['requiredProperties'] as string[] | undefined) ?? ['?'];
    return new SgflowError('SG_MISSING_FIELD', { field: names.map(join).join(', ') });
  }
  if (first.keyword === 'additionalProperties') {
    const names = (params['additionalProperties'] as string[] | undefined) ?? ['?'];
    return new SgflowError('SG_UNKNOWN_FIELD', { field: names.map(join).join(', ') });
  }
  // A union reports one issue per branch at the same place: list what each branch allows.
  const here = issues.filter((i) => i.instancePath === first.instancePath);
  const types = new Set<string>();
  const constants: string[] = [];
  for (const i of here) {
    if (i.keyword === 'type') types.add(String(i.params?.['type']));
    if (i.keyword === 'const') constants.push(JSON.stringify(i.params?.['allowedValue']));
  }
  let reason = first.message ?? 'invalid value';
  if (constants.length > 0) reason = `allowed values are ${constants.join(', ')}`;
  else if (types.size > 0) reason = `expected ${[...types].join(' or ')}`;
  else if (here.length > 1) reason = here.map((i) => i.message).join('; ');
  return new SgflowError('SG_INVALID_FIELD', { field: base, reason });
}

/** The SgflowError a thrown value stands for, or undefined when it is a server fault. */
export function toSgflowError(err: unknown): SgflowError | undefined {
  if (err instanceof SgflowError) return err;
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as FastifyishError;
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    return fromSchemaIssues(e.validation, e.validationContext ?? 'body');
  }
  if (e.statusCode === 400) {
    return new SgflowError('BAD_REQUEST', {
      reason: `Malformed request: ${e.message ?? 'bad request'}`,
    });
  }
  return undefined;
}

/** webob's names for the other client errors fastify itself raises (413, 415, ...). */
const HTTP_TYPES: Record<number, string> = {
  401: 'HTTPUnauthorized',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  405: 'HTTPMethodNotAllowed',
  406: 'HTTPNotAcceptable',
  408: 'HTTPRequestTimeout',
  411: 'HTTPLengthRequired',
  413: 'HTTPRequestEntityTooLarge',
  415: 'HTTPUnsupportedMediaType',
};

function passthrough(err: unknown): RenderedError | undefined {
  if (err instanceof SgflowError || typeof err !== 'object' || err === null) return undefined;
  const e = err as FastifyishError;
  const status = e.statusCode;
  if (typeof status !== 'number' || status <= 400 || status >= 500 || e.validation) {
    return undefined;
  }
  const type = HTTP_TYPES[status] ?? 'HTTPClientError';
  return {
    status,
    body: { NeutronError: { type, message: e.message ?? type, detail: '' } },
    internal: false,
  };
}

export interface RenderedError {
  status: number;
  body: NeutronErrorBody;
  /** True when the error is a bug to log, not a user's mistake. */
  internal: boolean;
}

export function renderError(err: unknown): RenderedError {
  const pass = passthrough(err);
  if (pass) return pass;
  const e = toSgflowError(err) ?? new SgflowError('INTERNAL');
  // Neutron's messages name a field but not which element of a bulk request it is in.
  const field = e.field;
  const message =
    field !== undefined && field.includes('[') && !e.message.includes(field)
      ? `${e.message} (in ${field})`
      : e.message;
  return {
    status: e.status,
    body: { NeutronError: { type: e.type, message, detail: '' } },
    internal: e.code === 'INTERNAL',
  };
}
