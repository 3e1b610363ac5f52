/**
 * Shapes of the stored documents. Public fields are whatever Kazoo's schema allows (unknown keys are kept,
 * as Kazoo does); private bookkeeping lives in `_rev` and `pvt_*` keys, which are never returned by the API.
 */
export interface DocMeta {
  id: string;
  /** "<generation>-<32 hex>", changes on every write; the API's `revision`. */
  _rev: string;
  pvt_type: 'account' | 'user' | 'device';
  pvt_account_id: string;
  /** Unix seconds. The API filters speak Gregorian seconds (Unix + 62167219200). */
  pvt_created: number;
  pvt_modified: number;
}

export type StoredDoc = DocMeta & { [key: string]: unknown };

export interface AccountDoc extends StoredDoc {
  pvt_type: 'account';
  name: string;
  realm: string;
  enabled?: boolean;
  /** Ancestor ids from the master account down to the parent (Kazoo's pvt_tree). */
  pvt_tree: string[];
  pvt_api_key: string;
  /**
   * Optional proof asked of phones fetching this account's config files: HTTP auth, and/or a secret URL key
   * (`/provision/<url_key>/<file>`, src/provision/url-key.ts).
   */
  provisioning?: {
    http_auth?: { type?: 'digest' | 'basic'; username?: string; password?: string };
    url_key?: string;
    /** Phone settings for the account's devices (src/schema/provision_settings.json, src/provision/settings.ts). */
    settings?: Record<string, unknown>;
  };
}

export interface UserDoc extends StoredDoc {
  pvt_type: 'user';
  username?: string;
  first_name?: string;
  last_name?: string;
  presence_id?: string;
  email?: string;
  /** md5("username:password") as Kazoo stores it (pvt_md5_auth); the password itself is never kept. */
  pvt_md5_auth?: string;
  pvt_sha1_auth?: string;
}

export interface FeatureKey {
  type: 'presence' | 'parking' | 'personal_parking' | 'speed_dial' | 'line';
  value?: string | number | { label?: string; value?: string | number };
}

export interface DeviceDoc extends StoredDoc {
  pvt_type: 'device';
  name: string;
  enabled?: boolean;
  device_type?: string;
  owner_id?: string;
  /** Cleansed: 12 lowercase hex digits. */
  mac_address?: string;
  presence_id?: string;
  language?: string;
  timezone?: string;
  mwi_unsolicited_updates?: boolean;
  sip?: {
    username?: string;
    password?: string;
    realm?: string;
    method?: 'password' | 'ip';
    ip?: string;
    expire_seconds?: number;
    registration_expiration?: number;
    invite_format?: string;
    number?: string;
    [key: string]: unknown;
  };
  media?: { audio?: { codecs?: string[] }; [key: string]: unknown };
  caller_id?: { internal?: { name?: string; number?: string }; external?: { name?: string; number?: string } };
  ringtones?: { internal?: string; external?: string };
  provision?: {
    endpoint_brand?: string;
    endpoint_family?: string;
    endpoint_model?: string | string[];
    feature_keys?: Record<string, FeatureKey | null>;
    combo_keys?: Record<string, FeatureKey | null>;
    [key: string]: unknown;
  };
  hotdesk?: { users?: Record<string, unknown> };
  /** Private copies of the SIP identities provision.lines names (src/devices/device-lines.ts). */
  pvt_lines?: DeviceLineCopy[];
}

/** One extra account of a multi-account phone, as its file needs it (see src/devices/device-lines.ts). */
export interface DeviceLineCopy {
  /** 0-based account slot, as in provision.lines. */
  slot: number;
  device_id: string;
  username: string;
  password: string;
  /** The referenced device's own sip.realm, '' when it uses the account's. */
  realm: string;
  name: string;
  expire_seconds?: number;
}

export interface DeviceRef {
  account: AccountDoc;
  device: DeviceDoc;
}
