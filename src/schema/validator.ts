import Ajv04Module from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import devices from './devices.json' with { type: 'json' };
import users from './users.json' with { type: 'json' };
import accounts from './accounts.json' with { type: 'json' };
import devicesNotify from './devices_notify.json' with { type: 'json' };
import provisionSettings from './provision_settings.json' with { type: 'json' };
import { addValidationError, type ValidationErrors } from '../domain/validation.js';

// Under NodeNext the CJS default export arrives as a namespace.
const Ajv04 = Ajv04Module.default;

export type SchemaId = 'devices' | 'users' | 'accounts' | 'devices_notify';

// Kazoo's patterns are PCRE (POSIX classes, escapes the `u` flag rejects): expand and retry without `u`.
const POSIX: Record<string, string> = { alnum: 'a-zA-Z0-9', alpha: 'a-zA-Z', digit: '0-9', xdigit: '0-9a-fA-F', upper: 'A-Z', lower: 'a-z', space: '\\s', word: '\\w' };
function pcreRegExp(source: string, flags: string): RegExp {
  const js = source.replace(/\[:(\w+):\]/g, (m, c: string) => POSIX[c] ?? m);
  try {
    return new RegExp(js, flags);
  } catch {
    return new RegExp(js, flags.replace('u', ''));
  }
}
// ajv names the engine in generated standalone code; this server compiles at run time only.
const regExp: RegExpEngine = Object.assign(pcreRegExp, { code: 'pcreRegExp' });
const ajv = new Ajv04({ useDefaults: true, allErrors: true, verbose: true, strict: false, code: { regExp } });
// Kazoo's `format: email` (users.email): one @ between non-empty parts without spaces. Linear: neither part
// can contain the @ that splits them, so there is one way to match.
ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
const compiled = new Map<SchemaId, ValidateFunction>();
// One shape for the phone settings on a device and on an account (src/schema/provision_settings.json).
ajv.addSchema(provisionSettings, 'provision_settings');
for (const [id, schema] of [
  ['devices', devices],
  ['users', users],
  ['accounts', accounts],
  ['devices_notify', devicesNotify],
] as const) {
  compiled.set(id, ajv.compile(schema));
}

/**
 * Validates `doc` in place against a Kazoo schema: fills defaults (Kazoo applies them too), coerces
 * "300"/"true" for integer/number/boolean fields as Kazoo's non-strict mode does, and returns every
 * error of the request at once in Kazoo's `{"dotted.path": {"code": {...}}}` shape.
 */
export function validateDoc(schemaId: SchemaId, doc: Record<string, unknown>): ValidationErrors | undefined {
  const validate = compiled.get(schemaId)!;
  if (validate(doc)) return undefined;
  if (coerce(doc, validate.errors ?? []) && validate(doc)) return undefined;
  return toKazooErrors(validate.errors ?? []);
}

/** Applies Kazoo's lenient conversions at the paths ajv reported; true when anything changed. */
function coerce(doc: Record<string, unknown>, errors: ErrorObject[]): boolean {
  let changed = false;
  for (const error of errors) {
    if (error.keyword !== 'type') continue;
    const wanted = String(error.params.type).split(',');
    const segments = pointerSegments(error.instancePath);
    const key = segments.pop();
    if (key === undefined) continue;
    let parent: unknown = doc;
    for (const s of segments) parent = (parent as Record<string, unknown> | undefined)?.[s];
    if (!parent || typeof parent !== 'object') continue;
    const holder = parent as Record<string, unknown>;
    const value = holder[key];
    if (typeof value !== 'string') continue;
    if ((wanted.includes('integer') && /^-?\d+$/.test(value)) || (wanted.includes('number') && value.trim() !== '' && Number.isFinite(Number(value)))) {
      holder[key] = Number(value);
      changed = true;
    } else if (wanted.includes('boolean') && (value === 'true' || value === 'false')) {
      holder[key] = value === 'true';
      changed = true;
    }
  }
  return changed;
}

function pointerSegments(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** One key as a segment of Kazoo's dotted error key (a literal "." inside a key becomes %2E). */
export function dottedKey(segment: string): string {
  return segment.replace(/\./g, '%2E');
}

/** JSON pointer -> Kazoo's dotted key. */
function dotted(segments: string[]): string {
  return segments.map(dottedKey).join('.');
}

function toKazooErrors(errors: ErrorObject[]): ValidationErrors {
  const out: ValidationErrors = {};
  // Branch errors under a failed oneOf/anyOf are noise next to the combinator's own error.
  const combinators = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath);
  for (const error of errors) {
    if (error.keyword !== 'oneOf' && error.keyword !== 'anyOf' && combinators.some((p) => error.instancePath === p || error.instancePath.startsWith(`${p}/`))) {
      continue;
    }
    const segments = pointerSegments(error.instancePath);
    const value = error.data;
    const p = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'required': {
        const prop = String(p.missingProperty);
        addValidationError(out, dotted([...segments, prop]), 'required', { message: 'Field is required but missing', value: prop });
        break;
      }
      case 'maxLength':
        addValidationError(out, dotted(segments), 'maxLength', { message: `String must not be more than ${p.limit} characters`, target: p.limit, cause: value, value });
        break;
      case 'minLength':
        addValidationError(out, dotted(segments), 'minLength', { message: `String must be at least ${p.limit} characters`, target: p.limit, cause: value, value });
        break;
      case 'enum':
        addValidationError(out, dotted(segments), 'enum', { message: 'Value not found in enumerated list of values', target: p.allowedValues, value });
        break;
      case 'type': {
        const types = String(p.type).split(',');
        addValidationError(out, dotted(segments), 'type', { message: `Value did not match type(s): ${types.join(', ')}`, target: types.length === 1 ? types[0] : types, value });
        break;
      }
      case 'uniqueItems':
        addValidationError(out, dotted(segments), 'uniqueItems', { message: 'List of items is not unique', value });
        break;
      case 'pattern':
        addValidationError(out, dotted(segments), 'pattern', { message: `Failed to match pattern '${p.pattern}'`, target: p.pattern, value });
        break;
      case 'minimum':
        addValidationError(out, dotted(segments), 'minimum', { message: `Value must be at least ${p.limit}`, target: p.limit, value });
        break;
      case 'maximum':
        addValidationError(out, dotted(segments), 'maximum', { message: `Value must be at most ${p.limit}`, target: p.limit, value });
        break;
      case 'format':
        addValidationError(out, dotted(segments), 'format', { message: `Value is not a valid ${p.format}`, target: p.format, value });
        break;
      case 'additionalProperties': {
        const prop = String(p.additionalProperty);
        addValidationError(out, dotted([...segments, prop]), 'additionalProperties', {
          message: 'Strict checking of data is enabled; only include schema-defined properties',
          value: prop,
        });
        break;
      }
      case 'oneOf':
        addValidationError(out, dotted(segments), 'not_one_schema_valid', { message: 'failed to validate', value });
        break;
      case 'anyOf':
        addValidationError(out, dotted(segments), 'not_any_schema_valid', { message: 'failed to validate', value });
        break;
      default:
        addValidationError(out, dotted(segments), error.keyword, { message: error.message ?? 'failed to validate', value });
    }
  }
  return out;
}
