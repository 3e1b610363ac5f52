/**
 * Kazoo's opaque pagination keys: base64url(erlang:term_to_binary(Key)). For an id key that is
 * 0x83 0x6D <u32 length> <bytes>, so a 32-char id always starts "g20AAAAg". Clients treat keys as opaque;
 * a raw id is accepted too, as Kazoo does when decoding fails.
 */
export function encodeStartKey(key: string): string {
  const bytes = Buffer.from(key, 'utf8');
  const head = Buffer.from([0x83, 0x6d, 0, 0, 0, 0]);
  head.writeUInt32BE(bytes.length, 2);
  return Buffer.concat([head, bytes]).toString('base64url');
}

export function decodeStartKey(raw: string): string {
  const bytes = Buffer.from(raw, 'base64url');
  if (bytes.length >= 6 && bytes[0] === 0x83 && bytes[1] === 0x6d && bytes.readUInt32BE(2) === bytes.length - 6) {
    return bytes.subarray(6).toString('utf8');
  }
  return raw;
}
