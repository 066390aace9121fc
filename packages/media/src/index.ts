export { canonIso } from './canon-iso.ts';
export { MediaError, type MediaErrorCode, RULE_PREFIX } from './errors.ts';
export { type ExifRecord, printExposureTime, printFraction, toExiftoolRecord } from './exif.ts';
export { type Extracted, type ExtractLimits, extractImage, type FormatDetails } from './extract.ts';
export { type Gps, toGps } from './gps.ts';
export {
  dhash,
  hammingDistance,
  hashesOfPixels,
  phash,
  phashAndDhash,
  pillowLanczosResize,
  pillowLanczosResizeMany,
  toPillowGrey,
} from './hashes.ts';
export { iccDescription } from './icc.ts';
export { type IntakeFacts, type IntakeRules, intakeViolation } from './intake.ts';
export { IntakeRulesSchema, patchIntakeRules } from './intake-rules.ts';
export { jsonSafe } from './json-safe.ts';
export { lightroomPreset, presetSettings } from './lightroom.ts';
export { type MediaLimits, timeoutSeconds } from './limits.ts';
export { findOgImage } from './og-image.ts';
export { dominantColors, type PaletteEntry } from './palette.ts';
export { blurhashOf } from './placeholder.ts';
export { type ImageFormat, MIME, type SniffedFormat, sniff } from './sniff.ts';
export {
  GRAVITIES,
  type Gravity,
  OPERATIONS,
  type Operation,
  OUTPUT_FORMATS,
  type OutputFormat,
  type Rendered,
  type TransformLimits,
  type TransformSpec,
  transformImage,
  type Watermark,
} from './transform.ts';
