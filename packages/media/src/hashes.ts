/**
 * pHash and dHash exactly as Python's imagehash computes them (Pillow's
 * `convert('L')` then `resize(…, LANCZOS)`), so values interoperate with the
 * Python ecosystem. The greyscale conversion and the resampler reproduce
 * Pillow's integer arithmetic (Convert.c, Resample.c) rather than approximating it.
 */

import { readFileSync } from 'node:fs';
import { dct2d } from './pocketfft.ts';

/** Raw decoded pixels, 8 bits per channel, rows top to bottom. */
export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** Four channels of C, M, Y, K ink (as Pillow reads a CMYK JPEG or TIFF), not RGBA. */
  cmyk?: boolean;
}

/** Pillow's `convert('L')`: ITU-R 601-2 luma in 16-bit fixed point (L24). Alpha is ignored, as Pillow does. */
export function toPillowGrey(px: RawPixels): Uint8Array {
  const n = px.width * px.height;
  const out = new Uint8Array(n);
  const { data, channels } = px;
  if (channels <= 2) {
    for (let i = 0; i < n; i++) out[i] = data[i * channels];
    return out;
  }
  if (px.cmyk) {
    // Pillow has no CMYK → L converter: it goes through RGB (cmyk2rgb, no colour management:
    // each channel is (255 − K) − C·(255 − K)/255 with MULDIV255's rounding), then L24.
    const ink = (c: number, nk: number) => {
      const t = c * nk + 128;
      return nk - (((t >> 8) + t) >> 8);
    };
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      const nk = 255 - data[j + 3];
      const r = ink(data[j], nk);
      const g = ink(data[j + 1], nk);
      const b = ink(data[j + 2], nk);
      out[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
    }
    return out;
  }
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    out[i] = (data[j] * 19595 + data[j + 1] * 38470 + data[j + 2] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

const PRECISION_BITS = 32 - 8 - 2;
const LANCZOS_SUPPORT = 3;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczos(x: number): number {
  return x >= -LANCZOS_SUPPORT && x < LANCZOS_SUPPORT ? sinc(x) * sinc(x / LANCZOS_SUPPORT) : 0;
}

interface Coefficients {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output pixel
  kk: Int32Array; // fixed-point coefficients, |k| ≤ 2^22
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc. */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(1, scale);
  const support = LANCZOS_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] =
        v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const HALF = 1 << (PRECISION_BITS - 1);
const MAX8 = 1 << (PRECISION_BITS + 8);

/** Pillow's clip8: the accumulator back to a byte. */
function clip8(v: number): number {
  return v >= MAX8 ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS;
}

/**
 * One horizontal pass (Pillow's ImagingResampleHorizontal_8bpc) for several output widths at
 * once, so each input row is read from memory once for all of them. The arithmetic is Pillow's
 * own 32-bit fixed point: every partial sum is bounded by 255 × (sum of the positive
 * coefficients) < 2^31, so `| 0` after a group of four products never wraps and the result is
 * bit-identical, four multiply-adds per step.
 */
function horizontalPasses(
  src: Uint8Array,
  width: number,
  height: number,
  plans: { outW: number; c: Coefficients; out: Uint8Array }[],
): void {
  for (let y = 0, row = 0; y < height; y++, row += width) {
    for (const { outW, c, out } of plans) {
      const { bounds, kk, ksize } = c;
      let o = y * outW;
      for (let xx = 0; xx < outW; xx++) {
        const start = row + bounds[xx * 2];
        const count = bounds[xx * 2 + 1];
        let k = xx * ksize;
        let i = start;
        const end4 = start + (count & ~3);
        const end = start + count;
        let ss = HALF;
        for (; i < end4; i += 4, k += 4) {
          ss =
            (ss + src[i] * kk[k] + src[i + 1] * kk[k + 1] + src[i + 2] * kk[k + 2] + src[i + 3] * kk[k + 3]) |
            0;
        }
        for (; i < end; i++, k++) ss = (ss + src[i] * kk[k]) | 0;
        out[o++] = clip8(ss);
      }
    }
  }
}

/** Pillow's vertical pass (ImagingResampleVertical_8bpc). */
function verticalPass(src: Uint8Array, w: number, height: number, outH: number): Uint8Array {
  const c = coefficients(height, outH);
  const out = new Uint8Array(w * outH);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = c.bounds[yy * 2];
    const count = c.bounds[yy * 2 + 1];
    const base = yy * c.ksize;
    for (let x = 0; x < w; x++) {
      let ss = HALF;
      for (let y = 0; y < count; y++) ss = (ss + src[(ymin + y) * w + x] * c.kk[base + y]) | 0;
      out[yy * w + x] = clip8(ss);
    }
  }
  return out;
}

/**
 * Pillow's `resize((w, h), LANCZOS)` on a single-band 8-bit image — horizontal pass, then
 * vertical — for several sizes from one sweep over the input (pHash's 32×32 and dHash's 9×8).
 */
export function pillowLanczosResizeMany(
  grey: Uint8Array,
  width: number,
  height: number,
  sizes: [number, number][],
): Uint8Array[] {
  const plans = sizes
    .filter(([outW]) => outW !== width)
    .map(([outW]) => ({ outW, c: coefficients(width, outW), out: new Uint8Array(outW * height) }));
  horizontalPasses(grey, width, height, plans);
  return sizes.map(([outW, outH]) => {
    const h = plans.find((p) => p.outW === outW);
    const src = h ? h.out : grey;
    return outH !== height ? verticalPass(src, outW, height, outH) : src;
  });
}

/** Pillow's `resize((w, h), LANCZOS)` on a single-band 8-bit image: horizontal pass, then vertical. */
export function pillowLanczosResize(
  grey: Uint8Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
): Uint8Array {
  return pillowLanczosResizeMany(grey, width, height, [[outW, outH]])[0];
}

function bitsToHex(bits: boolean[]): string {
  let value = 0n;
  for (const b of bits) value = (value << 1n) | (b ? 1n : 0n);
  return value.toString(16).padStart(Math.ceil(bits.length / 4), '0');
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

// The WebAssembly global's types live in lib.dom, which this Node project does not load.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
};

/** The WebAssembly kernel (lanczos.wat): one instance per thread, made on first use. */
interface Kernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  greyRow(src: number, dst: number, n: number, channels: number): void;
  horizontalRow(
    row: number,
    outW: number,
    bounds: number,
    hi: number,
    lo: number,
    stride: number,
    out: number,
  ): void;
}
let kernel: Kernel | undefined;
/** Compiled on first use, not at import: media threads start as fast as before it existed. */
function loadKernel(): Kernel {
  const module = new WebAssembly.Module(readFileSync(new URL('./lanczos.wasm', import.meta.url)));
  return new WebAssembly.Instance(module).exports as unknown as Kernel;
}

