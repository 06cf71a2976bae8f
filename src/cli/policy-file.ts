/**
 * Reads a policy file (docs/policy-file.md) for the offline commands: file → validated
 * Policy + host binding → NormalizedPolicy. Every failure is an SgflowError naming the file
 * and, for bad content, the JSON path of the offending field.
 */
import { readFileSync } from 'node:fs';

import { SgflowError } from '../model/errors.js';
import { loadPolicyDocument, normalizePolicy } from '../model/policy.js';
import type { HostBinding, NormalizedPolicy, Policy } from '../model/types.js';

export interface LoadedPolicy {
  policy: Policy;
  normalized: NormalizedPolicy;
  host: HostBinding;
}

export function readPolicyFile(path: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SgflowError('POLICY_FILE', { path, reason: (e as Error).message });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SgflowError('POLICY_FILE', {
      path,
      reason: `not valid JSON: ${(e as Error).message}`,
    });
  }
  try {
    const { policy, host } = loadPolicyDocument(json);
    return { policy, host, normalized: normalizePolicy(policy) };
  } catch (e) {
    if (e instanceof SgflowError) {
      throw new SgflowError('POLICY_FILE', { path, reason: e.message });
    }
    throw e;
  }
}
