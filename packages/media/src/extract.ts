import exifr from 'exifr';
import sharp, { type Metadata } from 'sharp';
import { canonIso } from './canon-iso.ts';
import { MediaError, RULE_PREFIX } from './errors.ts';
import { type ExifRecord, toExiftoolRecord } from './exif.ts';
import { gifClearColour } from './gif.ts';
import { type Gps, gpsFromXmp, toGps } from './gps.ts';
import { hashesOfPixels } from './hashes.ts';
import { decodeHeif, isMissingHeifCodec, sharpOfRaw } from './heif.ts';
import { iccDescription } from './icc.ts';
import { type IntakeFacts, type IntakeRules, intakeViolation } from './intake.ts';
import { jsonSafe } from './json-safe.ts';
import { type MediaLimits, timeoutSeconds } from './limits.ts';
import { applyXmpOrientation, displayOrientation } from './orientation.ts';
import { dominantColors, type PaletteEntry } from './palette.ts';
import { blurhashOf } from './placeholder.ts';
import { type ImageFormat, sniff } from './sniff.ts';
import { takenAt } from './taken-at.ts';
import { guardXmp, guardXmpText } from './xmp-guard.ts';

/** Extraction needs every limit but the output side. */
export type ExtractLimits = Omit<MediaLimits, 'maxOutputSide'>;

export interface FormatDetails {
  name: ImageFormat;
  mime: string;
  animated: boolean;
  pages: number;
  has_alpha: boolean;
  color_space: string | null;
  bit_depth: number | null;
  icc_profile: string | null;
  progressive: boolean;
  /** False when the pixels cannot be decoded here (HEVC-coded HEIC): metadata only, no hashes. */
  decodable: boolean;
  note?: string;
  /** Set when the pixels were not decoded by libvips: `libheif-wasm` for HEVC-coded HEIF. */
  decoder?: string;
}

export interface Extracted {
  mime: string;
  /** As displayed: EXIF orientation and HEIF/AVIF container transforms applied once. */
  width: number;
  height: number;
  orientation: number | null;
  format: FormatDetails;
  exif: ExifRecord | null;
  xmp: Record<string, unknown> | null;
  iptc: Record<string, unknown> | null;
  gps: Gps | null;
  /** When the picture was taken (ISO 8601), from EXIF, XMP or IPTC: see takenAt. */
  taken_at: string | null;
  phash: string | null;
  dhash: string | null;
  palette: PaletteEntry[] | null;
  placeholder: string | null;
}

const DEPTH_BITS: Record<string, number> = {
  uchar: 8,
  char: 8,
  ushort: 16,
  short: 16,
  uint: 32,
  int: 32,
  float: 32,
};

function refuseByRule(rules: IntakeRules | undefined, facts: IntakeFacts): void {
  const broken = rules && intakeViolation(rules, facts);
  if (broken) throw new MediaError('rejected_by_rule', `${RULE_PREFIX}${broken.rule}: ${broken.message}`);
}

/**
 * Everything worth knowing about an image, from one read of the bytes and one
 * decode shared by all extractors. Pure: no database, no network.
 */
