/** Kazoo validation errors: `{"<dotted.path>": {"<code>": {"message": …, …}}}`. */
export type ValidationErrors = Record<string, Record<string, Record<string, unknown>>>;

export function addValidationError(
  errors: ValidationErrors,
  path: string,
  code: string,
  detail: Record<string, unknown>,
): void {
  (errors[path] ??= {})[code] = detail;
}

/**
 * A request's data broke the rules. Thrown by domain code (accounts, users, devices, quickcall parsing); the
 * HTTP edge turns it into Kazoo's 400 "validation error" envelope (src/http/error-mapper.ts).
 */
export class ValidationFailed extends Error {
  constructor(readonly errors: ValidationErrors) {
    super('validation error');
    this.name = 'ValidationFailed';
  }
}
