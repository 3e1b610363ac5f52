import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileFingerprints } from '../../src/provision/file-fingerprint.js';
import { BUILTIN_TEMPLATES, compileTemplate, TemplateStore } from '../../src/provision/templates.js';
import { vendorProfiles } from '../../vendors/index.js';

/**
 * The change count a kept answer compares before skipping its re-check (FileFingerprints.changes) is per vendor:
 * a Yealink template edit, at any layer, moves Yealink's count and leaves Polycom's and Grandstream's where they
 * were, so their phones' answers are replayed without looking anything up again.
 */
let dataDir: string;
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

async function setUp() {
  dataDir = mkdtempSync(path.join(tmpdir(), 'prov-versions-'));
  const templates = new TemplateStore(BUILTIN_TEMPLATES, dataDir, vendorProfiles);
  await templates.load();
  let documents = 0;
  const fingerprints = new FileFingerprints({
    templates,
    getUser: () => undefined,
    server: { sipPort: 5060, registrarServes: true },
    codeStamp: 'test',
    documentChanges: () => documents,
  });
  const counts = () => Object.fromEntries(['polycom', 'yealink', 'grandstream'].map((v) => [v, fingerprints.changes(v)]));
  return { templates, counts, touchDocument: () => documents++ };
}

describe('template change counts are per vendor', () => {
  it('a Yealink edit (built-in reload, account override stored and removed) moves only Yealink', async () => {
    const { templates, counts } = await setUp();
    const start = counts();

    const source = `${templates.builtin('yealink', 'mac.cfg')}\n# edited\n`;
    templates.replaceBuiltin('yealink', 'mac.cfg', source, compileTemplate(source, 'keyvalue'));
    const afterReload = counts();
    expect(afterReload.yealink).toBeGreaterThan(start.yealink!);
    expect({ polycom: afterReload.polycom, grandstream: afterReload.grandstream }).toEqual({ polycom: start.polycom, grandstream: start.grandstream });

    const layer = { accountId: 'a'.repeat(32) };
    await templates.put(layer, 'yealink', 'mac.cfg', '#!version:1.0.0.1\n', compileTemplate('#!version:1.0.0.1\n', 'keyvalue'));
    const afterPut = counts();
    expect(afterPut.yealink).toBeGreaterThan(afterReload.yealink!);
    expect(await templates.remove(layer, 'yealink', 'mac.cfg')).toBe(true);
    const afterRemove = counts();
    expect(afterRemove.yealink).toBeGreaterThan(afterPut.yealink!);
    expect({ polycom: afterRemove.polycom, grandstream: afterRemove.grandstream }).toEqual({ polycom: start.polycom, grandstream: start.grandstream });
  });

  it('a document change still moves every vendor', async () => {
    const { counts, touchDocument } = await setUp();
    const start = counts();
    touchDocument();
    const after = counts();
    for (const vendor of Object.keys(start)) expect(after[vendor]).toBe(start[vendor]! + 1);
  });
});
