import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inFlight, type Drill, type DrillDisk } from './drill.js';
import type { DrillTarget, Seeded } from './target.js';

/** Creates devices named `${prefix}-${n}` from `clients` workers until `stop()`; returns names acked and refused. */
function createStorm(target: DrillTarget, seed: Seeded, prefix: string, clients: number) {
  const acked: string[] = [];
  const refused: string[] = [];
  let running = true;
  let n = 0;
  const done = inFlight(Array.from({ length: clients }), clients, async () => {
    while (running) {
      const name = `${prefix}-${n++}`;
      try {
        const res = await target.api('PUT', `/v2/accounts/${seed.accountId}/devices`, seed.token, { data: { name, sip: { username: name, password: 'StormPass-1' }, notes: 'x'.repeat(2000) } });
        if (res.status === 201) acked.push(name);
        else refused.push(name);
      } catch {
        return; // the server was killed under us: this request's fate is unknown, so it is neither
      }
    }
  });
  return { acked, refused, stop: async () => ((running = false), await done) };
}

async function deviceNames(target: DrillTarget, seed: Seeded): Promise<Set<string>> {
  const token = (await target.api('PUT', '/v2/api_auth', '', { data: { api_key: (await target.api('GET', `/v2/accounts/${seed.accountId}/api_key`, seed.token)).body.data.api_key } })).body.auth_token;
  const res = await target.api('GET', `/v2/accounts/${seed.accountId}/devices?paginate=false`, token || seed.token);
  return new Set((res.body.data as Array<{ name: string }>).map((d) => d.name));
}

/** Drill 5: 100 clients create devices; SIGKILL after 3 s; restart on the same DATA_DIR; every acked write must be there. */
export const killDuringWrites: Drill = {
  name: 'SIGKILL under 100 concurrent writers, restart',
  setup: (target) => target.seedAccount(),
  async attack(target, seed) {
    const storm = createStorm(target, seed, 'kill', 100);
    await new Promise((r) => setTimeout(r, 3000));
    await target.kill();
    await storm.stop();
    await target.restart();
    const stored = await deviceNames(target, await reLogin(target, seed));
    const lost = storm.acked.filter((name) => !stored.has(name)).length;
    return { tried: storm.acked.length + storm.refused.length, refused: storm.refused.length, leaked: 0, lost, note: `${storm.acked.length} acked, restart OK, ${stored.size} devices stored` };
  },
};

/** A token lasts across a restart (tokens are signed with a key on disk); log in again anyway if it does not. */
async function reLogin(target: DrillTarget, seed: Seeded): Promise<Seeded> {
  const probe = await target.api('GET', `/v2/accounts/${seed.accountId}`, seed.token);
  return probe.status === 200 ? seed : { ...seed, token: (await target.api('PUT', '/v2/user_auth', '', { data: { credentials: (await import('node:crypto')).createHash('md5').update('admin:AdminPass-7781').digest('hex'), account_name: 'Drills' } })).body.auth_token };
}

/** A 24 MiB tmpfs, 18 MiB of it taken by ballast until `free()`. Mounting needs root. */
async function smallDisk(): Promise<DrillDisk | { skipped: string }> {
  const mount = await mkdtemp(path.join(os.tmpdir(), 'drill-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mount], { stdio: 'ignore' });
  } catch {
    await rm(mount, { recursive: true, force: true });
    return { skipped: 'needs root to mount a small tmpfs' };
  }
  const ballast = path.join(mount, 'ballast');
  await writeFile(ballast, Buffer.alloc(18 * 2 ** 20));
  return {
    dataDir: path.join(mount, 'data'),
    free: () => rm(ballast, { force: true }),
    release: async () => {
      execFileSync('umount', [mount]);
      await rm(mount, { recursive: true, force: true });
    },
  };
}

/**
 * A full disk: 50 clients create devices until writes are refused (503), then space is freed, writes go on for a
 * second and the server is restarted. A refused create must not be there (leaked), an acked one must (lost).
 */
export const diskFull: Drill = {
  name: 'Disk full under 50 writers (tmpfs), restart',
  disk: smallDisk,
  setup: (target) => target.seedAccount(),
  async attack(target, seed, disk) {
    const storm = createStorm(target, seed, 'full', 50);
    for (let i = 0; i < 600 && storm.refused.length < 200; i++) await new Promise((r) => setTimeout(r, 50));
    await storm.stop();
    const health = await target.health();
    // With room again, writes go on for a second: a refused document must not ride along with a later write.
    await disk!.free();
    const after = createStorm(target, seed, 'freed', 20);
    await new Promise((r) => setTimeout(r, 1000));
    await after.stop();
    await target.restart();
    const stored = await deviceNames(target, await reLogin(target, seed));
    return {
      tried: storm.acked.length + storm.refused.length,
      refused: storm.refused.length,
      leaked: storm.refused.filter((name) => stored.has(name)).length,
      lost: [...storm.acked, ...after.acked].filter((name) => !stored.has(name)).length,
      note: `${storm.acked.length} acked before the disk filled, ${after.acked.length} after space was freed`,
      health,
    };
  },
};
