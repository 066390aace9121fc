/**
 * XMP is XML from the uploader, and exifr turns its element and attribute names into object
 * keys: a packet with names such as `constructor:prototype` or `__proto__` could reach
 * Object.prototype of the whole process. Its regexes are also quadratic in packet size.
 * So, before exifr sees the bytes: every XMP packet larger than MAX_XMP_BYTES is left
 * unparsed, and inside the others every name that is an Object.prototype member is
 * overwritten in place with `x`s of the same length (offsets of everything else stay valid).
 * Linear: indexOf scans only.
 */
export const MAX_XMP_BYTES = 256 * 1024;

const DANGEROUS = [
  '__proto__',
  'constructor',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'toString',
  'valueOf',
].map((w) => Buffer.from(w, 'latin1'));

const OPEN = Buffer.from('<x:xmpmeta', 'latin1');
const CLOSE = Buffer.from('</x:xmpmeta>', 'latin1');

export interface Guarded {
  bytes: Buffer;
  /** False when a packet was too large to parse safely: XMP is skipped for this image. */
  parseXmp: boolean;
}

/** A copy of `input` with its XMP packets defused (the input itself is not modified). */
export function guardXmp(input: Buffer): Guarded {
  let bytes = input;
  let parseXmp = true;
  let at = input.indexOf(OPEN);
  while (at !== -1) {
    const end = input.indexOf(CLOSE, at);
    const stop = end === -1 ? input.length : end + CLOSE.length;
    if (stop - at > MAX_XMP_BYTES) parseXmp = false;
    for (const word of DANGEROUS) {
      let hit = input.indexOf(word, at);
      while (hit !== -1 && hit < stop) {
        if (bytes === input) bytes = Buffer.from(input); // copy on first write
        bytes.fill(0x78, hit, hit + word.length);
        hit = input.indexOf(word, hit + word.length);
      }
    }
    at = end === -1 ? -1 : input.indexOf(OPEN, stop);
  }
  return { bytes, parseXmp };
}

/** The same for an XMP packet already extracted as text (sharp's `xmp` buffer). */
export function guardXmpText(xml: string): string | undefined {
  if (Buffer.byteLength(xml) > MAX_XMP_BYTES) return undefined;
  let out = xml;
  for (const word of DANGEROUS) out = out.split(word.toString('latin1')).join('x'.repeat(word.length));
  return out;
}
