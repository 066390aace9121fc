export {
  type CreateJobDeps,
  completeJob,
  createJob,
  failJob,
  getJob,
  type JobOutput,
  type JobParams,
  markJobRetrying,
  type NewJob,
  recordJobInput,
  reopenJob,
  startJob,
} from './lifecycle.ts';
export { RENDER_JOB, type RenderJobPayload } from './render-job-kind.ts';
export { type JobRow, jobInputKey, jobJson, jobOutputKey } from './resource.ts';
