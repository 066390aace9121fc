import type { Pool } from '@imgkit/db';
import type { SafeFetcher } from '@imgkit/fetch';
import type { TaskKindDefinition } from '@imgkit/queue';
import type { BlobStore } from '@imgkit/storage';
import type { TaskSettings } from '../settings.ts';
import { deliverWebhookTask } from './deliver-webhook.ts';
import { processImageTask } from './process-image.ts';
import { renderJobTask } from './render-job.ts';

/** The process's shared resources; settings come separately, per task. */
export interface TaskDeps {
  pool: Pool;
  storage: BlobStore;
  fetcher: SafeFetcher;
  /** Durations of the expensive stages, for /metrics (fetch, extract, render). */
  observeStage?: (stage: Stage, seconds: number) => void;
}

export type Stage = 'fetch' | 'extract' | 'render';

/** The registry: one file per task kind in this folder. */
export function taskKinds(deps: TaskDeps, settings: TaskSettings): TaskKindDefinition[] {
  return [
    processImageTask(deps, settings),
    renderJobTask(deps, settings),
    deliverWebhookTask(deps, settings),
  ];
}

/** Runs `fn` and reports its duration as `stage`. */
export async function timed<T>(deps: TaskDeps, stage: Stage, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    deps.observeStage?.(stage, (performance.now() - started) / 1000);
  }
}
