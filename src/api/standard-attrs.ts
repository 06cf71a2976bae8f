/**
 * Neutron's standard attributes: revision_number, created_at / updated_at, tags,
 * description, and the `If-Match: revision_number=N` precondition on writes.
 *
 * Invariant: every change of a resource goes through `touch`, so its revision_number grows
 * by one and updated_at moves; timestamps are ISO 8601 in seconds with `Z`, as Neutron
 * prints them.
 */
import { SgflowError } from '../model/errors.js';
import type { StandardAttrs } from '../store/index.js';

/** `2026-01-02T03:04:05Z` */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function newAttrs(now: string, description = ''): StandardAttrs {
  return { description, tags: [], revision_number: 0, created_at: now, updated_at: now };
}

/** The next version of a resource after a change. */
export function touch<T extends StandardAttrs>(value: T, now: string, changes: Partial<T> = {}): T {
  return { ...value, ...changes, revision_number: value.revision_number + 1, updated_at: now };
}

const IF_MATCH_RE = /^\s*revision_number=(\d+)\s*$/;

/**
 * Checks `If-Match` (`revision_number=N`, several may be comma-separated; any match passes)
 * against the resource's current revision: 412 when none matches, 400 when malformed.
 */
export function checkIfMatch(header: string | string[] | undefined, current: number): void {
  if (header === undefined) return;
  const values = (Array.isArray(header) ? header : [header]).flatMap((h) => h.split(','));
  const wanted: number[] = [];
  for (const v of values) {
    const m = IF_MATCH_RE.exec(v);
    if (!m) {
      throw new SgflowError('SG_INVALID_FIELD', {
        field: 'If-Match',
        reason: `'${v.trim()}' is not of the form revision_number=<integer>`,
      });
    }
    wanted.push(Number(m[1]));
  }
  if (!wanted.includes(current)) {
    throw new SgflowError('REVISION_MISMATCH', { expected: wanted.join(', '), current });
  }
}
