import { Parser } from 'xml2js';
import type { FileFormat } from '../../vendors/types.js';

/**
 * Checks that a rendered file is well-formed in its vendor's format before it is served or an uploaded template is
 * accepted. A failure carries the 1-based line of the problem.
 */
export class FormatError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/** Reads a Yealink-style `key = value` file into pairs; throws FormatError on anything else. */
export function parseKeyValue(text: string, header?: string): Map<string, string> {
  const lines = text.split('\n');
  if (header !== undefined && lines[0]?.replace(/\r$/, '') !== header) {
    throw new FormatError(`first line must be exactly "${header}"`, 1);
  }
  const out = new Map<string, string>();
  lines.forEach((rawLine, i) => {
    const line = rawLine.replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = /^([A-Za-z0-9_.\-[\]]+)\s*=\s?(.*)$/.exec(trimmed);
    if (!m) throw new FormatError(`not a "key = value" line: ${JSON.stringify(trimmed.slice(0, 80))}`, i + 1);
    out.set(m[1]!, m[2]!.trim());
  });
  return out;
}

const xmlParser = () => new Parser({ explicitArray: false, strict: true, async: false });

/** Parses XML with xml2js (synchronously: sax runs inline when async is false). */
export function parseXml(text: string): unknown {
  let result: unknown;
  let failure: unknown;
  xmlParser().parseString(text, (err: unknown, res: unknown) => {
    failure = err;
    result = res;
  });
  if (failure) {
    const msg = failure instanceof Error ? failure.message : String(failure);
    const line = /Line:\s*(\d+)/.exec(msg);
    throw new FormatError(msg.split('\n')[0] ?? 'invalid XML', line ? Number(line[1]) + 1 : undefined);
  }
  if (result === null || result === undefined) throw new FormatError('empty XML document', 1);
  return result;
}

/** A line-oriented file: only its first line is fixed (control characters are stripped from values upstream). */
export function checkHeader(text: string, header?: string): void {
  const nl = text.indexOf('\n');
  const first = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
  if (header !== undefined && first !== header) throw new FormatError(`first line must be exactly "${header}"`, 1);
}

export function checkFormat(format: FileFormat, text: string, header?: string): void {
  if (format === 'xml') parseXml(text);
  else if (format === 'lines') checkHeader(text, header);
  else parseKeyValue(text, header);
}
