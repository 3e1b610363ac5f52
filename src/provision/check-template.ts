import type { VendorFile, VendorProfile } from '../../vendors/types.js';
import { checkFormat } from './formats.js';
import { sampleCommonContext, sampleContext } from './sample.js';
import { compileTemplate, MAX_TEMPLATE_BYTES, TemplateError, type TemplateFn } from './templates.js';

/**
 * The one gate every template passes before it can be served, whether uploaded through the API or edited on disk
 * under templates/: it must fit the size limit, compile, and render for the sample device into a file that parses in
 * its vendor's format. Throws TemplateError or FormatError (both carry the line when known).
 */
export function checkTemplate(profile: VendorProfile, file: VendorFile, source: string): TemplateFn {
  if (Buffer.byteLength(source) > MAX_TEMPLATE_BYTES) throw new TemplateError(`template larger than ${MAX_TEMPLATE_BYTES} bytes`);
  const fn = compileTemplate(source, file.format);
  const context = file.perDevice ? sampleContext(profile) : sampleCommonContext(profile, profile.sampleModel);
  checkFormat(file.format, fn(context), file.header);
  return fn;
}
