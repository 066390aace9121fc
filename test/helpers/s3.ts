import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import type { S3Settings } from '@imgkit/storage';
import { type SwiftS3, startSwiftS3, swiftAvailable } from '../../scripts/swift-s3.ts';

/**
 * A real S3 server for this test file (OpenStack Swift with s3api, see scripts/swift-s3.ts),
 * stopped when the file ends; or a skip reason where Swift is not installed. Under CI=true a
 * missing Swift is a failure: `.ci/run` installs it.
 */
export async function s3ServerForTests(): Promise<{ server?: SwiftS3; skip: string | false }> {
  if (!swiftAvailable()) {
    const reason = 'OpenStack Swift is not installed (.ci/run installs swift-proxy, swift-object, …)';
    if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
    return { skip: reason };
  }
  const server = await startSwiftS3({
    log: process.env.TEST_LOG_LEVEL ? (l) => process.stderr.write(`${l}\n`) : undefined,
  });
  after(() => server.stop());
  return { server, skip: false };
}

/** Settings for a new, empty bucket on `server`. */
export async function freshBucket(server: SwiftS3, overrides: Partial<S3Settings> = {}): Promise<S3Settings> {
  const bucket = `imgkit-t-${randomBytes(5).toString('hex')}`;
  await server.createBucket(bucket);
  return {
    bucket,
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    checksum: 'when_required',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 3,
    requestTimeoutMs: 30_000,
    ...overrides,
  };
}

/** The same settings as environment variables (for loadConfig and child processes). */
export function s3Env(settings: S3Settings): Record<string, string> {
  return {
    STORAGE: 's3',
    S3_BUCKET: settings.bucket,
    S3_REGION: settings.region,
    S3_ENDPOINT: settings.endpoint ?? '',
    S3_FORCE_PATH_STYLE: String(settings.forcePathStyle),
    S3_ACCESS_KEY_ID: settings.credentials?.accessKeyId ?? '',
    S3_SECRET_ACCESS_KEY: settings.credentials?.secretAccessKey ?? '',
  };
}
