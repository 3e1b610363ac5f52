import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { PHONES, SIP_PASSWORD, inFlight, memoryNote, seedPhones, type Drill } from './drill.js';
import { agentFor, get, type HttpAnswer } from './http-wire.js';
import type { DrillTarget, Seeded } from './target.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const leaksPassword = (a: HttpAnswer) => a.status === 200 && /SipSecret-/.test(a.body);

interface Protected extends Seeded {
  mac: string;
  uri: string;
}

const HTTP_AUTH = { type: 'digest', username: 'prov', password: 'ProvPass-Zq9' };

/** A child-less account whose phone files need HTTP digest auth, with one Yealink phone. */
async function seedProtected(target: DrillTarget): Promise<Protected> {
  const seed = await target.seedAccount();
  const patched = await target.api('PATCH', `/v2/accounts/${seed.accountId}`, seed.token, { data: { provisioning: { http_auth: HTTP_AUTH } } });
  if (patched.status !== 200) throw new Error(`http_auth set-up failed: ${patched.status} ${JSON.stringify(patched.body)}`);
  const mac = '805ec0bbbb01';
  await target.createDevice(seed, { name: 'protected', mac_address: mac, sip: { username: 'prot', password: SIP_PASSWORD('prot') } });
  return { ...seed, mac, uri: `/provision/${mac}.cfg` };
}

function digestFor(challenge: string, uri: string, password: string, nc: number, realm: string): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? '';
  const ncHex = nc.toString(16).padStart(8, '0');
  const cnonce = 'c0ffee';
  const ha1 = md5(`${HTTP_AUTH.username}:${realm}:${password}`);
  const response = md5(`${ha1}:${nonce}:${ncHex}:${cnonce}:auth:${md5(`GET:${uri}`)}`);
  return `Digest username="${HTTP_AUTH.username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", qop=auth, nc=${ncHex}, cnonce="${cnonce}"`;
}

/** M3: `Authorization: Digest ` and 7,900 word characters (under the front door's 8 KiB head cap), 50 times. */
export const httpDigestParser: Drill<Protected> = {
  name: 'HTTP digest parser (50 × 7,900-char Authorization)',
  setup: seedProtected,
  async attack(target, seed) {
    const agent = agentFor('127.0.0.6');
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 50; i++) answers.push(await get(`${target.url}${seed.uri}`, { agent, headers: { authorization: `Digest ${'a'.repeat(7_900)}` } }));
    agent.destroy();
    return {
      tried: answers.length,
      refused: answers.filter((a) => a.status >= 400).length,
      leaked: answers.filter(leaksPassword).length,
      note: [...new Set(answers.map((a) => a.status))].join(', '),
    };
  },
};

/** M2: 2,000 wrong http_auth passwords from one address, then the right one. */
export const httpAuthGuess: Drill<Protected> = {
  name: 'http_auth password guessing (2,000 + the right one)',
  setup: seedProtected,
  async attack(target, seed) {
    const statuses = new Map<number, number>();
    let nc = 0;
    let challenge = (await get(`${target.url}${seed.uri}`, { agent: agentFor('127.0.0.7') })).headers['www-authenticate'] ?? '';
    let refused = 0;
    let leaked = 0;
    const agents = Array.from({ length: 8 }, () => agentFor('127.0.0.7'));
    const started = Date.now();
    await inFlight(Array.from({ length: 2000 }), 8, async (_, i) => {
      const a = await get(`${target.url}${seed.uri}`, { agent: agents[i % 8], headers: { authorization: digestFor(String(challenge), seed.uri, `guess-${i}`, ++nc, seed.realm) } });
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      if (a.headers['www-authenticate']) challenge = a.headers['www-authenticate'];
      if (a.status === 200) leaked++;
      else refused++;
    });
    const seconds = (Date.now() - started) / 1000;
    const fresh = await get(`${target.url}${seed.uri}`, { agent: agents[0] });
    const last = await get(`${target.url}${seed.uri}`, { agent: agents[0], headers: { authorization: digestFor(String(fresh.headers['www-authenticate'] ?? challenge), seed.uri, HTTP_AUTH.password, 1, seed.realm) } });
    for (const a of agents) a.destroy();
    if (last.status === 200) leaked++;
    else refused++;
    return {
      tried: 2001,
      refused,
      leaked,
      note: `${[...statuses].map(([k, v]) => `${k}×${v}`).join(' ')}; ${(2000 / seconds).toFixed(0)} guesses/s; right password: ${last.status}`,
    };
  },
};

/**
 * H4: 249 addresses (127.0.0.2–250) ask for 20 random MACs each, three real phones planted among them. Then the
 * server restarts: a ban must survive it.
 */
