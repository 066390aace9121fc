/**
 * The colour Pillow sees where libvips decodes a GIF's first frame as transparent black: the
 * palette colour of the frame's transparent index, or — without one — of index 0, which Pillow
 * fills the screen outside an undersized first frame with. Pillow (and so imagehash) reads a
 * GIF as palette indices and converts every index by its palette colour. One forward pass over
 * the blocks up to the first image, every read bounds-checked (untrusted bytes).
 */
export function gifClearColour(bytes: Uint8Array): [number, number, number] | undefined {
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
      if (at + 10 > bytes.length) return undefined;
      const index = transparent ?? 0;
      const packed = bytes[at + 9];
      const table = packed & 0x80 ? at + 10 : globalTable;
      const size = packed & 0x80 ? tableSize(packed) : globalTable !== undefined ? tableSize(bytes[10]) : 0;
      if (table === undefined || index * 3 + 3 > size || table + index * 3 + 3 > bytes.length) {
        return undefined;
      }
      const i = table + index * 3;
      return [bytes[i], bytes[i + 1], bytes[i + 2]];
    } else {
      return undefined; // trailer or garbage before the first image
    }
  }
  return undefined;
}
