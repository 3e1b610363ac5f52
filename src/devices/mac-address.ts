/**
 * MAC addresses arrive as 00:04:F2:AB:7E:FD, 00-04-f2-ab-7e-fd, 0004.f2ab.7efd or bare; phones fetch by the
 * bare lowercase form, so that is the only form stored. Anything that is not 12 hex digits is refused.
 */
export function cleanseMac(raw: string): string | undefined {
  const bare = raw.trim().replace(/[:.\-\s]/g, '');
  return /^[0-9a-fA-F]{12}$/.test(bare) ? bare.toLowerCase() : undefined;
}
