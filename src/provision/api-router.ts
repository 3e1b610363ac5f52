import express, { Router, type Request, type Response } from 'express';
import type { DeviceRef } from '../domain/types.js';
import type { DomainEvents } from '../domain/events.js';
import type { Directory } from '../store/directory.js';
import { addValidationError, KazooError, notFound, validationError, type ValidationErrors } from '../http/errors.js';
import { sendSuccess } from '../http/envelope.js';
import { accountFrom, deviceFrom } from '../http/route-lookups.js';
import { checkTemplate } from './check-template.js';
import { FormatError } from './formats.js';
import type { FetchLog } from './fetch-log.js';
import { RenderError, type Renderer } from './renderer.js';
import type { VendorSelector } from './select.js';
import { fetchesFile, resolveModel } from './catalogue.js';
import type { UploadStore } from './uploads.js';
import type { RequestOrigin } from './settings.js';
import { MAX_TEMPLATE_BYTES, TemplateError, type Layer, type TemplateStore } from './templates.js';

/**
 * /v2/accounts/:accountId/… routes (mounted after auth and account scoping; res.locals.account is the account):
 *   GET                 /provisioning/templates                               templates and the layer that applies
 *   GET|PUT|DELETE      /provisioning/templates/:vendor/:name                 account override
 *   GET                 /devices/:deviceId/provisioning/templates
 *   GET|PUT|DELETE      /devices/:deviceId/provisioning/templates/:vendor/:name   device override
 *   GET                 /devices/:deviceId/config                             files the phone will fetch
 *   GET                 /devices/:deviceId/config/:file                       one file exactly as the phone gets it
 *   GET                 /devices/:deviceId/provision_uploads                  files the phone uploaded (name, bytes, time)
 *   GET                 /devices/:deviceId/provision_uploads/:name            one uploaded file as the phone sent it
 * PUT body: {"data":{"template":"…"}} or the raw template as text/plain. A template is accepted only if it compiles
 * and renders, for a sample device, into a file that parses in its vendor's format; otherwise 400 with the line.
 */
export interface ApiDeps {
  directory: Directory;
  templates: TemplateStore;
  renderer: Renderer;
  selector: VendorSelector;
  fetchLog: FetchLog;
  events: DomainEvents;
  uploads?: UploadStore;
  /** The origin a preview renders for (its Host, as the phone's own request would). */
  originOf?: (host: string | undefined) => RequestOrigin;
}

const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function deviceRef(req: Request, res: Response, directory: Directory): DeviceRef {
  return { account: accountFrom(res), device: deviceFrom(req, res, directory) };
}

export function createAccountRouter(deps: ApiDeps): Router {
  const { directory, templates, renderer, selector, fetchLog, events } = deps;
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

  function choiceFor(ref: DeviceRef) {
    if (!ref.device.mac_address) return undefined;
    return selector.choose(ref.device, undefined, fetchLog.get(ref.device.id));
  }

  router.get('/devices/:deviceId/config', (req, res) => {
    const ref = deviceRef(req, res, directory);
    const choice = choiceFor(ref);
    if (!choice) {
      sendSuccess(req, res, []);
      return;
    }
    const mac = ref.device.mac_address!;
    const model = resolveModel(choice.profile, choice.model, choice.family);
    const files = choice.profile.files
      .filter((file) => !file.upload && fetchesFile(file, model))
      .map((file) => ({ file, name: file.nameFor({ mac, model: choice.model }) }))
      .filter((f): f is { file: typeof f.file; name: string } => !!f.name)
      .map(({ file, name }) => ({
        name,
        vendor: choice.profile.id,
        model: choice.model || undefined,
        template: file.template,
        layer: templates.resolve(choice.profile.id, file.template, ref.account.id, file.perDevice ? ref.device.id : undefined).layer,
        content_type: file.contentType,
        per_device: file.perDevice,
        url: `/provision/${name}`,
      }));
    sendSuccess(req, res, files);
  });

  router.get('/devices/:deviceId/config/:file', (req, res) => {
    const ref = deviceRef(req, res, directory);
    const choice = choiceFor(ref);
    const name = String((req.params as { file?: string }).file ?? '').toLowerCase();
    if (!choice) throw notFound();
    let files;
    try {
      files = renderer.allFiles(ref, choice, deps.originOf?.(req.headers.host));
    } catch (err) {
      if (err instanceof RenderError) {
        throw new KazooError(500, 'template_error', { message: err.message, template: err.template, layer: err.layer, line: err.line });
      }
      throw err;
    }
    const file = files.find((f) => f.name === name);
    if (!file) throw notFound();
    res.status(200).set({ 'Content-Type': file.contentType, 'Cache-Control': 'no-store' }).send(file.body);
  });

  router.get('/devices/:deviceId/provision_uploads', (req, res) => {
    const ref = deviceRef(req, res, directory);
    const list = deps.uploads?.list(ref.device.id) ?? [];
    sendSuccess(req, res, list.map((f) => ({ name: f.name, bytes: f.bytes, uploaded: new Date(f.modified).toISOString() })));
  });

  router.get('/devices/:deviceId/provision_uploads/:name', (req, res) => {
    const ref = deviceRef(req, res, directory);
    const body = deps.uploads?.read(ref.device.id, String((req.params as { name?: string }).name ?? ''));
    if (!body) throw notFound();
    // Text the phone wrote: shown as plain text, never interpreted by a browser.
    res.status(200).set({ 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' }).send(body);
  });

  return router;
}
