/**
 * Splits the byte stream of an OVSDB JSON-RPC connection into JSON values.
 *
 * RFC 7047 frames nothing: messages are JSON objects written back to back, with no length
 * prefix and no guaranteed newline, and a socket read may end anywhere — inside a string,
 * inside a multi-byte UTF-8 character, or after several messages. The splitter tracks string,
 * escape and bracket-depth state over raw bytes (every structural character is ASCII, and no
 * byte of a multi-byte UTF-8 sequence is below 0x80, so byte scanning is exact) and decodes
 * a value only once its closing bracket has arrived.
 *
 * Invariant: the concatenation of all pushed chunks, split anywhere, yields the same values in
 * the same order; each byte is scanned once (big initial monitor replies stay linear).
 * Top-level values must be objects or arrays (what JSON-RPC sends); anything else, invalid
 * UTF-8 or invalid JSON inside a value throws a FramingError — the connection is then unusable.
 * Integers beyond 2^53 lose precision (JSON.parse); no OVSDB column we read needs more.
 */

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** Default ceiling on one message: a corrupt peer must not make us buffer forever. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export class JsonStreamSplitter {
  /** Bytes of the value in progress that arrived in earlier chunks. */
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** True when no partial value is buffered (the stream is at a message boundary). */
  get idle(): boolean {
    return this.depth === 0;
  }

  /** Feed the next chunk; returns the values it completes, in order. */
  push(chunk: Uint8Array): unknown[] {
    const values: unknown[] = [];
    // Where the value in progress starts within this chunk (0 if it began in an earlier one).
    let start = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.depth === 0) {
        if (isJsonWhitespace(b)) continue;
        if (b !== OPEN_BRACE && b !== OPEN_BRACKET) {
          throw new FramingError(
            `expected '{' or '[' at the start of a message, got byte 0x${b.toString(16).padStart(2, '0')}`,
          );
        }
        this.depth = 1;
        start = i;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) this.depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          values.push(this.finish(chunk.subarray(start, i + 1)));
          start = -1;
        }
      }
    }
    if (this.depth > 0) {
      const rest = chunk.slice(start); // a copy: the caller may reuse its buffer
      this.partsBytes += rest.length;
      if (this.partsBytes > this.maxMessageBytes) {
        throw new FramingError(`message exceeds ${this.maxMessageBytes} bytes`);
      }
      this.parts.push(rest);
    }
    return values;
  }

  private finish(tail: Uint8Array): unknown {
    let bytes = tail;
    if (this.parts.length > 0) {
      bytes = new Uint8Array(this.partsBytes + tail.length);
      let off = 0;
      for (const p of this.parts) {
        bytes.set(p, off);
        off += p.length;
      }
      bytes.set(tail, off);
      this.parts = [];
      this.partsBytes = 0;
    }
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      throw new FramingError('message is not valid UTF-8');
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new FramingError(`message is not valid JSON: ${(e as Error).message}`);
    }
  }
}
