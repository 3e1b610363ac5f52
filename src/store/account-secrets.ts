import type { AccountDoc, StoredDoc } from '../domain/types.js';
import { SecretBox } from './secret-box.js';
import type { DocCodec } from './sharded-collection.js';

/**
 * The account fields that are secret but must stay reversible: the api_key (GET /accounts/{A}/api_key returns
 * it) and the phones' http_auth password (digest needs it). On disk they are sealed; in memory they are plain.
 * Users' pvt_md5_auth/pvt_sha1_auth are one-way hashes that Kazoo clients and Kazoo's own format expect; they
 * stay as they are.
 */
export function accountSecretsCodec(box: SecretBox): DocCodec {
  return {
    encode(doc) {
      const account = doc as AccountDoc;
      const out: AccountDoc = { ...account };
      if (typeof account.pvt_api_key === 'string') out.pvt_api_key = sealed(box, account.pvt_api_key, account.id, 'pvt_api_key');
      const httpAuth = account.provisioning?.http_auth;
      if (typeof httpAuth?.password === 'string') {
        out.provisioning = { ...account.provisioning, http_auth: { ...httpAuth, password: sealed(box, httpAuth.password, account.id, 'http_auth.password') } };
      }
      return out;
    },
    decode(doc) {
      const account = doc as AccountDoc;
      let plain = false;
      const open = (value: string, field: string) => {
        if (SecretBox.isSealed(value)) return box.open(value, `${account.id}|${field}`);
        plain = true; // written by a version that stored it in the clear
        return value;
      };
      const out: AccountDoc = { ...account };
      if (typeof account.pvt_api_key === 'string') out.pvt_api_key = open(account.pvt_api_key, 'pvt_api_key');
      const httpAuth = account.provisioning?.http_auth;
      if (typeof httpAuth?.password === 'string') {
        out.provisioning = { ...account.provisioning, http_auth: { ...httpAuth, password: open(httpAuth.password, 'http_auth.password') } };
      }
      return { doc: out as StoredDoc, plain };
    },
  };
}

/** Whether a stored (on-disk) account holds sealed values, i.e. needs the key it was sealed with. */
export function holdsSealedSecrets(doc: StoredDoc): boolean {
  const account = doc as AccountDoc;
  return SecretBox.isSealed(account.pvt_api_key) || SecretBox.isSealed(account.provisioning?.http_auth?.password);
}

// Always seal: memory holds plaintext only, even a password that happens to look like a sealed value.
function sealed(box: SecretBox, value: string, accountId: string, field: string): string {
  return box.seal(value, `${accountId}|${field}`);
}
