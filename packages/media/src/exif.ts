/**
 * EXIF as exiftool shows it. exifr reads the raw values; this module renames
 * and formats them the way `exiftool -j` prints them (its PrintConv), for the
 * tags photographers look at. Everything else keeps its raw value, as
 * `exiftool -j -n` would print it. Dates stay the strings the camera wrote:
 * nothing here touches a time zone.
 */

type Raw = Record<string, unknown>;
export type ExifRecord = Record<string, string | number>;

const ORIENTATION: Record<number, string> = {
  1: 'Horizontal (normal)',
  2: 'Mirror horizontal',
  3: 'Rotate 180',
  4: 'Mirror vertical',
  5: 'Mirror horizontal and rotate 270 CW',
  6: 'Rotate 90 CW',
  7: 'Mirror horizontal and rotate 90 CW',
  8: 'Rotate 270 CW',
};

const FLASH: Record<number, string> = {
  0: 'No Flash',
  1: 'Fired',
  5: 'Fired, Return not detected',
  7: 'Fired, Return detected',
  8: 'On, Did not fire',
  9: 'On, Fired',
  13: 'On, Return not detected',
  15: 'On, Return detected',
  16: 'Off, Did not fire',
  20: 'Off, Did not fire, Return not detected',
  24: 'Auto, Did not fire',
  25: 'Auto, Fired',
  29: 'Auto, Fired, Return not detected',
  31: 'Auto, Fired, Return detected',
  32: 'No flash function',
  48: 'Off, No flash function',
  65: 'Fired, Red-eye reduction',
  69: 'Fired, Red-eye reduction, Return not detected',
  71: 'Fired, Red-eye reduction, Return detected',
  73: 'On, Red-eye reduction',
  77: 'On, Red-eye reduction, Return not detected',
  79: 'On, Red-eye reduction, Return detected',
  80: 'Off, Red-eye reduction',
  88: 'Auto, Did not fire, Red-eye reduction',
  89: 'Auto, Fired, Red-eye reduction',
  93: 'Auto, Fired, Red-eye reduction, Return not detected',
  95: 'Auto, Fired, Red-eye reduction, Return detected',
};

const TABLES: Record<string, Record<number, string>> = {
  Orientation: ORIENTATION,
  Flash: FLASH,
  ExposureProgram: {
    0: 'Not Defined',
    1: 'Manual',
    2: 'Program AE',
    3: 'Aperture-priority AE',
    4: 'Shutter speed priority AE',
    5: 'Creative (Slow speed)',
    6: 'Action (High speed)',
    7: 'Portrait',
    8: 'Landscape',
    9: 'Bulb',
  },
  MeteringMode: {
    0: 'Unknown',
    1: 'Average',
    2: 'Center-weighted average',
    3: 'Spot',
    4: 'Multi-spot',
    5: 'Multi-segment',
    6: 'Partial',
    255: 'Other',
  },
  WhiteBalance: { 0: 'Auto', 1: 'Manual' },
  ExposureMode: { 0: 'Auto', 1: 'Manual', 2: 'Auto bracket' },
  SceneCaptureType: { 0: 'Standard', 1: 'Landscape', 2: 'Portrait', 3: 'Night', 4: 'Other' },
  CustomRendered: { 0: 'Normal', 1: 'Custom', 2: 'HDR (no original saved)', 3: 'HDR (original saved)' },
  ColorSpace: { 1: 'sRGB', 2: 'Adobe RGB', 65535: 'Uncalibrated', 65534: 'ICC Profile' },
  ResolutionUnit: { 1: 'None', 2: 'inches', 3: 'cm' },
  FocalPlaneResolutionUnit: { 1: 'None', 2: 'inches', 3: 'cm', 4: 'mm', 5: 'um' },
  YCbCrPositioning: { 1: 'Centered', 2: 'Co-sited' },
  Contrast: { 0: 'Normal', 1: 'Low', 2: 'High' },
  Saturation: { 0: 'Normal', 1: 'Low', 2: 'High' },
  Sharpness: { 0: 'Normal', 1: 'Soft', 2: 'Hard' },
  GainControl: { 0: 'None', 1: 'Low gain up', 2: 'High gain up', 3: 'Low gain down', 4: 'High gain down' },
  SensingMethod: {
    1: 'Monochrome area',
    2: 'One-chip color area',
    3: 'Two-chip color area',
    4: 'Three-chip color area',
    5: 'Color sequential area',
    6: 'Monochrome linear',
    7: 'Trilinear',
    8: 'Color sequential linear',
  },
  SubjectDistanceRange: { 0: 'Unknown', 1: 'Macro', 2: 'Close', 3: 'Distant' },
  LightSource: {
    0: 'Unknown',
    1: 'Daylight',
    2: 'Fluorescent',
    3: 'Tungsten (Incandescent)',
    4: 'Flash',
    9: 'Fine Weather',
    10: 'Cloudy',
    11: 'Shade',
    12: 'Daylight Fluorescent',
    13: 'Day White Fluorescent',
    14: 'Cool White Fluorescent',
    15: 'White Fluorescent',
    17: 'Standard Light A',
    18: 'Standard Light B',
    19: 'Standard Light C',
    20: 'D55',
    21: 'D65',
    22: 'D75',
    23: 'D50',
    24: 'ISO Studio Tungsten',
    255: 'Other',
  },
};

