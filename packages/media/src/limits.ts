/** The limits every decode runs under; one object for extraction and transforms alike. */
export interface MediaLimits {
  /** Decompression-bomb guard, checked from the header before any decode; all frames count. */
  maxInputPixels: number;
  maxFrames: number;
  /** Largest width or height a transform may produce. */
  maxOutputSide: number;
  /** libvips' own timeout for one decode/encode pipeline. */
  decodeTimeoutMs: number;
}

/** sharp's timeout is in whole seconds. */
export function timeoutSeconds(limits: Pick<MediaLimits, 'decodeTimeoutMs'>): number {
  return Math.max(1, Math.ceil(limits.decodeTimeoutMs / 1000));
}