export async function extractImage(
  bytes: Buffer,
  limits: ExtractLimits,
  options: { metadata: boolean; intake?: IntakeRules } = { metadata: true },
): Promise<Extracted> {
  if (bytes.length === 0) throw new MediaError('empty_file', 'the file is empty');
  const sniffed = sniff(bytes);
  if (sniffed.kind === 'unknown' || sniffed.kind === 'html') {
    throw new MediaError(
      'not_an_image',
      `the bytes are not an image${sniffed.kind === 'html' ? ' (an HTML page)' : ''}`,
    );
  }
  if (sniffed.kind === 'unsupported') {
    throw new MediaError('unsupported_format', `${sniffed.format.toUpperCase()} images are not supported`);
  }
  refuseByRule(options.intake, { format: sniffed.format, bytes: bytes.length });
  checkGifScreen(bytes, limits.maxInputPixels);

  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'none', limitInputPixels: false }).metadata();
  } catch (err) {
    throw new MediaError('decode_failed', `the ${sniffed.format} header cannot be read: ${messageOf(err)}`, {
      cause: err,
    });
  }
  const frameHeight = meta.pageHeight ?? meta.height ?? 0;
  const pages = Math.max(1, meta.pages ?? 1);
  const width = meta.width ?? 0;
  if (width <= 0 || frameHeight <= 0)
    throw new MediaError('decode_failed', 'the image declares no dimensions');
  if (width * frameHeight * pages > limits.maxInputPixels) {
    throw new MediaError(
      'image_too_large',
      `${width}×${frameHeight}${pages > 1 ? ` × ${pages} frames` : ''} exceeds the limit of ${limits.maxInputPixels} pixels`,
    );
  }
  if (pages > limits.maxFrames) {
    throw new MediaError('too_many_frames', `${pages} frames exceed the limit of ${limits.maxFrames}`);
  }

  const format: FormatDetails = {
    name: sniffed.format,
    mime: sniffed.mime,
    animated: pages > 1,
    pages,
    has_alpha: Boolean(meta.hasAlpha),
    color_space: meta.space ?? null,
    bit_depth: meta.bitsPerSample ?? (meta.depth ? (DEPTH_BITS[meta.depth] ?? null) : null),
    icc_profile: iccDescription(meta.icc),
    progressive: Boolean(meta.isProgressive),
    decodable: true,
  };
  const orientation = displayOrientation(meta);
  const swapped = orientation.fromXmp && (orientation.value ?? 1) >= 5;
  const displayed = swapped
    ? { width: frameHeight, height: width }
    : (meta.autoOrient ?? { width, height: frameHeight });
  // The account's intake rules, from the header alone: a refused image is never decoded.
  refuseByRule(options.intake, { width: displayed.width, height: displayed.height, animated: pages > 1 });
  const result: Extracted = {
    mime: sniffed.mime,
    width: displayed.width,
    height: displayed.height,
    orientation: orientation.value,
    format,
    exif: null,
    xmp: null,
    iptc: null,
    gps: null,
    taken_at: null,
    phash: null,
    dhash: null,
    palette: null,
    placeholder: null,
  };
  if (options.metadata) Object.assign(result, await readMetadata(bytes, meta));

  let viaWasm = false;
  const pixels = await decodeDisplayed(bytes, limits, sniffed.format, meta).catch(async (err: unknown) => {
    if (sniffed.format === 'heic' && isMissingHeifCodec(err)) {
      // This sharp build has no HEVC decoder: libheif in WebAssembly decodes it instead.
      viaWasm = true;
      format.decoder = 'libheif-wasm';
      return decodeHeif(bytes);
    }
    throw err;
  });
  Object.assign(result, await pixelFeatures(bytes, pixels, limits, viaWasm, meta));
  if (viaWasm) {
    // libheif's output is as displayed (container transforms applied).
    result.width = pixels.width;
    result.height = pixels.height;
  }
  return result;
}

interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** C, M, Y, K as stored (Pillow's values), not RGBA. */
  cmyk?: boolean;
}

/**
 * The first frame, oriented as displayed, 8 bits per channel, with the pixel values as stored —
 * as Pillow reads them for imagehash: no ICC transform (Pillow applies none), and 16-bit
 * greyscale clipped at 255 as Pillow's I → L conversion does. CMYK stays CMYK (the ink values
 * Pillow reads; libvips inverts Adobe's inverted CMYK as Pillow does), for Pillow's naive
 * CMYK → RGB → L in toPillowGrey.
 */