/** exifr names a few tags differently from exiftool. */
export const RENAME: Record<string, string> = {
  ExposureBiasValue: 'ExposureCompensation',
  ISOSpeedRatings: 'ISO',
  DateTimeDigitized: 'CreateDate',
  DateTime: 'ModifyDate',
  PixelXDimension: 'ExifImageWidth',
  PixelYDimension: 'ExifImageHeight',
  LensSpecification: 'LensInfo',
  ImageLength: 'ImageHeight',
  CameraOwnerName: 'OwnerName',
  BodySerialNumber: 'SerialNumber',
  Byline: 'By-line',
};

const VERSION_TAGS = new Set(['ExifVersion', 'FlashpixVersion', 'InteropVersion']);
const DROP = new Set(['MakerNote', 'ThumbnailOffset', 'ThumbnailLength', 'StripOffsets', 'StripByteCounts']);

/** exifr leaves tags it finds in an unexpected IFD (e.g. EXIF tags in IFD0) as numeric keys. */
export type TagNames = (id: number) => string | undefined;

/** exiftool -j prints a value as a JSON number when it looks like one. */
function jsonValue(s: string): string | number {
  return /^-?(\d|[1-9]\d{1,14})(\.\d{1,16})?(e[-+]?\d{1,3})?$/i.test(s) ? Number(s) : s;
}

export function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return v[0];
  return undefined;
}

/** Perl's default number formatting (15 significant digits), as exiftool prints unconverted floats. */
function perlNumber(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'undef' : n > 0 ? 'inf' : '-inf';
  return String(Number(n.toPrecision(15)));
}

/**
 * C's printf("%.Nf"): the exact binary value rounded, ties to even. JS's
 * toFixed rounds ties up (4.25 → "4.3" where exiftool prints "4.2").
 */
export function printfFixed(n: number, digits: number): string {
  if (!Number.isFinite(n)) return String(n);
  const exact = Math.abs(n).toFixed(Math.min(100, digits + 60)); // exact decimal expansion of the double
  const point = exact.indexOf('.');
  const kept = exact.slice(0, point + 1 + digits).replace(/\.$/, '');
  const rest = exact.slice(point + 1 + digits);
  const tie = /^50*$/.test(rest);
  const above = rest > '5' && !tie;
  const lastDigit = Number(kept.replace('.', '').slice(-1));
  const roundUp = above || (tie && lastDigit % 2 === 1);
  let result = kept;
  if (roundUp) {
    const unit = digits > 0 ? 10 ** -digits : 1;
    result = (Number(kept) + unit).toFixed(digits);
  }
  return (n < 0 && Number(result) !== 0 ? '-' : '') + result;
}

export function printExposureTime(secs: number): string {
  if (secs < 0.25001 && secs > 0) return `1/${Math.trunc(0.5 + 1 / secs)}`;
  return printfFixed(secs, 1).replace(/\.0$/, '');
}

export function printFraction(value: number): string {
  const val = value * 1.00001;
  const sign = (n: number) => (n >= 0 ? `+${n}` : `${n}`);
  if (!val) return '0';
  if (Math.trunc(val) / val > 0.999) return sign(Math.trunc(val));
  if (Math.trunc(val * 2) / (val * 2) > 0.999) return `${sign(Math.trunc(val * 2))}/2`;
  if (Math.trunc(val * 3) / (val * 3) > 0.999) return `${sign(Math.trunc(val * 3))}/3`;
  const g = Number(val.toPrecision(3));
  return g >= 0 ? `+${g}` : String(g);
}

