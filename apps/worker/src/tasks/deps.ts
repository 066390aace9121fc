import type { Pool } from '@imgkit/db';
import type { SafeFetcher } from '@imgkit/fetch';
import type { MediaPool } from '@imgkit/media-pool';
import type { BlobStore } from '@imgkit/storage';

/** The process's shared resources; settings come separately, per task. */
export interface TaskDeps {
  pool: Pool;
  storage: BlobStore;
  fetcher: SafeFetcher;
  /** Where untrusted bytes are parsed and decoded: worker threads, never this event loop. */
  media: MediaPool;
  /** Durations of the expensive stages, for /metrics (fetch, extract, render). */
  observeStage?: (stage: Stage, seconds: number) => void;
}

export type Stage = 'fetch' | 'extract' | 'render';

/** Runs `fn` and reports its duration as `stage`. */
export async function timed<T>(deps: TaskDeps, stage: Stage, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    deps.observeStage?.(stage, (performance.now() - started) / 1000);
  }
}
