import { createRequire } from 'node:module';

/**
 * Typed view of the few drachtio-srf calls we use. srf's bundled .d.ts has no `register()` and types
 * `request()` as (uri, opts, method, body) while the JS takes (uri, {method, headers, body, auth, proxy})
 * (the typings lag the JS), so we describe the run-time API ourselves and keep every cast of srf's objects in this file.
 */
export interface SrfRequestLike {
  method: string;
  uri: string;
  source_address: string;
  source_port: number;
  body?: string;
  get(name: string): string | undefined;
  has(name: string): boolean;
  cancel?(): void;
  on(event: 'response', listener: (res: SrfResponseLike) => void): void;
  /** srf emits this when it answered a 401/407 challenge with the credentials given in `auth`. */
  on(event: 'authenticate', listener: () => void): void;
}

export interface SrfResponseLike {
  status: number;
  reason: string;
  get(name: string): string | undefined;
  send(status: number, reason?: string | { headers?: Record<string, string>; body?: string }, opts?: { headers?: Record<string, string>; body?: string }): void;
}

export interface SrfDialogLike {
  request(opts: { method: string; headers?: Record<string, string>; body?: string }): Promise<SrfResponseLike>;
  destroy(): Promise<unknown> | void;
  on(event: 'notify' | 'refer' | 'info', listener: (req: SrfRequestLike, res: SrfResponseLike) => void): void;
  on(event: 'destroy', listener: () => void): void;
}

export interface SrfLike {
  connect(opts: { host: string; port: number; secret: string }): void;
  disconnect(): void;
  on(event: 'connect', listener: (err: Error | null, hostport: string) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  removeAllListeners(event?: string): void;
  register(handler: (req: SrfRequestLike, res: SrfResponseLike) => void): void;
  options(handler: (req: SrfRequestLike, res: SrfResponseLike) => void): void;
  request(
    uri: string,
    opts: { method: string; headers?: Record<string, string>; body?: string; auth?: { username: string; password: string }; proxy?: string },
  ): Promise<SrfRequestLike>;
  createUAC(
    uri: string,
    opts: { headers?: Record<string, string>; proxy?: string; auth?: { username: string; password: string }; noAck?: boolean },
    progress?: { cbRequest?: (err: Error | null, req: SrfRequestLike) => void; cbProvisional?: (res: SrfResponseLike) => void },
  ): Promise<{ sdp: string; ack(localSdp: string): Promise<SrfDialogLike> } | SrfDialogLike>;
}

const require = createRequire(import.meta.url);

export function createSrf(): SrfLike {
  const Srf = require('drachtio-srf') as new () => unknown;
  return new Srf() as SrfLike;
}