async function decodeDisplayed(
  bytes: Buffer,
  limits: ExtractLimits,
  format: ImageFormat,
  meta: Metadata,
): Promise<Decoded> {
  try {
    let pipeline = sharp(bytes, {
      failOn: 'none',
      limitInputPixels: limits.maxInputPixels,
      sequentialRead: true,
    })
      .timeout({ seconds: timeoutSeconds(limits) })
      .autoOrient();
    pipeline = applyXmpOrientation(pipeline, meta);
    // A 16-bit grey PNG whose tRNS chunk libvips turns into an alpha band is, to Pillow, plain
    // 16-bit grey (mode I): IHDR's colour type 0, not 4 (grey + alpha).
    const greyWithTrns = format === 'png' && meta.channels === 2 && bytes[25] === 0;
    if (meta.depth === 'ushort' && (meta.channels === 1 || greyWithTrns) && meta.space !== 'cmyk') {
      if (greyWithTrns) pipeline = pipeline.extractChannel(0);
      const { data, info } = await pipeline
        .toColourspace('grey16')
        .raw({ depth: 'ushort' })
        .toBuffer({ resolveWithObject: true });
      const wide = new Uint16Array(data.buffer, data.byteOffset, data.length >> 1);
      const clipped = Buffer.allocUnsafe(wide.length);
      for (let i = 0; i < wide.length; i++) clipped[i] = wide[i] > 255 ? 255 : wide[i];
      return { data: clipped, width: info.width, height: info.height, channels: 1 };
    }
    if (meta.space === 'cmyk') {
      const { data, info } = await pipeline
        .clone()
        .pipelineColourspace('cmyk')
        .toColourspace('cmyk')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels === 4)
        return { data, width: info.width, height: info.height, channels: 4, cmyk: true };
      // CMYK with alpha (five channels): through sRGB, as before (its hashes may differ from Pillow's).
      pipeline = pipeline.toColourspace('srgb');
    } else {
      pipeline = pipeline.keepIccProfile();
    }
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    // Pillow hashes a GIF's transparent pixels (and the screen outside an undersized first
    // frame) by a palette colour; libvips gives them as transparent black.
    const clear = format === 'gif' && info.channels === 4 ? gifClearColour(bytes) : undefined;
    if (clear) {
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 0) {
          data[i] = clear[0];
          data[i + 1] = clear[1];
          data[i + 2] = clear[2];
        }
      }
    }
    return { data, width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 };
  } catch (err) {
    const message = messageOf(err);
    if (/timeout/i.test(message)) {
      throw new MediaError('decode_timeout', `decoding took longer than ${timeoutSeconds(limits)} s`, {
        cause: err,
      });
    }
    if (/pixel limit/i.test(message)) throw new MediaError('image_too_large', message, { cause: err });
    throw new MediaError('decode_failed', `the ${format} data cannot be decoded: ${message}`, { cause: err });
  }
}

