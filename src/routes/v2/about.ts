import { Router } from 'express';
import { API_VERSION, sendSuccess } from '../../http/envelope.js';
import { requireAuth } from '../../http/auth.js';
import { methodNotAllowedFor } from './method-guard.js';

/** GET /v2/about (Kazoo's cb_about; Monster's system.about reads `version`). Needs a token, as in Kazoo. */
export function createAboutRouter(): Router {
  const router = Router();
  router
    .route('/about')
    .get(requireAuth, (req, res) => {
      sendSuccess(req, res, { version: API_VERSION, used_memory: process.memoryUsage().rss, uptime: Math.round(process.uptime()) });
    })
    .all(methodNotAllowedFor);
  return router;
}
