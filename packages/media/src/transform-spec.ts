// What a transform is asked for and what it returns, without sharp: the api's main thread
// validates and routes transforms but never runs one (that happens in the media pool), and
// loading sharp there cost ~4.4 MB of RSS for nothing.
import type { MediaLimits } from './limits.ts';

export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const OPERATIONS = ['resize', 'thumbnail', 'cover', 'convert'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const GRAVITIES = [
  'centre',
  'north',
  'northeast',
  'east',
  'southeast',
  'south',
  'southwest',
  'west',
  'northwest',
  'attention',
  'entropy',
] as const;
export type Gravity = (typeof GRAVITIES)[number];

export interface Watermark {
  image?: Buffer;
  text?: string;
  position?: Exclude<Gravity, 'attention' | 'entropy'>;
  /** Pixels from the edge. */
  margin?: number;
  /** 0–1. */
  opacity?: number;
  /** Watermark width as a fraction of the output width. */
  scale?: number;
}

export interface TransformSpec {
  operation: Operation;
  width?: number;
  height?: number;
  gravity?: Gravity;
  format?: OutputFormat;
  quality?: number;
  /** Allow output larger than the input (default: never enlarge). */
  enlarge?: boolean;
  keepMetadata?: boolean;
  watermark?: Watermark;
}

export type TransformLimits = MediaLimits;

export interface Rendered {
  data: Buffer;
  format: OutputFormat;
  mime: string;
  width: number;
  height: number;
  animated: boolean;
}
