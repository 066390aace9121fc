/**
 * The palette colour of a GIF's transparent index in its first frame. libvips decodes
 * transparent pixels as transparent black; Pillow (and so imagehash) reads a GIF as palette
 * indices and converts the transparent index by its palette colour like any other. To hash as
 * Pillow does, transparent pixels take this colour. One forward pass over the blocks up to the
 * first image, every read bounds-checked (untrusted bytes).
 */
export function gifTransparentColour(bytes: Uint8Array): [number, number, number] | undefined {
  if (bytes.length < 13 || String.fromCharCode(bytes[0], bytes[1], bytes[2]) !== 'GIF') return undefined;
  const tableSize = (packed: number) => 3 * 2 ** ((packed & 7) + 1);
  let at = 13;
  let globalTable: number | undefined;
  if (bytes[10] & 0x80) {
    globalTable = at;
    at += tableSize(bytes[10]);
  }
  let transparent: number | undefined;
  while (at < bytes.length) {
    const block = bytes[at];
    if (block === 0x21) {
      // Extension: a graphic control extension before the first image names its transparent index.
      const label = bytes[at + 1];
      if (label === 0xf9 && bytes[at + 2] === 4 && at + 7 < bytes.length) {
        transparent = bytes[at + 3] & 1 ? bytes[at + 6] : undefined;
      }
      at += 2;
      while (at < bytes.length && bytes[at] !== 0) at += bytes[at] + 1; // sub-blocks
      at += 1;
    } else if (block === 0x2c) {
      if (transparent === undefined || at + 10 > bytes.length) return undefined;
      const packed = bytes[at + 9];
      const table = packed & 0x80 ? at + 10 : globalTable;
      const size = packed & 0x80 ? tableSize(packed) : globalTable !== undefined ? tableSize(bytes[10]) : 0;
      if (table === undefined || transparent * 3 + 3 > size || table + transparent * 3 + 3 > bytes.length) {
        return undefined;
      }
      const i = table + transparent * 3;
      return [bytes[i], bytes[i + 1], bytes[i + 2]];
    } else {
      return undefined; // trailer or garbage before the first image
    }
  }
  return undefined;
}
