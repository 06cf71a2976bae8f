/**
 * Vitest wiring for the sandboxes: `useOvs()` starts a private OVS before the file's tests
 * and stops it after them, pass or fail (the process exit hook of ovs.ts is the backstop).
 */
import { afterAll, beforeAll } from 'vitest';
import { type OvsSandbox, startOvs, type StartOvsOptions } from './ovs.js';

/** Returns a getter for the file's sandbox (valid inside tests and later hooks). */
export function useOvs(opts: StartOvsOptions = {}): () => OvsSandbox {
  let sandbox: OvsSandbox | undefined;
  beforeAll(async () => {
    sandbox = await startOvs(opts);
  });
  afterAll(async () => {
    await sandbox?.stop();
  });
  return () => {
    if (!sandbox)
      throw new Error('useOvs: the sandbox is not started (use it inside a test or hook)');
    return sandbox;
  };
}
