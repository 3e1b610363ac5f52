import express, { Router, type Request, type Response } from 'express';
import type { DeviceRef } from '../domain/types.js';
import type { DomainEvents } from '../domain/events.js';
import type { Directory } from '../store/directory.js';
import { addValidationError, notFound, validationError, type ValidationErrors } from '../http/errors.js';
import { sendSuccess } from '../http/envelope.js';
import { accountFrom, deviceFrom } from '../http/route-lookups.js';
import { checkTemplate } from './check-template.js';
import { FormatError } from './formats.js';
import { MAX_TEMPLATE_BYTES, TemplateError, type Layer, type TemplateStore } from './templates.js';

/**
 * The template resource at its two layers, /v2/accounts/:accountId/… (mounted after auth and account scoping;
 * res.locals.account is the account). The device's own /config and /provision_uploads routes belong to the
 * device resource (src/routes/v2/devices.ts), which reads them through ProvisioningService.
 *   GET                 /provisioning/templates                               templates and the layer that applies
 *   GET|PUT|DELETE      /provisioning/templates/:vendor/:name                 account override
 *   GET                 /devices/:deviceId/provisioning/templates
 *   GET|PUT|DELETE      /devices/:deviceId/provisioning/templates/:vendor/:name   device override
 * PUT body: {"data":{"template":"…"}} or the raw template as text/plain. A template is accepted only if it compiles
 * and renders, for a sample device, into a file that parses in its vendor's format; otherwise 400 with the line.
 */
export interface TemplatesRouterDeps {
  directory: Directory;
  templates: TemplateStore;
  events: DomainEvents;
}

const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function deviceRef(req: Request, res: Response, directory: Directory): DeviceRef {
  return { account: accountFrom(res), device: deviceFrom(req, res, directory) };
}

export function createTemplatesRouter(deps: TemplatesRouterDeps): Router {
  const { directory, templates, events } = deps;
  const router = Router({ mergeParams: true });
  // Raw template uploads (text/plain); JSON envelopes are parsed upstream.
  const rawText = express.text({ type: ['text/*', 'application/octet-stream'], limit: MAX_TEMPLATE_BYTES + 1024 });

  function spec(req: Request) {
    const { vendor, name } = req.params as { vendor: string; name: string };
    // Template names are untrusted: only the exact names a vendor profile declares exist.
    const found = TEMPLATE_NAME.test(name ?? '') ? templates.spec(vendor ?? '', name) : undefined;
    if (!found) throw notFound();
    return { vendor, name, ...found };
  }

  function layerOf(req: Request, res: Response, withDevice: boolean): Layer {
    if (withDevice) {
      const ref = deviceRef(req, res, directory);
      return { accountId: ref.account.id, deviceId: ref.device.id };
    }
    return { accountId: accountFrom(res).id };
  }

  function sourceOf(req: Request): string {
    const body = req.body as unknown;
    if (typeof body === 'string') return body;
    const data = (body as { data?: unknown } | undefined)?.data;
    const template = typeof data === 'string' ? data : (data as { template?: unknown } | undefined)?.template;
    if (typeof template !== 'string') {
      const errors: ValidationErrors = {};
      addValidationError(errors, 'template', 'required', { message: 'Field is required but missing', value: 'template' });
      throw validationError(errors);
    }
    return template;
  }

  function reject(reason: string, line: number | undefined, name: string): never {
    const errors: ValidationErrors = {};
    addValidationError(errors, 'template', 'invalid_template', {
      message: line !== undefined ? `line ${line}: ${reason}` : reason,
      ...(line !== undefined ? { line } : {}),
      target: name,
    });
    throw validationError(errors);
  }

  const templateRoutes = (prefix: string, withDevice: boolean) => {
    router.get(`${prefix}/provisioning/templates`, (req, res) => {
      sendSuccess(req, res, templates.list(layerOf(req, res, withDevice)));
    });

    router.get(`${prefix}/provisioning/templates/:vendor/:name`, (req, res) => {
      const s = spec(req);
      const layer = layerOf(req, res, withDevice);
      const t = templates.resolve(s.vendor, s.name, layer.accountId, layer.deviceId);
      sendSuccess(req, res, { vendor: s.vendor, name: s.name, layer: t.layer, template: t.source });
    });

    router.put(`${prefix}/provisioning/templates/:vendor/:name`, rawText, async (req, res) => {
      const s = spec(req);
      const layer = layerOf(req, res, withDevice);
      const source = sourceOf(req);
      let fn;
      try {
        fn = checkTemplate(s.profile, s.file, source);
      } catch (err) {
        if (err instanceof TemplateError || err instanceof FormatError) reject(err.message, err.line, s.name);
        throw err;
      }
      await templates.put(layer, s.vendor, s.name, source, fn);
      events.emit({ type: 'templates.changed', accountId: layer.accountId, deviceId: layer.deviceId, vendor: s.vendor });
      sendSuccess(req, res, { vendor: s.vendor, name: s.name, layer: withDevice ? 'device' : 'account', template: source });
    });

    router.delete(`${prefix}/provisioning/templates/:vendor/:name`, async (req, res) => {
      const s = spec(req);
      const layer = layerOf(req, res, withDevice);
      if (!(await templates.remove(layer, s.vendor, s.name))) throw notFound();
      events.emit({ type: 'templates.changed', accountId: layer.accountId, deviceId: layer.deviceId, vendor: s.vendor });
      const now = templates.resolve(s.vendor, s.name, layer.accountId, layer.deviceId);
      sendSuccess(req, res, { vendor: s.vendor, name: s.name, layer: now.layer, template: now.source });
    });
  };
  templateRoutes('', false);
  templateRoutes('/devices/:deviceId', true);

  return router;
}
