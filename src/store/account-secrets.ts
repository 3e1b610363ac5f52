import type { AccountDoc, StoredDoc } from '../domain/types.js';
import { SecretBox } from './secret-box.js';
import type { DocCodec } from './sharded-collection.js';

/**
 * The account fields that are secret but must stay reversible: the api_key (GET /accounts/{A}/api_key returns
 * it), the phones' http_auth password and its rotation list (digest needs them) and the provisioning url_key
 * (compared with the one in a phone's URL). On disk they are sealed; in memory they are plain.
 * Users' pvt_md5_auth/pvt_sha1_auth are one-way hashes that Kazoo clients and Kazoo's own format expect; they
 * stay as they are.
 */
interface SecretField {
  /** Bound into the seal, so a sealed value cannot be moved to another field or account. */
  name: string;
  get(account: AccountDoc): unknown;
  /** A copy of `account` with the field replaced. */
  with(account: AccountDoc, value: unknown): AccountDoc;
}

type Provisioning = NonNullable<AccountDoc['provisioning']>;
type HttpAuth = NonNullable<Provisioning['http_auth']> & { passwords?: unknown };

const withProvisioning = (account: AccountDoc, change: Partial<Provisioning>): AccountDoc => ({ ...account, provisioning: { ...account.provisioning, ...change } });
const withHttpAuth = (account: AccountDoc, change: Partial<HttpAuth>): AccountDoc => withProvisioning(account, { http_auth: { ...account.provisioning?.http_auth, ...change } });

const settingsOf = (a: AccountDoc) => (a.provisioning as { settings?: Record<string, unknown> } | undefined)?.settings;

const SECRET_FIELDS: SecretField[] = [
  { name: 'pvt_api_key', get: (a) => a.pvt_api_key, with: (a, v) => ({ ...a, pvt_api_key: v as string }) },
  { name: 'http_auth.password', get: (a) => a.provisioning?.http_auth?.password, with: (a, v) => withHttpAuth(a, { password: v as string }) },
  { name: 'http_auth.passwords', get: (a) => (a.provisioning?.http_auth as HttpAuth | undefined)?.passwords, with: (a, v) => withHttpAuth(a, { passwords: v }) },
  { name: 'url_key', get: (a) => a.provisioning?.url_key, with: (a, v) => withProvisioning(a, { url_key: v as string }) },
  // Phone web admin/user passwords of the account's provisioning settings (src/devices/phone-passwords.ts).
  ...(['admin_password', 'user_password'] as const).map((key): SecretField => ({
    name: `settings.${key}`,
    get: (a) => settingsOf(a)?.[key],
    with: (a, v) => withProvisioning(a, { settings: { ...settingsOf(a), [key]: v } } as Partial<Provisioning>),
  })),
];

/** Applies `change` to a field's string value, or to each string of a list of them. */
function mapStrings(value: unknown, change: (s: string) => string): unknown {
  if (typeof value === 'string') return change(value);
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? change(item) : item));
  return value;
}

export function accountSecretsCodec(box: SecretBox): DocCodec {
  return {
    encode(doc) {
      let account = doc as AccountDoc;
      for (const field of SECRET_FIELDS) {
        const value = field.get(account);
        // Always seal: memory holds plaintext only, even a password that happens to look like a sealed value.
        if (value !== undefined) account = field.with(account, mapStrings(value, (s) => box.seal(s, `${account.id}|${field.name}`)));
      }
      return account;
    },
    decode(doc) {
      let account = doc as AccountDoc;
      let plain = false;
      const open = (value: string, field: string) => {
        if (SecretBox.isSealed(value)) return box.open(value, `${account.id}|${field}`);
        plain = true; // written by a version that stored it in the clear
        return value;
      };
      for (const field of SECRET_FIELDS) {
        const value = field.get(account);
        if (value !== undefined) account = field.with(account, mapStrings(value, (s) => open(s, field.name)));
      }
      return { doc: account as StoredDoc, plain };
    },
  };
}

/** Whether a stored (on-disk) account holds sealed values, i.e. needs the key it was sealed with. */
export function holdsSealedSecrets(doc: StoredDoc): boolean {
  const account = doc as AccountDoc;
  let sealed = false;
  for (const field of SECRET_FIELDS) mapStrings(field.get(account), (s) => ((sealed ||= SecretBox.isSealed(s)), s));
  return sealed;
}
