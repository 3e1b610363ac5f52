import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The files of one account (`accounts/<id>/users`, `accounts/<id>/devices`) during its deletion. The deletion is
 * mark-then-commit: the files are first moved aside to `accounts/.removing-<id>`, then the account document is
 * removed in one durable write, then the moved files are deleted. Whatever a crash interrupts, the account
 * document decides at the next open: still there, the files go back; gone, they are deleted.
 */
export class AccountFiles {
  constructor(private readonly root: string) {}

  dir(accountId: string): string {
    return path.join(this.root, accountId);
  }

  private mark(accountId: string): string {
    return path.join(this.root, `.removing-${accountId}`);
  }

  /** Moves the account's files aside (atomic rename). Nothing to move is fine. */
  async markForRemoval(accountId: string): Promise<void> {
    try {
      await fs.rename(this.dir(accountId), this.mark(accountId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /**
   * Puts moved files back. A shard file already in the live directory was written after the move, from the
   * whole committed image of its shard, so it is the newer one and stays; the rest move back.
   */
  async unmark(accountId: string): Promise<void> {
    await mergeInto(this.mark(accountId), this.dir(accountId));
  }

  async dropMarked(accountId: string): Promise<void> {
    await fs.rm(this.mark(accountId), { recursive: true, force: true });
  }

  /** At open: finish or undo interrupted deletions, and delete files of accounts that no longer exist. */
  async settleRemovals(accountExists: (accountId: string) => boolean): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      const marked = /^\.removing-(.+)$/.exec(name)?.[1];
      if (marked !== undefined) {
        if (accountExists(marked)) await this.unmark(marked);
        else await this.dropMarked(marked);
      } else if (!name.startsWith('.') && !accountExists(name)) {
        // The account document is gone (its deletion committed) but a crash, or an older version that deleted
        // the files after the commit, left them: they must not come back with an account reusing the id.
        await fs.rm(path.join(this.root, name), { recursive: true, force: true });
      }
    }
  }
}

async function mergeInto(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // nothing was moved aside
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
  }
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) await mergeInto(source, target);
    else if (!(await exists(target))) await fs.rename(source, target); // rename would replace the newer file
  }
  await fs.rm(from, { recursive: true, force: true });
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
