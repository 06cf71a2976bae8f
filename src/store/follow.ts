/**
 * Turns a callback watch into an async iterator of per-revision change batches. Shared by
 * every backend, so `Store.follow` behaves the same whatever stores the data.
 *
 * Invariant: batches come out in the order the watch delivered them, none dropped; the
 * iterator ends (done) when aborted or returned, and throws the watch's error if it fails.
 */
import type { Change, ChangeListener, FollowOptions, WatchOptions, Watcher } from './store.js';

type WatchFn = (from: number, onChanges: ChangeListener, opts?: WatchOptions) => Watcher;

export function followWatch(
  watch: WatchFn,
  fromRevision: number,
  opts: FollowOptions = {},
): AsyncIterableIterator<readonly Change[]> {
  const queue: (readonly Change[])[] = [];
  let failure: Error | undefined;
  let done = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const watcher = watch(
    fromRevision,
    (changes) => {
      queue.push(changes);
      notify();
    },
    {
      onError: (err) => {
        failure = err;
        notify();
      },
      onClose: () => finish(),
    },
  );
  function finish(): void {
    if (done) return;
    done = true;
    watcher.close();
    opts.signal?.removeEventListener('abort', finish);
    notify();
  }
  if (opts.signal?.aborted) finish();
  else opts.signal?.addEventListener('abort', finish);

  const iterator: AsyncIterableIterator<readonly Change[]> = {
    async next(): Promise<IteratorResult<readonly Change[]>> {
      for (;;) {
        const batch = queue.shift();
        if (batch) return { value: batch, done: false };
        if (failure) {
          const err = failure;
          finish();
          throw err;
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    return(): Promise<IteratorResult<readonly Change[]>> {
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
