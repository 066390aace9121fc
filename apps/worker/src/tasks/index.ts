import type { TaskKindDefinition } from '@imgkit/queue';
import type { TaskSettings } from '../settings.ts';
import { deliverWebhookTask } from './deliver-webhook.ts';
import type { TaskDeps } from './deps.ts';
import { processImageTask } from './process-image.ts';
import { renderJobTask } from './render-job.ts';

/** The registry: one file per task kind in this folder. */
export function taskKinds(deps: TaskDeps, settings: TaskSettings): TaskKindDefinition[] {
  return [
    processImageTask(deps, settings),
    renderJobTask(deps, settings),
    deliverWebhookTask(deps, settings),
  ];
}

export type { Stage, TaskDeps } from './deps.ts';
