/**
 * Everything of this package but extraction (exifr, the hashes' WebAssembly, palette,
 * placeholder): rendering, sniffing, intake rules, errors. The api and a media thread that only
 * renders load this, ~16 MB less than the whole package in each isolate; extraction is imported
 * where it runs (the media pool's threads, on first use).
 */
export { MediaError, type MediaErrorCode, RULE_PREFIX } from './errors.ts';
export {
  type IntakeFacts,
  type IntakeRules,
  IntakeRulesSchema,
  intakeViolation,
  patchIntakeRules,
} from './intake.ts';
export { lightroomPreset, presetSettings } from './lightroom.ts';
export { type MediaLimits, timeoutSeconds } from './limits.ts';
export { findOgImage } from './og-image.ts';
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
