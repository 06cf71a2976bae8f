/**
 * The openflow layer's coded error. The layer imports nothing of ours (DESIGN.md §3), so it
 * cannot throw model's SgflowError itself; FlowError carries the same shape (code from the
 * OF_* rows of src/model/errors.ts, params naming the field) and callers above convert it with
 * `new SgflowError(e.code, e.params)`.
 */

export type FlowErrorCode =
  'OF_INVALID_FLOW' | 'OF_MALFORMED' | 'OF_SWITCH_ERROR' | 'OF_CONNECTION';

const TEMPLATES: Record<FlowErrorCode, string> = {
  OF_INVALID_FLOW: 'Invalid flow {field}: {reason}',
  OF_MALFORMED: 'Malformed OpenFlow {what}: {reason}',
  OF_SWITCH_ERROR: 'Switch rejected {what}: {reason}',
  OF_CONNECTION: 'OpenFlow connection to {target}: {reason}',
};

export class FlowError extends Error {
  readonly code: FlowErrorCode;
  readonly params: Readonly<Record<string, string | number>>;

  constructor(code: FlowErrorCode, params: Record<string, string | number>) {
    super(TEMPLATES[code].replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`)));
    this.name = 'FlowError';
    this.code = code;
    this.params = params;
  }

  /** The field (or flow element) this error names. */
  get field(): string | undefined {
    const f = this.params['field'];
    return f === undefined ? undefined : String(f);
  }
}

/** Bad flow text or IR: `field` names what is wrong, `reason` says what is allowed. */
export function invalidFlow(field: string, reason: string): FlowError {
  return new FlowError('OF_INVALID_FLOW', { field, reason });
}

/** Bytes that do not decode. */
export function malformed(what: string, reason: string): FlowError {
  return new FlowError('OF_MALFORMED', { what, reason });
}
