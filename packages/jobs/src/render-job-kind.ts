import { taskKind } from '@imgkit/queue';

/** The task that renders one job's output. */
export interface RenderJobPayload {
  job_id: string;
}

export const RENDER_JOB = taskKind<RenderJobPayload>('render_job');
