import type { HelperOptions } from 'handlebars';
import { clean } from './sanitize.js';

/**
 * Vendor parameters: a value the templates write with only one source behind it (marked UNCONFIRMED) is written
 * through `{{vparam "<parameter>" <default>}}`. The default is the most common value among the peers; an account
 * or device may replace it with provisioning.settings.vendor_params.<vendor id>.<parameter>. Only a parameter a
 * template declares this way can be set: the name must be a string literal, so the declared set is known when the
 * template is compiled (see declared-params.ts), and an operator cannot write keys of their own choosing.
 */
export const VPARAM_HELPER = 'vparam';
/** Same shapes as src/schema/provision_settings.json (vendor_params). */
export const VENDOR_ID = /^[a-z][a-z0-9_-]{0,31}$/;
export const PARAM_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,79}$/;
export const MAX_PARAM_VALUE = 256;
/** Quotes, angle brackets and & would end an XML attribute or element; CR/LF a key = value line. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /["'<>&\u0000-\u001f\u007f]/g;

/** Resolved values: vendor id → parameter → value (device over account, parameter by parameter). */
export type VendorParams = Record<string, Record<string, string>>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Merges the account's and the device's vendor_params; later documents win per parameter. */
export function mergeVendorParams(...docs: unknown[]): VendorParams {
  const out: VendorParams = Object.create(null);
  for (const doc of docs) {
    if (!isObject(doc)) continue;
    for (const [vendor, params] of Object.entries(doc)) {
      if (!VENDOR_ID.test(vendor) || !isObject(params)) continue;
      const into = (out[vendor] ??= Object.create(null) as Record<string, string>);
      for (const [name, value] of Object.entries(params)) {
        if (PARAM_NAME.test(name) && typeof value === 'string') into[name] = safeValue(value);
      }
    }
  }
  return out;
}

/** The schema already refuses these characters; stripped again here because the value lands in a config file. */
function safeValue(value: unknown): string {
  return clean(value, MAX_PARAM_VALUE).replace(UNSAFE, '');
}

/** The helper: the account's/device's value for this vendor's parameter, else the template's default. */
export function vparamHelper(this: unknown, name: unknown, fallback: unknown, options?: HelperOptions): string {
  if (options === undefined) throw new Error(`${VPARAM_HELPER} needs a parameter name and a default: {{${VPARAM_HELPER} "name" default}}`);
  const root = (options.data as { root?: { vendor?: unknown; settings?: { vendorParams?: VendorParams } } } | undefined)?.root;
  const vendor = typeof root?.vendor === 'string' ? root.vendor : '';
  const params = root?.settings?.vendorParams?.[vendor];
  if (typeof name === 'string' && params && Object.hasOwn(params, name)) return params[name]!;
  // The default is written exactly as `{{default}}` would write it (values reaching it are cleaned already).
  return fallback === undefined || fallback === null ? '' : String(fallback);
}

interface AstNode {
  type?: string;
  path?: { original?: unknown };
  params?: Array<{ type?: string; value?: unknown }>;
  loc?: { start?: { line?: number } };
}

/**
 * The parameters a parsed template declares through the helper (name → line of first use). Throws
 * VendorParamSyntaxError for a call whose name is not a literal of the allowed shape or that has no default.
 */
export function declaredInAst(ast: unknown): Map<string, number> {
  const found = new Map<string, number>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (!isObject(node)) return;
    const n = node as AstNode;
    if ((n.type === 'MustacheStatement' || n.type === 'SubExpression' || n.type === 'BlockStatement') && n.path?.original === VPARAM_HELPER) {
      const line = n.loc?.start?.line;
      const [first, second] = n.params ?? [];
      if (n.type === 'BlockStatement' || first?.type !== 'StringLiteral' || typeof first.value !== 'string' || !PARAM_NAME.test(first.value)) {
        throw new VendorParamSyntaxError(`${VPARAM_HELPER} needs a literal parameter name matching ${PARAM_NAME.source}`, line);
      }
      if (!second || (n.params?.length ?? 0) !== 2) throw new VendorParamSyntaxError(`${VPARAM_HELPER} "${first.value}" needs exactly one default value`, line);
      if (!found.has(first.value)) found.set(first.value, line ?? 0);
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc' && v !== null && typeof v === 'object') walk(v);
  };
  walk(ast);
  return found;
}

export class VendorParamSyntaxError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}
