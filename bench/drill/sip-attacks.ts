import { PHONES, SIP_PASSWORD, inFlight, memoryNote, seedPhones, type Drill } from './drill.js';
import { SipWire, challengeParams, digest, type SipAnswer } from './sip-wire.js';
import type { DrillTarget, Seeded } from './target.js';

const server = (t: DrillTarget) => ({ address: '127.0.0.1', port: t.sipPort });
const refusedOrDropped = (a: SipAnswer | undefined) => !a || a.status >= 400;

async function seedSip(target: DrillTarget): Promise<Seeded> {
  const seed = await target.seedAccount();
  await seedPhones(target, seed);
  return seed;
}

/** A fresh nonce for `user`: one unauthenticated REGISTER, answered 401 (or undefined when refused outright). */
async function nonceFor(wire: SipWire, user: string, realm: string): Promise<string | undefined> {
  const answer = await wire.send(wire.register({ user, realm }));
  return answer?.status === 401 ? challengeParams(answer).nonce : undefined;
}

/** H1: one datagram with a 64,000-character Authorization value held the whole process for 4 s. */
export const sipAuthParser: Drill = {
  name: 'SIP Authorization parser (5 × 64 KB datagrams)',
  setup: seedSip,
  async attack(target, seed) {
    const wire = await SipWire.open('127.0.0.2', server(target));
    const answers: Array<SipAnswer | undefined> = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await wire.send(wire.register({ user: 'x', realm: seed.realm, authorization: `Digest ${'a'.repeat(64_000)}` }), 15_000));
    }
    wire.close();
    return {
      tried: answers.length,
      refused: answers.filter(refusedOrDropped).length,
      leaked: answers.filter((a) => a?.status === 200).length,
      note: answers.map((a) => (a ? `${a.status} ${a.reason}` : 'dropped')).filter((v, i, all) => all.indexOf(v) === i).join(', '),
    };
  },
};

/**
 * H3, one address: 2,000 wrong passwords for 1001, 32 in flight, reusing each nonce until told otherwise, then
 * the right one on a fresh challenge. A throttle must refuse the last guess too.
 */
export const sipGuessOneAddress: Drill = {
  name: 'SIP password guessing, one address (2,000 + the right one)',
  setup: seedSip,
  async attack(target, seed) {
    const wire = await SipWire.open('127.0.0.3', server(target));
    const user = '1001';
    let nonce = (await nonceFor(wire, user, seed.realm)) ?? 'none';
    let nc = 0;
    const statuses = new Map<string, number>();
    const note = (a: SipAnswer | undefined) => {
      const key = a ? String(a.status) : 'dropped';
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    };
    let refused = 0;
    let accepted = 0;
    const guesses = Array.from({ length: 2000 }, (_, i) => `guess-${i}`);
    const started = Date.now();
    await inFlight(guesses, 32, async (password) => {
      const authorization = digest({ user, password, realm: seed.realm, nonce, uri: wire.registrarUri, nc: ++nc });
      const a = await wire.send(wire.register({ user, realm: seed.realm, authorization }), 500);
      note(a);
      if (a?.status === 401) nonce = challengeParams(a).nonce ?? nonce;
      if (a?.status === 200) accepted++;
      else refused++;
    });
    const seconds = (Date.now() - started) / 1000;
    const fresh = (await nonceFor(wire, user, seed.realm)) ?? nonce;
    const last = await wire.send(wire.register({ user, realm: seed.realm, authorization: digest({ user, password: SIP_PASSWORD(user), realm: seed.realm, nonce: fresh, uri: wire.registrarUri }) }), 1000);
    wire.close();
    return {
      tried: guesses.length + 1,
      refused: refused + (last?.status === 200 ? 0 : 1),
      leaked: accepted + (last?.status === 200 ? 1 : 0),
      note: `${[...statuses].map(([k, v]) => `${k}×${v}`).join(' ')}; ${(guesses.length / seconds).toFixed(0)} guesses/s answered; right password: ${last ? last.status : 'dropped'}`,
    };
  },
};

/**
 * H3, many addresses: 1002 is registered from its real phone, then guessed at from 100 addresses (20 each, the
 * right password last from the last one). The phone must still register afterwards (no lockout = nothing lost).
 */
