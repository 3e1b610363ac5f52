import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExtrasTooLarge } from '../../src/accounts/account-errors.js';
import { EXTRAS_MAX_BYTES, writeExtra } from '../../src/accounts/account-extras.js';
import { createAccount, updateAccount } from '../../src/accounts/account-service.js';
import { saveUser } from '../../src/accounts/user-service.js';
import { IdTaken, UnknownId } from '../../src/domain/errors.js';
import { ValidationFailed } from '../../src/domain/validation.js';
import { toKazooError } from '../../src/http/error-mapper.js';
import { KazooError } from '../../src/http/errors.js';
import { BadPageSize } from '../../src/listing/listing-errors.js';
import { pageRequest } from '../../src/listing/paginate.js';
import { newId } from '../../src/store/store.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Accounts, users, account extras and listings throw domain errors; only the HTTP edge (error-mapper.ts) makes
 * Kazoo envelopes of them. Each case: the service's own error class (never the HTTP one), and the envelope the
 * API answered before the move, compared whole (status, error, message, data) through a real socket.
 */
let t: TestServer;
const auth = () => ({ 'X-Auth-Token': t.master.token });
const A = () => t.master.accountId;

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t.close());

interface Envelope {
  status: number;
  error: string;
  message: string;
  data: unknown;
}

/** What a service threw, checked to be a domain error of `kind`. */
async function domainError(kind: new (...args: never[]) => Error, work: () => unknown): Promise<Error> {
  const thrown = await Promise.resolve().then(work).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(thrown).toBeInstanceOf(kind);
  expect(thrown).not.toBeInstanceOf(KazooError);
  return thrown as Error;
}

/** The edge maps `err` to `expected`, and the API's answer is that envelope. */
function expectEnvelope(err: Error, answer: { status: number; body: Record<string, unknown> }, expected: Envelope): void {
  const mapped = toKazooError(err);
  expect({ status: mapped?.status, error: String(mapped?.status), message: mapped?.message, data: mapped?.data }).toEqual(expected);
  const { status, error, message, data } = answer.body;
  expect({ status: answer.status, error, message, data }).toEqual(expected);
  expect(status).toBe('error');
}

describe('account service', () => {
  it('a taken id is IdTaken: 409 datastore_conflict', async () => {
    const err = await domainError(IdTaken, () => createAccount(t.server.store, { name: 'Again', id: A() }));
    const answer = await t.http().put(`/v2/accounts/${A()}`).set(auth()).send({ data: { name: 'Again', id: A() } });
    expectEnvelope(err, answer, { status: 409, error: '409', message: 'datastore_conflict', data: { message: 'conflicting documents' } });
  });

  it('a realm in use is ValidationFailed: 400 validation error with the realm rule', async () => {
    const expected = { status: 400, error: '400', message: 'validation error', data: { realm: { unique: { message: 'Realm already in use', cause: t.master.realm } } } };
    const onCreate = await domainError(ValidationFailed, () => createAccount(t.server.store, { name: 'Twin', realm: t.master.realm }));
    expectEnvelope(onCreate, await t.http().put(`/v2/accounts/${A()}`).set(auth()).send({ data: { name: 'Twin', realm: t.master.realm } }), expected);
    const child = await t.http().put(`/v2/accounts/${A()}`).set(auth()).send({ data: { name: 'Child', realm: 'child.domain-errors.test' } });
    const stored = t.server.store.getAccount(child.body.data.id)!;
    const onUpdate = await domainError(ValidationFailed, () => updateAccount(t.server.store, stored, { name: 'Child', realm: t.master.realm }));
    expectEnvelope(onUpdate, await t.http().post(`/v2/accounts/${stored.id}`).set(auth()).send({ data: { name: 'Child', realm: t.master.realm } }), expected);
  });
});

describe('user service', () => {
  it('a taken id is IdTaken: 409 datastore_conflict', async () => {
    const err = await domainError(IdTaken, () => saveUser(t.server.store, A(), t.master.userId, { first_name: 'Again', last_name: 'Admin' }));
    const answer = await t.http().put(`/v2/accounts/${A()}/users`).set(auth()).send({ data: { id: t.master.userId, first_name: 'Again', last_name: 'Admin' } });
    expectEnvelope(err, answer, { status: 409, error: '409', message: 'datastore_conflict', data: { message: 'conflicting documents' } });
  });

  it('a username in use is ValidationFailed: 400 validation error with the username rule', async () => {
    const err = await domainError(ValidationFailed, () => saveUser(t.server.store, A(), newId(), { first_name: 'Second', last_name: 'Admin', username: 'admin' }));
    const answer = await t.http().put(`/v2/accounts/${A()}/users`).set(auth()).send({ data: { first_name: 'Second', last_name: 'Admin', username: 'admin' } });
    expectEnvelope(err, answer, { status: 400, error: '400', message: 'validation error', data: { username: { unique: { message: 'Username must be unique', cause: 'admin' } } } });
  });
});

describe('account extras', () => {
  it('extras over their byte budget are ExtrasTooLarge: 413 request_entity_too_large', async () => {
    const big = { blob: 'x'.repeat(EXTRAS_MAX_BYTES + 1) };
    const err = await domainError(ExtrasTooLarge, () => writeExtra(t.server.store, A(), 'pvt_configs', { big }));
    const answer = await t.http().put(`/v2/accounts/${A()}/configs/big`).set(auth()).send({ data: big });
    expectEnvelope(err, answer, {
      status: 413,
      error: '413',
      message: 'request_entity_too_large',
      data: { message: `an account's limits, configs, apps and whitelabel documents may hold at most ${EXTRAS_MAX_BYTES} bytes in all` },
    });
  });

  it('an account that is gone is UnknownId: 404 bad_identifier', async () => {
    const gone = 'f0000000000000000000000000000404';
    const err = await domainError(UnknownId, () => writeExtra(t.server.store, gone, 'pvt_limits', {}));
    expect(toKazooError(err)).toMatchObject({ status: 404, message: 'bad_identifier', data: { cause: gone, message: 'bad identifier' } });
  });
});

describe('listings', () => {
  it('a bad page_size is BadPageSize: 404 faulty_request with the reason', async () => {
    for (const [raw, reason] of [
      ['abc', 'invalid page size'],
      ['0', 'page size must be at least 1'],
    ] as const) {
      const err = await domainError(BadPageSize, () => pageRequest({ page_size: raw }));
      const answer = await t.http().get(`/v2/accounts/${A()}/devices?page_size=${raw}`).set(auth());
      expectEnvelope(err, answer, { status: 404, error: '404', message: 'faulty_request', data: { message: reason } });
    }
  });
});