export const macProbeSpread: Drill = {
  name: 'MAC probing, 249 addresses × 20, 3 planted; ban kept over a restart',
  async setup(target) {
    const seed = await target.seedAccount();
    await seedPhones(target, seed);
    return seed;
  },
  async attack(target) {
    const planted = new Map([
      [17 * 20 + 5, PHONES[1]!.mac],
      [120 * 20 + 11, PHONES[2]!.mac],
      [248 * 20 + 19, PHONES[3]!.mac],
    ]);
    const statuses = new Map<number, number>();
    let leaked = 0;
    let refused = 0;
    const addresses = Array.from({ length: 249 }, (_, i) => `127.0.0.${i + 2}`);
    await inFlight(addresses, 16, async (address, a) => {
      const agent = agentFor(address);
      for (let k = 0; k < 20; k++) {
        const mac = planted.get(a * 20 + k) ?? `805ec0${randomBytes(3).toString('hex')}`;
        const answer = await get(`${target.url}/provision/${mac}.cfg`, { agent });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (leaksPassword(answer)) leaked++;
        if (answer.status >= 400) refused++;
      }
      agent.destroy();
    });
    const health = await target.health();
    await target.restart();
    const afterRestart = await get(`${target.url}/provision/${PHONES[0]!.mac}.cfg`, { agent: agentFor('127.0.0.2') });
    if (leaksPassword(afterRestart)) leaked++;
    return {
      tried: 249 * 20 + 1,
      refused: refused + (afterRestart.status >= 400 ? 1 : 0),
      leaked,
      note: `${[...statuses].sort().map(([k, v]) => `${k}×${v}`).join(' ')}; a known MAC from 127.0.0.2 after restart: ${afterRestart.status}`,
      health,
    };
  },
};

/** M4: 30,000 query-string variants of one known phone's file on keep-alive connections; memory must stay bounded. */
export const queryVariants: Drill = {
  name: 'Kept answers, 30,000 query variants of one MAC (6 KB each)',
  async setup(target) {
    const seed = await target.seedAccount();
    await seedPhones(target, seed);
    return seed;
  },
  async attack(target) {
    const before = await target.health();
    const pad = 'p'.repeat(6_000);
    const perConnection = 7_500;
    let ok = 0;
    let other = 0;
    await Promise.all(
      Array.from({ length: 4 }, (_, c) =>
        pipelined(target.port, Array.from({ length: perConnection }, (_, i) => `GET /provision/${PHONES[0]!.mac}.cfg?n=${c}-${i}&p=${pad} HTTP/1.1\r\nHost: x\r\n\r\n`), (status) => {
          if (status === 200) ok++;
          else other++;
        }),
      ),
    );
    const after = await target.health();
    return {
      tried: 4 * perConnection,
      refused: other,
      leaked: 0,
      note: `${ok} × 200; ${memoryNote(before, after)}`,
    };
  },
};

/** Sends `requests` on one connection, 100 in flight, and reports each answer's status. */
function pipelined(port: number, requests: string[], onStatus: (status: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let sent = 0;
    let answered = 0;
    let buffer = '';
    const pump = () => {
      while (sent < requests.length && sent - answered < 100) socket.write(requests[sent++]!);
    };
    socket.setEncoding('latin1');
    socket.on('connect', pump);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const head = buffer.indexOf('\r\n\r\n');
        if (head < 0) break;
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buffer.slice(0, head))?.[1] ?? 0);
        if (buffer.length < head + 4 + length) break;
        onStatus(Number(buffer.slice(9, 12)));
        buffer = buffer.slice(head + 4 + length);
        answered++;
      }
      if (answered === requests.length) socket.end();
      else pump();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** H2: quickcall with number_filter `(\d+)+$` on 28 digits and a `!` (about 1.5 s of backtracking each before). */
export const numberFilter: Drill = {
  name: 'quickcall number_filter ReDoS (3 × 28 digits)',
  async setup(target) {
    const seed = await target.seedAccount();
    await seedPhones(target, seed);
    return seed;
  },
  async attack(target, seed) {
    const device = (await target.api('GET', `/v2/accounts/${seed.accountId}/devices`, seed.token)).body.data[0].id as string;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await target.api('GET', `/v2/accounts/${seed.accountId}/devices/${device}/quickcall/${'1'.repeat(28)}!?number_filter=${encodeURIComponent('(\\d+)+$')}`, seed.token);
      statuses.push(res.status);
    }
    return { tried: 3, refused: statuses.filter((s) => s >= 400).length, leaked: 0, note: statuses.join(', ') };
  },
};
