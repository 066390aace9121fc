import { leadingMarkup } from './markup.ts';

/** What the first bytes say a file is. Content-Type and file names are never consulted. */
export type SniffedFormat =
  | { kind: 'image'; format: ImageFormat; mime: string }
  | { kind: 'unsupported'; format: string; mime: string }
  | { kind: 'html' }
  | { kind: 'unknown' };

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'avif' | 'heic' | 'tiff';

export const MIME: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  tiff: 'image/tiff',
};

const HTML_ELEMENTS = new Set(['html', 'head', 'meta', 'title', 'body']);
const TIFF_MAGIC = new Set(['II*\0', 'II+\0', 'MM\0*', 'MM\0+']);

const ascii = (b: Uint8Array, start: number, end: number) =>
  Buffer.from(b.subarray(start, end)).toString('latin1');
const startsWith = (b: Uint8Array, bytes: number[], at = 0) => bytes.every((v, i) => b[at + i] === v);

export function sniff(bytes: Uint8Array): SniffedFormat {
  const image = (format: ImageFormat): SniffedFormat => ({ kind: 'image', format, mime: MIME[format] });
  const unsupported = (format: string, mime: string): SniffedFormat => ({
    kind: 'unsupported',
    format,
    mime,
  });
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return image('jpeg');
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return image('png');
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return image('gif');
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return image('webp');
  // Classic TIFF and BigTIFF (II+ / MM\0+), both read by libtiff.
  if (TIFF_MAGIC.has(ascii(bytes, 0, 4))) return image('tiff');
  if (ascii(bytes, 4, 8) === 'ftyp') {
    const brands = isoBrands(bytes);
    if (brands[0] === 'avis') return unsupported('avifs', 'image/avif-sequence');
    if (brands.includes('avif') || brands.includes('avis')) return image('avif');
    if (brands.some((b) => ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(b))) {
      return image('heic');
    }
    return unsupported(brands[0] ?? 'iso-bmff', 'video/mp4');
  }
  if (ascii(bytes, 0, 2) === 'BM') return unsupported('bmp', 'image/bmp');
  if (startsWith(bytes, [0, 0, 1, 0])) return unsupported('ico', 'image/x-icon');
  if (ascii(bytes, 0, 4) === '8BPS') return unsupported('psd', 'image/vnd.adobe.photoshop');
  if (ascii(bytes, 0, 4) === 'qoif') return unsupported('qoi', 'image/qoi');
  if (startsWith(bytes, [0xff, 0x0a]) || ascii(bytes, 4, 8) === 'JXL ')
    return unsupported('jxl', 'image/jxl');
  if (ascii(bytes, 4, 8) === 'jP  ' || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51]))
    return unsupported('jp2', 'image/jp2');
  const lead = leadingMarkup(textHead(bytes));
  if (lead.element === 'svg' && (lead.doctype === undefined || lead.doctype === 'svg')) {
    return unsupported('svg', 'image/svg+xml');
  }
  if (lead.doctype === 'html' || HTML_ELEMENTS.has(lead.element ?? '')) {
    return { kind: 'html' };
  }
  return { kind: 'unknown' };
}

/** ISO-BMFF major and compatible brands from the ftyp box. */
function isoBrands(bytes: Uint8Array): string[] {
  const size = Buffer.from(bytes.subarray(0, 4)).readUInt32BE(0);
  const end = Math.min(size || 0, bytes.length, 256);
  const brands = [ascii(bytes, 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(bytes, i, i + 4));
  return brands;
}

/** The start of a text document, without BOM and leading whitespace. */
function textHead(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 1024))
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
}
