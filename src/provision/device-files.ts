import type { DeviceRef } from '../domain/types.js';
import { fetchedFiles, type Renderer } from './renderer.js';
import type { Choice } from './select.js';
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
  /** The device's vendor and model as its phone is served (device-choice.ts). */
  choiceOf: (ref: DeviceRef) => Choice | undefined;
  originOf?: (host: string | undefined) => RequestOrigin;
}

/** The files a device's phone would fetch and their preview, for the device resource's /config routes. */
export class DeviceFiles {
  constructor(private readonly deps: DeviceFilesDeps) {}

  private choiceFor(ref: DeviceRef) {
    return ref.device.mac_address ? this.deps.choiceOf(ref) : undefined;
  }

  list(ref: DeviceRef): ConfigFileEntry[] {
    const choice = this.choiceFor(ref);
    if (!choice) return [];
    return fetchedFiles(choice, ref.device.mac_address!).map(({ file, name }) => ({
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
