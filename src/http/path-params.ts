import type { Request } from 'express';
import { badIdentifier, KazooError, malformedAccountId, validationError } from './errors.js';

/**
 * Express's router decodes every route parameter with decodeURIComponent while it matches a route, and a
 * segment that is not valid percent-encoding (`%ff`) makes it throw a URIError (status 400) before any
 * handler runs. This is that error.
 */
export function isParamDecodeError(err: unknown): boolean {
  return err instanceof URIError && (err as { status?: unknown }).status === 400;
}

const decodes = (segment: string): boolean => {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
};

/** Kazoo's answer for each kind of parameter, named by the path segment before it. */
const answerAfter: Record<string, (raw: string) => KazooError> = {
  accounts: malformedAccountId,
  quickcall: (raw) => validationError({ number: { invalid: { message: 'number is not valid percent-encoding', value: raw } } }),
};

/**
 * The answer for a request whose path has a parameter that cannot be decoded: such a segment can name no
 * stored document, so it is Kazoo's 404 for a malformed or unknown id (a 400 for the quickcall number).
 * The router matched the path in order, so the first undecodable segment is the one it failed on.
 */
export function undecodableParamError(req: Request): KazooError {
  const segments = req.originalUrl.split('?', 1)[0]!.split('/');
  const index = segments.findIndex((segment) => !decodes(segment));
  const raw = (segments[index] ?? '').slice(0, 128);
  const answer = answerAfter[segments[index - 1] ?? ''] ?? badIdentifier;
  return answer(raw);
}
