import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A secret key kept in its own file (hex, mode 0600): read it, or create it on first start. Two processes
 * starting at once agree on one key (exclusive create; the loser reads the winner's).
 */
export async function readOrCreateKey(file: string, bytes = 32): Promise<Buffer> {
  const read = async () => {
    const key = Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'hex');
    if (key.length < bytes) throw new Error(`key file ${file} is too short (want ${bytes} bytes as hex)`);
    return key;
  };
  try {
    return await read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(bytes);
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    await fs.writeFile(file, key.toString('hex'), { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return read();
  }
}
