import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A secret key kept in its own file (hex, mode 0600): read it, or create it on first start. Two processes
 * starting at once agree on one key (exclusive create; the loser reads the winner's).
 */
export async function readOrCreateKey(file: string, bytes = 32): Promise<Buffer> {
  const existing = await readKey(file, bytes);
  if (existing) return existing;
  const key = randomBytes(bytes);
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    await fs.writeFile(file, key.toString('hex'), { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readKey(file, bytes))!;
  }
}

/** The key in `file`, or undefined if there is no such file. */
export async function readKey(file: string, bytes = 32): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const key = Buffer.from(text.trim(), 'hex');
  if (key.length < bytes) throw new Error(`key file ${file} is too short (want ${bytes} bytes as hex)`);
  return key;
}