async function pixelFeatures(
  bytes: Buffer,
  px: Decoded,
  limits: ExtractLimits,
  fromRaw: boolean,
  meta: Metadata,
) {
  // Palette and placeholder are colours people see: from a 32 px, sRGB version of the image.
  // When the decoded pixels already are sRGB (no profile, or an sRGB one) they are reduced
  // directly, a pass over memory; otherwise from a colour-managed decode of the file, which JPEG
  // and WebP make cheaper by shrinking on load but which still costs a third of a full decode.
  const srgbAlready =
    fromRaw ||
    (px.channels === 3 &&
      !px.cmyk &&
      meta.depth === 'uchar' &&
      (!meta.icc || /^sRGB\b/i.test(iccDescription(meta.icc) ?? '')));
  const source = srgbAlready
    ? sharpOfRaw(px, limits.maxInputPixels)
    : applyXmpOrientation(
        sharp(bytes, { failOn: 'none', limitInputPixels: limits.maxInputPixels }).autoOrient(),
        meta,
      );
  const small = await source
    .timeout({ seconds: timeoutSeconds(limits) })
    .resize(32, 32, { fit: 'inside' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    ...hashesOfPixels(px),
    palette: dominantColors(small.data, small.info.channels),
    placeholder: blurhashOf(small.data, small.info.width, small.info.height, small.info.channels),
  };
}

const EXIF_OPTIONS = {
  tiff: true,
  ifd0: true,
  exif: true,
  gps: true,
  interop: true,
  ifd1: true,
  xmp: false,
  iptc: false,
  icc: false,
  jfif: false,
  makerNote: false,
  userComment: true,
  translateKeys: true,
  translateValues: false,
  reviveValues: false,
  sanitize: true,
  mergeOutput: false,
  silentErrors: true,
} as const;

type Blocks = Record<string, Record<string, unknown> | undefined>;

/**
 * EXIF, GPS, XMP and IPTC. exifr reads the file directly where it knows the
 * container; for the rest (WebP, GIF, some AVIF) the segments sharp found are used.
 * XMP is parsed separately because its `tiff:`/`exif:` namespaces would otherwise
 * collide with the real EXIF blocks.
 */
async function readMetadata(input: Buffer, meta: Metadata) {
  const { bytes, parseXmp } = guardXmp(input);
  let blocks = (await parseExif(bytes)) ?? {};
  if (!blocks.ifd0 && !blocks.exif && meta.exif && meta.exif.length > 14) {
    const tiff = meta.exif.subarray(0, 6).toString('latin1').startsWith('Exif')
      ? meta.exif.subarray(6)
      : meta.exif;
    blocks = (await parseExif(tiff)) ?? {};
  }
  const exif = toExiftoolRecord(blocks, exifTagName);
  // Older Canon cameras record ISO only in their maker notes (exiftool's Composite:ISO).
  if (exif.ISO === undefined && /^Canon/.test(String(exif.Make ?? '')) && meta.exif) {
    const hasHeader = meta.exif.subarray(0, 6).toString('latin1').startsWith('Exif');
    const iso = canonIso(hasHeader ? meta.exif.subarray(6) : meta.exif);
    if (iso !== undefined) exif.ISO = iso;
  }
  let xmp = parseXmp
    ? ((await safeParse(bytes, { tiff: false, xmp: true, mergeOutput: false, silentErrors: true })) ??
      undefined)
    : undefined;
  // For PNG exifr answers its IHDR chunk, not the XMP of the iTXt chunk: use the packet sharp found.
  if (xmp) delete xmp.ihdr;
  if (xmp && Object.keys(xmp).length === 0) xmp = undefined;
  if (!xmp && parseXmp && meta.xmp) {
    const text = guardXmpText(meta.xmp.toString('utf8'));
    if (text) xmp = parseXmpPacket(text);
  }
  let iptc = (await safeParse(bytes, { tiff: false, iptc: true, mergeOutput: false, silentErrors: true }))
    ?.iptc;
  // TIFF keeps IPTC in its IPTC-NAA tag (33723), which exifr does not read; sharp hands us
  // the raw IIM records, parsed here the way exifr parses them in a JPEG.
  const iim = meta.iptc && rawIim(meta.iptc);
  if (!iptc && iim) {
    iptc = (await safeParse(iimAsJpeg(iim), { tiff: false, iptc: true, mergeOutput: false }))?.iptc;
  }
  if (xmp) {
    delete xmp.xmlns;
    delete xmp.errors;
  }
  const xmpSafe = xmp && Object.keys(xmp).length > 0 ? (jsonSafe(xmp) as Record<string, unknown>) : null;
  const iptcSafe = iptc && Object.keys(iptc).length > 0 ? (jsonSafe(iptc) as Record<string, unknown>) : null;
  return {
    taken_at: takenAt(exif, xmpSafe, iptcSafe),
    exif: Object.keys(exif).length > 0 ? exif : null,
    // EXIF's GPS first; XMP's when EXIF has none (exiftool reports either as GPSLatitude …).
    gps: toGps(blocks.gps) ?? gpsFromXmp(xmp?.exif as Record<string, unknown> | undefined),
    xmp: xmpSafe,
    iptc: iptcSafe,
  };
}

/**
 * exifr gives up on a whole IFD when one entry has an invalid type, where
 * exiftool skips just that entry. Do the same: skip the entry exifr names and
 * parse again (a few times at most).
 */
async function parseExif(input: Buffer): Promise<Blocks | undefined> {
  const skip: Record<string, number[]> = {};
  for (let attempt = 0; attempt < 5; attempt++) {
    const options: Record<string, unknown> = { ...EXIF_OPTIONS, silentErrors: true };
    for (const [block, tags] of Object.entries(skip)) options[block] = { skip: tags };
    let out: (Blocks & { errors?: { message?: string }[] }) | undefined;
    try {
      out = (await exifr.parse(input, options)) as typeof out;
    } catch {
      return undefined;
    }
    const bad = (out?.errors ?? [])
      .map((e) => /block: (\w+), tag: (\d+)/i.exec(String(e?.message)))
      .find((m): m is RegExpExecArray => m !== null);
    if (!bad) {
      if (out) delete out.errors;
      return out && Object.keys(out).length > 0 ? out : undefined;
    }
    const block = bad[1].toLowerCase();
    skip[block] = [...(skip[block] ?? []), Number(bad[2])];
  }
  return undefined;
}

const exifTagName = (id: number): string | undefined =>
  (exifr.tagKeys.get('exif') as Map<number, string> | undefined)?.get(id) ??
  (exifr.tagKeys.get('ifd0') as Map<number, string> | undefined)?.get(id);

/**
 * The IIM records of a TIFF's IPTC-NAA tag. Some writers declare it as 32-bit integers, and a
 * little-endian file then holds each 4-byte word reversed (exiftool reads those too).
 */
function rawIim(data: Buffer): Buffer | undefined {
  if (data[0] === 0x1c) return data;
  if (data.length % 4 === 0 && data[3] === 0x1c) return Buffer.from(data).swap32();
  return undefined;
}

/**
 * Raw IPTC IIM records wrapped as a JPEG's Photoshop APP13 segment (one 8BIM 0x0404 resource),
 * the one container exifr's IPTC parser reads. Longer than one segment holds: left unread.
 */
function iimAsJpeg(iim: Buffer): Buffer {
  if (iim.length > 60_000) return Buffer.alloc(0);
  const header = Buffer.from('Photoshop 3.0\0' + '8BIM', 'latin1');
  const resource = Buffer.alloc(8);
  resource.writeUInt16BE(0x0404, 0); // IPTC-NAA record
  resource.writeUInt16BE(0, 2); // empty Pascal name, padded to even
  resource.writeUInt32BE(iim.length, 4);
  const pad = Buffer.alloc(iim.length % 2);
  const payload = Buffer.concat([header, resource, iim, pad]);
  const marker = Buffer.from([0xff, 0xed, 0, 0]);
  marker.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), marker, payload, Buffer.from([0xff, 0xd9])]);
}

async function safeParse(input: Buffer, options: object): Promise<Blocks | undefined> {
  try {
    const out = (await exifr.parse(input, options)) as Blocks | undefined;
    if (out) delete out.errors;
    return out && Object.keys(out).length > 0 ? out : undefined;
  } catch {
    return undefined; // unknown container or broken segment: no metadata, not a failed image
  }
}

function parseXmpPacket(xml: string): Blocks | undefined {
  try {
    const parser = exifr.segmentParsers.get('xmp') as unknown as { parse(s: string): Blocks };
    return parser.parse(xml);
  } catch {
    return undefined;
  }
}

/** A GIF's logical screen is allocated by decoders even when its frames are tiny. */
function checkGifScreen(bytes: Buffer, maxPixels: number): void {
  if (bytes.length < 10 || bytes.toString('latin1', 0, 3) !== 'GIF') return;
  const w = bytes.readUInt16LE(6);
  const h = bytes.readUInt16LE(8);
  if (w * h > maxPixels) {
    throw new MediaError(
      'image_too_large',
      `GIF logical screen ${w}×${h} exceeds the limit of ${maxPixels} pixels`,
    );
  }
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);
}
