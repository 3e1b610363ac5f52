import type { Request } from 'express';
import { isPlainObject } from '../domain/docs.js';

/**
 * Crossbar renders any listing as CSV when asked (`Accept: text/csv` or `?accept=csv`): one header row of the
 * rows' flattened keys (dotted, in first-seen order), one line per row, RFC 4180 quoting. Errors stay JSON.
 */
export function wantsCsv(req: Request): boolean {
  const accept = req.query.accept;
  if (typeof accept === 'string' && /^(text\/)?csv$/i.test(accept)) return true;
  const header = req.get('accept') ?? '';
  return /(^|,)\s*text\/csv\s*(;|,|$)/i.test(header);
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else out.set(prefix, value);
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The rows of a listing as CSV text (rows that are not objects become a single `value` column). */
export function toCsv(rows: unknown[]): string {
  const flat = rows.map((row) => {
    const out = new Map<string, unknown>();
    if (isPlainObject(row)) flatten(row, '', out);
    else out.set('value', row);
    return out;
  });
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of flat) {
    for (const key of row.keys()) {
      if (seen.has(key)) continue;
      seen.add(key);
      columns.push(key);
    }
  }
  const lines = [columns.map(cell).join(','), ...flat.map((row) => columns.map((c) => cell(row.get(c))).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
