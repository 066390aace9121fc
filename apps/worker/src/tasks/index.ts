import type { Config } from '@imgkit/config';
import type { Pool } from '@imgkit/db';
import type { SafeFetcher } from '@imgkit/fetch';
import type { Logger } from '@imgkit/log';
import type { TaskKindDefinition } from '@imgkit/queue';
import type { BlobStore } from '@imgkit/storage';
import { deliverWebhookTask } from './deliver-webhook.ts';
import { processImageTask } from './process-image.ts';
import { renderJobTask } from './render-job.ts';

export interface TaskDeps {
  config: Readonly<Config>;
  pool: Pool;
  logger: Logger;
  storage: BlobStore;
  fetcher: SafeFetcher;
  /** Durations of the expensive stages, for /metrics (fetch, extract, render). */
  observeStage?: (stage: 'fetch' | 'extract' | 'render', seconds: number) => void;
}

/** The registry: one file per task kind in this folder. */
export function taskKinds(deps: TaskDeps): TaskKindDefinition[] {
  return [processImageTask(deps), renderJobTask(deps), deliverWebhookTask(deps)];
}
