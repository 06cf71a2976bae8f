/**
 * Value text as ovs-ofctl writes and reads it: numbers, MAC, IPv4, IPv6 (inet_ntop form),
 * masks as prefix lengths where they are CIDR, and flag sets. Values are bigints in host
 * order, as in the IR.
 */

/** `%#x`: `0` for zero, `0x1f` otherwise. */
export function hexC(v: bigint): string {
  return v === 0n ? '0' : `0x${v.toString(16)}`;
}

/** `0x%x`: always with the prefix. */
export function hex0x(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** A number as ovs-ofctl reads it: decimal or 0x-hex. Undefined if not a number. */
export function parseNumber(s: string): bigint | undefined {
  const t = s.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  if (/^[0-9]+$/.test(t)) return BigInt(t);
  return undefined;
}

export function formatMac(v: bigint): string {
  const out: string[] = [];
  for (let i = 5; i >= 0; i--)
    out.push(((v >> BigInt(i * 8)) & 0xffn).toString(16).padStart(2, '0'));
  return out.join(':');
}

export function parseMac(s: string): bigint | undefined {
  const m =
    /^([0-9a-f]{1,2}):([0-9a-f]{1,2}):([0-9a-f]{1,2}):([0-9a-f]{1,2}):([0-9a-f]{1,2}):([0-9a-f]{1,2})$/i.exec(
      s.trim(),
    );
  if (!m) return undefined;
  let v = 0n;
  for (let i = 1; i <= 6; i++) v = (v << 8n) | BigInt(parseInt(m[i]!, 16));
  return v;
}

export function formatIpv4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join('.');
}

export function parseIpv4(s: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  let v = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = (v << 8n) | BigInt(o);
  }
  return v;
}

/** IPv6 text as glibc inet_ntop writes it (RFC 5952 zero compression, embedded IPv4). */
export function formatIpv6(v: bigint): string {
  const w: number[] = [];
  for (let i = 7; i >= 0; i--) w.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      out += formatIpv4(v & 0xffffffffn);
      break;
    }
    out += w[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

export function parseIpv6(s: string): bigint | undefined {
  let t = s.trim();
  if (!/^[0-9a-f:.]+$/i.test(t) || !t.includes(':')) return undefined;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const x = parseIpv4(v4[1]!);
    if (x === undefined) return undefined;
    tail = [Number(x >> 16n), Number(x & 0xffffn)];
    t = t.slice(0, -v4[1]!.length);
    if (t.endsWith(':') && !t.endsWith('::')) t = t.slice(0, -1);
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const part = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = part(halves[0]!);
  const rest = halves.length === 2 ? part(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length + tail.length;
  let words: number[];
  if (halves.length === 2) {
    if (given > 7) return undefined;
    words = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  } else {
    if (given !== 8) return undefined;
    words = [...head, ...tail];
  }
  return words.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n);
}

/** Prefix length if `mask` (of `bits`) is a CIDR mask, else undefined. */
export function cidrLength(mask: bigint, bits: number): number | undefined {
  const full = (1n << BigInt(bits)) - 1n;
  const inv = ~mask & full;
  if ((inv & (inv + 1n)) !== 0n) return undefined;
  let n = 0;
  for (let x = inv; x !== 0n; x >>= 1n) n++;
  return bits - n;
}

export function prefixMask(len: number, bits: number): bigint {
  const full = (1n << BigInt(bits)) - 1n;
  return (full << BigInt(bits - len)) & full;
}

/** Hex bytes joined by dots (`01.02.ab`), as note: and userdata= use. */
export function formatHexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('.');
}

export function parseHexBytes(s: string): Uint8Array | undefined {
  const t = s.replace(/[.:\s]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(t)) return undefined;
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A flag set: `+a-b` when partially matched, `a|b` (or `0`) when every flag is matched. */
export function formatFlags(
  value: bigint,
  mask: bigint,
  allMask: bigint,
  name: (bit: bigint) => string,
): string {
  if (mask === allMask) {
    if (value === 0n) return '0';
    const parts: string[] = [];
    for (let bit = 1n; bit <= value; bit <<= 1n) if (value & bit) parts.push(name(bit));
    return parts.join('|');
  }
  if (mask === 0n) return '0/0';
  let out = '';
  for (let bit = 1n; bit <= mask; bit <<= 1n) {
    if (mask & bit) out += `${value & bit ? '+' : '-'}${name(bit)}`;
  }
  return out;
}

/**
 * Parses `+a-b`, `a|b`, `0`, or `value[/mask]` numbers. Returns value and mask (mask = allMask
 * for the unmasked forms), or an error message listing the allowed flag names.
 */
export function parseFlags(
  s: string,
  allMask: bigint,
  bitOf: (name: string) => bigint | undefined,
): { value: bigint; mask: bigint } | string {
  const t = s.trim();
  const num = /^([0-9a-fx]+)(?:\/([0-9a-fx]+))?$/i.exec(t);
  if (num) {
    const v = parseNumber(num[1]!);
    const m = num[2] !== undefined ? parseNumber(num[2]) : allMask;
    if (v !== undefined && m !== undefined) return { value: v, mask: m };
  }
  if (t.startsWith('+') || t.startsWith('-')) {
    let value = 0n;
    let mask = 0n;
    const re = /([+-])([a-z_0-9[\]]+)/gi;
    let consumed = 0;
    for (let m = re.exec(t); m; m = re.exec(t)) {
      const bit = bitOf(m[2]!.toLowerCase());
      if (bit === undefined) return `unknown flag '${m[2]}'`;
      mask |= bit;
      if (m[1] === '+') value |= bit;
      consumed += m[0].length;
    }
    if (consumed !== t.length) return `cannot parse '${t}'`;
    return { value, mask };
  }
  let value = 0n;
  for (const n of t.split('|')) {
    const bit = bitOf(n.trim().toLowerCase());
    if (bit === undefined) return `unknown flag '${n}'`;
    value |= bit;
  }
  return { value, mask: allMask };
}
