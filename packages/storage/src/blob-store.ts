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
  /** Throws BlobNotFoundError when absent. */
  get(key: string): Promise<{ stream: Readable; byteSize: number }>;
  readBuffer(key: string): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
  /** A path on local disk for the blob, when the driver has one (lets decoders stream from the file). */
  localPath?(key: string): string | undefined;
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