export const sipGuessManyAddresses: Drill = {
  name: 'SIP password guessing, 100 addresses × 20, real phone re-registers',
  setup: seedSip,
  async attack(target, seed) {
    const user = '1002';
    const phone = await SipWire.open('127.0.0.2', server(target));
    const registerPhone = async () => {
      const nonce = await nonceFor(phone, user, seed.realm);
      if (!nonce) return undefined;
      return phone.send(phone.register({ user, realm: seed.realm, authorization: digest({ user, password: SIP_PASSWORD(user), realm: seed.realm, nonce, uri: phone.registrarUri }) }));
    };
    const before = await registerPhone();
    let tried = 0;
    let refused = 0;
    let leaked = 0;
    const addresses = Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 10}`);
    await inFlight(addresses, 20, async (address, index) => {
      const wire = await SipWire.open(address, server(target));
      let nonce = (await nonceFor(wire, user, seed.realm)) ?? 'none';
      for (let g = 0; g < 20; g++) {
        const right = index === addresses.length - 1 && g === 19;
        const password = right ? SIP_PASSWORD(user) : `guess-${address}-${g}`;
        const a = await wire.send(wire.register({ user, realm: seed.realm, authorization: digest({ user, password, realm: seed.realm, nonce, uri: wire.registrarUri }) }), 500);
        tried++;
        if (a?.status === 200) leaked++;
        else refused++;
        if (a?.status === 401) nonce = challengeParams(a).nonce ?? nonce;
        else if (a?.status === 403) nonce = (await nonceFor(wire, user, seed.realm)) ?? nonce;
      }
      wire.close();
    });
    const after = await registerPhone();
    phone.close();
    return {
      tried,
      refused,
      leaked,
      lost: after?.status === 200 ? 0 : 1,
      note: `real phone before: ${before?.status ?? 'dropped'}, after: ${after?.status ?? 'dropped'}`,
    };
  },
};

/**
 * M1: a wrong `uri`, or qop=auth-int, told known users from unknown ones (400/403 against 403). Every known user
 * whose answer differs from an unknown user's, in status or reason, counts as leaked.
 */
export const sipEnumeration: Drill = {
  name: 'SIP user enumeration (wrong uri, qop=auth-int)',
  setup: seedSip,
  async attack(target, seed) {
    const wire = await SipWire.open('127.0.0.4', server(target));
    const known = PHONES.map((p) => p.user);
    const unknown = ['1999', 'bob', 'admin', 'nobody'];
    const payloads: Array<(nonce: string, user: string) => string> = [
      (nonce, user) => `Digest username="${user}", realm="${seed.realm}", nonce="${nonce}", uri="sip:wrong.invalid", response="00", algorithm=MD5, qop=auth, nc=00000001, cnonce="abcdef"`,
      (nonce, user) => `Digest username="${user}", realm="${seed.realm}", nonce="${nonce}", uri="${wire.registrarUri}", response="00", algorithm=MD5, qop=auth-int, nc=00000001, cnonce="abcdef"`,
      (nonce, user) => `Digest username="${user}", realm="${seed.realm}", nonce="${nonce}", uri="${wire.registrarUri}", response="00000000000000000000000000000000", algorithm=MD5, qop=auth, nc=00000001, cnonce="abcdef"`,
    ];
    let tried = 0;
    let refused = 0;
    let leaked = 0;
    const seen: string[] = [];
    for (const payload of payloads) {
      const answerFor = async (user: string) => {
        const nonce = (await nonceFor(wire, user, seed.realm)) ?? 'none';
        const a = await wire.send(wire.register({ user, realm: seed.realm, authorization: payload(nonce, user) }), 1000);
        tried++;
        if (refusedOrDropped(a)) refused++;
        return a ? `${a.status} ${a.reason} ${a.header('www-authenticate') ? 'challenge' : ''}`.trim() : 'dropped';
      };
      const baseline = new Set<string>();
      for (const user of unknown) baseline.add(await answerFor(user));
      for (const user of known) if (!baseline.has(await answerFor(user))) leaked++;
      seen.push([...baseline].join('/'));
    }
    wire.close();
    return { tried, refused, leaked, note: `unknown users got: ${seen.join('; ')}` };
  },
};

/** L1: 4,000 REGISTERs padded to 60 KB, a unique branch each; their cached answers must stay bounded in bytes. */
export const sipResponseCache: Drill = {
  name: 'SIP response cache (4,000 × 60 KB REGISTERs)',
  setup: seedSip,
  async attack(target, seed) {
    const wire = await SipWire.open('127.0.0.5', server(target));
    const before = await target.health();
    let answered = 0;
    let refused = 0;
    const pad = 'p'.repeat(60_000);
    await inFlight(Array.from({ length: 4000 }), 16, async () => {
      const a = await wire.send(wire.register({ user: '1001', realm: seed.realm, extraHeaders: [`X-Pad: ${pad}`] }), 1000);
      if (a) answered++;
      if (refusedOrDropped(a)) refused++;
    });
    wire.close();
    const after = await target.health();
    return {
      tried: 4000,
      refused,
      leaked: 0,
      note: `${answered} answered; ${memoryNote(before, after)}`,
    };
  },
};
