import { addValidationError, validationError, type ValidationErrors } from '../../http/errors.js';

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

const DIALABLE = /^[A-Za-z0-9*#+._~-]{1,64}$/;

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

export function filterNumber(raw: string, filter: unknown, errors: ValidationErrors): string | undefined {
  const f = str(filter) ?? (typeof filter === 'boolean' ? String(filter) : undefined);
  if (f === undefined || f === '' || f === 'true') return raw.replace(/[ ,.\-()]/g, '');
  if (f === 'false') return raw;
  let re: RegExp;
  try {
    if (f.length > 200) throw new Error('too long');
    re = new RegExp(f);
  } catch {
    addValidationError(errors, 'number_filter', 'invalid', { message: 'number_filter is neither a boolean nor a valid regular expression', value: f });
    return undefined;
  }
  const m = re.exec(raw);
  const picked = m ? (m[1] ?? m[0]) : undefined;
  if (!picked) addValidationError(errors, 'number_filter', 'no_match', { message: 'number_filter matched nothing in the number', value: f });
  return picked;
}

export function parseQuickCall(rawNumber: string, query: Record<string, unknown>, data: Record<string, unknown> | undefined): QuickCallRequest {
  const opt = (key: string): unknown => query[key] ?? data?.[key];
  const errors: ValidationErrors = {};
  let decoded = rawNumber;
  try {
    decoded = decodeURIComponent(rawNumber);
  } catch {
    // keep raw
  }
  const number = filterNumber(decoded, opt('number_filter'), errors);
  if (number !== undefined && !DIALABLE.test(number)) {
    addValidationError(errors, 'number', 'invalid', { message: 'number must be 1-64 dialable characters', value: number });
  }
  const timeoutRaw = Number(str(opt('timeout')) ?? NaN);
  const timeoutSeconds = Number.isInteger(timeoutRaw) && timeoutRaw >= 3 ? Math.min(timeoutRaw, 300) : 30;
  const mediaRaw = str(opt('media'));
  if (Object.keys(errors).length || number === undefined) throw validationError(errors);
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
