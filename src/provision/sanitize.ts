/**
 * Values from device/user/account documents end up inside line-oriented (Yealink key = value) and XML files.
 * Control characters (CR/LF would start a new Yealink key; most C0 characters are illegal in XML 1.0) are removed
 * from every value before any template sees it. XML escaping itself is done by Handlebars at render time.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffe\uffff]/g;

export function clean(value: unknown, max = 256): string {
  if (value === undefined || value === null) return '';
  const s = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
  return s.replace(CONTROL, '').trim().slice(0, max);
}
