import { createRequire } from 'node:module';
import sharp from 'sharp';
import { MediaError } from './errors.ts';

const require = createRequire(import.meta.url);

/**
 * HEVC-coded HEIF (iPhone photos) through libheif compiled to WebAssembly (`heic-decode`, which
 * bundles `libheif-js`), for sharp builds without an HEVC decoder — the prebuilt binaries leave it
 * out for patent reasons (docs/decisions.md). It runs where every decode runs, in the media pool's
 * threads, under their pixel budget and deadline. libheif applies the container's transforms
 * (irot, imir, clap), so the pixels come out as displayed.
 */
export async function decodeHeif(
  bytes: Buffer,
): Promise<{ data: Buffer; width: number; height: number; channels: 4 }> {
  const decode = require('heic-decode') as (i: { buffer: Uint8Array }) => Promise<{
    width: number;
    height: number;
    data: Uint8ClampedArray;
  }>;
  try {
    // A copy with its own ArrayBuffer: libheif-js reads the whole underlying buffer, and a Node
    // Buffer is often a slice of a larger pooled one.
    const { width, height, data } = await decode({ buffer: new Uint8Array(bytes) });
    return { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width, height, channels: 4 };
  } catch (err) {
    throw new MediaError(
      'decode_failed',
      `the heic data cannot be decoded: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Whether libheif-wasm should try after sharp failed on a HEIF: any decode failure (the
 * prebuilt libvips reports a missing HEVC decoder in several ways, "bad seek" among them), but
 * not a deadline or a pixel limit, which the wasm decode would only hit again.
 */
export function isMissingHeifCodec(err: unknown): boolean {
  if (err instanceof MediaError) return err.code === 'decode_failed';
  const message = err instanceof Error ? err.message : String(err);
  return !/timeout|pixel limit/i.test(message);
}

/** A sharp pipeline over decoded RGBA pixels. */
export function sharpOfRaw(
  px: { data: Buffer; width: number; height: number; channels: 1 | 2 | 3 | 4 },
  limitInputPixels: number,
) {
  return sharp(px.data, {
    raw: { width: px.width, height: px.height, channels: px.channels },
    limitInputPixels,
  });
}
