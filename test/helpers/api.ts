import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { createApp } from '@imgkit/api/app';
import { createAccount, createApiKey } from '@imgkit/auth';
import type { Pool } from '@imgkit/db';
import { createLogger } from '@imgkit/log';
import { LocalBlobStore } from '@imgkit/storage';

export const TEST_SECRET = 'test-secret-key-that-is-long-enough-0123456789';

export interface TestApi {
  base: string;
  storage: LocalBlobStore;
  blobRoot: string;
}

export async function startApi(
  pool: Pool,
  overrides: Partial<{
    uploadBytes: number;
    rateLimitPerMinute: number;
    jsonBodyBytes: number;
    processImageMaxAttempts: number;
    blobRoot: string;
    allowPrivateNetworks: boolean;
    webhookRotationMs: number;
  }> = {},
): Promise<TestApi> {
  const blobRoot = overrides.blobRoot ?? (await mkdtemp(path.join(tmpdir(), 'imgkit-blobs-')));
  const storage = new LocalBlobStore(blobRoot);
  const app = createApp({
    pool,
    storage,
    logger: createLogger({ name: 'api-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    secretKey: TEST_SECRET,
    limits: {
      jsonBodyBytes: overrides.jsonBodyBytes ?? 256 * 1024,
      uploadBytes: overrides.uploadBytes ?? 5 * 1024 * 1024,
      passthroughBytes: 16 * 1024,
      rateLimitPerMinute: overrides.rateLimitPerMinute ?? 0,
      processImageMaxAttempts: overrides.processImageMaxAttempts ?? 5,
    },
    variantPresets: ['thumbnail', 'medium', 'large'],
    allowPrivateNetworks: overrides.allowPrivateNetworks ?? true,
    webhooks: { secretRotationMs: overrides.webhookRotationMs ?? 24 * 3600_000, deliveryMaxAttempts: 8 },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, storage, blobRoot };
}

export async function newAccountWithKey(pool: Pool, name = 'test') {
  const account = await createAccount(pool, name);
  const { key, record } = await createApiKey(pool, TEST_SECRET, account.id);
  return { account, key, keyId: record.id, auth: { Authorization: `Bearer ${key}` } };
}

/** A parsed JSON body, loosely typed for assertions. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions poke at arbitrary JSON
export async function jsonOf(res: Response): Promise<any> {
  return res.json();
}
