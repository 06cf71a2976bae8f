/**
 * Connection behaviour that a real ovs-vswitchd rarely shows, against a fake switch: version
 * negotiation failure (with and without a version bitmap), a request the switch never answers,
 * echo keepalive both ways and dropping a silent peer, reconnect backoff, listening for the
 * switch (ptcp), backpressure against a slow reader, and a refused connection.
 */
import { describe, expect, it } from 'vitest';
import { dialFakeSwitch, startFakeSwitch } from './fake-switch.js';
import { OpenFlowConnection, VersionMismatch } from '../../src/openflow/connection.js';
import { FlowError } from '../../src/openflow/errors.js';
import { formatFlow } from '../../src/openflow/text.js';
import type { Flow } from '../../src/openflow/ir.js';
import { canonicalFlow, decodeMessage, type OfMessage } from '../../src/openflow/wire/messages.js';

/** Polls `cond` every 20 ms until it holds (fails after 15 s). */
async function until(cond: () => boolean): Promise<void> {
  for (let waited = 0; !cond(); waited += 20) {
    if (waited > 15_000) throw new Error('condition not met within 15 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('OpenFlow connection against a fake switch', () => {
  it('refuses a switch that does not speak OpenFlow 1.5, saying which versions it offers', async () => {
    const sw = await startFakeSwitch({ helloBitmap: 0x10 });
    try {
      const err = await OpenFlowConnection.open({ target: sw.target }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VersionMismatch);
      expect((err as Error).message).toContain('offers wire versions 4');
    } finally {
      await sw.stop();
    }
  });

  it('reads the version from the HELLO header when the switch sends no version bitmap', async () => {
    const old = await startFakeSwitch({ helloBitmap: null, helloVersion: 4 });
    try {
      const err = await failure(OpenFlowConnection.open({ target: old.target }));
      expect(err).toBeInstanceOf(VersionMismatch);
      expect((err as Error).message).toContain('no version bitmap and wire version 4 at most');
      // We told the switch why before hanging up: OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE.
      await until(() => old.captured.some((c) => c.type === 1));
      const refusal = old.captured.find((c) => c.type === 1)!;
      expect(decodeMessage(refusal.bytes).msg).toMatchObject({
        type: 'error',
        typeName: 'OFPET_HELLO_FAILED',
        codeName: 'OFPHFC_INCOMPATIBLE',
      });
    } finally {
      await old.stop();
    }
    const current = await startFakeSwitch({ helloBitmap: null, helloVersion: 6 });
    try {
      const conn = await OpenFlowConnection.open({ target: current.target });
      await conn.barrier();
      await conn.close();
    } finally {
      await current.stop();
    }
  });

  it('keeps a live switch with echo requests, drops one that stops answering them, and reconnects', async () => {
    const live = await startFakeSwitch();
    const conn = await OpenFlowConnection.open({ target: live.target, echoIntervalMs: 50 });
    const states: string[] = [];
    conn.on('state', (s) => states.push(s));
    try {
      await until(() => live.captured.filter((c) => c.type === 2).length >= 8);
      expect(states).toEqual([]);
    } finally {
      await conn.close();
      await live.stop();
    }

    const mute = await startFakeSwitch({ silent: [2] });
    const c2 = await OpenFlowConnection.open({ target: mute.target, echoIntervalMs: 50 });
    const seen: string[] = [];
    let echoesBeforeDrop = 0;
    c2.on('state', (s) => {
      if (s === 'disconnected' && seen.length === 0)
        echoesBeforeDrop = mute.captured.filter((c) => c.type === 2).length;
      seen.push(s);
    });
    try {
      await until(() => seen.length >= 2);
      expect(seen.slice(0, 2)).toEqual(['disconnected', 'connected']);
      expect(echoesBeforeDrop).toBeGreaterThanOrEqual(3);
      expect(mute.accepted.length).toBeGreaterThanOrEqual(2);
    } finally {
      await c2.close();
      await mute.stop();
    }
  });

  it('waits longer between each reconnect attempt, up to maxBackoffMs', async () => {
    const sw = await startFakeSwitch({ closeOnConnect: true });
    const conn = OpenFlowConnection.create({ target: sw.target, maxBackoffMs: 800 });
    try {
      await until(() => sw.accepted.length >= 6);
    } finally {
      await conn.close();
      await sw.stop();
    }
    const gaps = sw.accepted.slice(1, 6).map((t, i) => t - sw.accepted[i]!);
    // Backoff 100, 200, 400, 800, then capped at 800 (lower bounds only: a busy machine adds delay).
    [100, 200, 400, 800, 800].forEach((ms, i) => expect(gaps[i]).toBeGreaterThanOrEqual(ms * 0.9));
    expect(gaps[4]).toBeLessThan(1600);
  });

  it('listens for the switch (ptcp), works over the connection it makes, and takes it back after it hangs up', async () => {
    const conn = OpenFlowConnection.create({ target: 'ptcp:0' });
    try {
      await until(() => conn.listeningPort() !== undefined);
      const port = conn.listeningPort()!;
      const sw = await dialFakeSwitch(port, { datapathId: 0xabcn });
      await conn.ready();
      expect(conn.datapathId).toBe(0xabcn);
      const flow: Flow = { table: 1, priority: 1, cookie: 5n, match: {}, actions: [] };
      await conn.applyBundle([{ command: 'add', flow }]);
      const add = sw.captured.find((c) => c.type === 34)!;
      expect(decodeMessage(add.bytes).msg).toMatchObject({
        type: 'bundle_add',
        message: { type: 'flow_mod', command: 'add', flow: canonicalFlow(flow) },
      });
      sw.close();
      await until(() => conn.state === 'disconnected');
      const again = await dialFakeSwitch(port, { datapathId: 0xdefn });
      await until(() => conn.state === 'connected');
      expect(conn.datapathId).toBe(0xdefn);
      await conn.barrier();
      again.close();
    } finally {
      await conn.close();
    }
  });

  it('writes a large bundle to a slow reader with backpressure, losing nothing', async () => {
    const sw = await startFakeSwitch({ readPauseMs: 10 });
    const conn = await OpenFlowConnection.open({ target: sw.target });
    try {
      const flows: Flow[] = Array.from({ length: 20_000 }, (_, i) => ({
        table: 3,
        priority: 100,
        cookie: BigInt(i),
        match: { eth_type: { value: 0x800n }, ip_src: { value: 0x0a000000n + BigInt(i) } },
        actions: [{ type: 'resubmit', table: 4 }],
      }));
      await conn.applyBundle(flows.map((flow) => ({ command: 'add' as const, flow })));
      expect(conn.drainWaits).toBeGreaterThan(0);
      const adds = sw.captured
        .filter((c) => c.type === 34)
        .map((c) => decodeMessage(c.bytes).msg as Extract<OfMessage, { type: 'bundle_add' }>);
      expect(adds).toHaveLength(flows.length);
      const sent = adds.map((a) =>
        formatFlow((a.message as Extract<OfMessage, { type: 'flow_mod' }>).flow),
      );
      expect(sent).toEqual(flows.map(formatFlow));
      // The commit came after every add.
      const types = sw.captured.map((c) => c.type);
      expect(types.lastIndexOf(34)).toBeLessThan(types.lastIndexOf(33));
    } finally {
      await conn.close();
      await sw.stop();
    }
  });

  it('times out a request the switch never answers, and stays usable', async () => {
    const sw = await startFakeSwitch({ silent: [26] });
    const conn = await OpenFlowConnection.open({ target: sw.target, requestTimeoutMs: 300 });
    try {
      const err = await conn.request({ type: 'get_async_request' }, 'get async').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FlowError);
      expect((err as FlowError).code).toBe('OF_CONNECTION');
      expect((err as Error).message).toMatch(/get async: no reply within 300 ms/);
      await conn.barrier();
      expect(conn.state).toBe('connected');
    } finally {
      await conn.close();
      await sw.stop();
    }
  });

  it("answers the switch's echo requests with the same xid and data", async () => {
    const sw = await startFakeSwitch({ pingAfterHello: true });
    const conn = await OpenFlowConnection.open({ target: sw.target });
    try {
      await conn.barrier();
      const echo = sw.captured.find((c) => c.type === 3);
      expect(echo).toBeDefined();
      expect(echo!.xid).toBe(0x77);
      expect(Buffer.from(echo!.bytes.subarray(8)).toString('hex')).toBe('abcd');
    } finally {
      await conn.close();
      await sw.stop();
    }
  });

  it('reports why a connection cannot be made when reconnecting is off', async () => {
    const err = await OpenFlowConnection.open({
      target: 'unix:/nonexistent/sgflow.sock',
      reconnect: false,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FlowError);
    expect((err as Error).message).toMatch(/unix:\/nonexistent\/sgflow.sock: .*ENOENT/);
  });
});