function printLensInfo(values: number[]): string {
  const v = values.map((n) => (Number.isFinite(n) ? perlNumber(n) : '?'));
  let out = v[0];
  if (values[1] && v[1] !== v[0]) out += `-${v[1]}`;
  out += `mm f/${v[2]}`;
  if (values[3] && v[3] !== v[2]) out += `-${v[3]}`;
  return out;
}

function formatTag(name: string, value: unknown): string | number | undefined {
  const n = asNumber(value);
  const table = TABLES[name];
  if (table && n !== undefined)
    return table[n] ?? (name === 'Flash' ? `Unknown (0x${n.toString(16)})` : `Unknown (${n})`);
  switch (name) {
    case 'ExposureTime':
      return n !== undefined ? jsonValue(printExposureTime(n)) : undefined;
    case 'ShutterSpeedValue':
      return n !== undefined ? jsonValue(printExposureTime(2 ** -n)) : undefined;
    case 'FNumber':
      return n !== undefined ? Number(printfFixed(n, n < 1 ? 2 : 1)) : undefined;
    case 'ApertureValue':
    case 'MaxApertureValue':
      return n !== undefined ? Number(printfFixed(2 ** (n / 2), 1)) : undefined;
    case 'FocalLength':
      return n !== undefined ? `${printfFixed(n, 1)} mm` : undefined;
    case 'FocalLengthIn35mmFormat':
      return n !== undefined ? `${Math.trunc(n)} mm` : undefined;
    case 'ExposureCompensation':
      return n !== undefined ? jsonValue(printFraction(n)) : undefined;
    case 'LensInfo':
      return Array.isArray(value) && value.length === 4 ? printLensInfo(value as number[]) : undefined;
  }
  return undefined;
}

function describeBinary(name: string, bytes: Uint8Array): string {
  if (VERSION_TAGS.has(name) && bytes.length === 4) return Buffer.from(bytes).toString('latin1');
  if (name === 'ComponentsConfiguration') {
    const names = ['-', 'Y', 'Cb', 'Cr', 'R', 'G', 'B'];
    return Array.from(bytes, (b) => names[b] ?? String(b)).join(', ');
  }
  if (name === 'UserComment') return decodeUserComment(bytes);
  if (name === 'FileSource' && bytes.length === 1) {
    return (
      { 1: 'Film Scanner', 2: 'Reflection Print Scanner', 3: 'Digital Camera' }[bytes[0]] ??
      `Unknown (${bytes[0]})`
    );
  }
  if (name === 'SceneType' && bytes.length === 1)
    return bytes[0] === 1 ? 'Directly photographed' : `Unknown (${bytes[0]})`;
  return `(Binary data ${bytes.length} bytes, use -b option to extract)`;
}

function decodeUserComment(bytes: Uint8Array): string {
  const header = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  const body = Buffer.from(bytes.subarray(8));
  const text = header.startsWith('UNICODE') ? body.toString('utf16le') : body.toString('utf8');
  return text.replace(/[\0\s]+$/, '').trim();
}

function formatValue(name: string, value: unknown): string | number | undefined {
  if (value === undefined || value === null) return undefined;
  const printed = formatTag(name, value);
  if (printed !== undefined) return printed;
  if (value instanceof Uint8Array) return describeBinary(name, value);
  // exiftool stops a string at its first NUL.
  if (typeof value === 'string') return value.split('\0')[0].trim();
  if (typeof value === 'number')
    return Number.isFinite(value) ? Number(value.toPrecision(15)) : perlNumber(value);
  if (Array.isArray(value))
    return value.map((v) => (typeof v === 'number' ? perlNumber(v) : String(v))).join(' ');
  if (typeof value === 'object') return undefined; // exifr's nested structures are not EXIF tags
  return String(value);
}

/**
 * IFD0 + ExifIFD + Interop (+ IFD1 for names the others lack, as exiftool
 * does) as one flat record with exiftool names; GPS is reported separately.
 */
export function toExiftoolRecord(
  blocks: { ifd0?: Raw; exif?: Raw; interop?: Raw; ifd1?: Raw },
  tagName: TagNames = () => undefined,
): ExifRecord {
  const out: ExifRecord = {};
  for (const block of [blocks.ifd0, blocks.exif, blocks.interop, blocks.ifd1]) {
    if (!block) continue;
    for (const [key, value] of Object.entries(block)) {
      const rawName = /^\d+$/.test(key) ? tagName(Number(key)) : key;
      if (!rawName) continue;
      const name = RENAME[rawName] ?? rawName;
      if (DROP.has(name) || name in out) continue;
      const v = formatValue(name, value);
      if (v !== undefined) out[name] = v;
    }
  }
  return out;
}
