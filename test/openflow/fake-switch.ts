/**
 * A fake OpenFlow 1.5 switch on a Unix socket, for golden tests: `ovs-ofctl` connects to it as
 * it would to a bridge, we answer HELLO / FEATURES / BARRIER / ECHO / BUNDLE_CONTROL, and keep
 * every message it sent, byte for byte.
 */
import { createServer, type Server, type Socket } from 'node:net';
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
  /** Runs `ovs-ofctl --no-names -O OpenFlow15 <args>` against this switch. */
  ofctl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }>;
  clear(): void;
  stop(): Promise<void>;
}

function reply(
  sock: Socket,
  req: Uint8Array,
  type: number,
  body: Uint8Array = new Uint8Array(0),
): void {
  const out = Buffer.alloc(8 + body.length);
  out[0] = 6;
  out[1] = type;
  out.writeUInt16BE(out.length, 2);
  out.set(req.subarray(4, 8), 4);
  out.set(body, 8);
  sock.write(out);
}

export interface FakeSwitchOptions {
  /** OpenFlow version bitmap in our HELLO (default 0x40: OpenFlow 1.5 only). */
  readonly helloBitmap?: number;
  /** Message types we never answer. */
  readonly silent?: readonly number[];
  /** Send an ECHO_REQUEST (xid 0x77) right after HELLO. */
  readonly pingAfterHello?: boolean;
}

export async function startFakeSwitch(opts: FakeSwitchOptions = {}): Promise<FakeSwitch> {
  const dir = mkdtempSync(join(tmpdir(), 'sgf-fake-'));
  const path = join(dir, 'switch.sock');
  const captured: Captured[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
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
          reply(sock, msg, 0, hello);
          if (opts.pingAfterHello) sock.write(Buffer.from('0602000a00000077abcd', 'hex'));
        } else if (type === 5) reply(sock, msg, 6, new Uint8Array(24));
        else if (type === 20) reply(sock, msg, 21);
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
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    target: `unix:${path}`,
    captured,
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
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
