/**
 * Where the agent's intent comes from: a `PolicySource` delivers the whole policy once
 * (a snapshot at a revision) and then every later change, in order. The store-backed source
 * follows the store's change feed; the static source serves a policy given in code (tests,
 * the offline tools).
 *
 * Invariant: a source reports revisions that only grow; after `onReset` the cache holds
 * exactly the snapshot, and after each `onChanges` it holds the state at that revision.
 */
import type { Policy } from '../model/types.js';
import type { Change, Store, Watcher } from '../store/store.js';
import { StoreCompactedError } from '../store/store.js';
import { PolicyCache } from './policy-cache.js';

export interface PolicySourceListener {
  /** The whole policy changed (first snapshot, or a re-snapshot after compaction). */
  onReset(revision: number): void;
  /** One committed transaction's changes (already applied to the cache). */
  onChanges(revision: number, changes: readonly Change[]): void;
  onError(err: Error): void;
}

export interface PolicySource {
  /** The cache the source keeps up to date; the agent reads it to compile. */
  readonly cache: PolicyCache;
  start(listener: PolicySourceListener): Promise<void>;
  stop(): Promise<void>;
}

/** A policy handed in directly; `set()` replaces it (as one change at the next revision). */
export class StaticPolicySource implements PolicySource {
  readonly cache = new PolicyCache();
  private listener: PolicySourceListener | undefined;
  private revision = 0;

  constructor(policy?: Policy) {
    if (policy) this.cache.reset(policy, 0);
  }

  start(listener: PolicySourceListener): Promise<void> {
    this.listener = listener;
    listener.onReset(this.revision);
    return Promise.resolve();
  }

  /** Replaces the policy; returns the new revision. */
  set(policy: Policy): number {
    this.revision++;
    this.cache.reset(policy, this.revision);
    this.listener?.onReset(this.revision);
    return this.revision;
  }

  stop(): Promise<void> {
    this.listener = undefined;
    return Promise.resolve();
  }
}

/** Follows a `Store`: snapshot, then its change feed; re-snapshots when compaction overtakes it. */
export class StorePolicySource implements PolicySource {
  readonly cache = new PolicyCache();
  private watcher: Watcher | undefined;
  private stopped = false;

  constructor(private readonly store: Store) {}

  async start(listener: PolicySourceListener): Promise<void> {
    this.stopped = false;
    await this.resnapshot(listener);
  }

  private async resnapshot(listener: PolicySourceListener): Promise<void> {
    this.watcher?.close();
    const snap = await this.store.snapshot();
    if (this.stopped) return;
    this.cache.reset(snap.policy, snap.revision);
    listener.onReset(snap.revision);
    this.watcher = this.store.watch(
      snap.revision,
      (changes) => {
        if (changes.length === 0) return;
        const revision = changes[changes.length - 1]!.revision;
        if (revision <= this.cache.revision) return;
        this.cache.apply(changes);
        listener.onChanges(revision, changes);
      },
      {
        onError: (err) => {
          if (this.stopped) return;
          listener.onError(err);
          // Compaction overtook us, or the backend failed: start again from a snapshot.
          const delay = err instanceof StoreCompactedError ? 0 : 1000;
          setTimeout(() => {
            if (this.stopped) return;
            void this.resnapshot(listener).catch((e: unknown) => listener.onError(e as Error));
          }, delay);
        },
      },
    );
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    return Promise.resolve();
  }
}
