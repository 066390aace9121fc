import type { Config } from '@imgkit/config';
import type { Pool } from '@imgkit/db';
import type { Logger } from '@imgkit/log';
import type { TaskKindDefinition } from '@imgkit/queue';

export interface TaskDeps {
  config: Readonly<Config>;
  pool: Pool;
  logger: Logger;
}

/** The registry: one file per task kind in this folder. */
export function taskKinds(_deps: TaskDeps): TaskKindDefinition[] {
  return [];
}
