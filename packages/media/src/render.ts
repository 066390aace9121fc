/**
 * What rendering needs and nothing of extraction (exifr, the hashes' WebAssembly, palette,
 * placeholder): a media thread that only renders and inspects loads this, ~13 MB less per
 * thread than the whole package (the api's threads; extraction is imported on first use).
 */
export { MediaError, type MediaErrorCode } from './errors.ts';
export type { MediaLimits } from './limits.ts';
export { findOgImage } from './og-image.ts';
export { sniff } from './sniff.ts';
export { type Rendered, type TransformSpec, transformImage } from './transform.ts';
