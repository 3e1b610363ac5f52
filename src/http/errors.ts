/**
 * An API error as Kazoo tells it: HTTP status, message and data. Routes throw it; domain code throws its own
 * errors, which src/http/error-mapper.ts turns into one. The error middleware (app.ts) sends it as Kazoo's
 * envelope `{"data":…,"error":"<status>","message":…,"status":"error"}`.
 */
export class KazooError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly data: unknown = {},
  ) {
    super(message);
  }
}

import type { ValidationErrors } from '../domain/validation.js';

// The validation shape is the domain's (src/domain/validation.ts); kept importable from here for the routes.
export { addValidationError, type ValidationErrors } from '../domain/validation.js';

export const validationError = (errors: ValidationErrors) => new KazooError(400, 'validation error', errors);

export const badIdentifier = (id: string) => new KazooError(404, 'bad_identifier', { cause: id, message: 'bad identifier' });

/** An account id that is not 32 hex digits (Kazoo checks it in malformed_request, before auth). */
export const malformedAccountId = (id: string) => new KazooError(404, 'bad identifier', { message: `invalid account_id '${id.slice(0, 64)}'` });

export const notFound = () => new KazooError(404, 'not_found', { message: 'not found' });

export const methodNotAllowed = () => new KazooError(405, 'invalid_method', { message: 'method not allowed' });

export const forbidden = () => new KazooError(403, 'forbidden', { message: 'forbidden' });

/** No token at all (or nothing authenticated the request). */
export const invalidCredentials = () => new KazooError(401, 'invalid_credentials', { message: 'invalid credentials' });

/** A token was sent but is unknown, forged or expired. */
export const badToken = () => new KazooError(401, 'invalid credentials', {});
