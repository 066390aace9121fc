import { encode } from 'blurhash';

/**
 * BlurHash (https://blurha.sh) of a small raw image, by the reference `blurhash`
 * package (4×3 components). It wants RGBA; our thumbnails have 1–4 channels.
 */
export function blurhashOf(pixels: Uint8Array, width: number, height: number, channels: number): string {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, o = 0; o < rgba.length; i += channels, o += 4) {
    const grey = channels < 3;
    rgba[o] = pixels[i];
    rgba[o + 1] = grey ? pixels[i] : pixels[i + 1];
    rgba[o + 2] = grey ? pixels[i] : pixels[i + 2];
    rgba[o + 3] = channels === 2 ? pixels[i + 1] : channels === 4 ? pixels[i + 3] : 255;
  }
  return encode(rgba, width, height, 4, 3);
}
