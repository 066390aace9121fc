import type { Config } from '@imgkit/config';
import type { MediaLimits } from '@imgkit/media';

/** The decode limits, from config; the api's signed URLs and the worker's tasks share them. */
export function mediaLimits(config: Config): MediaLimits {
  return {
    maxInputPixels: config.MAX_INPUT_PIXELS,
    maxFrames: config.MAX_ANIMATION_FRAMES,
    maxOutputSide: config.MAX_OUTPUT_SIDE,
    decodeTimeoutMs: config.DECODE_TIMEOUT_MS,
  };
}
