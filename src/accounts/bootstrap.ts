import type { Store } from '../store/store.js';
import { newId } from '../store/store.js';
import { createAccount } from './account-service.js';
import { saveUser } from './user-service.js';

export interface BootstrapRequest {
  name: string;
  realm: string;
  username: string;
  password: string;
}

export interface BootstrapResult {
  account_id: string;
  name: string;
  realm: string;
  user_id: string;
  api_key: string;
}

/**
 * crossbar_maintenance create_account: a top-level account (the first one becomes the master) with an
 * admin user. Used by the CLI directly, or through the server's control endpoint when a server is running.
 */
export async function bootstrapAccount(store: Store, request: BootstrapRequest): Promise<BootstrapResult> {
  const { name, realm, username, password } = bootstrapRequestOf(request);
  const account = await createAccount(store, { name, realm });
  const user = await saveUser(store, account.id, newId(), {
    first_name: 'Account',
    last_name: 'Admin',
    username,
    password,
    priv_level: 'admin',
  });
  return { account_id: account.id, name: account.name, realm: account.realm, user_id: user.id, api_key: account.pvt_api_key };
}

/** A create-account request read from untrusted input (a JSON body): its four fields, each a non-empty string. */
export function bootstrapRequestOf(body: unknown): BootstrapRequest {
  const fields: Record<string, unknown> = typeof body === 'object' && body !== null ? { ...body } : {};
  const text = (key: keyof BootstrapRequest): string => {
    const value = fields[key];
    if (typeof value !== 'string' || !value) throw new Error(`${key} is required`);
    return value;
  };
  return { name: text('name'), realm: text('realm'), username: text('username'), password: text('password') };
}
