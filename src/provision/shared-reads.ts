import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/**
 * Reads of accepted TCP sockets into one buffer shared by every lean connection, instead of a buffer allocated
 * per read. node:net gives each read a fresh 64 KiB allocation, then shrinks it to the bytes read, and the
 * scavenger sweeps every one of those ArrayBuffers: at 60-70k phone fetches a second (perf, 10k phones) malloc,
 * free and the sweeps were about 5% of the process; at 100k phones a scavenge took 4.8 ms with them, 1.8 without.
 *
 * Node offers this mode as the `onread` option of a socket it is asked to construct (net.Socket, "Sockets" in the
 * node:net docs). An accepted socket is constructed by net.Server, which passes no such option, so the two fields
 * that option sets on the socket are set here, and the handle is told to read into the buffer (useUserBuffer), as
 * the constructor does. Where this Node has neither, or the socket is not a plain TCP socket (TLS decrypts into
 * its own buffers), nothing is changed and `readShared` returns undefined: the caller then reads 'data' events.
 *
 * The bytes handed to `onBytes` are valid until the next read of any socket in this mode: whoever keeps them past
 * the call copies them first (`ownBytes`).
 */
export interface SharedReads {
  /**
   * Ends the sharing for this socket: from now on each read is pushed into the socket's stream as bytes of its own,
   * so whoever takes the socket over (node:http) reads it as any socket. The mode stays on the handle (Node has no
   * way back), which costs one copy per read of a connection handed off.
   */
  release(): void;
}

/** Where the reads of every socket in this mode land, one buffer per process (64 KiB: what libuv offers per read, so no read is cut shorter). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** Its memory (a Buffer's `.buffer` is a call into V8 each time it is read). */
const READ_MEMORY = READ_BUFFER.buffer;

interface OnreadFields {
  buffer: symbol;
  callback: symbol;
}

/** The socket's fields behind `onread`, found by their names on a socket that was never connected. */
function onreadFields(): OnreadFields | undefined {
  const probe = new Socket();
  const named = (name: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  probe.destroy();
  return buffer && callback ? { buffer, callback } : undefined;
}
const FIELDS = onreadFields();

type TcpHandle = { useUserBuffer?: (buffer: Uint8Array) => void };

/**
 * Puts a freshly accepted socket in shared-buffer mode, with `onBytes` told of each read (no 'data' events follow).
 * Undefined when it cannot be (see above), or when the socket has already buffered bytes of its own (they would
 * never be read by `onBytes`).
 */
export function readShared(socket: Socket, onBytes: (bytes: Buffer) => void): SharedReads | undefined {
  const handle = (socket as unknown as { _handle?: TcpHandle })._handle;
  if (!FIELDS || socket instanceof TLSSocket || typeof handle?.useUserBuffer !== 'function' || socket.readableLength > 0) return undefined;
  const fields = socket as unknown as Record<symbol, unknown>;
  let shared = true;
  fields[FIELDS.buffer] = READ_BUFFER;
  // Returning false stops reading until the stream is read again: the stream's own backpressure, once released.
  fields[FIELDS.callback] = (nread: number, buffer: Buffer): boolean => {
    const bytes = buffer.subarray(0, nread);
    if (!shared) return socket.push(Buffer.from(bytes));
    onBytes(bytes);
    return true;
  };
  handle.useUserBuffer(READ_BUFFER);
  return {
    release() {
      shared = false;
    },
  };
}

/** `bytes` itself when it is not in the shared read buffer; otherwise a copy that later reads leave alone. */
export function ownBytes(bytes: Buffer): Buffer {
  return bytes.buffer === READ_MEMORY ? Buffer.from(bytes) : bytes;
}
