import type { Pool } from '@imgkit/db';

export interface WebhooksRouteDeps {
  pool: Pool;
  allowPrivateNetworks: boolean;
  secretRotationMs: number;
  deliveryMaxAttempts: number;
}
