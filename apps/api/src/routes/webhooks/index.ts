import { Router } from 'express';
import type { WebhooksRouteDeps } from './deps.ts';
import { endpointRoutes } from './endpoints.ts';
import { messageRoutes } from './messages.ts';

export type { WebhooksRouteDeps };

export function webhooksRouter(deps: WebhooksRouteDeps): Router {
  return Router().use(endpointRoutes(deps), messageRoutes(deps));
}
