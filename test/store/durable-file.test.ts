import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileDurable } from '../../src/store/durable-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('durable file writes', () => {
  it('a write whose chunks fail half-way leaves the old file as it was and no temporary file behind', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'durable-'));
    dirs.push(dir);
    const file = path.join(dir, 'doc.json');
    writeFileSync(file, 'old');
    async function* chunks() {
      yield Buffer.from('new, first half');
      throw new Error('source failed');
    }
    await expect(writeFileDurable(file, chunks())).rejects.toThrow('source failed');
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['doc.json']);
    await writeFileDurable(file, (async function* () {
      yield 'new, ';
      yield Buffer.from('whole');
    })());
    expect(readFileSync(file, 'utf8')).toBe('new, whole');
    expect(readdirSync(dir)).toEqual(['doc.json']);
  });
});
