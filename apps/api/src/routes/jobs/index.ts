import { Router } from 'express';
import { type CreateJobRouteDeps, createJobRoute } from './create.ts';
import { readJobRoutes } from './read.ts';

export type JobsRouteDeps = CreateJobRouteDeps;

export function jobsRouter(deps: JobsRouteDeps): Router {
  return Router().use(createJobRoute(deps), readJobRoutes(deps));
}
