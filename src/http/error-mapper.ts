import { ValidationFailed } from '../domain/validation.js';
import { BadDeviceAction, IdTaken, NotRegistered, QuickCallFailed, UnknownId } from '../devices/device-errors.js';
import { SipMessageTooLargeError } from '../sip/service.js';
import { RenderError } from '../provision/renderer.js';
import { StaleWriteError } from '../store/backend.js';
import { addValidationError, badIdentifier, KazooError, validationError, type ValidationErrors } from './errors.js';

/**
 * The one place where a domain error becomes an HTTP answer (Kazoo's status, message and data).
 * Returns undefined for an unexpected fault: the caller logs it and answers 500.
 */
export function toKazooError(err: unknown): KazooError | undefined {
  if (err instanceof KazooError) return err;
  if (err instanceof ValidationFailed) return validationError(err.errors);
  if (err instanceof UnknownId) return badIdentifier(err.id);
  if (err instanceof IdTaken) return new KazooError(409, 'datastore_conflict', { message: 'conflicting documents' });
  // Another node kept committing the document first (a create of the same id, or past the retries).
  if (err instanceof StaleWriteError) return new KazooError(409, 'datastore_conflict', { message: 'conflicting documents' });
  if (err instanceof NotRegistered) {
    return new KazooError(409, 'device_not_registered', { cause: err.id, message: 'device is not registered; nothing was sent' });
  }
  if (err instanceof QuickCallFailed) return new KazooError(err.outcome === 'timeout' ? 504 : 502, 'quickcall initiation failed', err.view);
  if (err instanceof BadDeviceAction) return new KazooError(400, err.message, {});
  if (err instanceof SipMessageTooLargeError) return messageTooLarge(err);
  // A template that does not render for this device (config preview): told with the template's line.
  if (err instanceof RenderError) return new KazooError(500, 'template_error', { message: err.message, template: err.template, layer: err.layer, line: err.line });
  return undefined;
}

/** The NOTIFY would not fit one UDP datagram: the caller's body is too big, said in Kazoo's validation form. */
function messageTooLarge(err: SipMessageTooLargeError): KazooError {
  const errors: ValidationErrors = {};
  addValidationError(errors, 'data.body', 'maxLength', {
    message: `the NOTIFY, headers and body, must fit in one UDP datagram of at most ${err.limit} bytes (SIP_MAX_DATAGRAM); with this body it is ${err.size} bytes`,
    target: err.limit,
  });
  return validationError(errors);
}
