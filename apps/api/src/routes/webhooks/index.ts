import type { Pool } from '@imgkit/db';
import { Router } from 'express';
import { endpointRoutes } from './endpoints.ts';
import { messageRoutes } from './messages.ts';

export interface WebhooksRouteDeps {
  pool: Pool;
  allowPrivateNetworks: boolean;
  secretRotationMs: number;
  deliveryMaxAttempts: number;
}

export function webhooksRouter(deps: WebhooksRouteDeps): Router {
  return Router().use(endpointRoutes(deps), messageRoutes(deps));
}
