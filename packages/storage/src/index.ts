export type { BlobStore, GetOptions, PutResult } from './blob-store.ts';
export { BlobNotFoundError, BlobTooLargeError, StorageUnavailableError } from './blob-store.ts';
export { CachedBlobStore } from './cached.ts';
export { type CopyProgress, copyBlobs } from './copy.ts';
export { DiskCache } from './disk-cache.ts';
export { LocalBlobStore } from './local.ts';
export { S3BlobStore, type S3Settings } from './s3.ts';
