import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { FileFormat, VendorProfile } from '../../vendors/types.js';
import { writeFileDurable } from '../store/durable-file.js';
import { declaredInAst, VendorParamSyntaxError, VPARAM_HELPER, vparamHelper } from './vendor-params.js';
import type { OverrideStorage, StoredOverride } from './shared-files.js';

/**
 * Templates in three layers: built-in (templates/<vendor>/<name>.hbs, shipped) ← per account ← per device, the two
 * override layers kept under DATA_DIR/provisioning/templates/. Every template is compiled once (when loaded or
 * uploaded); `versionOf(vendor)` moves on any change to that vendor's layers, so holders of its files re-check them.
 */
export type TemplateFn = ((context: unknown) => string) & {
  /** Parameters the template writes through {{vparam}} (name → line), collected when it was compiled. */
  vendorParams?: ReadonlyMap<string, number>;
};

export interface Layer {
  accountId?: string;
  deviceId?: string;
}
export type LayerName = 'device' | 'account' | 'builtin';

export interface ResolvedTemplate {
  fn: TemplateFn;
  source: string;
  layer: LayerName;
  stamp: string;
}

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/** Where the shipped templates are (templates/<vendor>/<name>.hbs). */
export const BUILTIN_TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));

/** Ids and names become path segments under DATA_DIR: only this shape is ever accepted. */
export const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_TEMPLATE_BYTES = 256 * 1024;

const hb = Handlebars.create();
hb.registerHelper(VPARAM_HELPER, vparamHelper);

