import { STATUS_CODES } from 'node:http';

/**
 * A rendered file's complete keep-alive response as one buffer: status line, headers, a 29-byte Date slot, the
 * Connection/Keep-Alive lines, then the body. It is the only copy of the body in memory (`body` of a rendered
 * file is a view of it), so the front door writes it as is and node:http writes its body view.
 */
export interface Wire {
  bytes: Buffer;
  /** Where the Date value goes (patched once a second by the front door). */
  dateAt: number;
  bodyAt: number;
  /** The Connection/Keep-Alive lines it was built with (the front door's idle timeout decides them). */
  keepAlive: string;
  /** The epoch second whose Date it carries (-1: none yet). */
  second: number;
}

/** A response the wire can be (re)built from: `body` is kept a view of `wire.bytes`. */
export interface Wired {
  status: number;
  headers: readonly string[];
  body: Buffer;
  wire: Wire;
}

export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible ASCII, SP, HTAB, obs-text. Any other control character (NUL, CR, LF, …) is refused. */
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's whole job
export const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Status line and reply headers, checked: a CR/LF in a value must never become a header split. */
export function responsePrefix(status: number, headers: readonly string[]): string {
  let prefix = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    if (BAD_VALUE.test(headers[i + 1]!) || !TOKEN.test(headers[i]!)) throw new Error(`invalid response header ${headers[i]}`);
    prefix += `${headers[i]}: ${headers[i + 1]}\r\n`;
  }
  return prefix;
}

export function keepAliveLines(idleMs: number): string {
  return `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(idleMs / 1000)}\r\n\r\n`;
}

/** node:http's default keepAliveTimeout (5 s): what files are built with before a front door says otherwise. */
export const DEFAULT_KEEP_ALIVE = keepAliveLines(5000);

export function buildWire(status: number, headers: readonly string[], body: Uint8Array, keepAlive: string = DEFAULT_KEEP_ALIVE): Wire {
  const prefix = responsePrefix(status, headers);
  const head = `${prefix}Date: ${'-'.repeat(29)}\r\n${keepAlive}`;
  // A buffer of its own, not a slice of node's shared pool: a kept file then holds exactly its bytes (what the
  // memory bound counts), not the rest of an 8 KiB slab pinned with it.
  const bytes = Buffer.allocUnsafeSlow(head.length + body.length);
  bytes.write(head, 0, 'latin1');
  bytes.set(body, head.length);
  return { bytes, dateAt: prefix.length + 6, bodyAt: head.length, keepAlive, second: -1 };
}

/** The file's wire for these keep-alive lines: rebuilt (and the body moved with it) only when they differ. */
export function wireFor(file: Wired, keepAlive: string): Wire {
  if (file.wire.keepAlive !== keepAlive) {
    file.wire = buildWire(file.status, file.headers, file.body, keepAlive);
    file.body = file.wire.bytes.subarray(file.wire.bodyAt);
  }
  return file.wire;
}
