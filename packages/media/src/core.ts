/**
 * What every process needs of this package, without sharp or zod: sniffing, the intake rules'
 * check (their schema: `@imgkit/media/intake-rules`), errors, and what a transform is asked for
 * (the transform itself: `@imgkit/media/transform`, loaded by the media pool's threads).
 * Extraction (`@imgkit/media/extract`: exifr, the hashes' WebAssembly, palette, placeholder) is
 * imported where it runs, in a media thread on its first use: ~16 MB less in each isolate that
 * does not extract. sharp would cost ~4.4 MB in the api's main thread, which never decodes, and
 * zod ~7.5 MB in each media thread (test/e2e/main-thread-footprint.test.ts).
 */
export { MediaError, type MediaErrorCode, RULE_PREFIX } from './errors.ts';
export { type IntakeFacts, type IntakeRules, intakeViolation } from './intake.ts';
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
  type Watermark,
} from './transform-spec.ts';
