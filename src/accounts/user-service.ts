import { createHash } from 'node:crypto';
import type { UserDoc } from '../domain/types.js';
import { privateFields, publicView } from '../domain/docs.js';
import { IdTaken } from '../domain/errors.js';
import { addValidationError, ValidationFailed } from '../domain/validation.js';
import { validateDoc } from '../schema/validator.js';
import type { Store } from '../store/store.js';

/** Kazoo's user credentials: md5/sha1 of "lower(username):password". The password itself is never stored. */
export const md5Credentials = (username: string, password: string) => createHash('md5').update(`${username.toLowerCase()}:${password}`).digest('hex');
export const sha1Credentials = (username: string, password: string) => createHash('sha1').update(`${username.toLowerCase()}:${password}`).digest('hex');

export function userView(user: UserDoc): Record<string, unknown> {
  const { password: _never, ...shown } = publicView(user);
  return shown;
}

/**
 * Validates and stores a user (`fields` = public fields, already merged for PATCH). Without `stored` it is a
 * new user, and an id given out before (also to a deleted user) is IdTaken.
 */
export async function saveUser(store: Store, accountId: string, id: string, fields: Record<string, unknown>, stored?: UserDoc): Promise<UserDoc> {
  if (!stored && store.idTaken('user', accountId, id)) throw new IdTaken(id);
  const errors = validateDoc('users', fields) ?? {};
  const username = typeof fields.username === 'string' ? fields.username : undefined;
  const password = typeof fields.password === 'string' ? fields.password : undefined;
  if (username) {
    if (store.userNameOwner(accountId, username, id)) addValidationError(errors, 'username', 'unique', { message: 'Username must be unique', cause: username });
    // A username without a password is accepted, as Kazoo does: the credentials stay as they are (none for a new
    // user, who cannot log in until a password is set). Only renaming a user who has credentials needs the
    // password, since the hashes are of "username:password" (cb_users rehash_creds).
    const renamed = stored?.username !== undefined && stored.username.toLowerCase() !== username.toLowerCase();
    if (!password && renamed && stored?.pvt_md5_auth) {
      addValidationError(errors, 'password', 'required', { message: 'The password must be provided when updating the username', value: 'password' });
    }
  }
  if (Object.keys(errors).length) throw new ValidationFailed(errors);
  const { password: _secret, ...publicFields } = fields;
  const doc = {
    ...publicFields,
    ...(stored ? privateFields(stored) : {}),
    id,
    pvt_type: 'user',
    pvt_account_id: accountId,
  } as UserDoc;
  if (username && password) {
    doc.pvt_md5_auth = md5Credentials(username, password);
    doc.pvt_sha1_auth = sha1Credentials(username, password);
  } else if (!username) {
    delete doc.pvt_md5_auth;
    delete doc.pvt_sha1_auth;
  }
  return store.save(doc);
}
