import type { Config } from '@imgkit/config';
import type { MediaLimits } from '@imgkit/media';
import { mediaLimits } from '@imgkit/runtime';
import type { DownloadLimits } from './download.ts';

/** What the task handlers need from the configuration, and nothing more. */
export interface TaskSettings {
  media: MediaLimits;
  download: DownloadLimits;
  processImage: { backoffMs: number };
  renderJob: { backoffMs: number };
  /** Preset name → width in px (VARIANT_PRESETS). */
  variantPresets: Readonly<Record<string, number>>;
  webhooks: {
    /** Delay before attempt n+1, in ms; its length is the number of attempts. */
    retryScheduleMs: readonly number[];
    timeoutMs: number;
    disableAfterMs: number;
  };
}

/** Read once in main(); the HTML head cap bounds how much of a web page is read for og:image. */
export function taskSettings(config: Config): TaskSettings {
  return {
    media: mediaLimits(config),
    download: {
      maxBytes: config.MAX_DOWNLOAD_BYTES,
      timeoutMs: config.FETCH_TIMEOUT_MS,
      htmlHeadBytes: 512 * 1024,
    },
    processImage: { backoffMs: config.PROCESS_IMAGE_BACKOFF_MS },
    renderJob: { backoffMs: config.RENDER_JOB_BACKOFF_MS },
    variantPresets: config.VARIANT_PRESETS,
    webhooks: {
      retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      disableAfterMs: config.WEBHOOK_DISABLE_AFTER_HOURS * 3600_000,
    },
  };
}
