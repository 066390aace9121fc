import path from 'node:path';
import { loadConfigOrExit, s3Settings } from '@imgkit/runtime';
import { type CopyProgress, copyBlobs, LocalBlobStore } from '@imgkit/storage';
import { S3BlobStore } from '@imgkit/storage/s3';
import { CliError, type Output } from '../output.ts';

/**
 * `imgkit storage copy --to s3`: the local store (DATA_DIR/blobs) into the bucket of the S3_*
 * settings, resumable. The operator then sets STORAGE=s3 and restarts; see docs/storage.md.
 */
export async function runStorage(
  out: Output,
  sub: string | undefined,
  opts: { to?: string; concurrency?: string },
): Promise<void> {
  if (sub !== 'copy') throw new CliError('usage: imgkit storage copy --to s3 [--concurrency N]');
  if (opts.to !== 's3') throw new CliError('only `--to s3` is supported: the local store is copied into S3');
  const concurrency = opts.concurrency === undefined ? 8 : Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new CliError('--concurrency must be an integer from 1 to 256');
  }
  const config = loadConfigOrExit(process.env, { createLocalSecrets: false });
  if (!config.S3_BUCKET)
    throw new CliError('set S3_BUCKET (and S3_REGION or S3_ENDPOINT, credentials) first');
  const from = new LocalBlobStore(path.join(config.dataDir, 'blobs'));
  const to = new S3BlobStore(s3Settings(config));
  const started = Date.now();
  let shown = 0;
  const show = (p: CopyProgress, force = false) => {
    if (out.json || (!force && Date.now() - shown < 1000)) return;
    shown = Date.now();
    const done = p.copied + p.skipped;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    process.stderr.write(
      `copied ${done}/${p.total} blobs (${p.skipped} already there), ${mb(p.copiedBytes)}/${mb(p.totalBytes)} MB\n`,
    );
  };
  try {
    await to.ping();
    const result = await copyBlobs(from, to, { concurrency, onProgress: (p) => show(p) });
    show(result, true);
    const seconds = (Date.now() - started) / 1000;
    out.print(
      `done in ${seconds.toFixed(1)} s: ${result.copied} copied, ${result.skipped} already in s3://${config.S3_BUCKET}. ` +
        'Now set STORAGE=s3 and restart the api and the workers.',
      { ...result, seconds, bucket: config.S3_BUCKET },
    );
  } finally {
    to.close();
  }
}
