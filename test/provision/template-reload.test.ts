import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seedFullDevice, startHarness, type Harness } from './support/harness.js';

/** Built-in templates edited on disk: served once they pass the upload gate, never when they do not. */
const BUILTIN = path.resolve(import.meta.dirname, '../../templates');

let h: Harness | undefined;
let tree: string | undefined;
afterEach(async () => {
  await h?.close();
  if (tree) rmSync(tree, { recursive: true, force: true });
  h = tree = undefined;
});

async function until<T>(probe: () => Promise<T> | T, ok: (v: T) => boolean, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('built-in template reload', () => {
  it('serves an edited template without restart, and keeps the last good one when an edit is broken', async () => {
    tree = mkdtempSync(path.join(tmpdir(), 'prov-templates-'));
    cpSync(BUILTIN, tree, { recursive: true });
    const file = path.join(tree, 'yealink', 'mac.cfg.hbs');
    const original = readFileSync(file, 'utf8');
    h = await startHarness({ options: { templatesDir: tree, templateDebounceMs: 20 } });
    seedFullDevice(h, { id: 'dyea', mac: '001565aabbcc', model: 'T46S' });
    const fetch = async () => (await h!.get('001565aabbcc.cfg')).body;
    expect(await fetch()).not.toContain('edited.marker');

    writeFileSync(file, `${original}\nedited.marker = {{mac}}\n`);
    const edited = await until(fetch, (b) => b.includes('edited.marker = 001565aabbcc'), 'the edited template to be served');
    expect(h.events).toContainEqual({ type: 'templates.changed', vendor: 'yealink' });
    const changes = h.events.filter((e) => e.type === 'templates.changed').length;

    // An unclosed block: does not compile. Then a template that compiles but renders a line that is not key = value.
    const lines = original.split('\n');
    writeFileSync(file, [lines[0], lines[1], '{{#if mac}}', ...lines.slice(2)].join('\n'));
    const compileError = await until(() => h!.logs.find((l) => l.includes('built-in template rejected')), Boolean, 'the rejection log');
    expect(JSON.parse(compileError!)).toMatchObject({ level: 'error', file, line: expect.any(Number), reason: expect.stringMatching(/\S/) });
    expect(await fetch()).toBe(edited);

    writeFileSync(file, `${original}\nthis line is not a setting\n`);
    const formatError = await until(() => h!.logs.filter((l) => l.includes('built-in template rejected')), (l) => l.length === 2, 'the second rejection');
    const logged = JSON.parse(formatError[1]!) as { file: string; line: number; reason: string };
    expect(logged.file).toBe(file);
    expect(logged.reason).toContain('not a "key = value" line');
    expect(logged.line).toBeGreaterThan(1); // as for an upload: the line of the sample render that does not parse
    expect(await fetch()).toBe(edited);
    expect(h.events.filter((e) => e.type === 'templates.changed')).toHaveLength(changes);
  });
});
