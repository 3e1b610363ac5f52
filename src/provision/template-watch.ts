import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DomainEvents } from '../domain/events.js';
import type { Logger } from '../log.js';
import type { VendorFile, VendorProfile } from '../../vendors/types.js';
import { checkTemplate } from './check-template.js';
import { FormatError } from './formats.js';
import { TemplateError, type TemplateStore } from './templates.js';

/**
 * Live reload of the built-in templates (templates/<vendor>/<name>.hbs) when an operator edits them. One
 * non-recursive watcher per vendor directory (recursive fs.watch is not dependable on every platform); events are
 * debounced per file because editors save in several steps (truncate + write, or write a temp file + rename). A
 * changed file passes the same gate as an uploaded template; only then is it swapped in and `templates.changed`
 * emitted (no accountId: every account's phones may be affected). A file that fails is logged with its line and
 * reason and the previous version keeps being served.
 */
export interface TemplateWatcher {
  close(): void;
}

export interface TemplateWatchDeps {
  templates: TemplateStore;
  profiles: readonly VendorProfile[];
  events: DomainEvents;
  log: Logger;
  debounceMs?: number;
}

export function watchBuiltinTemplates(deps: TemplateWatchDeps): TemplateWatcher {
  const { templates, profiles, events, log, debounceMs = 200 } = deps;
  const watchers: FSWatcher[] = [];
  const pending = new Map<string, NodeJS.Timeout>();
  let closed = false;

  async function reload(profile: VendorProfile, file: VendorFile, fullPath: string): Promise<void> {
    let source: string;
    try {
      source = await readFile(fullPath, 'utf8');
    } catch (err) {
      // Deleted or unreadable: there is nothing to validate, so the version already loaded stays.
      log.error('provisioning: built-in template unreadable, previous version kept', { file: fullPath, reason: (err as Error).message });
      return;
    }
    if (closed || source === templates.builtin(profile.id, file.template)) return; // a touch, or a save of the same text
    try {
      const fn = checkTemplate(profile, file, source);
      templates.replaceBuiltin(profile.id, file.template, source, fn);
    } catch (err) {
      if (!(err instanceof TemplateError || err instanceof FormatError)) throw err;
      log.error('provisioning: built-in template rejected, previous version kept', { file: fullPath, line: err.line, reason: err.message });
      return;
    }
    log.info('provisioning: built-in template reloaded', { file: fullPath });
    events.emit({ type: 'templates.changed', vendor: profile.id });
  }

  for (const profile of profiles) {
    const dir = path.join(templates.builtinDir, profile.id);
    const byName = new Map(profile.files.filter((f) => !f.upload).map((f) => [`${f.template}.hbs`, f]));
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false }, (_type, filename) => {
        const file = filename ? byName.get(filename.toString()) : undefined;
        if (!file || closed) return; // editor swap files and anything that is not a declared template
        const key = `${profile.id}/${file.template}`;
        clearTimeout(pending.get(key));
        pending.set(
          key,
          setTimeout(() => {
            pending.delete(key);
            reload(profile, file, path.join(dir, `${file.template}.hbs`)).catch((err: unknown) =>
              log.error('provisioning: built-in template reload failed', { file: key, err }),
            );
          }, debounceMs),
        );
      });
    } catch (err) {
      log.warn('provisioning: cannot watch built-in templates, edits need a restart', { dir, reason: (err as Error).message });
      continue;
    }
    watcher.on('error', (err) => log.warn('provisioning: template watcher failed', { dir, reason: err.message }));
    watchers.push(watcher);
  }

  return {
    close() {
      closed = true;
      for (const w of watchers) w.close();
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
    },
  };
}
