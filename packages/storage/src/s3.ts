import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  BlobNotFoundError,
  type BlobStore,
  BlobTooLargeError,
  type GetOptions,
  type PutResult,
  StorageUnavailableError,
} from './blob-store.ts';

export interface S3Settings {
  bucket: string;
  region: string;
  /** A non-AWS server (Swift, MinIO, Ceph, R2, …); unset for AWS itself. */
  endpoint?: string;
  forcePathStyle: boolean;
  /**
   * `when_required`: no CRC trailers on uploads (the SDK's default since 2025 breaks or
   * corrupts streamed uploads on many non-AWS servers); `when_supported`: the SDK default.
   */
  checksum: 'when_required' | 'when_supported';
  /** Explicit credentials; otherwise the SDK's default chain (AWS_* env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Attempts per request, with the SDK's standard backoff between them. */
  maxAttempts: number;
  /** Seconds before a request that sends or receives nothing is abandoned. */
  requestTimeoutMs: number;
  /** Every key is stored under this prefix (several deployments may share one bucket). */
  keyPrefix?: string;
}

/** The multipart part size: uploads above it go in parts, so no upload is ever held whole. */
const PART_BYTES = 8 * 1024 * 1024;

/** Originals and variants in an S3-compatible bucket. */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(settings: S3Settings) {
    const checksum = settings.checksum === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
    const config: S3ClientConfig = {
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      requestChecksumCalculation: checksum,
      responseChecksumValidation: checksum,
      maxAttempts: settings.maxAttempts,
      retryMode: 'standard',
      credentials: settings.credentials,
      requestHandler: {
        connectionTimeout: 5000,
        requestTimeout: settings.requestTimeoutMs,
        httpAgent: { keepAlive: true, maxSockets: 64 },
        httpsAgent: { keepAlive: true, maxSockets: 64 },
      },
    };
    this.client = new S3Client(config);
    this.bucket = settings.bucket;
    this.prefix = settings.keyPrefix ? `${settings.keyPrefix.replace(/\/+$/, '')}/` : '';
    // DeleteObjects must carry a checksum. With WHEN_REQUIRED the SDK sends a CRC32 header
    // that AWS accepts, but Swift, Ceph and older MinIO insist on Content-MD5 (the original
    // S3 contract). Send both: every server accepts Content-MD5.
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { body?: unknown; headers?: Record<string, string> };
        if (context.commandName === 'DeleteObjectsCommand' && typeof request.body === 'string') {
          request.headers = request.headers ?? {};
          request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
        }
        return next(args);
      },
      { step: 'build', name: 'imgkitDeleteObjectsContentMd5' },
    );
  }

  async put(
    key: string,
    source: Readable | AsyncIterable<Uint8Array>,
    options: { maxBytes?: number } = {},
  ): Promise<PutResult> {
    const hash = createHash('sha256');
    let byteSize = 0;
    const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
    let tooLarge: BlobTooLargeError | undefined;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        byteSize += chunk.length;
        if (byteSize > limit) {
          tooLarge = new BlobTooLargeError(limit);
          return done(tooLarge);
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // Streamed in parts of PART_BYTES, two in flight: memory per upload is bounded whatever
    // the object's size. A body under one part goes as a single PutObject. S3 makes the
    // object visible only when the upload completes, so readers never see half of it.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.keyOf(key), Body: meter },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const feeding = pipeline(source, meter);
    // If S3 fails first, nobody reads the meter any more: destroy it so the feeding ends too.
    // Waiting for both (not the first rejection) lets the Upload abort its multipart upload
    // before we return, so no orphaned parts stay in the bucket.
    let s3Error: unknown;
    let sourceFailedFirst = false;
    feeding.catch(() => {
      if (s3Error === undefined) sourceFailedFirst = true;
    });
    const uploading = upload.done().catch((err: unknown) => {
      s3Error ??= err;
      meter.destroy(err as Error);
      throw err;
    });
    const [fed, uploaded] = await Promise.allSettled([feeding, uploading]);
    if (fed.status === 'rejected' || uploaded.status === 'rejected') {
      if (tooLarge) throw tooLarge;
      // The source failed (a client that hung up mid-upload): its own error, as the local driver.
      if (fed.status === 'rejected' && sourceFailedFirst) throw fed.reason;
      throw this.translate(s3Error, key);
    }
    return { byteSize, sha256: hash.digest('hex') };
  }

  putBuffer(key: string, bytes: Uint8Array): Promise<PutResult> {
    return this.put(key, Readable.from([bytes]));
  }

  async get(key: string, options: GetOptions = {}) {
    const range =
      options.start !== undefined || options.end !== undefined
        ? `bytes=${options.start ?? 0}-${options.end ?? ''}`
        : undefined;
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Range: range }),
      );
      const body = out.Body as Readable;
      // A stream that fails mid-way (connection reset) reports the same error class.
      const stream = body.on('error', () => undefined);
      return { stream, byteSize: out.ContentLength ?? 0 };
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async readBuffer(key: string): Promise<Buffer> {
    const { stream } = await this.get(key);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async head(key: string): Promise<{ byteSize: number } | undefined> {
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      return { byteSize: out.ContentLength ?? 0 };
    } catch (err) {
      const e = this.translate(err, key);
      if (e instanceof BlobNotFoundError) return undefined;
      throw e;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
    } catch (err) {
      const e = this.translate(err, key);
      if (!(e instanceof BlobNotFoundError)) throw e;
    }
  }

  /** Up to 1,000 keys per request (the S3 limit). */
  async deleteMany(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: this.keyOf(k) })), Quiet: true },
          }),
        );
        const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length) {
          throw new StorageUnavailableError(
            `could not delete ${failed.length} objects: ${failed[0].Code} ${failed[0].Message ?? ''}`,
          );
        }
      } catch (err) {
        throw this.translate(err, batch[0]);
      }
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    // The prefix names a folder: `variants/a/img_1` must not take `variants/a/img_12` with it.
    const folder = `${this.keyOf(prefix).replace(/\/+$/, '')}/`;
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: folder, ContinuationToken: token }),
        );
      } catch (err) {
        throw this.translate(err, prefix);
      }
      const keys = (page.Contents ?? []).map((o) => o.Key!).filter(Boolean);
      if (keys.length) await this.deleteMany(keys.map((k) => k.slice(this.prefix.length)));
      token = page.NextContinuationToken;
    } while (token);
  }

  /** Every key under `prefix`, page by page (the storage copy and the tests use it). */
  async *list(prefix = ''): AsyncIterable<{ key: string; byteSize: number }> {
    let token: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.keyOf(prefix, true),
            ContinuationToken: token,
          }),
        )
        .catch((err) => {
          throw this.translate(err, prefix);
        });
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key.slice(this.prefix.length), byteSize: o.Size ?? 0 };
      }
      token = page.NextContinuationToken;
    } while (token);
  }

  /** A time-limited GET URL that a client can follow without credentials. */
  async presignGet(
    key: string,
    options: { expiresInSeconds: number; contentType?: string; filename?: string },
  ): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.keyOf(key),
        ResponseContentType: options.contentType,
        ResponseContentDisposition: options.filename
          ? `inline; filename*=UTF-8''${encodeURIComponent(options.filename)}`
          : undefined,
        ResponseCacheControl: 'private, max-age=0',
      }),
      { expiresIn: options.expiresInSeconds },
    );
  }

  /** Checks that the bucket answers (start-up and readiness). */
  async ping(): Promise<void> {
    await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1 })).catch((err) => {
      throw this.translate(err, '');
    });
  }

  close(): void {
    this.client.destroy();
  }

  private keyOf(key: string, allowEmpty = false): string {
    if (allowEmpty && key === '') return this.prefix;
    if (!/^[A-Za-z0-9_\-./]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '.')) {
      throw new Error(`invalid blob key: ${key}`);
    }
    return this.prefix + key;
  }

  /**
   * A missing object is BlobNotFoundError; anything else — refused connections, timeouts,
   * 5xx, throttling, and also denied credentials or a missing bucket (an operator's mistake,
   * not the image's) — is StorageUnavailableError, which tasks retry without giving up.
   */
  private translate(err: unknown, key: string): Error {
    if (err instanceof BlobNotFoundError || err instanceof StorageUnavailableError) return err;
    if (err instanceof BlobTooLargeError) return err;
    const e = err as {
      name?: string;
      Code?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number };
    };
    const status = e.$metadata?.httpStatusCode;
    if (e.name === 'NoSuchKey' || e.name === 'NotFound' || (status === 404 && e.name !== 'NoSuchBucket')) {
      return new BlobNotFoundError(`no blob ${key}`);
    }
    const what = status
      ? `S3 answered ${status} ${e.name ?? ''}`
      : `S3 unreachable: ${e.name ?? ''} ${e.message ?? ''}`;
    return new StorageUnavailableError(what.trim(), { cause: err });
  }
}
