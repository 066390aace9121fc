import type { Config } from '@imgkit/config';
import type { MediaLimits } from '@imgkit/media';
import { MediaPool } from '@imgkit/media-pool';

/** The decode limits, from config; the api's signed URLs and the worker's tasks share them. */
export function mediaLimits(config: Config): MediaLimits {
  return {
    maxInputPixels: config.MAX_INPUT_PIXELS,
    maxFrames: config.MAX_ANIMATION_FRAMES,
    maxOutputSide: config.MAX_OUTPUT_SIDE,
    decodeTimeoutMs: config.DECODE_TIMEOUT_MS,
  };
}

/** The media pool of a process (api or worker), from config. */
export function createMediaPool(config: Config, o: { callsPerThread?: number } = {}): MediaPool {
  return new MediaPool({
    callsPerThread: o.callsPerThread,
    limits: mediaLimits(config),
    threads: config.MEDIA_THREADS,
    heapMb: config.MEDIA_THREAD_HEAP_MB,
    pixelBudget: config.MEDIA_PIXEL_BUDGET,
    callTimeoutMs: config.MEDIA_CALL_TIMEOUT_MS,
    libvipsCacheMb: config.LIBVIPS_CACHE_MB,
    readWholeMb: config.MEDIA_READ_WHOLE_MB,
  });
}
