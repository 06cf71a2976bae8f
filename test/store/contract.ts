// The behaviour every `Store` backend must show (store.ts), as a reusable suite: the SQLite
// backend runs it now, the etcd backend will run the same file. A backend provides a
// harness whose `open()` gives a new, independent handle on the same data (a restart, or a
// second process).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  StoreCompactedError,
  type Change,
  type Store,
  type StoredSecurityGroup,
} from '../../src/store/index.js';

export interface StoreHarness {
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

export function group(id: string, name = id, project = 'p1'): StoredSecurityGroup {
  return {
    id,
    project_id: project,
    name,
    description: '',
    stateful: true,
    tags: [],
    revision_number: 0,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
}

export function nextBatch(store: Store, from: number): Promise<readonly Change[]> {
  return new Promise((resolve, reject) => {
    const w = store.watch(
      from,
      (changes) => {
        w.close();
        resolve(changes);
      },
      { onError: reject },
    );
  });
}

export function storeContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let stores: Store[];
    const open = async (): Promise<Store> => {
      const s = await harness.open();
      stores.push(s);
      return s;
    };

    beforeEach(async () => {
      harness = await makeHarness();
      stores = [];
    });
    afterEach(async () => {
      for (const s of stores) await s.close();
      await harness.cleanup();
    });

    it('starts empty at revision 0', async () => {
      const s = await open();
      expect(await s.revision()).toBe(0);
      expect(await s.snapshot()).toEqual({
        revision: 0,
        policy: {
          networks: [],
          ports: [],
          security_groups: [],
          security_group_rules: [],
          address_groups: [],
        },
      });
    });

    it('bumps the revision once per writing transaction, stamping all its changes', async () => {
      const s = await open();
      await s.transact(async (tx) => {
        await tx.put('security_group', group('a'));
        await tx.put('security_group', group('b'));
        expect((await tx.list('security_group')).map((g) => g.id)).toEqual(['a', 'b']);
      });
      expect(await s.revision()).toBe(1);
      await s.transact(async (tx) => {
        await tx.delete('security_group', 'a');
        await tx.delete('security_group', 'nope');
      });
      expect(await s.revision()).toBe(2);
      await s.transact(async (tx) => {
        await tx.get('security_group', 'b');
      });
      expect(await s.revision()).toBe(2);
      const changes = await s.changesSince(0);
      expect(changes.map((c) => [c.revision, c.op, c.id])).toEqual([
        [1, 'put', 'a'],
        [1, 'put', 'b'],
        [2, 'delete', 'a'],
      ]);
      expect(changes[2]!.value).toEqual(group('a'));
      expect((await s.changesSince(1)).map((c) => c.id)).toEqual(['a']);
    });

    it('writes nothing when the transaction function throws', async () => {
      const s = await open();
      await s.transact(async (tx) => tx.put('security_group', group('keep')));
      await expect(
        s.transact(async (tx) => {
          await tx.put('security_group', group('x'));
          await tx.delete('security_group', 'keep');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await s.revision()).toBe(1);
      expect((await s.list('security_group')).map((g) => g.id)).toEqual(['keep']);
      expect(await s.changesSince(0)).toHaveLength(1);
    });

    it('serialises concurrent transactions (read-modify-write stays consistent)', async () => {
      const s = await open();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          s.transact(async (tx) => {
            const all = await tx.list('security_group');
            await new Promise((r) => setTimeout(r, 1));
            await tx.put(
              'security_group',
              group(`g${String(i).padStart(2, '0')}`, `n${all.length}`),
            );
          }),
        ),
      );
      const names = (await s.list('security_group')).map((g) => g.name);
      expect(new Set(names).size).toBe(20);
      expect(await s.revision()).toBe(20);
    });

    it('filters lists by top-level fields', async () => {
      const s = await open();
      await s.transact(async (tx) => {
        await tx.put('security_group', group('a', 'web', 'p1'));
        await tx.put('security_group', { ...group('b', 'db', 'p2'), stateful: false });
        await tx.put('security_group', group('c', 'web', 'p2'));
      });
      expect((await s.list('security_group', { project_id: 'p2' })).map((g) => g.id)).toEqual([
        'b',
        'c',
      ]);
      expect((await s.list('security_group', { stateful: false })).map((g) => g.id)).toEqual(['b']);
      expect(
        (await s.list('security_group', { name: 'web', project_id: 'p2' })).map((g) => g.id),
      ).toEqual(['c']);
      expect(await s.get('security_group', 'zz')).toBeUndefined();
      expect(await s.get('network', 'a')).toBeUndefined();
    });

    it('keeps settings durably and transactionally, outside the revision, feed and snapshot', async () => {
      const s1 = await open();
      await s1.transact(async (tx) => tx.put('security_group', group('a')));
      await s1.transact(async (tx) =>
        tx.put('quota', { id: 'p1', project_id: 'p1', limits: { port: 5 } }),
      );
      expect(await s1.revision()).toBe(1);
      expect((await s1.changesSince(0)).map((c) => c.kind)).toEqual(['security_group']);
      await expect(
        s1.transact(async (tx) => {
          await tx.put('quota', { id: 'p2', project_id: 'p2', limits: { network: 1 } });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      // A transaction writing a setting and a resource makes one revision of the resource only.
      await s1.transact(async (tx) => {
        await tx.delete('quota', 'p1');
        await tx.put('quota', { id: 'p3', project_id: 'p3', limits: { port: -1 } });
        await tx.put('security_group', group('b'));
      });
      expect((await s1.changesSince(1)).map((c) => [c.revision, c.kind, c.id])).toEqual([
        [2, 'security_group', 'b'],
      ]);
      await s1.close();
      const s2 = await open();
      expect(await s2.list('quota')).toEqual([
        { id: 'p3', project_id: 'p3', limits: { port: -1 } },
      ]);
      const snap = await s2.snapshot();
      expect(snap.revision).toBe(2);
      expect(Object.keys(snap.policy).sort()).toEqual([
        'address_groups',
        'networks',
        'ports',
        'security_group_rules',
        'security_groups',
      ]);
    });

    it('read() sees one committed state while another handle commits', async () => {
      const s = await open();
      const other = await open();
      await s.transact(async (tx) => tx.put('security_group', group('a')));
      let write: Promise<void> | undefined;
      const seen = await s.read(async (r) => {
        const first = (await r.list('security_group')).map((g) => g.id);
        write = other.transact(async (tx) => {
          await tx.put('security_group', group('b'));
          await tx.delete('security_group', 'a');
        });
        // Give the write every chance to commit before the second read.
        await Promise.race([write, new Promise((resolve) => setTimeout(resolve, 50))]);
        const second = (await r.list('security_group')).map((g) => g.id);
        return { first, second, b: await r.get('security_group', 'b') };
      });
      expect(seen).toEqual({ first: ['a'], second: ['a'], b: undefined });
      await write;
      expect((await s.list('security_group')).map((g) => g.id)).toEqual(['b']);
    });

    it('read() sees one committed state while the same handle commits', async () => {
      const s = await open();
      await s.transact(async (tx) => tx.put('security_group', group('a')));
      let write: Promise<void> | undefined;
      const seen = await s.read(async (r) => {
        const first = (await r.list('security_group')).length;
        write = s.transact(async (tx) => tx.put('security_group', group('b')));
        await Promise.race([write, new Promise((resolve) => setTimeout(resolve, 50))]);
        return [first, (await r.list('security_group')).length];
      });
      expect(seen).toEqual([1, 1]);
      await write;
      expect(await s.list('security_group')).toHaveLength(2);
    });

    it('keeps state, revision and change feed across a restart', async () => {
      const s1 = await open();
      await s1.transact(async (tx) => tx.put('security_group', group('a')));
      await s1.transact(async (tx) => tx.put('security_group', group('b')));
      await s1.close();
      const s2 = await open();
      expect(await s2.revision()).toBe(2);
      const snap = await s2.snapshot();
      expect(snap.revision).toBe(2);
      expect(snap.policy.security_groups.map((g) => g.id)).toEqual(['a', 'b']);
      expect((await s2.changesSince(1)).map((c) => c.id)).toEqual(['b']);
      await s2.transact(async (tx) => tx.put('security_group', group('c')));
      expect(await s2.revision()).toBe(3);
    });

    it('watch replays stored changes, then delivers each new transaction as one batch', async () => {
      const s = await open();
      await s.transact(async (tx) => tx.put('security_group', group('a')));
      const seen: (readonly Change[])[] = [];
      let resolveDone: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      const w = s.watch(0, (batch) => {
        seen.push(batch);
        if (batch[0]!.revision === 2) resolveDone();
      });
      await s.transact(async (tx) => {
        await tx.put('security_group', group('b'));
        await tx.put('security_group', group('c'));
      });
      await done;
      w.close();
      expect(seen.map((b) => b.map((c) => `${c.revision}:${c.id}`))).toEqual([
        ['1:a'],
        ['2:b', '2:c'],
      ]);
    });

    it('a watcher on another handle sees commits made through the first', async () => {
      const writer = await open();
      const watcher = await open();
      const batch = nextBatch(watcher, 0);
      await writer.transact(async (tx) => tx.put('security_group', group('x')));
      expect((await batch).map((c) => c.id)).toEqual(['x']);
    });

    it('follow yields batches in order and ends when aborted', async () => {
      const s = await open();
      const ac = new AbortController();
      const it = s.follow(0, { signal: ac.signal });
      for (const id of ['a', 'b', 'c']) {
        await s.transact(async (tx) => tx.put('security_group', group(id)));
      }
      const got: string[] = [];
      for await (const batch of it) {
        got.push(...batch.map((c) => c.id));
        if (got.length === 3) ac.abort();
      }
      expect(got).toEqual(['a', 'b', 'c']);
    });

    it('ends followers and tells watchers when the store closes', async () => {
      const s = await open();
      let closed = false;
      s.watch(0, () => undefined, { onClose: () => (closed = true) });
      const it = s.follow(0);
      const pending = it.next();
      await s.close();
      expect(await pending).toEqual({ value: undefined, done: true });
      expect(closed).toBe(true);
    });

    it('compaction forgets old changes and makes asking for them an error', async () => {
      const s = await open();
      for (const id of ['a', 'b', 'c']) {
        await s.transact(async (tx) => tx.put('security_group', group(id)));
      }
      await s.compact(2);
      expect((await s.changesSince(2)).map((c) => c.id)).toEqual(['c']);
      await expect(s.changesSince(1)).rejects.toBeInstanceOf(StoreCompactedError);
      const err = await new Promise<Error>((resolve) =>
        s.watch(0, () => undefined, { onError: resolve }),
      );
      expect(err).toBeInstanceOf(StoreCompactedError);
      expect((await s.snapshot()).policy.security_groups).toHaveLength(3);
    });
  });
}
