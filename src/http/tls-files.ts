import { EventEmitter } from 'node:events';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { ConfigError } from '../config.js';
import type { Logger } from '../log.js';

/**
 * Built-in HTTPS (TLS_CERT / TLS_KEY): the PEM pair is read and checked at startup, where a bad pair stops the
 * server with a ConfigError, and again whenever either file's directory changes (a renewal), where a bad pair is
 * logged and the certificate in use stays: a half-written renewal must not take HTTPS down.
 */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** TLS 1.0/1.1 are refused (RFC 8996). */
export const TLS_MIN_VERSION = 'TLSv1.2';

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** Reads both files and checks that they make a usable context (PEM parses, the key matches the certificate). */
export function readTlsPair(files: TlsFiles): TlsPair {
  const read = (file: string, name: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${name} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const pair = { cert: read(files.certFile, 'TLS_CERT'), key: read(files.keyFile, 'TLS_KEY') };
  try {
    tls.createSecureContext({ ...pair, minVersion: TLS_MIN_VERSION });
  } catch (err) {
    throw new ConfigError(`TLS_CERT ${files.certFile} / TLS_KEY ${files.keyFile} are not a usable PEM certificate and key: ${(err as Error).message}`);
  }
  return pair;
}

/** The options a TLS server is created with, and every reload passes again. */
export function secureOptions(pair: TlsPair): tls.SecureContextOptions {
  return { cert: pair.cert, key: pair.key, minVersion: TLS_MIN_VERSION };
}

/**
 * Keeps `server`'s certificate in step with the files. Watches the files' directories rather than the files: a
 * renewal usually replaces them (rename, or a symlink swap as certbot and Kubernetes do), which a watch on the old
 * file would never see. Events are debounced; a reload whose files did not change does nothing.
 * Emits 'reload' with true (new pair in use) or false (new pair refused, old one kept) after each attempt.
 */
export class CertificateReloader extends EventEmitter {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private current: TlsPair;

  constructor(
    private readonly server: tls.Server,
    private readonly files: TlsFiles,
    initial: TlsPair,
    private readonly log: Logger,
    private readonly debounceMs = 250,
  ) {
    super();
    this.current = initial;
    const dirs = new Set([path.dirname(path.resolve(files.certFile)), path.dirname(path.resolve(files.keyFile))]);
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.schedule());
        watcher.on('error', (err) => this.log.warn('tls: watching the certificate directory failed; reloads stop', { dir, err }));
        this.watchers.push(watcher);
      } catch (err) {
        this.log.warn('tls: cannot watch the certificate directory; the certificate will not be reloaded', { dir, err });
      }
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload();
    }, this.debounceMs);
    this.timer.unref();
  }

  /**
   * Reads the files again and puts a changed, valid pair in use for new connections. Returns whether the pair
   * now served is the one on disk (unchanged counts as yes).
   */
  reload(): boolean {
    let pair: TlsPair;
    try {
      pair = readTlsPair(this.files);
    } catch (err) {
      this.log.warn('tls: new certificate/key not usable; still serving the previous one', { reason: (err as Error).message });
      this.emit('reload', false);
      return false;
    }
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) return true;
    this.server.setSecureContext(secureOptions(pair));
    this.current = pair;
    this.log.info('tls: certificate reloaded', { cert: this.files.certFile });
    this.emit('reload', true);
    return true;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.watchers.splice(0)) w.close();
  }
}
