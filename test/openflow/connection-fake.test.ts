/**
 * Connection behaviour that a real ovs-vswitchd rarely shows, against a fake switch: version
 * negotiation failure, a request the switch never answers, answering the switch's echo
 * requests, and a refused connection.
 */
import { describe, expect, it } from 'vitest';
import { startFakeSwitch } from './fake-switch.js';
import { OpenFlowConnection, VersionMismatch } from '../../src/openflow/connection.js';
import { FlowError } from '../../src/openflow/errors.js';

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