/** Above this the intermediate rows would not be worth a WebAssembly memory that never shrinks. */
const KERNEL_MAX_BYTES = 256 * 1024 * 1024;

/**
 * pHash and dHash of decoded pixels, exactly as `phashAndDhash(toPillowGrey(px), …)` computes
 * them, with the two costly steps — the grey conversion and the horizontal Lanczos passes over
 * every input pixel — in WebAssembly SIMD, one row at a time (the grey image is never whole in
 * memory). The vertical passes and the DCT work on 41 columns and stay here.
 */
export function hashesOfPixels(px: RawPixels): { phash: string; dhash: string } {
  const { width, height, channels } = px;
  const sizes: [number, number][] = [
    [32, 32],
    [9, 8],
  ];
  const plans = sizes.map(([outW, outH]) => {
    const c = coefficients(width, outW);
    return { outW, outH, c, stride: (c.ksize + 7) & ~7 };
  });
  let size = 0;
  const take = (n: number) => {
    const at = size;
    size += (n + 15) & ~15;
    return at;
  };
  const rowIn = take(width * channels);
  const rowGrey = take(width + 16);
  const placed = plans.map((p) => ({
    ...p,
    bounds: take(p.outW * 8),
    hi: take(p.outW * p.stride * 2),
    lo: take(p.outW * p.stride * 2),
    out: take(p.outW * height),
  }));
  // Pillow skips a pass whose size does not change; CMYK goes through Pillow's RGB first.
  if (px.cmyk || sizes.some(([outW]) => outW === width) || size > KERNEL_MAX_BYTES) {
    return phashAndDhash(toPillowGrey(px), width, height);
  }
  kernel ??= loadKernel();
  const k = kernel;
  const have = k.memory.buffer.byteLength;
  if (size > have) k.memory.grow(Math.ceil((size - have) / 65536));
  const mem = new Uint8Array(k.memory.buffer);
  for (const p of placed) {
    const bounds = new Int32Array(k.memory.buffer, p.bounds, p.outW * 2);
    const hi = new Int16Array(k.memory.buffer, p.hi, p.outW * p.stride);
    const lo = new Int16Array(k.memory.buffer, p.lo, p.outW * p.stride);
    hi.fill(0);
    lo.fill(0);
    for (let x = 0; x < p.outW; x++) {
      const count = p.c.bounds[x * 2 + 1];
      bounds[x * 2] = p.c.bounds[x * 2];
      bounds[x * 2 + 1] = count;
      for (let j = 0; j < count; j++) {
        const kk = p.c.kk[x * p.c.ksize + j];
        hi[x * p.stride + j] = kk >> 11;
        lo[x * p.stride + j] = kk & 2047;
      }
    }
  }
  const rowBytes = width * channels;
  for (let y = 0; y < height; y++) {
    const row = px.data.subarray(y * rowBytes, (y + 1) * rowBytes);
    if (channels === 1) mem.set(row, rowGrey);
    else {
      mem.set(row, rowIn);
      k.greyRow(rowIn, rowGrey, width, channels);
    }
    for (const p of placed)
      k.horizontalRow(rowGrey, p.outW, p.bounds, p.hi, p.lo, p.stride, p.out + y * p.outW);
  }
  const [p32, d9] = placed.map((p) => {
    const h = mem.subarray(p.out, p.out + p.outW * height);
    return p.outH !== height ? verticalPass(h, p.outW, height, p.outH) : Uint8Array.from(h);
  });
  return { phash: phashOfSmall(p32), dhash: dhashOfSmall(d9) };
}

