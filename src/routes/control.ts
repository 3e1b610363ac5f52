import express, { Router } from 'express';
import { timingSafeEqual } from 'node:crypto';
import type { AppDeps } from '../http/deps.js';
import { ClientAddress } from '../http/client-address.js';
import { bootstrapAccount, bootstrapRequestOf } from '../accounts/bootstrap.js';
import { toKazooError } from '../http/error-mapper.js';

/**
 * Loopback-only control endpoint: while a server owns DATA_DIR, the CLI sends its writes here instead of
 * writing the files behind the server's back (the server would overwrite them, or they its). It also reports
 * the process's health figures.
 */
export function createControlRouter(deps: AppDeps): Router {
  const router = Router();
  // Behind a trusted local proxy, the proxy's loopback peer address is not the client's: ask who is behind it.
  const clientAddress = new ClientAddress(deps.config.trustProxy ?? []);
  router.use((req, res, next) => {
    const remote = clientAddress.of(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']);
    const given = Buffer.from(req.get('x-control-secret') ?? '');
    const expected = Buffer.from(deps.controlSecret ?? '');
    const loopback = remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1';
    if (!loopback || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.status(403).json({ error: 'forbidden' });
      return;
    }
    next();
  });
  // Read only for callers that passed the check above.
  router.use(express.json({ limit: '64kb' }));
  // Health figures for the operator's supervisor and for `npm run drill` (longest event-loop stall, memory).
  router.get('/health', (req, res) => {
    res.json(deps.loopMonitor?.figures(req.query.gc === '1') ?? {});
  });
  router.post('/health/reset', (_req, res) => {
    deps.loopMonitor?.reset();
    res.json(deps.loopMonitor?.figures() ?? {});
  });
  router.post('/create-account', async (req, res) => {
    try {
      res.json(await bootstrapAccount(deps.store, bootstrapRequestOf(req.body)));
    } catch (err) {
      const kazoo = toKazooError(err);
      res.status(400).json({ error: (kazoo ?? (err as Error)).message, data: kazoo?.data });
    }
  });
  // A body that does not parse (not JSON, too large) is the caller's mistake: said as such, never a 500.
  router.use((err: { status?: number; type?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) return res.status(err.status).json({ error: err.type ?? 'bad request' });
    next(err);
  });
  return router;
}
