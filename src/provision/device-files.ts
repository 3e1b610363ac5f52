import type { DeviceRef } from '../domain/types.js';
import { fetchesFile, resolveModel } from './catalogue.js';
import type { FetchLog } from './fetch-log.js';
import type { Renderer } from './renderer.js';
import type { VendorSelector } from './select.js';
import type { RequestOrigin } from './settings.js';
import type { TemplateStore } from './templates.js';

/** One file a device's phone will fetch, as GET /devices/{id}/config lists it. */
export interface ConfigFileEntry {
  name: string;
  vendor: string;
  model?: string;
  template: string;
  layer: string;
  content_type: string;
  per_device: boolean;
  url: string;
}

export interface DeviceFilesDeps {
  templates: TemplateStore;
  renderer: Renderer;
  selector: VendorSelector;
  fetchLog: FetchLog;
  originOf?: (host: string | undefined) => RequestOrigin;
}

/** The files a device's phone would fetch and their preview, for the device resource's /config routes. */
export class DeviceFiles {
  constructor(private readonly deps: DeviceFilesDeps) {}

  private choiceFor(ref: DeviceRef) {
    if (!ref.device.mac_address) return undefined;
    return this.deps.selector.choose(ref.device, undefined, this.deps.fetchLog.get(ref.device.id));
  }

  list(ref: DeviceRef): ConfigFileEntry[] {
    const choice = this.choiceFor(ref);
    if (!choice) return [];
    const mac = ref.device.mac_address!;
    const model = resolveModel(choice.profile, choice.model, choice.family);
    return choice.profile.files
      .filter((file) => !file.upload && fetchesFile(file, model))
      .map((file) => ({ file, name: file.nameFor({ mac, model: choice.model }) }))
      .filter((f): f is { file: typeof f.file; name: string } => !!f.name)
      .map(({ file, name }) => ({
        name,
        vendor: choice.profile.id,
        model: choice.model || undefined,
        template: file.template,
        layer: this.deps.templates.resolve(choice.profile.id, file.template, ref.account.id, file.perDevice ? ref.device.id : undefined).layer,
        content_type: file.contentType,
        per_device: file.perDevice,
        url: `/provision/${name}`,
      }));
  }

  /** One file exactly as the phone gets it (rendered for the caller's Host), or undefined. Throws RenderError. */
  render(ref: DeviceRef, name: string, host: string | undefined): { contentType: string; body: string | Buffer } | undefined {
    const choice = this.choiceFor(ref);
    if (!choice) return undefined;
    const wanted = name.toLowerCase();
    const file = this.deps.renderer.allFiles(ref, choice, this.deps.originOf?.(host)).find((f) => f.name === wanted);
    return file && { contentType: file.contentType, body: file.body };
  }
}
