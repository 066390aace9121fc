import type { Readable } from 'node:stream';

export interface PutResult {
  byteSize: number;
  /** SHA-256 hex of the bytes, computed while they were written. */
  sha256: string;
}

/**
 * Where originals and rendered variants live. Keys are slash-separated paths
 * (`originals/<account>/<image>`). A write is atomic: readers see the old
 * object, the whole new one, or nothing — never a half file.
 */
export interface BlobStore {
  put(
    key: string,
    source: Readable | AsyncIterable<Uint8Array>,
    options?: { maxBytes?: number },
  ): Promise<PutResult>;
  putBuffer(key: string, bytes: Uint8Array): Promise<PutResult>;
  /** Throws BlobNotFoundError when absent. With start/end, only those bytes (inclusive). */
  get(key: string, options?: GetOptions): Promise<{ stream: Readable; byteSize: number }>;
  readBuffer(key: string): Promise<Buffer>;
  /** The blob's size, or undefined when absent. */
  head(key: string): Promise<{ byteSize: number } | undefined>;
  exists(key: string): Promise<boolean>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  deleteMany(keys: string[]): Promise<void>;
  /** Everything under the folder `prefix/`. */
  deletePrefix(prefix: string): Promise<void>;
  /** Every blob under `prefix`, in no promised order. */
  list(prefix?: string): AsyncIterable<{ key: string; byteSize: number }>;
  /** A path on local disk for the blob, when the driver has one (lets decoders stream from the file). */
  localPath?(key: string): string | undefined;
  /** A time-limited URL that serves the blob without credentials, when the driver has them. */
  presignGet?(
    key: string,
    options: { expiresInSeconds: number; contentType?: string; filename?: string },
  ): Promise<string>;
  /** Throws StorageUnavailableError when the store does not answer (readiness). */
  ping(): Promise<void>;
  close(): void;
}

export interface GetOptions {
  start?: number;
  end?: number;
}

export class BlobTooLargeError extends Error {
  override name = 'BlobTooLargeError';
  readonly limit: number;
  constructor(limit: number) {
    super(`body exceeds the limit of ${limit} bytes`);
    this.limit = limit;
  }
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}

/**
 * The store did not answer (refused, timed out, 5xx, throttled, or refused our credentials).
 * Not the blob's fault: the api answers 503 and tasks retry without using up attempts.
 */
export class StorageUnavailableError extends Error {
  override name = 'StorageUnavailableError';
  readonly code = 'storage_unavailable';
}
