import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value does not open with this key (wrong key file, or the data was tampered with). */
export class SecretKeyMismatchError extends Error {}

/**
 * Encrypts the secrets that must stay reversible (AES-256-GCM, a fresh IV per value) under a key kept outside
 * the data files. `context` (e.g. "<account id>|pvt_api_key") is authenticated with the value, so a sealed value
 * copied into another field or account does not open. `index` gives a keyed hash for looking a secret up
 * without keeping it as a map key. Sub-keys are derived (HKDF) so one key file serves both jobs.
 */
export class SecretBox {
  private readonly encryptionKey: Buffer;
  private readonly indexKey: Buffer;

  constructor(key: Buffer) {
    this.encryptionKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'kazoo-provisioner secrets aes-256-gcm', 32));
    this.indexKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'kazoo-provisioner secrets index', 32));
  }

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: string, context: string): string {
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretKeyMismatchError(`sealed value for ${context} is truncated`);
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyMismatchError(`the secret ${context} cannot be decrypted with this key`);
    }
  }

  index(secret: string): string {
    return createHmac('sha256', this.indexKey).update(secret).digest('base64url');
  }
}