/** imagehash.phash(image, hash_size=8, highfreq_factor=4) as 16 hex chars. */
export function phash(grey: Uint8Array, width: number, height: number): string {
  return phashOfSmall(pillowLanczosResize(grey, width, height, 32, 32));
}

/** Both hashes from one sweep over the grey image (the horizontal passes share it). */
export function phashAndDhash(
  grey: Uint8Array,
  width: number,
  height: number,
): { phash: string; dhash: string } {
  const [p, d] = pillowLanczosResizeMany(grey, width, height, [
    [32, 32],
    [9, 8],
  ]);
  return { phash: phashOfSmall(p), dhash: dhashOfSmall(d) };
}

function phashOfSmall(small: Uint8Array): string {
  const size = 32;
  // scipy's own DCT to the last bit: in an image of a few grey levels, terms tie with the median.
  const dct = dct2d(small, size);
  const low: number[] = [];
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) low.push(dct[y * size + x]);
  const med = median(low);
  return bitsToHex(low.map((v) => v > med));
}

/** imagehash.dhash(image, hash_size=8) as 16 hex chars. */
export function dhash(grey: Uint8Array, width: number, height: number): string {
  return dhashOfSmall(pillowLanczosResize(grey, width, height, 9, 8));
}

function dhashOfSmall(small: Uint8Array): string {
  const bits: boolean[] = [];
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) bits.push(small[y * 9 + x + 1] > small[y * 9 + x]);
  return bitsToHex(bits);
}

/** Hamming distance between two 16-hex-char hashes. */
export function hammingDistance(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let n = 0;
  while (x) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}
