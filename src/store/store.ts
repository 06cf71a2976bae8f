/**
 * The `Store` contract: durable intent (networks, ports, groups, rules, address groups) plus
 * an ordered change feed an agent can follow.
 *
 * Invariants every backend keeps (SQLite now, etcd later; callers never know which):
 * - Writes happen only inside `transact`: all of a transaction's puts and deletes become
 *   visible together, or none do when the function throws.
 * - The store revision grows by exactly one per committed transaction that changed
 *   something; every change of that transaction carries it (as etcd revisions do). A
 *   transaction that writes nothing leaves the revision as it was.
 * - `snapshot()` is the whole policy at one revision; `changesSince(r)` is every change after
 *   revision r, in commit order, so snapshot + changes after its revision = the state at any
 *   later revision. Both survive restarts.
 * - Changes at or below the compaction point are gone: asking for them throws
 *   `StoreCompactedError` (take a new snapshot).
 * - `read(fn)` runs every read of `fn` against one committed state: a transaction that
 *   commits meanwhile is seen by none of them or, after `fn`, by all.
 * - Settings (`SettingKind`: per-project quota overrides) are written in transactions and kept
 *   like resources, but they are not policy: writing them moves neither the revision nor the
 *   change feed, and snapshots leave them out, so an agent never meets a kind it does not
 *   know. (An etcd backend keeps them outside the prefix agents watch, and counts its
 *   revision over policy writes only.)
 */
import type { Policy } from '../model/types.js';
import type { AnyResource, Kind, ResourceOf, StoreKind, StoredOf } from './resources.js';

export type ChangeOp = 'put' | 'delete';

/** One change of the feed. For `delete`, `value` is the resource as it was last stored. */
export interface Change<K extends Kind = Kind> {
  revision: number;
  kind: K;
  id: string;
  op: ChangeOp;
  value: ResourceOf<K>;
}

/** Equality filter on top-level fields of a stored value (string, number or boolean). */
export type Where = Readonly<Record<string, string | number | boolean>>;

export interface StoreReader {
  get<K extends StoreKind>(kind: K, id: string): Promise<StoredOf<K> | undefined>;
  /** All values of a kind (matching `where`), ordered by id. */
  list<K extends StoreKind>(kind: K, where?: Where): Promise<StoredOf<K>[]>;
}

export interface StoreTx extends StoreReader {
  /** Creates or replaces `value` (keyed by its id). Reads in the same transaction see it. */
  put<K extends StoreKind>(kind: K, value: StoredOf<K>): Promise<void>;
  /** Deletes a value; deleting an absent one is a no-op (no change is recorded). */
  delete(kind: StoreKind, id: string): Promise<void>;
}

export interface Snapshot {
  revision: number;
  policy: Policy;
}

/** Called once per committed transaction, with all its changes in order. */
export type ChangeListener = (changes: readonly Change[]) => void;

export interface Watcher {
  close(): void;
}

export interface WatchOptions {
  /** A watcher that falls behind the compaction point, or whose backend fails, ends here. */
  onError?: (err: Error) => void;
  /** Called when the store closes under a live watch (no more changes will come). */
  onClose?: () => void;
}

export interface FollowOptions {
  signal?: AbortSignal;
}

export interface Store extends StoreReader {
  /** The revision of the last committed change (0 for an empty store). */
  revision(): Promise<number>;
  /**
   * Runs `fn` as one atomic transaction; its result is returned after commit. Transactions
   * of one store run one at a time. `fn` should await only the transaction's own calls: a
   * backend may hold a write lock for as long as `fn` runs.
   */
  transact<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` with a reader whose every read sees the same committed state (no write of
   * this or another process lands between two of them). `fn` should await only the
   * reader's own calls.
   */
  read<T>(fn: (reader: StoreReader) => Promise<T>): Promise<T>;
  snapshot(): Promise<Snapshot>;
  /** Every change with a revision greater than `revision`, in order. */
  changesSince(revision: number): Promise<Change[]>;
  /**
   * Delivers every change after `fromRevision`, first those already stored, then each new
   * transaction as it commits (in this process at once; from other processes sharing the
   * store within the backend's poll interval), one call per revision, in order.
   */
  watch(fromRevision: number, onChanges: ChangeListener, opts?: WatchOptions): Watcher;
  /** The same feed as an async iterator of per-revision batches; ends when aborted. */
  follow(fromRevision: number, opts?: FollowOptions): AsyncIterableIterator<readonly Change[]>;
  /** Forgets changes at or below `revision` (the state itself is kept). */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

/** Thrown when a caller asks for changes that compaction has already removed. */
export class StoreCompactedError extends Error {
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super(
      `changes after revision ${requested} are no longer available (compacted up to ${compacted}); take a new snapshot`,
    );
    this.name = 'StoreCompactedError';
  }
}

/** Groups an ordered change list into per-revision batches. */
export function batchByRevision(changes: readonly Change[]): Change[][] {
  const batches: Change[][] = [];
  for (const c of changes) {
    const last = batches[batches.length - 1];
    if (last && last[0]!.revision === c.revision) last.push(c);
    else batches.push([c]);
  }
  return batches;
}

export type { AnyResource, Kind, ResourceOf, StoreKind, StoredOf };
