import RE2 from 're2';
import { addValidationError, ValidationFailed, type ValidationErrors } from '../../domain/validation.js';
import { DIALABLE_CHARS } from '../quickcall-from.js';

/**
 * Kazoo quickcall options (cb_quickcall.erl; seed "Execute a quick call"): read from the query string, or
 * for POST also from the envelope's data. Pure parsing, no SIP.
 */
export interface QuickCallRequest {
  number: string;
  autoAnswer: boolean;
  callerIdName: string;
  callerIdNumber: string;
  ignoreEarlyMedia: boolean;
  media: 'bypass' | 'process';
  timeoutSeconds: number;
}

/** The longest number accepted from the path, checked before any filtering (a dial string needs far less). */
export const MAX_NUMBER_LENGTH = 64;
/** The longest caller-supplied `number_filter` regex. */
export const MAX_FILTER_LENGTH = 200;

const DIALABLE = new RegExp(`^[${DIALABLE_CHARS}]{1,${MAX_NUMBER_LENGTH}}$`);

function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return fallback;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/**
 * Kazoo's `number_filter`: true (default) strips ` ,.-()`, false keeps the number as is, any other value is a
 * regex whose first capture group (or whole match) is the number. The caller's regex runs on RE2, a
 * linear-time engine: a backtracking engine lets one pattern such as `(\d+)+$` hold the event loop for
 * minutes. RE2 has no backreferences or lookarounds; such patterns are refused with a 400.
 */
export function filterNumber(raw: string, filter: unknown, errors: ValidationErrors): string | undefined {
  const f = str(filter) ?? (typeof filter === 'boolean' ? String(filter) : undefined);
  if (f === undefined || f === '' || f === 'true') return raw.replace(/[ ,.\-()]/g, '');
  if (f === 'false') return raw;
  if (f.length > MAX_FILTER_LENGTH) {
    addValidationError(errors, 'number_filter', 'invalid', { message: `number_filter must be a boolean or a regular expression of at most ${MAX_FILTER_LENGTH} characters`, value: f.slice(0, MAX_FILTER_LENGTH) });
    return undefined;
  }
  let re: RE2;
  try {
    re = new RE2(f);
  } catch (err) {
    addValidationError(errors, 'number_filter', 'invalid', {
      message: `number_filter is neither a boolean nor a regular expression this server runs (RE2 syntax: no backreferences or lookarounds): ${(err as Error).message}`,
      value: f,
    });
    return undefined;
  }
  const m = re.exec(raw);
  const picked = m ? (m[1] ?? m[0]) : undefined;
  if (!picked) addValidationError(errors, 'number_filter', 'no_match', { message: 'number_filter matched nothing in the number', value: f });
  return picked;
}

/**
 * `pathNumber` is the {NUMBER} path segment as the router decoded it (once, as Kazoo does). Its length is
 * bounded before any filtering, so the filter's work never grows with what a caller sends.
 */
export function parseQuickCall(pathNumber: string, query: Record<string, unknown>, data: Record<string, unknown> | undefined): QuickCallRequest {
  const opt = (key: string): unknown => query[key] ?? data?.[key];
  const errors: ValidationErrors = {};
  if (pathNumber.length > MAX_NUMBER_LENGTH) {
    addValidationError(errors, 'number', 'maxLength', {
      message: `number must not be more than ${MAX_NUMBER_LENGTH} characters`,
      target: MAX_NUMBER_LENGTH,
      value: pathNumber.slice(0, MAX_NUMBER_LENGTH),
    });
    throw new ValidationFailed(errors);
  }
  const number = filterNumber(pathNumber, opt('number_filter'), errors);
  if (number !== undefined && !DIALABLE.test(number)) {
    addValidationError(errors, 'number', 'invalid', { message: `number must be 1-${MAX_NUMBER_LENGTH} dialable characters`, value: number });
  }
  const timeoutRaw = Number(str(opt('timeout')) ?? NaN);
  const timeoutSeconds = Number.isInteger(timeoutRaw) && timeoutRaw >= 3 ? Math.min(timeoutRaw, 300) : 30;
  const mediaRaw = str(opt('media'));
  if (Object.keys(errors).length || number === undefined) throw new ValidationFailed(errors);
  return {
    number,
    autoAnswer: bool(opt('auto_answer'), true),
    callerIdName: str(opt('cid-name')) || 'Device QuickCall',
    callerIdNumber: str(opt('cid-number')) || number,
    ignoreEarlyMedia: bool(opt('ignore-early-media'), true),
    media: mediaRaw === 'bypass' ? 'bypass' : 'process',
    timeoutSeconds,
  };
}