/** Compiles a template for a format: XML templates HTML/XML-escape every {{value}}, key=value ones insert verbatim. */
export function compileTemplate(source: string, format: FileFormat): TemplateFn {
  let fn: HandlebarsTemplateDelegate;
  let vendorParams: Map<string, number>;
  try {
    // precompile-time syntax check: compile() itself is lazy and would only fail at first render.
    vendorParams = declaredInAst(hb.parse(source));
    fn = hb.compile(source, { noEscape: format !== 'xml', strict: false, preventIndent: true });
  } catch (err) {
    throw templateError(err);
  }
  const render: TemplateFn = (context) => {
    try {
      return fn(context, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
    } catch (err) {
      throw templateError(err);
    }
  };
  render.vendorParams = vendorParams;
  return render;
}

function templateError(err: unknown): TemplateError {
  if (err instanceof VendorParamSyntaxError) return new TemplateError(err.message, err.line);
  const e = err as { message?: string; lineNumber?: number };
  const message = String(e?.message ?? err);
  const parse = /Parse error on line (\d+)/.exec(message);
  const line = parse ? Number(parse[1]) : typeof e?.lineNumber === 'number' ? e.lineNumber : undefined;
  return new TemplateError(message.split('\n').filter(Boolean).slice(0, 3).join(' '), line);
}

interface Entry {
  source: string;
  fn: TemplateFn;
  /** `<layer letter>:<hash of the source>`: what a rendered file's fingerprint records of the template it used. */
  stamp: string;
}

/** Stable across restarts (unlike a counter): a kept file written by another source of this layer never matches. */
function stampOf(layer: 'b' | 'a' | 'd', source: string): string {
  return `${layer}:${createHash('sha1').update(source).digest('base64url').slice(0, 16)}`;
}

export class TemplateStore {
  private readonly builtins = new Map<string, Entry>();
  /** key: `${accountId}/${deviceId ?? ''}/${vendor}/${name}` */
  private readonly overrides = new Map<string, Entry>();
  /**
   * Accounts with at least one override (account or device layer), with their count: most have none, and a file of
   * theirs then looks up no override at all.
   */
  private readonly overridden = new Map<string, number>();
  /**
   * Per vendor, bumped on every change to one of its layers (an override stored, removed or arriving from another
   * node, a built-in reload). Rendered files are keyed by the stamp of exactly the layer they used (`stamp()`); this
   * count only tells a holder that skips comparing stamps (a kept answer) when it must compare them again, so a
   * Yealink edit makes no Polycom answer re-check anything.
   */
  private readonly versions = new Map<string, number>();

  /** Set by the provisioning wiring: an override another node stored is now live here (shared storage only). */
  onRemoteChange?: (layer: Layer, vendor: string) => void;

  /**
   * `storage`: a cluster's (shared-files.ts), where the API's overrides are kept for every node instead of under
   * DATA_DIR; this node follows the others' changes. The built-in templates stay this node's own files.
   */
  constructor(
    readonly builtinDir: string,
    private readonly dataDir: string,
    private readonly profiles: readonly VendorProfile[],
    private readonly storage?: OverrideStorage,
  ) {}

  private root(): string {
    return path.join(this.dataDir, 'provisioning', 'templates');
  }

  /** The template file spec for (vendor, name), or undefined: this is the whitelist of template names. */
  spec(vendor: string, name: string) {
    const profile = this.profiles.find((p) => p.id === vendor);
    const file = profile?.files.find((f) => f.template === name && !f.upload);
    return profile && file ? { profile, file } : undefined;
  }

  async load(): Promise<void> {
    for (const profile of this.profiles) {
      for (const file of profile.files) {
        if (file.upload) continue; // written by the phone, not rendered: no template
        const source = await fs.readFile(path.join(this.builtinDir, profile.id, `${file.template}.hbs`), 'utf8');
        this.builtins.set(`${profile.id}/${file.template}`, { source, fn: compileTemplate(source, file.format), stamp: stampOf('b', source) });
      }
    }
    if (this.storage) await this.startShared(this.storage);
    else await this.loadOverrides();
  }

  /**
   * The shared overrides, then the other nodes' changes as they come. Overrides only this node has on disk (kept
   * before it joined a cluster) are copied up unless the cluster already has a word on that template.
   */
  private async startShared(storage: OverrideStorage): Promise<void> {
    const known = new Set<string>();
    await storage.start((o, initial) => {
      const layer = { accountId: o.accountId, deviceId: o.deviceId };
      if (initial) known.add(this.key(layer, o.vendor, o.name));
      if (this.applyShared(layer, o) && !initial) this.onRemoteChange?.(layer, o.vendor);
    });
    await this.loadOverrides((key) => known.has(key));
    for (const [key, entry] of this.overrides) {
      if (known.has(key)) continue;
      const [accountId = '', deviceId = '', vendor = '', name = ''] = key.split('/');
      await storage.put({ accountId, deviceId: deviceId || undefined, vendor, name, source: entry.source });
    }
  }

  /** Makes a stored override live (or gone); false when it names no template or no longer compiles. */
  private applyShared(layer: Layer, o: StoredOverride): boolean {
    const spec = this.spec(o.vendor, o.name);
    if (!spec) return false;
    const key = this.key(layer, o.vendor, o.name);
    if (o.source === undefined) {
      if (!this.deleteOverride(key)) return false;
    } else {
      try {
        this.setOverride(key, { source: o.source, fn: compileTemplate(o.source, spec.file.format), stamp: stampOf(layer.deviceId ? 'd' : 'a', o.source) });
      } catch {
        return false; // only checked templates are stored; one that no longer compiles is ignored (built-in wins)
      }
    }
    this.changed(o.vendor);
    return true;
  }

  private async loadOverrides(skip?: (key: string) => boolean): Promise<void> {
    const accountsDir = path.join(this.root(), 'accounts');
    for (const accountId of await listDir(accountsDir)) {
      if (!SAFE_ID.test(accountId)) continue;
      await this.loadLayerDir(path.join(accountsDir, accountId), { accountId }, skip);
      const devicesDir = path.join(accountsDir, accountId, 'devices');
      for (const deviceId of await listDir(devicesDir)) {
        if (SAFE_ID.test(deviceId)) await this.loadLayerDir(path.join(devicesDir, deviceId), { accountId, deviceId }, skip);
      }
    }
  }

  private async loadLayerDir(dir: string, layer: Layer, skip?: (key: string) => boolean): Promise<void> {
    for (const profile of this.profiles) {
      for (const file of profile.files) {
        if (file.upload) continue;
        const source = await fs.readFile(path.join(dir, profile.id, `${file.template}.hbs`), 'utf8').catch(() => undefined);
        if (source === undefined) continue;
        // Shared storage decides: a file on disk only fills in what it has no word on (see startShared).
        if (skip?.(this.key(layer, profile.id, file.template))) continue;
        try {
          this.setOverride(this.key(layer, profile.id, file.template), { source, fn: compileTemplate(source, file.format), stamp: stampOf(layer.deviceId ? 'd' : 'a', source) });
        } catch {
          // Only checked templates are ever written; a file that no longer compiles is ignored (built-in wins).
        }
      }
    }
  }

  private setOverride(key: string, entry: Entry): void {
    if (!this.overrides.has(key)) {
      const accountId = key.slice(0, key.indexOf('/'));
      this.overridden.set(accountId, (this.overridden.get(accountId) ?? 0) + 1);
    }
    this.overrides.set(key, entry);
  }

  private deleteOverride(key: string): boolean {
    if (!this.overrides.delete(key)) return false;
    const accountId = key.slice(0, key.indexOf('/'));
    const left = (this.overridden.get(accountId) ?? 1) - 1;
    if (left > 0) this.overridden.set(accountId, left);
    else this.overridden.delete(accountId);
    return true;
  }

  private key(layer: Layer, vendor: string, name: string): string {
    return `${layer.accountId ?? ''}/${layer.deviceId ?? ''}/${vendor}/${name}`;
  }

  private file(layer: Layer, vendor: string, name: string): string {
    const parts = [this.root(), 'accounts', layer.accountId!];
    if (layer.deviceId) parts.push('devices', layer.deviceId);
    return path.join(...parts, vendor, `${name}.hbs`);
  }

  /** The template that applies for this device: device override, else account override, else built-in. */
  resolve(vendor: string, name: string, accountId?: string, deviceId?: string): ResolvedTemplate {
    if (accountId && this.overridden.has(accountId)) {
      if (deviceId) {
        const d = this.overrides.get(this.key({ accountId, deviceId }, vendor, name));
        if (d) return { ...d, layer: 'device' };
      }
      const a = this.overrides.get(this.key({ accountId }, vendor, name));
      if (a) return { ...a, layer: 'account' };
    }
    const b = this.builtins.get(`${vendor}/${name}`);
    if (!b) throw new TemplateError(`no template ${vendor}/${name}`);
    return { ...b, layer: 'builtin' };
  }

  /**
   * The stamp of the template that applies (the same layer resolve() picks): a few Map lookups and no allocation,
   * for the phone path's fingerprint check. Undefined when there is no such template.
   */
  stamp(vendor: string, name: string, accountId?: string, deviceId?: string): string | undefined {
    if (accountId && this.overridden.has(accountId)) {
      if (deviceId) {
        const d = this.overrides.get(this.key({ accountId, deviceId }, vendor, name));
        if (d) return d.stamp;
      }
      const a = this.overrides.get(this.key({ accountId }, vendor, name));
      if (a) return a.stamp;
    }
    return this.builtins.get(`${vendor}/${name}`)?.stamp;
  }

  /** The change count of this vendor's layers (see `versions`): it only grows. */
  versionOf(vendor: string): number {
    return this.versions.get(vendor) ?? 0;
  }

  private changed(vendor: string): void {
    this.versions.set(vendor, this.versionOf(vendor) + 1);
  }

  /** The built-in source for (vendor, name) as currently served. */
  builtin(vendor: string, name: string): string | undefined {
    return this.builtins.get(`${vendor}/${name}`)?.source;
  }

  /** Swaps in an already validated built-in template (edited on disk): files made from it no longer match its stamp. */
  replaceBuiltin(vendor: string, name: string, source: string, fn: TemplateFn): void {
    this.builtins.set(`${vendor}/${name}`, { source, fn, stamp: stampOf('b', source) });
    this.changed(vendor);
  }

  /** Only the override stored at exactly this layer. */
  override(layer: Layer, vendor: string, name: string): string | undefined {
    return this.overrides.get(this.key(layer, vendor, name))?.source;
  }

  /** Stores an already validated template durably, then makes it live. */
  async put(layer: Layer, vendor: string, name: string, source: string, fn: TemplateFn): Promise<void> {
    if (this.storage) await this.storage.put({ accountId: layer.accountId!, deviceId: layer.deviceId, vendor, name, source });
    else {
      const file = this.file(layer, vendor, name);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await writeFileDurable(file, source);
    }
    this.setOverride(this.key(layer, vendor, name), { source, fn, stamp: stampOf(layer.deviceId ? 'd' : 'a', source) });
    this.changed(vendor);
  }

  async remove(layer: Layer, vendor: string, name: string): Promise<boolean> {
    const key = this.key(layer, vendor, name);
    if (!this.overrides.has(key)) return false;
    if (this.storage) await this.storage.remove({ accountId: layer.accountId!, deviceId: layer.deviceId, vendor, name });
    else await fs.rm(this.file(layer, vendor, name), { force: true });
    this.deleteOverride(key);
    this.changed(vendor);
    return true;
  }

  /** Every (vendor, template) with the layer that applies at this level. */
  list(layer: Layer): { vendor: string; template: string; layer: LayerName }[] {
    const out: { vendor: string; template: string; layer: LayerName }[] = [];
    for (const profile of this.profiles) {
      for (const file of profile.files) {
        if (file.upload) continue;
        out.push({ vendor: profile.id, template: file.template, layer: this.resolve(profile.id, file.template, layer.accountId, layer.deviceId).layer });
      }
    }
    return out;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch {
    return [];
  }
}
