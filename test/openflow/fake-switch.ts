/**
 * A fake OpenFlow 1.5 switch, for golden and connection tests: `ovs-ofctl` (or our connection)
 * connects to it on a Unix socket as it would to a bridge, or it dials a controller listening
 * on TCP; it answers HELLO / FEATURES / BARRIER / ECHO / BUNDLE_CONTROL, and keeps every message
 * it received, byte for byte. Options make it misbehave the ways a real peer can: another
 * OpenFlow version, silence, hanging up, reading slowly.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';

export interface Captured {
  readonly type: number;
  readonly xid: number;
  readonly bytes: Uint8Array;
}

export interface FakeSwitch {
  readonly path: string;
  readonly target: string;
  readonly captured: Captured[];
  /** When each connection was accepted (performance.now()). */
  readonly accepted: number[];
  /** Runs `ovs-ofctl --no-names -O OpenFlow15 <args>` against this switch. */
  ofctl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  clear(): void;
  /** Drops every open connection (the server keeps listening). */
  dropAll(): void;
  stop(): Promise<void>;
}

function reply(
  sock: Socket,
  req: Uint8Array,
  type: number,
  body: Uint8Array = new Uint8Array(0),
  version = 6,
): void {
  const out = Buffer.alloc(8 + body.length);
  out[0] = version;
  out[1] = type;
  out.writeUInt16BE(out.length, 2);
  out.set(req.subarray(4, 8), 4);
  out.set(body, 8);
  sock.write(out);
}

export interface FakeSwitchOptions {
  /** OpenFlow version bitmap in our HELLO (default 0x40: OpenFlow 1.5 only); null = no bitmap element. */
  readonly helloBitmap?: number | null;
  /** Version field of our HELLO's header (default 6, OpenFlow 1.5). */
  readonly helloVersion?: number;
  /** Message types we never answer. */
  readonly silent?: readonly number[];
  /** Send an ECHO_REQUEST (xid 0x77) right after HELLO. */
  readonly pingAfterHello?: boolean;
  /** Close every connection as soon as it is accepted. */
  readonly closeOnConnect?: boolean;
  /** Read slowly: pause this many ms after every chunk received (a slow controller peer). */
  readonly readPauseMs?: number;
  /** Datapath id in our FEATURES_REPLY (default 0). */
  readonly datapathId?: bigint;
}

/**
 * Speaks the switch side on one socket: answers what `opts` says and records every message.
 * Returns nothing; the socket's own events end it.
 */
function serve(sock: Socket, opts: FakeSwitchOptions, captured: Captured[]): void {
  sock.on('error', () => undefined);
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    if (opts.readPauseMs) {
      sock.pause();
      setTimeout(() => sock.resume(), opts.readPauseMs);
    }
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      const len = buf.readUInt16BE(2);
      if (buf.length < len) break;
      const msg = new Uint8Array(buf.subarray(0, len));
      buf = buf.subarray(len);
      const type = msg[1]!;
      captured.push({ type, xid: Buffer.from(msg).readUInt32BE(4), bytes: msg });
      if (opts.silent?.includes(type)) continue;
      if (type === 0) {
        const hello = Buffer.from([0, 1, 0, 8, 0, 0, 0, 0]);
        hello.writeUInt32BE(opts.helloBitmap ?? 0x40, 4);
        const body = opts.helloBitmap === null ? new Uint8Array(0) : hello;
        reply(sock, msg, 0, body, opts.helloVersion);
        if (opts.pingAfterHello) sock.write(Buffer.from('0602000a00000077abcd', 'hex'));
      } else if (type === 5) {
        const body = Buffer.alloc(24);
        body.writeBigUInt64BE(opts.datapathId ?? 0n, 0);
        reply(sock, msg, 6, body);
      } else if (type === 20) reply(sock, msg, 21);
      else if (type === 2) reply(sock, msg, 3, msg.subarray(8));
      else if (type === 18) {
        // Multipart request: an empty reply of the same multipart type.
        reply(sock, msg, 19, Uint8Array.from([msg[8]!, msg[9]!, 0, 0, 0, 0, 0, 0]));
      } else if (type === 33) {
        // BUNDLE_CONTROL request: answer with the matching *_REPLY type.
        const body = new Uint8Array(msg.subarray(8, 16));
        body[5] = body[5]! + 1;
        reply(sock, msg, 33, body);
      }
    }
  });
}

export async function startFakeSwitch(opts: FakeSwitchOptions = {}): Promise<FakeSwitch> {
  const dir = mkdtempSync(join(tmpdir(), 'sgf-fake-'));
  const path = join(dir, 'switch.sock');
  const captured: Captured[] = [];
  const accepted: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    accepted.push(performance.now());
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    if (opts.closeOnConnect) {
      sock.on('error', () => undefined);
      sock.destroy();
      return;
    }
    serve(sock, opts, captured);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    target: `unix:${path}`,
    captured,
    accepted,
    ofctl: (...args) =>
      new Promise((resolve) => {
        execFile(
          'ovs-ofctl',
          ['--no-names', '-O', 'OpenFlow15', ...args],
          { maxBuffer: 64 << 20 },
          (err, stdout, stderr) => {
            const code = err ? ((err as { code?: number }).code ?? 1) : 0;
            resolve({ stdout, stderr, code: typeof code === 'number' ? code : 1 });
          },
        );
      }),
    clear: () => {
      captured.length = 0;
    },
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fake switch that connects out to a controller listening on TCP (ovs-vswitchd's side of ptcp). */
export interface DialingSwitch {
  readonly captured: Captured[];
  close(): void;
}

export async function dialFakeSwitch(
  port: number,
  opts: FakeSwitchOptions = {},
): Promise<DialingSwitch> {
  const captured: Captured[] = [];
  const sock = createConnection(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  serve(sock, opts, captured);
  return { captured, close: () => sock.destroy() };
}

/** Runs `ovs-ofctl ofp-print <hex>` on one message; returns its stdout. */
export function ofpPrint(msg: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const hex = Buffer.from(msg).toString('hex');
    execFile('ovs-ofctl', ['ofp-print', hex], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ofp-print failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}
