import { randomBytes } from 'node:crypto';
import type { AccountDoc } from '../domain/types.js';
import { privateFields, publicView, requestFields } from '../domain/docs.js';
import { IdTaken } from '../domain/errors.js';
import { addValidationError, ValidationFailed, type ValidationErrors } from '../domain/validation.js';
import { validateDoc } from '../schema/validator.js';
import { newId, type Store } from '../store/store.js';
import { hiddenSettings, keepStoredPasswords } from '../devices/phone-passwords.js';
import { checkVendorParams } from '../provision/declared-params.js';

/** Account documents: validation, realm uniqueness and the secret fields the API never shows. */

export const newApiKey = (): string => randomBytes(32).toString('hex');

/** What the API shows of an account: no api key, no provisioning password, no provisioning URL key. */
export function accountView(account: AccountDoc): Record<string, unknown> {
  const out = publicView(account);
  if (!account.provisioning) return out;
  const { url_key: urlKey, ...provisioning } = account.provisioning;
  const shown: Record<string, unknown> = { ...provisioning };
  const httpAuth = provisioning.http_auth;
  if (httpAuth) {
    const { password: _hidden, ...rest } = httpAuth;
    shown.http_auth = { ...rest, password_set: Boolean(_hidden) };
  }
  if (shown.settings !== undefined) shown.settings = hiddenSettings(shown.settings); // phone passwords are write-only
  delete shown.url_key_set; // only ever what the stored key says
  if (urlKey !== undefined) shown.url_key_set = true;
  out.provisioning = shown;
  return out;
}

function checkAccount(store: Store, fields: Record<string, unknown>, selfId?: string): ValidationErrors | undefined {
  const errors = validateDoc('accounts', fields) ?? {};
  checkVendorParams((fields.provisioning as { settings?: unknown } | undefined)?.settings, 'provisioning.settings', errors);
  const realm = fields.realm;
  if (typeof realm === 'string') {
    const owner = store.realmOwner(realm);
    if (owner && owner !== selfId) addValidationError(errors, 'realm', 'unique', { message: 'Realm already in use', cause: realm });
  }
  return Object.keys(errors).length ? errors : undefined;
}

export async function createAccount(store: Store, data: unknown, parent?: AccountDoc): Promise<AccountDoc> {
  const fields = requestFields(data);
  const id = typeof (data as { id?: unknown })?.id === 'string' && /^[0-9a-f]{32}$/.test((data as { id: string }).id) ? (data as { id: string }).id : newId();
  if (store.idTaken('account', id, id)) throw new IdTaken(id);
  if (fields.realm === undefined) fields.realm = `${id.slice(0, 8)}.sip.local`;
  const provisioning = fields.provisioning;
  if (provisioning && typeof provisioning === 'object') {
    delete (provisioning as { url_key_set?: unknown }).url_key_set;
    keepStoredPasswords((provisioning as Record<string, unknown>).settings, undefined);
  }
  const errors = checkAccount(store, fields);
  if (errors) throw new ValidationFailed(errors);
  const doc = {
    ...fields,
    id,
    pvt_type: 'account',
    pvt_account_id: id,
    pvt_tree: parent ? [...parent.pvt_tree, parent.id] : [],
    pvt_api_key: newApiKey(),
  } as unknown as AccountDoc;
  return store.save(doc);
}

/** POST (replace) or PATCH (already merged by the caller) of an account's public fields. */
export async function updateAccount(store: Store, stored: AccountDoc, fields: Record<string, unknown>): Promise<AccountDoc> {
  // A client that round-trips GET -> POST never sees the provisioning password; keep it unless replaced.
  const provisioning = fields.provisioning as (AccountDoc['provisioning'] & { url_key_set?: unknown }) | undefined;
  if (provisioning && typeof provisioning === 'object') {
    // `url_key_set: true` is how a GET shows the key; sent back without a key, it keeps the stored one.
    if (provisioning.url_key === undefined && provisioning.url_key_set === true && stored.provisioning?.url_key) {
      provisioning.url_key = stored.provisioning.url_key;
    }
    delete provisioning.url_key_set;
    keepStoredPasswords((provisioning as Record<string, unknown>).settings, (stored.provisioning as Record<string, unknown> | undefined)?.settings);
  }
  const auth = provisioning?.http_auth as Record<string, unknown> | undefined;
  if (auth) {
    delete auth.password_set;
    const storedAuth = stored.provisioning?.http_auth;
    if (auth.password === undefined && storedAuth?.password && storedAuth.username === auth.username) auth.password = storedAuth.password;
  }
  const errors = checkAccount(store, fields, stored.id);
  if (errors) throw new ValidationFailed(errors);
  return store.save({ ...fields, ...privateFields(stored) } as AccountDoc);
}
